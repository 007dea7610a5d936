"""Accuracy of dprog.kernels.vecmath against NumPy (in higher precision) and a check that
loops over the functions vectorise.

References: float32 results against NumPy in float64; float64 results against NumPy in
long double (x86 80-bit: expl, logl, sinl with full Payne-Hanek, ...). erf has no NumPy
ufunc: math.erf (float32) and mpmath (float64). The error is |y - ref| in units of the
spacing of the rounded reference (0.5 is correctly rounded); special values (nan, inf,
signed zero) must match exactly.
"""
import importlib.util
import math
import pathlib
import platform
import re
import sys

import numpy as np
import pytest
from numba import njit


def _load_vecmath():
    try:
        from dprog.kernels import vecmath
        return vecmath
    except ImportError:     # not installed: load kernels/ under a private package name
        root = pathlib.Path(__file__).resolve().parents[2] / "kernels"
        spec = importlib.util.spec_from_file_location(
            "_dprog_kernels", root / "__init__.py", submodule_search_locations=[str(root)])
        mod = importlib.util.module_from_spec(spec)
        sys.modules["_dprog_kernels"] = mod
        spec.loader.exec_module(mod)
        from _dprog_kernels import vecmath
        return vecmath


vm = _load_vecmath()

# Max error in ULP allowed per function and dtype (measured maxima are in VECMATH.md).
MAX_ULP = {
    #           float32  float64
    "vexp":     (1.5,    1.5),
    "vexp2":    (1.5,    1.5),
    "vexpm1":   (2.0,    2.0),
    "vlog":     (1.5,    1.5),
    "vlog2":    (2.0,    2.0),
    "vlog10":   (2.5,    3.0),
    "vlog1p":   (1.5,    1.5),
    "vtanh":    (3.0,    3.0),
    "vsigmoid": (2.5,    2.5),
    "vsinh":    (3.0,    3.0),
    "vcosh":    (2.5,    2.5),
    "verf":     (3.0,    4.0),
    "vsin":     (2.0,    2.0),
    "vcos":     (2.0,    2.0),
    "vatan":    (2.5,    2.0),
    "vpow":     (1.0,    1.0),
}


def _erf_ref(x):
    if x.dtype == np.float64:
        mp = pytest.importorskip("mpmath")
        mp.mp.prec = 120
        ref = np.array([mp.erf(mp.mpf(float(v))) for v in x], dtype=np.longdouble)
        return np.where(x == 0, x, ref)
    ref = np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))
    return np.where(x == 0, x, ref)       # math.erf(-0.0) is 0.0 on some builds


def _sigmoid_ref(x):
    return 1 / (1 + np.exp(-x))


REF = {"vexp": np.exp, "vexp2": np.exp2, "vexpm1": np.expm1, "vlog": np.log,
       "vlog2": np.log2, "vlog10": np.log10, "vlog1p": np.log1p, "vtanh": np.tanh,
       "vsigmoid": _sigmoid_ref, "vsinh": np.sinh, "vcosh": np.cosh, "verf": _erf_ref,
       "vsin": np.sin, "vcos": np.cos, "vatan": np.arctan}


def ulp_errors(y, ref, dtype):
    """Per-element error of y (dtype) against a higher-precision ref, in ULP."""
    with np.errstate(all="ignore"):
        rr = ref.astype(dtype)
        err = np.zeros(y.shape)
        special = ~np.isfinite(rr) | ~np.isfinite(y)
        same = (y == rr) | (np.isnan(y) & np.isnan(rr))
        err[special & ~same] = np.inf
        fin = ~special
        ulp = np.maximum(np.spacing(np.abs(rr[fin])), np.finfo(dtype).smallest_subnormal)
        d = np.abs(y[fin].astype(np.longdouble) - ref[fin].astype(np.longdouble))
        err[fin] = (d / ulp.astype(np.longdouble)).astype(np.float64)
        zero = (rr == 0) & (y == 0) & (np.signbit(rr) != np.signbit(y))
        err[zero] = np.inf
    return err


