"""Kernels compiled side by side in forked processes before a plan's first call
(dprog/codegen/cpu_precompile.py): the parent loads what the children compiled from the
disk cache, a dry run guesses every kernel's argument types right, and a child that dies
or hangs only costs a compile in the parent."""
import itertools
import os
import time
import warnings

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen import cpu_precompile
from dprog.config import config

# Each test's program gets constants of its own, in every kernel, so its kernels are new
# to this process (kernel modules are shared by source across the session).
_fresh = itertools.count(1)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty kernel cache directory and two compiling processes."""
    monkeypatch.setenv("DPROG_CACHE_DIR", str(tmp_path))
    previous = config.compile_workers
    config.compile_workers = 2
    yield tmp_path
    config.compile_workers = previous


def mlp_like():
    """Kernels with matrix products between them, and the NumPy answer."""
    c = 1.0 + next(_fresh) / 1024

    def prog(x, w):
        h = dnp.tanh(x @ w + c)
        logits = h @ w.T
        p = dnp.exp(logits - dnp.max(logits, axis=1, keepdims=True) * c)
        return p @ w, dnp.sum(h * h, axis=1) * c

    def reference(x, w):
        h = np.tanh(x @ w + c)
        logits = h @ w.T
        p = np.exp(logits - logits.max(axis=1, keepdims=True) * c)
        return p @ w, (h * h).sum(axis=1) * c
    rng = np.random.default_rng(0)
    return prog, reference, (rng.standard_normal((16, 8)), rng.standard_normal((8, 8)))


def executable(jitted):
    (entry,) = jitted._cache.values()
    return entry.executable


def kernel_dispatchers(exe):
    return [exe._namespace[name] for name in exe._step_names if name.startswith("k")]


def check(prog, reference, args):
    jitted = dp.jit(prog)
    for got, want in zip(jitted(*args), reference(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    return executable(jitted)


def test_children_compile_and_the_parent_loads_their_kernels(fresh_cache):
    exe = check(*mlp_like())
    assert exe.compile_processes == 2
    kernels = kernel_dispatchers(exe)
    assert len(kernels) >= 2
    # The dry run guessed each kernel's types: one compiled signature each.
    assert all(len(k.signatures) == 1 for k in kernels)
    loaded = [k for k in kernels if sum(k.stats.cache_hits.values())]
    compiled_here = [k for k in kernels if sum(k.stats.cache_misses.values())]
    assert loaded and compiled_here  # split between the child and this process
    assert not glob_tmp(fresh_cache)


def glob_tmp(directory):
    """Numba's half-written cache files (a child killed while saving leaves these)."""
    return [f for f in os.listdir(os.path.join(directory, "__pycache__")) if ".tmp." in f]


def test_one_worker_compiles_everything_here(fresh_cache):
    config.compile_workers = 1
    exe = check(*mlp_like())
    assert exe.compile_processes == 0
    assert all(sum(k.stats.cache_hits.values()) == 0 for k in kernel_dispatchers(exe))


