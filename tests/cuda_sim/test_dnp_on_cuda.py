"""The dprog.numpy table (tests/numpy/dnp_cases.py: every listed function, with the
inputs tests/numpy/test_dnp_functions.py draws) through the CUDA path,
against the reference interpreter. Runs in Numba's simulator in CI (tests/cuda/
test_simulator.py) and on a GPU through benchmarks/gpu_check.py."""
import functools
import os
import sys
import zlib

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "numpy"))
from dnp_cases import CASES  # noqa: E402
from test_dnp_functions import TOL, _leaves, _make, _params  # noqa: E402

# Each function at its first listed dtype (float32 for most): the whole table (668
# cases) takes ~2.5 min in the simulator. DPROG_CUDA_TABLE=full runs every dtype.
FULL = os.environ.get("DPROG_CUDA_TABLE") == "full"
PARAMS = [p for p in _params() if FULL or p.values[1] == p.values[0].dtypes[0]]


@pytest.mark.parametrize("case,dtype", PARAMS)
def test_dnp_function_on_cuda_matches_reference(case, dtype):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    args = [_make(spec, dtype, rng) for spec in case.inputs]
    fn = functools.partial(case.fn, dnp)
    with np.errstate(all="ignore"):
        dp.config.backend = "reference"
        try:
            expected = _leaves(dp.jit(fn)(*args))
        finally:
            dp.config.backend = ""
        got = _leaves(dp.jit(fn, device="cuda")(*args))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert isinstance(g, dp.DeviceArray), type(g)
        g, e = np.asarray(g), np.asarray(e)
        assert g.dtype == e.dtype and g.shape == e.shape, (g.dtype, g.shape, e.dtype, e.shape)
        np.testing.assert_allclose(g, e, equal_nan=True, **TOL.get(e.dtype, dict(rtol=0, atol=0)))


def test_the_table_is_large():
    assert len(PARAMS) >= (600 if FULL else 200), len(PARAMS)
