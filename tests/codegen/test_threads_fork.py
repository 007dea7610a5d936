"""Concurrent calls from several threads (first call included) and fork() after parallel
kernels ran: both give correct results and never crash or deadlock."""
import os

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen import cpu_plan

from support import run_in_child, run_in_threads  # tests/support.py

N = cpu_plan.PARALLEL_MIN_ELEMENTS_CHEAP * 2  # large enough for split (parallel) kernels


def program(x, y):
    # The second result reads the sum, so it is its own loop: a parallel (split) kernel.
    s = dnp.sum(dnp.tanh(x) * y + 1.0)
    return s, x * y - s


def expected(x, y):
    s = np.sum(np.tanh(x) * y + 1.0)
    return s, x * y - s


def test_four_threads_first_call_included():
    f = dp.jit(program)
    rng = np.random.default_rng(1)
    inputs = [(rng.standard_normal(N), rng.standard_normal(N)) for _ in range(4)]
    results = [None] * 4

    def work(i):
        for _ in range(5):
            results[i] = f(*inputs[i])
    errors, _ = run_in_threads(4, work, timeout=300)
    assert not errors, errors
    assert f.cache_size() == 1  # one compile, not one per thread
    for (x, y), (s, d) in zip(inputs, results):
        es, ed = expected(x, y)
        np.testing.assert_allclose(s, es, rtol=1e-9)
        np.testing.assert_allclose(d, ed)


def _child(conn):
    x = np.linspace(-1, 1, N)
    s, _ = dp.jit(program)(x, x)
    conn.send(float(s))
    conn.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_child_process_after_parallel_kernels(method):
    x = np.linspace(-1, 1, N)
    dp.jit(program)(x, x)  # run parallel kernels in the parent first
    value, exitcode = run_in_child(method, _child)
    assert exitcode == 0
    np.testing.assert_allclose(value, expected(x, x)[0], rtol=1e-9)


def test_os_fork_child_runs_kernels():
    x = np.linspace(-1, 1, N)
    f = dp.jit(program)
    f(x, x)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            s, _ = f(x, x)
            os.write(w, repr(float(s)).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 100)
    os.waitpid(pid, 0)
    np.testing.assert_allclose(float(data), expected(x, x)[0], rtol=1e-9)


def test_parallel_steps_split_one_serial_kernel():
    from dprog.codegen import cpu_threads
    f = dp.jit(program)
    x = np.linspace(-1, 1, N)
    np.testing.assert_allclose(f(x, x)[1], expected(x, x)[1], rtol=1e-12)
    (entry,) = f._cache.values()
    assert "split(" in entry.executable.source  # the big kernels run split across threads
    for extent, parts, align in [(N, 2, 64), (N + 5, 3, 64), (7, 2, 1), (100, 4, 64)]:
        edges = cpu_threads.bounds(extent, parts, align)
        assert edges[0] == 0 and edges[-1] == extent and edges == sorted(edges)
        assert all(e % align == 0 for e in edges[:-1])
