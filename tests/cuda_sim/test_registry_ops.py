"""Every primitive of the op registry through the CUDA path, against the reference
interpreter: the inputs tests/ops/test_registry.py draws from each op's domain
(tests/ops/domains.py, fixed seeds here), every supported dtype, and for differentiable
ops the float64 gradient too. Runs in Numba's simulator in CI (tests/cuda/
test_simulator.py) and on a GPU through benchmarks/gpu_check.py."""
import os
import sys

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.ops import REGISTRY

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops"))
import domains  # noqa: E402
from test_registry import DIFFERENTIABLE, DTYPE_CASES, TOL  # noqa: E402

SEEDS = (0, 1)


def _outs(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _reference(fn, args):
    previous = dp.config.backend
    dp.config.backend = "reference"
    try:
        return _outs(dp.jit(fn)(*args))
    finally:
        dp.config.backend = previous


def _compare(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert isinstance(g, dp.DeviceArray), type(g)
        g, e = np.asarray(g), np.asarray(e)
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        np.testing.assert_allclose(g, e, equal_nan=True, **TOL[g.dtype])


@pytest.mark.parametrize("name,dtype", DTYPE_CASES)
def test_op_on_cuda_matches_reference(name, dtype):
    op = REGISTRY[name]
    for seed in SEEDS:
        case = domains.sample(op, domains.RngSource(seed), dtype)
        fn = lambda *args: op(*args, **case.params)  # noqa: E731
        with np.errstate(all="ignore"):
            expected = _reference(fn, case.args)
            got = _outs(dp.jit(fn, device="cuda")(*case.args))
        _compare(got, expected)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradient_on_cuda_matches_reference(name):
    op = REGISTRY[name]
    case = domains.sample(op, domains.RngSource(0), np.dtype("float64"), mode="diff")
    floats = [i for i, a in enumerate(case.args) if np.asarray(a).dtype.kind == "f"]
    if not floats:
        pytest.skip(f"{name}'s sampled operands have no float argument")

    def loss(*args):
        outs = _outs(op(*args, **case.params))
        return sum(dnp.sum(o * dnp.cos(dnp.arange(o.size, dtype=o.dtype).reshape(o.shape))) for o in outs
                   if o.dtype.kind == "f")
    grad = dp.grad(loss, argnums=tuple(floats))
    with np.errstate(all="ignore"):
        expected = _reference(grad, case.args)
        got = _outs(dp.jit(grad, device="cuda")(*case.args))
    _compare(got, expected)
