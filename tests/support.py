"""Helpers shared by the test suites (tests/ is on sys.path: pytest puts the folder of
tests/conftest.py there)."""
import glob
import multiprocessing as mp
import threading

import dprog as dp
from dprog.config import config


def reference(fun, *args):
    """fun jitted and run by the NumPy reference interpreter: the oracle compiled kernels
    are checked against."""
    old = config.backend
    config.backend = "reference"
    try:
        return dp.jit(fun)(*args)
    finally:
        config.backend = old


def run_in_threads(n, work, timeout):
    """Run work(i) on n threads released together by a barrier. Returns (errors, whether
    any thread was still running after `timeout` seconds of joining)."""
    barrier, errors = threading.Barrier(n), []

    def run(i):
        try:
            barrier.wait()
            work(i)
        except BaseException as e:  # noqa: BLE001 - returned to the test
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return errors, any(t.is_alive() for t in threads)


def corrupt_numba_cache(directory):
    """Overwrite every Numba cache entry (*.nbc) below `directory` with bytes that are not
    a pickle; returns their paths."""
    entries = glob.glob(str(directory) + "/**/*.nbc", recursive=True)
    for path in entries:
        with open(path, "wb") as f:
            f.write(b"\x80\x04garbage that is not a pickle")
    return entries


def run_in_child(method, target, timeout=240):
    """Start target(conn) in a child process made by `method` ("fork" or "spawn"; target
    must be a module-level function) and return (what it sent, its exit code)."""
    ctx = mp.get_context(method)
    parent, child = ctx.Pipe()
    p = ctx.Process(target=target, args=(child,))
    p.start()
    assert parent.poll(timeout), "child process hung"
    value = parent.recv()
    p.join(60)
    return value, p.exitcode


def check_pipeline_keeps_values(fun, args, rtol=1e-12, atol=1e-12):
    """Run fun three ways: its unoptimised graph in the reference interpreter (the oracle),
    its optimised graph (the pass pipeline's rewrites) in the interpreter, and compiled.
    Asserts equal results (dtypes and shapes too); returns (raw graph, optimised graph)."""
    import numpy as np
    from dprog.interpreter import evaluate
    from dprog.passes import run_pipeline

    def as_list(x):
        return list(x) if isinstance(x, (list, tuple)) else [x]
    raw = dp.make_graph(fun)(*args)
    optimised = run_pipeline(raw)
    expected = as_list(evaluate(raw, *args))
    for got in (as_list(evaluate(optimised, *args)), as_list(dp.jit(fun)(*args))):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert np.asarray(g).dtype == np.asarray(e).dtype and np.shape(g) == np.shape(e)
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return raw, optimised