def test_in_memory_kernels_are_not_handed_over(tmp_path, monkeypatch):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    monkeypatch.setenv("DPROG_CACHE_DIR", str(not_a_dir / "cache"))
    monkeypatch.setattr(config, "compile_workers", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not usable" (once per process: test_kernel_cache)
        exe = check(*mlp_like())
    assert exe.compile_processes == 0


def only_in_children(action):
    """Replace cpu_precompile._try_compile by `action` in forked children only."""
    parent, original = os.getpid(), cpu_precompile._try_compile

    def try_compile(unit):
        if os.getpid() != parent:
            action()
        original(unit)
    return try_compile


def test_a_child_that_dies_costs_a_compile_here(fresh_cache, monkeypatch):
    monkeypatch.setattr(cpu_precompile, "_try_compile", only_in_children(lambda: os._exit(3)))
    exe = check(*mlp_like())
    assert exe.compile_processes == 2
    assert all(sum(k.stats.cache_hits.values()) == 0 for k in kernel_dispatchers(exe))


def test_a_child_that_hangs_is_killed(fresh_cache, monkeypatch):
    forked = []
    original_fork = cpu_precompile._fork

    def fork(share):
        pid, fd = original_fork(share)
        forked.append(pid)
        return pid, fd
    monkeypatch.setattr(cpu_precompile, "_fork", fork)
    monkeypatch.setattr(cpu_precompile, "MIN_WAIT_S", 0.5)
    monkeypatch.setattr(cpu_precompile, "_try_compile", only_in_children(lambda: time.sleep(600)))
    start = time.perf_counter()
    check(*mlp_like())
    assert time.perf_counter() - start < 60
    assert forked and all(pid is not None for pid in forked)
    for pid in forked:
        with pytest.raises(ProcessLookupError):  # killed and reaped
            os.kill(pid, 0)


def test_dry_run_sees_through_library_calls(fresh_cache):
    """An op that NumPy runs (argmax: a step the dry run fakes with zeros of its dtype)
    feeds a kernel; the kernels' types are still guessed right."""
    c = 1.0 + next(_fresh) / 1024

    def prog(x, w):
        h = dnp.tanh(x @ w + c)
        best = dnp.argmax(h, axis=1)
        return dnp.exp(h * c) @ w + best[:, None] * c

    def reference(x, w):
        h = np.tanh(x @ w + c)
        return (np.exp(h * c) @ w + h.argmax(axis=1)[:, None] * c,)
    rng = np.random.default_rng(1)
    exe = check(lambda x, w: (prog(x, w),), reference,
                (rng.standard_normal((16, 8)), rng.standard_normal((8, 8))))
    assert any(s.kind == "impl" for s in exe.steps)
    assert exe.compile_processes == 2
    assert all(len(k.signatures) == 1 for k in kernel_dispatchers(exe))


def test_native_loops_compile_in_a_child_too(fresh_cache):
    c = 0.5 + next(_fresh) / 1024

    def prog(v0, xs, w):
        v = dnp.tanh(v0 @ w * c)
        final, ys = dp.scan(lambda v, x: (v * c + x, dnp.sin(v)), v, xs)
        return dnp.exp(final * c) @ w, ys

    def reference(v0, xs, w):
        v = np.tanh(v0 @ w * c)
        ys = []
        for x in xs:
            ys.append(np.sin(v))
            v = v * c + x
        return np.exp(v * c) @ w, np.stack(ys)
    rng = np.random.default_rng(2)
    args = (rng.standard_normal((4, 8)), rng.standard_normal((5, 4, 8)), rng.standard_normal((8, 8)))
    exe = check(prog, reference, args)
    assert any(s.kind == "loop" for s in exe.steps)
    assert exe.compile_processes == 2
    loops = [s.loop for s in exe.steps if s.kind == "loop"]
    assert all(len(loop._module.loop.signatures) == 1 for loop in loops)


class _FakeUnit:
    def __init__(self, n, cost):
        self.n, self._cost = n, cost

    def cost(self):
        return self._cost


def test_the_queue_hands_each_unit_to_one_process_costliest_first():
    units = [_FakeUnit(n, cost) for n, cost in enumerate([1.0, 5.0, 3.0, 2.0] * 50)]
    queue = cpu_precompile._Queue(units)
    assert [u.cost() for u in queue.units] == sorted((u.cost() for u in units), reverse=True)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child takes units as fast as it can and reports their numbers
        try:
            while (unit := queue.take()) is not None:
                os.write(write_fd, unit.n.to_bytes(2, "little"))
        finally:
            os._exit(0)
    os.close(write_fd)
    mine = []
    while (unit := queue.take()) is not None:
        mine.append(unit.n)
    os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(read_fd, 4096):
        data += chunk
    os.close(read_fd)
    queue.close()
    theirs = [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]
    assert sorted(mine + theirs) == list(range(len(units)))  # each unit taken exactly once
    assert queue.fd is None


def test_a_queue_too_long_for_a_pipe_turns_precompiling_off():
    # 40000 records of 2 bytes: more than a pipe holds; the write must not block
    queue = cpu_precompile._Queue([_FakeUnit(n, 1.0) for n in range(40000)])
    assert queue.fd is None
    assert cpu_precompile._Queue([_FakeUnit(n, 1.0) for n in range(70000)]).fd is None  # > 2 bytes
