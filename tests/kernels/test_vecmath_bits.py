"""scale_magic's two forms (kernels/vecmath_bits.py): llvm.ldexp where Numba compiles for
AVX-512F, two exact power-of-two factors elsewhere. On an AVX-512 machine the second form
runs in no vecmath function, so it is compiled here on purpose and both are compared bit
for bit over the whole exponent range: overflow to inf, denormal results, zero, nan."""
import numpy as np
import pytest
from numba import njit

from dprog.kernels import vecmath_bits as vb


def _scaler(kadj):
    @njit(error_model="numpy")
    def scale(p, t, out):
        for i in range(p.size):
            out[i] = vb.scale_magic(p[i], t[i], kadj)
    return scale


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kadj", [0, -1])
def test_ldexp_and_two_factor_forms_agree_bit_for_bit(dtype, kadj, monkeypatch):
    mant, bias = (23, 127) if dtype == np.float32 else (52, 1023)
    rng = np.random.default_rng(11)
    k = rng.integers(-2 * bias + 2 - kadj, 2 * bias - 1 - kadj, 20000)
    k[:4] = [-2 * bias + 2 - kadj, 2 * bias - 2 - kadj, 0, -mant - bias]
    p = rng.uniform(0.5, 2.0, k.size).astype(dtype)
    p[:3] = [np.nan, 0.0, 1.0]
    t = (dtype(1.5 * 2.0 ** mant) + k.astype(dtype)).astype(dtype)
    got = {}
    for form, flag in (("ldexp", True), ("factors", False)):
        monkeypatch.setattr(vb, "has_scalef", lambda context, flag=flag: flag)
        out = np.empty_like(p)
        scale = _scaler(kadj)
        scale(p, t, out)  # a new function: compiled now, with this form
        got[form] = out
        assert ("llvm.ldexp" in next(iter(scale.inspect_llvm().values()))) == flag
    ints = np.uint32 if dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(got["ldexp"].view(ints), got["factors"].view(ints))
    with np.errstate(over="ignore", under="ignore"):
        want = np.ldexp(p.astype(np.float64), (k + kadj).astype(np.int64)).astype(dtype)
    finite = ~np.isnan(p)
    np.testing.assert_array_equal(got["factors"][finite], want[finite])