def samples(dtype, n, lo_exp, hi_exp, seed=0):
    """Both signs, log-uniform magnitudes 2^lo_exp..2^hi_exp, plus special values."""
    rng = np.random.default_rng(seed)
    fi = np.finfo(dtype)
    with np.errstate(over="ignore"):
        x = (2.0 ** rng.uniform(lo_exp, hi_exp, n) * rng.choice([-1.0, 1.0], n)).astype(dtype)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, fi.tiny, fi.smallest_subnormal,
               fi.max, 1.0, 0.5, 2.0, 1e-30, 3.0 * fi.smallest_subnormal]
    special = np.array(special + [-v for v in special], dtype)
    return np.concatenate([special, x[np.isfinite(x)]])


FULL = {np.float32: (-149, 128), np.float64: (-1074, 1024)}
N = 20000


def domain(name, dtype):
    lo, hi = FULL[dtype]
    x = samples(dtype, N, lo, hi)
    rng = np.random.default_rng(1)
    extra = {   # where each function changes behaviour, sampled densely
        "vexp": (-800, 800), "vexp2": (-1100, 1100), "vexpm1": (-50, 720),
        "vlog": (0, 3), "vlog2": (0, 3), "vlog10": (0, 3), "vlog1p": (-1, 3),
        "vtanh": (-25, 25), "vsigmoid": (-760, 760), "vsinh": (-720, 720),
        "vcosh": (-720, 720), "verf": (-7, 7), "vsin": (-1e7, 1e7), "vcos": (-1e7, 1e7),
        "vatan": (-5, 5)}[name]
    lin = rng.uniform(*extra, N).astype(dtype)
    hard = []
    if name in ("vsin", "vcos"):    # the float64 closest to a multiple of pi/2 (2^-61 away)
        hard = [6381956970095103 * 2.0**797] if dtype == np.float64 else [2.0**16, 2.0**16 - 4]
    return np.concatenate([x, lin, rng.uniform(-2, 2, N).astype(dtype), np.array(hard, dtype)])


def _loop1(fn):
    @njit(error_model="numpy")
    def loop(x, out):
        for i in range(x.size):
            out[i] = fn(x[i])
    return loop


def _loop2(fn):
    @njit(error_model="numpy")
    def loop(x, y, out):
        for i in range(x.size):
            out[i] = fn(x[i], y[i])
    return loop


LOOPS = {name: _loop1(getattr(vm, name)) for name in REF}
LOOPS["vpow"] = _loop2(vm.vpow)
DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(REF))
def test_unary_ulp(name, dtype):
    x = domain(name, dtype)
    if name == "verf" and dtype == np.float64:
        x = x[::8]              # mpmath is slow
    out = np.empty_like(x)
    LOOPS[name](x, out)
    wide = np.float64 if dtype == np.float32 else np.longdouble
    with np.errstate(all="ignore"):
        ref = REF[name](x.astype(wide))
    err = ulp_errors(out, ref, dtype)
    i = int(np.argmax(err))
    bound = MAX_ULP[name][DTYPES.index(dtype)]
    assert err[i] <= bound, f"{name}({x[i]!r}) = {out[i]!r}, want {ref[i]!r}: {err[i]:.2f} ulp"


