"""The CUDA path (simulator) gives the results of the CPU reference on the shared table
of programs: elementwise math, broadcasting views, reductions of every kernel shape,
softmax, matmul, gather and scatter-add, and gradients up to an MLP loss."""
import numpy as np
import pytest

import dprog as dp
from cuda_programs import PROGRAMS

TOL = {np.dtype("float32"): 2e-5, np.dtype("float64"): 1e-12}


def reference(fn, args):
    previous = dp.config.backend
    dp.config.backend = "reference"
    try:
        return dp.jit(fn)(*args)
    finally:
        dp.config.backend = previous


@pytest.mark.parametrize("name,fn,make", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_cuda_matches_cpu(name, fn, make):
    args = make()
    expected = dp.tree_leaves(reference(fn, args))
    out = dp.jit(fn, device="cuda")(*args)
    got = dp.tree_leaves(out)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert isinstance(g, dp.DeviceArray), type(g)
        g = np.asarray(g)
        assert g.shape == np.shape(e) and g.dtype == np.asarray(e).dtype, (g.shape, g.dtype, np.shape(e))
        tol = TOL.get(g.dtype, 0)
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol * max(1.0, float(np.max(np.abs(e), initial=0))))
