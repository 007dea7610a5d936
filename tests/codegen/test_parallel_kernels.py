"""Parallel kernels (codegen/cpu_threads.py): a large fused loop is split across threads,
and reductions over the split dim accumulate one partial result per slice, combined
afterwards. Results must match the reference for sums, max/min, integers and column
reductions, next to elementwise outputs of the same loop."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen import cpu_threads
from dprog.codegen.cpu_plan import PARALLEL_MIN_ELEMENTS_CHEAP

from support import reference  # tests/support.py

rng = np.random.default_rng(5)
N = PARALLEL_MIN_ELEMENTS_CHEAP + 37  # parallel, and not a multiple of the slice alignment


PROGRAMS = [
    ("sum, max and an elementwise output", lambda x, y: (dnp.sum(dnp.tanh(x) * y), dnp.max(x), x * y),
     lambda: (rng.standard_normal(N), rng.standard_normal(N))),
    ("min of a 2-D array", lambda m: dnp.min(m * 2.0), lambda: (rng.standard_normal((N // 64, 64)),)),
    ("column reductions and row sums", lambda m: (dnp.sum(m * m, axis=0), dnp.max(m, axis=0), dnp.sum(m, axis=1)),
     lambda: (rng.standard_normal((N // 64, 64)),)),
    ("integer sum", lambda i: dnp.sum(i * 3 - 1), lambda: (rng.integers(-5, 5, N),)),
    ("mean of a loss", lambda x, y: dnp.mean((x - y) ** 2), lambda: (rng.standard_normal(N), rng.standard_normal(N))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fun,make", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_split_reductions_match_reference(name, fun, make, dtype):
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in make()]
    jitted = dp.jit(fun)
    got, want = dp.tree_leaves(jitted(*args)), dp.tree_leaves(reference(fun, *args))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        tol = 1e-4 if g.dtype == np.float32 else 1e-10
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    (entry,) = jitted._cache.values()
    assert "split_partials(" in entry.executable.source


def test_split_partials_gives_each_slice_its_accumulator(monkeypatch):
    calls = []

    def kernel(lo, hi, acc, x):  # a Python stand-in for a compiled kernel
        calls.append((lo, hi))
        acc[0] += x[lo:hi].sum()
    x = np.arange(1000.0)
    for pool_present in (True, False):
        if not pool_present:
            monkeypatch.setattr(cpu_threads, "pool", lambda: None)
        calls.clear()
        partials = np.zeros((3, 1))
        cpu_threads.split_partials(kernel, 1000, True, (0,), partials, x)
        assert sorted(calls) == [(0, 320), (320, 640), (640, 1000)]
        np.testing.assert_allclose(partials[:, 0], [x[:320].sum(), x[320:640].sum(), x[640:].sum()])