def pow_samples(dtype):
    rng = np.random.default_rng(2)
    n = N
    x = np.abs(samples(dtype, n, *FULL[dtype]))[: n]
    y = rng.uniform(-3, 3, n) * 2.0 ** rng.integers(-20, 9, n)
    x2 = rng.uniform(0, 4, n)                     # near 1 with large |y|
    y2 = rng.uniform(-300, 300, n) if dtype == np.float64 else rng.uniform(-60, 60, n)
    span = 700.0 if dtype == np.float64 else 80.0  # |y*log x| up to span: results of every size
    x3 = np.exp(rng.uniform(-span, span, n))
    y3 = rng.uniform(-span, span, n) / np.maximum(np.abs(np.log(x3)), 1e-3)
    xi = rng.uniform(-10, 10, n)                  # negative bases, integer exponents
    yi = rng.integers(-40, 40, n).astype(float)
    sp = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, np.inf, -np.inf,
                   np.nan, 1e-40, 1e300, 1e-320])
    gx, gy = np.meshgrid(sp, sp)
    with np.errstate(all="ignore"):
        xs = np.concatenate([x, x2, x3, xi, gx.ravel()]).astype(dtype)
        ys = np.concatenate([y, y2, y3, yi, gy.ravel()]).astype(dtype)
    return xs, ys


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_pow_ulp(dtype):
    x, y = pow_samples(dtype)
    out = np.empty_like(x)
    LOOPS["vpow"](x, y, out)
    wide = np.float64 if dtype == np.float32 else np.longdouble
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(wide), y.astype(wide))
    err = ulp_errors(out, ref, dtype)
    i = int(np.argmax(err))
    assert err[i] <= MAX_ULP["vpow"][DTYPES.index(dtype)], \
        f"pow({x[i]!r}, {y[i]!r}) = {out[i]!r}, want {ref[i]!r}: {err[i]:.2f} ulp"


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_dtype_preserved(dtype):
    @njit(error_model="numpy")
    def both(x):
        return vm.vexp(x), vm.vsin(x), vm.vpow(x, x)
    both(dtype(0.5))
    ret = both.nopython_signatures[0].return_type
    assert all(str(t) == dtype.__name__ for t in ret), ret


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_loop_vectorises(name):
    # The loops were compiled by the accuracy tests (or are compiled here); LLVM must
    # have widened them: 256-bit vectors are what LLVM picks on AVX2/AVX-512 hosts, and
    # at least 128-bit vectors on any x86-64.
    for dtype, pat in ((np.float32, r"<(4|8|16) x float>"), (np.float64, r"<(2|4|8) x double>")):
        x = np.ones(4, dtype)
        args = (x, x, x.copy()) if name == "vpow" else (x, x.copy())
        loop = LOOPS[name]
        loop(*args)
        sig = [s for s in loop.signatures if str(s[0].dtype) == dtype.__name__][0]
        ir = loop.inspect_llvm(sig)
        assert re.search(pat, ir), f"{name} loop over {dtype.__name__} did not vectorise"
        # float32 must stay float32: no double vectors in a float32 loop, except where
        # float64 is used on purpose (sin/cos's Payne-Hanek reduction)
        if dtype == np.float32 and name not in ("vsin", "vcos"):
            assert not re.search(r"<\d+ x double>", ir), f"{name} promotes float32"


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_fast_sin_cos_equal_the_exact_ones_below_the_huge_bound(dtype):
    # Kernels use vsin_fast/vcos_fast and redo the slice with vsin/vcos when vtrig_huge
    # holds for any element (dprog/codegen/cpu_kernel.py): the two must agree bit for bit
    # wherever vtrig_huge is false, nan and denormals included.
    x = domain("vsin", dtype)
    bound = 2.0 ** 16 if dtype == np.float32 else 2.0 ** 22
    huge, flags = np.empty(x.size, bool), np.empty(x.size, bool)
    _loop1(vm.vtrig_huge)(x, flags)
    with np.errstate(invalid="ignore"):
        huge[:] = np.abs(x) >= bound
    np.testing.assert_array_equal(flags, huge)
    ints = np.uint32 if dtype == np.float32 else np.uint64
    for fast, exact in (("vsin_fast", "vsin"), ("vcos_fast", "vcos")):
        a, b = np.empty_like(x), np.empty_like(x)
        _loop1(getattr(vm, fast))(x, a)
        LOOPS[exact](x, b)
        np.testing.assert_array_equal(a[~huge].view(ints), b[~huge].view(ints))
    assert np.isnan(x).any() and huge.any() and (~huge).sum() > 1000


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_fast_logs_equal_the_exact_ones_wherever_the_guard_is_false(dtype):
    # Kernels compute log/log2/log10 with the _fast forms and redo the slice with the
    # exact ones where vlog_special holds for any element (Op.fast).
    x = np.concatenate([domain("vlog", dtype), np.abs(domain("vlog", dtype))])
    special = np.empty(x.size, bool)
    _loop1(vm.vlog_special)(x, special)
    with np.errstate(invalid="ignore"):
        ordinary = (x >= np.finfo(dtype).tiny) & (x < np.inf)
    np.testing.assert_array_equal(special, ~ordinary)
    np.testing.assert_array_equal(vm.vlog_special(x), ~ordinary)     # outside Numba
    ints = np.uint32 if dtype == np.float32 else np.uint64
    for fast, exact in (("vlog_fast", "vlog"), ("vlog2_fast", "vlog2"), ("vlog10_fast", "vlog10")):
        a, b = np.empty_like(x), np.empty_like(x)
        _loop1(getattr(vm, fast))(x, a)
        LOOPS[exact](x, b)
        np.testing.assert_array_equal(a[ordinary].view(ints), b[ordinary].view(ints))
    assert ordinary.sum() > 1000 and (~ordinary).sum() > 100 and (x == 1).any()


