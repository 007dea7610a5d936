"""Garbage collection while dprog compiles: only the objects made during the compile.

A first call creates tens of thousands of objects (Numba's typing and lowering, the
generated modules), which triggers a full collection of CPython's oldest generation:
every object of the process, Numba's large registries included. On a 2-core AMD EPYC
development machine that one collection took 53-62 ms of a 0.17-0.19 s first call
that loads cached kernels (`python -m benchmarks.compile_time`).

So a compile freezes the objects that existed before it (gc.freeze: they are skipped by
every collection until gc.unfreeze), and unfreezes them when it ends. Nothing is lost:
unfreezing puts them back into the oldest generation, and the next full collection
looks at them as before, including any cycle among them that became garbage meanwhile
(young garbage cycles made just before a compile wait for that full collection).
Collections during the compile still free the compile's own short-lived garbage. The
full collection that the compile's surviving objects make due is deferred, not
avoided: it runs once the program has allocated enough afterwards.

Nested and concurrent compiles share one freeze (a count under a lock): the last one to
finish unfreezes. A process that disabled the collector, or froze objects itself (a
server that calls gc.freeze before forking its workers, say), is left alone: unfreezing
would undo its own freeze.
"""
import contextlib
import gc
import threading

_lock = threading.Lock()
_depth = 0


@contextlib.contextmanager
def new_objects_only():
    """Within the block, collections look only at objects made inside it."""
    global _depth
    with _lock:
        joined = _depth > 0 or (gc.isenabled() and gc.get_freeze_count() == 0)
        if joined:
            if _depth == 0:
                gc.freeze()
            _depth += 1
    try:
        yield
    finally:
        if joined:
            with _lock:
                _depth -= 1
                if _depth == 0:
                    gc.unfreeze()
