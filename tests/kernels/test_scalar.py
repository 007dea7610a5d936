"""kernels/scalar.py: maximum and minimum (intrinsics, no helper compile) agree with
NumPy's on every dtype pair generated kernels meet, NaN and infinities included."""
import itertools

import numpy as np
import pytest
from numba import njit, typeof

from dprog.kernels import scalar as sc


@njit
def _max_min(a, b):
    return sc.maximum(a, b), sc.minimum(a, b)


VALUES = {
    np.float32: [1.5, -2.0, np.nan, np.inf, -np.inf, 0.0],
    np.float64: [1.5, -2.0, np.nan, -np.inf, 1e300],
    np.int64: [3, -7, 2**62],
    np.int32: [-5, 2**31 - 1],
    np.uint8: [3, 250],
    np.bool_: [True, False],
}
SAME = [(t, t) for t in VALUES]
MIXED = [(np.float32, np.float64), (np.int32, np.int64), (np.uint8, np.int64), (np.bool_, np.int64)]


@pytest.mark.parametrize("ta, tb", SAME + MIXED, ids=[f"{a.__name__}-{b.__name__}" for a, b in SAME + MIXED])
def test_max_min_match_numpy(ta, tb):
    for a, b in itertools.product(VALUES[ta], VALUES[tb]):
        a, b = ta(a), tb(b)
        got_max, got_min = _max_min(a, b)
        want_max, want_min = np.maximum(a, b), np.minimum(a, b)
        np.testing.assert_array_equal(got_max, want_max, err_msg=f"maximum({a!r}, {b!r})")
        np.testing.assert_array_equal(got_min, want_min, err_msg=f"minimum({a!r}, {b!r})")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_])
def test_same_dtype_stays_that_dtype(dtype):
    """float32 stays float32 in generated code (no promotion through the helper)."""
    _max_min(dtype(1), dtype(0))
    t = typeof(dtype(1))
    sig = next(s for s in _max_min.nopython_signatures if s.args == (t, t))
    assert tuple(sig.return_type.types) == (t, t)


@njit
def _prefetch_rows(a, i):
    for j in range(0, a.shape[1], 16):
        sc.prefetch(a, i, j)
    sc.prefetch(a, a.shape[0] + 1000, 0)  # past the end: a hint never faults
    return a.sum()


def test_prefetch_is_a_hint_that_changes_nothing():
    a = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    before = a.copy()
    assert _prefetch_rows(a, 1) == before.sum()
    np.testing.assert_array_equal(a, before)
    assert "prefetch" in next(iter(_prefetch_rows.inspect_llvm().values()))