def _pow_fast_samples(dtype):
    # pow's test samples, and pairs where pow's selects meet computed values: x == 1 and
    # y == 0 (+-0 products), results that overflow, underflow or are denormal, huge y
    rng = np.random.default_rng(5)
    x, y = pow_samples(dtype)
    near1 = rng.uniform(0.5, 2, 3000)
    span = 1100.0 if dtype == np.float64 else 150.0
    xs = np.concatenate([x, np.ones(200), near1, near1, np.exp(rng.uniform(-3, 3, 2000))])
    ys = np.concatenate([y, rng.uniform(-1e6, 1e6, 200), np.zeros(3000) * np.sign(near1 - 1),
                         rng.uniform(-1, 1, 3000) * 1e30, rng.uniform(-span, span, 2000) / 3 * 10])
    return xs.astype(dtype), ys.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("code", ["dispatched", "scalar"])
def test_fast_pow_equals_pow_wherever_the_guard_is_false(dtype, code):
    # Kernels compute pow with vpow_fast and redo the slice with vpow where vpow_special
    # holds for any element (Op.fast): the two must agree bit for bit wherever it is
    # false. "scalar": the float32 scalar code that CPUs without AVX-512F run. (The
    # float32 vector function has its own special-case path: there the guard is never
    # true and both names call it. float64 vpow is a vector function on AVX2 and AVX-512
    # CPUs, but kernels' vpow_fast stays the scalar code: they must still agree.)
    x, y = _pow_fast_samples(dtype)
    one_form = code == "dispatched" and dtype == np.float32 and vm._cpu_has_simd()
    if code == "scalar":
        fast, exact, guard = (_loop2(vm._flat_jit(dtype, name, ("x", "y")))
                              for name in ("pow_fast", "pow", "pow_special"))
    else:
        fast, exact, guard = _loop2(vm.vpow_fast), LOOPS["vpow"], _loop2(vm.vpow_special)
    special = np.empty(x.size, bool)
    guard(x, y, special)
    tiny = np.finfo(dtype).tiny
    with np.errstate(invalid="ignore"):
        ordinary = (x >= tiny) & (x < np.inf) & np.isfinite(y)
    np.testing.assert_array_equal(vm.vpow_special(x, y), ~ordinary)   # outside Numba
    np.testing.assert_array_equal(special, np.zeros_like(special) if one_form else ~ordinary)
    a, b = np.empty_like(x), np.empty_like(x)
    fast(x, y, a)
    exact(x, y, b)
    ints = np.uint32 if dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(a[~special].view(ints), b[~special].view(ints))
    # the samples reach what the fast form must get right by itself
    r = b[ordinary]
    assert (r == np.inf).any() and (r == 0).any() and ((r > 0) & (r < tiny)).any()
    assert ((x == 1) & ordinary).sum() >= 200 and ((y == 0) & ordinary).sum() >= 3000
    assert (~ordinary).sum() > 1000


# float32 pow has two implementations: a 16-lane vector function (vecmath_pow_simd.py,
# CPUs with AVX-512F), and the scalar code LLVM vectorises elsewhere (_build_pow32).
# test_pow_ulp checks the one this machine runs; these check the other one and how the
# vector function is called.
SIMD = vm._cpu_has_simd()
needs_simd = pytest.mark.skipif(not SIMD, reason="the vector function needs AVX-512F")


