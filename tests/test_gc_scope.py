"""A compile freezes the objects that existed before it (dprog/gc_scope.py): during the
compile the collector skips them, and afterwards everything is as before."""
import gc
import threading
import weakref

import numpy as np
import pytest

import dprog as dp
from dprog.gc_scope import new_objects_only


class Node:
    pass


def test_a_compile_runs_with_older_objects_frozen_and_unfreezes_after():
    seen = []

    @dp.jit
    def f(x):
        seen.append(gc.get_freeze_count())     # runs while tracing, inside the compile
        return x * 2.0
    assert gc.get_freeze_count() == 0
    np.testing.assert_array_equal(f(np.ones(3)), 2.0)
    assert seen and seen[0] > 1000
    assert gc.get_freeze_count() == 0
    f(np.ones(3))                                # a cache hit freezes nothing
    assert len(seen) == 1 and gc.get_freeze_count() == 0


def test_garbage_cycles_made_before_or_during_a_compile_are_still_collected():
    a, b = Node(), Node()
    a.other, b.other = b, a                       # a cycle, alive until the compile drops it
    ref = weakref.ref(a)
    holder = [a]
    del a, b

    during = []

    @dp.jit
    def f(x):
        holder.clear()                            # the frozen cycle becomes garbage here
        gc.collect()
        during.append(ref() is not None)          # frozen: not looked at
        return x + 1.0
    f(np.ones(2))
    assert during == [True]
    gc.collect()
    assert ref() is None                          # unfrozen: collected


def test_an_error_while_compiling_unfreezes():
    @dp.jit
    def bad(x):
        if x.sum() > 0:                           # Python `if` on a traced value
            return x
        return -x
    with pytest.raises(Exception):
        bad(np.ones(2))
    assert gc.get_freeze_count() == 0


def test_a_disabled_collector_is_left_alone():
    gc.disable()
    try:
        with new_objects_only():
            assert gc.get_freeze_count() == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_freeze_the_program_made_itself_is_kept():
    # e.g. a server that freezes its objects before forking workers: a compile must not
    # unfreeze them
    keep = [[i] for i in range(1000)]
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        assert before > len(keep)

        @dp.jit
        def f(x):
            return x - 1.0
        np.testing.assert_array_equal(f(np.ones(2)), 0.0)
        assert gc.get_freeze_count() > before - 100    # (some frozen objects may be freed)
    finally:
        gc.unfreeze()


def test_nested_and_concurrent_scopes_share_one_freeze():
    inside = threading.Event()
    release = threading.Event()
    counts = []

    def other():
        with new_objects_only():
            inside.set()
            release.wait(10)

    with new_objects_only():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        t = threading.Thread(target=other)
        t.start()
        assert inside.wait(10)
        young = [[i] for i in range(1000)]      # a second freeze would take these too
        with new_objects_only():
            counts.append(gc.get_freeze_count())
    counts.append(gc.get_freeze_count())         # the other thread's scope is still open
    release.set()
    t.join()
    # (frozen objects can still be freed by reference counting, so the count may drop)
    assert counts[0] < frozen + len(young) and counts[1] > 0
    assert gc.get_freeze_count() == 0


def test_vjp_outside_jit_compiles_with_older_objects_frozen(monkeypatch):
    from dprog import runtime
    seen = []
    real = runtime.make_executable

    def recording(*args, **kwargs):
        seen.append(gc.get_freeze_count())
        return real(*args, **kwargs)
    monkeypatch.setattr(runtime, "make_executable", recording)
    out, pullback = dp.vjp(lambda x: (x * x).sum(), np.ones(3))
    np.testing.assert_array_equal(pullback(np.float64(1.0))[0], 2.0)
    assert seen and all(count > 1000 for count in seen)
    assert gc.get_freeze_count() == 0