def test_pow_ulp_of_the_scalar_float32_code():
    x, y = pow_samples(np.float32)
    out = np.empty_like(x)
    _loop2(vm._flat_jit(np.float32, "pow", ("x", "y")))(x, y, out)
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(np.float64), y.astype(np.float64))
    err = ulp_errors(out, ref, np.float32)
    i = int(np.argmax(err))
    assert err[i] <= MAX_ULP["vpow"][0], f"pow({x[i]!r}, {y[i]!r}) = {out[i]!r}: {err[i]:.2f} ulp"


@needs_simd
def test_pow_vector_function_results_do_not_depend_on_neighbours():
    # A vector with any lane off the fast path runs the slow path for all 16 lanes, and
    # the elements a loop leaves over (and a call outside a loop) run the vector
    # function on one lane: every element must come out the same bits either way.
    rng = np.random.default_rng(3)
    n = 16 * 40 + 5
    x = rng.uniform(0.1, 10, n).astype(np.float32)
    y = rng.uniform(-3, 3, n).astype(np.float32)
    loop = LOOPS["vpow"]
    base = np.empty_like(x)
    loop(x, y, base)
    xs, ys = x.copy(), y.copy()
    specials = np.array([0.0, -2.0, np.inf, np.nan, 1e-40, 1.0, -0.0], np.float32)
    xs[::7] = np.resize(specials, xs[::7].size)
    ys[3::11] = 300.0                               # |y*log2 x| beyond the fast range
    out = np.empty_like(x)
    loop(xs, ys, out)
    keep = (xs == x) & (ys == y)
    assert keep.sum() > n // 2
    np.testing.assert_array_equal(out[keep].view(np.uint32), base[keep].view(np.uint32))
    for offset in (1, 3, 9):                        # other groupings into vectors
        part = np.empty(n - offset, np.float32)
        loop(x[offset:], y[offset:], part)
        np.testing.assert_array_equal(part.view(np.uint32), base[offset:].view(np.uint32))

    @njit(error_model="numpy")
    def one(a, b):                                  # not in a loop: the scalar function
        return vm.vpow(a, b)
    alone = np.array([one(a, b) for a, b in zip(x[:50], y[:50])], np.float32)
    np.testing.assert_array_equal(alone.view(np.uint32), base[:50].view(np.uint32))


# float32 sin/cos are vector functions on CPUs with AVX2 or AVX-512 (vecmath_trig_simd.py)
# and the scalar code elsewhere: both must give the same bits for every argument.
TRIG_LANES = vm._cpu_lanes()
needs_trig_simd = pytest.mark.skipif(TRIG_LANES is None, reason="the vector functions need AVX2 or AVX-512")


@needs_trig_simd
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_vector_functions_give_the_scalar_codes_bits(name):
    # huge arguments (the float64 reduction), inf, nan, denormals; vectors mixing huge
    # and ordinary lanes; other groupings into vectors, and the scalar function (a call
    # outside a loop)
    x = domain("vsin", np.float32)
    assert (np.abs(x) >= 2.0**16).sum() > 1000 and (np.abs(x) < 2.0**16).sum() > 1000
    ref = np.empty_like(x)
    _loop1(vm._flat_jit(np.float32, name, ("x",)))(x, ref)
    loop = LOOPS["v" + name]
    for offset in (0, 1, 5):
        out = np.empty(x.size - offset, np.float32)
        loop(x[offset:], out)
        np.testing.assert_array_equal(out.view(np.uint32), ref[offset:].view(np.uint32))
    fn = getattr(vm, "v" + name)

    @njit(error_model="numpy")
    def one(a):
        return fn(a)
    picks = np.concatenate([np.arange(40), np.flatnonzero(np.abs(x) >= 2.0**16)[:40]])
    alone = np.array([one(x[i]) for i in picks], np.float32)
    np.testing.assert_array_equal(alone.view(np.uint32), ref[picks].view(np.uint32))


@needs_trig_simd
def test_trig_loops_call_the_vector_function():
    x = np.ones(40, np.float32)
    for name in ("vsin", "vcos"):
        loop = LOOPS[name]
        loop(x, x.copy())
        sig = [s for s in loop.signatures if str(s[0].dtype) == "float32"][0]
        body = _function_ir(loop.inspect_llvm(sig), "loop")
        assert re.search(rf"call <(8|16) x float> @dprog_{name[1:]}f_v(8|16)\(", body), name


def pow64_samples():
    """float64 pow's hard pairs: the accuracy samples, the fast form's samples, and
    vectors mixing ordinary and special lanes (every 5th x special, every 13th y inf)."""
    x, y = pow_samples(np.float64)
    fx, fy = _pow_fast_samples(np.float64)
    rng = np.random.default_rng(11)
    mx, my = rng.uniform(0.1, 10, 4000), rng.uniform(-20, 20, 4000)
    mx[::5] = np.resize([0.0, -0.0, -2.0, np.inf, -np.inf, np.nan, 1e-310, 1.0, -1.0], mx[::5].size)
    my[::13] = np.resize([np.inf, -np.inf, np.nan, 0.0, 3.0], my[::13].size)
    return np.concatenate([x, fx, mx]), np.concatenate([y, fy, my])


def pow64_results():
    x, y = pow64_samples()
    out = np.empty_like(x)
    LOOPS["vpow"](x, y, out)
    return out.view(np.uint64)


@needs_trig_simd
def test_pow64_vector_function_gives_the_scalar_codes_bits():
    # float64 pow is a vector function on CPUs with AVX2 or AVX-512
    # (vecmath_pow64_simd.py): a vector with a special lane runs every case for all its
    # lanes, an ordinary one pow_fast's steps. Every element must get the scalar code's
    # bits either way (nan's too), in any grouping into vectors and outside loops.
    x, y = pow64_samples()
    ref = np.empty_like(x)
    _loop2(vm._flat_jit(np.float64, "pow", ("x", "y")))(x, y, ref)
    np.testing.assert_array_equal(pow64_results(), ref.view(np.uint64))
    for offset in (1, 3):
        out = np.empty(x.size - offset)
        LOOPS["vpow"](x[offset:], y[offset:], out)
        np.testing.assert_array_equal(out.view(np.uint64), ref[offset:].view(np.uint64))

    @njit(error_model="numpy")
    def one(a, b):
        return vm.vpow(a, b)
    picks = np.concatenate([np.arange(30), np.arange(x.size - 4000, x.size - 3970)])
    alone = np.array([one(x[i], y[i]) for i in picks])
    np.testing.assert_array_equal(alone.view(np.uint64), ref[picks].view(np.uint64))
    # the loop calls the vector function, once per vector
    sig = [s for s in LOOPS["vpow"].signatures if str(s[0].dtype) == "float64"][0]
    body = _function_ir(LOOPS["vpow"].inspect_llvm(sig), "loop")
    assert re.search(r"call <(4|8) x double> @dprog_pow_v(4|8)\(", body)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 code")
def test_vector_functions_compile_for_avx512_on_any_x86_cpu():
    # The 16-lane versions run only on AVX-512 CPUs; on other machines (CI's may be one)
    # they are still built and compiled for one here, so invalid IR or an instruction
    # LLVM cannot select shows up everywhere.
    import llvmlite.binding as llvm
    from llvmlite import ir
    from numba.core.registry import cpu_target
    from dprog.kernels import vecmath_pow64_simd, vecmath_pow_simd, vecmath_simd, vecmath_trig_simd
    cpu_target.target_context.codegen()              # LLVM's targets initialised
    module = ir.Module("avx512_probe")
    f32, f64 = ir.FloatType(), ir.DoubleType()
    fn = ir.Function(module, ir.FunctionType(f32, [f32, f32, f64, f64]), "probe")
    b = ir.IRBuilder(fn.append_basic_block())
    x, y, xd, yd = fn.args
    s = vecmath_simd.call(b, "dprog_sinf", vecmath_trig_simd.sin_body, [x], 16)
    c = vecmath_simd.call(b, "dprog_cosf", vecmath_trig_simd.cos_body, [x], 16)
    p = vecmath_simd.call(b, "dprog_powf", vecmath_pow_simd.pow_body, [x, y], 16)
    pd = vecmath_simd.call(b, "dprog_pow", vecmath_pow64_simd.pow_body, [xd, yd], 8)
    b.ret(b.fadd(b.fadd(b.fadd(s, c), p), b.fptrunc(pd, f32)))
    parsed = llvm.parse_assembly(str(module))
    parsed.verify()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    tm = target.create_target_machine(cpu="skylake-avx512", features="+avx512f,+avx512dq", opt=3)
    asm = tm.emit_assembly(parsed)
    for instr in ("vfpclassps", "vscalefps", "vscalefpd", "zmm"):
        assert instr in asm, instr
    assert re.search(r"vperm[it]2ps", asm)
    for name, widths in (("dprog_sinf", (16, 8, 4)), ("dprog_cosf", (16, 8, 4)), ("dprog_powf", (16, 8, 4)),
                         ("dprog_pow", (8, 4, 2))):
        for lanes in widths:
            assert f"{name}_v{lanes}:" in asm, (name, lanes)


def _function_ir(ir, fragment):
    """The LLVM IR of the compiled function whose name contains `fragment` (not its
    CPython or cfunc wrapper)."""
    for chunk in ir.split("\ndefine ")[1:]:
        name = re.search(r"@([^\s(]+)\(", chunk).group(1)
        if fragment in name and "cpython" not in name and "cfunc" not in name:
            return chunk.split("\n}", 1)[0]
    raise AssertionError(f"no function {fragment} in the IR")


@needs_simd
def test_pow_loops_call_the_vector_function():
    # 512-bit vectors (as generated kernels ask for): the 16-lane version; LLVM's
    # default 256-bit vectors: the 8-lane one. Not a call per element either way.
    from dprog.kernels.vector_width import prefer_wide

    @njit(error_model="numpy")
    def wide_pow_loop(x, y, out):
        prefer_wide()
        for i in range(x.size):
            out[i] = vm.vpow(x[i], y[i])
    x = np.ones(40, np.float32)
    for loop, name, lanes in ((wide_pow_loop, "wide_pow_loop", 16), (LOOPS["vpow"], "loop", 8)):
        loop(x, x, x.copy())
        sig = [s for s in loop.signatures if str(s[0].dtype) == "float32"][0]
        body = _function_ir(loop.inspect_llvm(sig), name)
        assert f"call <{lanes} x float> @dprog_powf_v{lanes}(" in body, name


# exp and its relatives scale by 2^k with vscalefps on AVX-512 CPUs and with two exact
# power-of-two factors elsewhere (vecmath_bits.scale_magic); k also reaches the reduction
# through magic_k. Both must give the same bits, denormal and overflowing results included.
# float32 sin/cos run as 16-lane vector functions on AVX-512 CPUs and 8-lane ones on AVX2
# CPUs, float64 pow as 8- and 4-lane ones (scaling with vscalefpd, or two factors): the
# same bits too, huge arguments and special cases included.
SCALED = ("vexp", "vexp2", "vexpm1", "vtanh", "vsinh", "vcosh", "vsigmoid", "verf", "vsin", "vcos")


def scaled_results(name, dtype):
    if name in ("vsin", "vcos"):
        x = domain("vsin", dtype)
    else:
        big = 100.0 if dtype == np.float32 else 720.0
        x = np.concatenate([np.linspace(-big, big, 20001), [0.0, -0.0, np.inf, -np.inf, np.nan]])
        x = x.astype(dtype)
    out = np.empty_like(x)
    LOOPS[name](x, out)
    return out.view(f"u{out.itemsize}")


def _results_on_cpu(tmp_path, cpu, features, checks):
    """Run `checks` (Python source, with vm, np, re, njit and a float32/float64 pow loop
    `loop` at hand) in a process whose Numba compiles for `cpu`, and return the bits
    that process gets for SCALED's functions and float64 pow."""
    import os
    import subprocess
    script = tmp_path / f"{cpu}.py"
    script.write_text(
        "import numpy as np, re, sys\n"
        "from numba import njit\n"
        "from dprog.kernels import vecmath as vm\n"
        "sys.path.insert(0, %r)\n"
        "from test_vecmath import SCALED, pow64_results, scaled_results\n"
        "@njit(error_model='numpy')\n"
        "def loop(x, y, out):\n"
        "    for i in range(x.size):\n"
        "        out[i] = vm.vpow(x[i], y[i])\n"
        "%s"
        "res = {}\n"
        "for name in SCALED:\n"
        "    for dt in (np.float32, np.float64):\n"
        "        res[f'{name}_{dt.__name__}'] = scaled_results(name, dt)\n"
        "res['vpow_float64'] = pow64_results()\n"
        "np.savez(%r, **res)\n"
        "print('ok')\n" % (str(pathlib.Path(__file__).parent), checks, str(tmp_path / "results.npz")))
    env = dict(os.environ, NUMBA_CPU_NAME=cpu, NUMBA_CPU_FEATURES=features, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    root = pathlib.Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]
    return np.load(tmp_path / "results.npz")


def _assert_same_results(there):
    for name in SCALED:
        for dt in (np.float32, np.float64):
            np.testing.assert_array_equal(there[f"{name}_{dt.__name__}"], scaled_results(name, dt),
                                          err_msg=f"{name} {dt.__name__}")
    np.testing.assert_array_equal(there["vpow_float64"], pow64_results(), err_msg="vpow float64")


BASE_FEATURES = "+64bit,+sse4.2,+sse4.1,+ssse3,+sse3,+sse2,+sse,+mmx,+popcnt,+cx16,+xsave,+fxsr,+cmov"


# CPUs older than this one, as Numba compiles for them in a subprocess: (cpu, features,
# checks run there). The exp family's, sin/cos's and pow's results there must be
# bit-identical to this process's.
OLDER_CPUS = {
    # Haswell (no AVX-512F): float32 pow is the scalar code, and the loop still
    # vectorises (256-bit); float64 pow and float32 sin/cos are 4- and 8-lane vector
    # functions.
    "haswell": ("haswell", BASE_FEATURES + ",+avx,+avx2,+fma,+bmi,+bmi2,+f16c,+lzcnt,+movbe",
                "x = np.linspace(0.5, 4, 1000).astype(np.float32)\n"
                "out = np.empty_like(x)\n"
                "loop(x, x, out)\n"
                "ir = list(loop.inspect_llvm().values())[0]\n"
                "assert not vm._cpu_has_simd() and vm._cpu_lanes() == 8\n"
                "assert 'dprog_powf' not in ir and re.search(r'<8 x float>', ir)\n"
                "np.testing.assert_allclose(out, x.astype(np.float64) ** x, rtol=2e-7)\n"),
    # Sandy Bridge (AVX, no AVX2 or FMA): no vector function at all; sin, cos and pow
    # are the scalar code (and llvm.fma a correctly rounded libm call).
    "sandy bridge": ("sandybridge", BASE_FEATURES + ",+avx",
                     "assert vm._cpu_lanes() is None and not vm._cpu_has_simd()\n"
                     "x = np.linspace(0.5, 4, 1000)\n"
                     "loop(x, x, np.empty_like(x))\n"
                     "loop(x.astype(np.float32), x.astype(np.float32), np.empty(x.size, np.float32))\n"
                     "assert not any('dprog_pow' in ir for ir in loop.inspect_llvm().values())\n"),
}


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 code")
@pytest.mark.parametrize("name", list(OLDER_CPUS))
def test_older_cpus_run_their_code_paths_with_the_same_bits(tmp_path, name):
    cpu, features, checks = OLDER_CPUS[name]
    _assert_same_results(_results_on_cpu(tmp_path, cpu, features, checks))


def test_importing_vecmath_builds_nothing():
    # A process that only loads cached kernels imports vecmath but never compiles a
    # function: building the functions or pow's tables at import would cost every warm
    # first call (float64 pow's tables alone took ~50 ms).
    import subprocess
    code = ("from dprog.kernels import vecmath as vm, vecmath_pow64_simd as p64\n"
            "assert vm._impl.cache_info().currsize == 0 and vm._pow.cache_info().currsize == 0\n"
            "assert p64._tables.cache_info().currsize == 0\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]
