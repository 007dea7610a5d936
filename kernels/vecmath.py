"""Vectorisable scalar math for Numba kernels: one name per function, float32 and float64.

Generated code does

    from dprog.kernels.vecmath import vexp, vtanh      # (kernels/ is dprog.kernels)
    @njit(error_model="numpy")
    def k(x, out):
        for i in range(x.size):
            out[i] = vtanh(vexp(x[i]))

and LLVM vectorises the loop (libm calls such as math.exp would not be: PyPI llvmlite
has no SVML). Each name is a Python function (it computes with NumPy when called from
Python) with a Numba overload that picks the float32 or float64 implementation from the
argument type: float32 in, float32 out, no float64 arithmetic on the way. (Exceptions:
float32 vsin/vcos reduce |x| >= 2^16 in float64; vsin_fast/vcos_fast leave that path
out, for kernels that redo a slice with vsin/vcos where vtrig_huge holds; vpow_fast and
vpow_special are the same pair for pow's special cases, vlog_fast/vlog2_fast/
vlog10_fast and vlog_special for the logarithms.) Integer arguments are computed in
float64, like NumPy's ufuncs.

Some float32 functions are calls to hand-vectorised functions instead, which LLVM's
vectoriser calls once per vector (vecmath_simd.py): vpow on CPUs with AVX-512F and DQ
(vecmath_pow_simd.py), vsin and vcos on CPUs with AVX2 or AVX-512 (vecmath_trig_simd.py:
only a vector with a huge argument pays for the float64 reduction; in the scalar code
every element does, and the loop runs at float64 width). float64 vpow is one on CPUs
with AVX2 or AVX-512 (vecmath_pow64_simd.py: only a vector with a special argument pays
for the special cases).
Accuracy and speed: see VECMATH.md.
"""
import functools
import hashlib
import pathlib

import numpy as np
from numba import types
from numba.extending import intrinsic, overload

from . import (vecmath_exp, vecmath_pow, vecmath_pow64_simd, vecmath_pow_simd, vecmath_simd, vecmath_special,
               vecmath_trig, vecmath_trig_simd)
from .vecmath_bits import INNER_OPTS, jit
from .vecmath_flatten import flatten

# Numba's disk cache does not notice when a callee module changes, and these functions
# are inlined into the generated kernels: codegen should mix SOURCE_HASH into the content
# hash that names a generated module, so that an edit here recompiles the kernels.
SOURCE_HASH = hashlib.sha256(b"".join(
    f.read_bytes() for f in sorted(pathlib.Path(__file__).parent.glob("vecmath*.py"))
)).hexdigest()[:16]

# The overloads' implementations are only called from compiled code: no C wrapper
# (Numba's overloads already have no CPython wrapper).
_OVERLOAD_OPTS = dict(INNER_OPTS, no_cfunc_wrapper=True)


@functools.lru_cache(maxsize=None)
def _impl(F):
    """The functions for dtype F (name -> @jit helper), built on first use: a process
    that only loads cached kernels never builds them (~50 ms of Numba dispatchers)."""
    e = vecmath_exp.build(F)
    table = dict(vars(e))
    table.update(vars(vecmath_special.build(F, e)))
    table.update(vars(vecmath_trig.build(F)))
    return table


@functools.lru_cache(maxsize=None)
def _pow(F):
    """pow for dtype F, built on its own first use: its float64 tables take ~30 ms."""
    return vecmath_pow.build(F)


@functools.lru_cache(maxsize=None)
def _flat(F, name, arg_names):
    """The entry point `name` for dtype F as one plain function of `arg_names`, with its
    helpers inlined (vecmath_flatten.py): Numba compiles it once, not once per helper."""
    return flatten(_pow(F)[name] if name.startswith("pow") else _impl(F)[name], arg_names)


@functools.lru_cache(maxsize=None)
def _flat_jit(F, name, arg_names):
    """_flat compiled on its own, for callers that convert their arguments to F first."""
    return jit(_flat(F, name, arg_names))


def _exact(F, *tys):
    return all(isinstance(t, types.Float) and t.bitwidth == np.dtype(F).itemsize * 8 for t in tys)


def _sigmoid_np(x):
    return 1 / (1 + np.exp(-np.asarray(x)))


def _erf_np(x):
    import math
    return np.vectorize(math.erf, otypes=[np.result_type(x, np.float32)])(x)


def _pick(*tys):
    if all(isinstance(t, types.Float) and t.bitwidth == 32 for t in tys):
        return np.float32
    if all(isinstance(t, (types.Float, types.Integer, types.Boolean)) for t in tys):
        return np.float64
    return None


def _simd_unary(emit):
    """An intrinsic computing a float32 function through a vector function:
    emit(context, builder, x) emits the call (vecmath_simd.call)."""
    @intrinsic
    def simd(typingctx, x):
        if x == types.float32:
            def codegen(context, builder, sig, args):
                return emit(context, builder, *args)
            return types.float32(x), codegen
    return simd


def _make_unary(pub, name, ref, simd32=None):
    """The public function `pub` (NumPy's `ref` when called from Python) and its overload:
    the flattened `name` for the argument's dtype, or where given, simd32 (a vector
    function's emitter) for float32 on CPUs with AVX2 or AVX-512."""
    simd = _simd_unary(simd32) if simd32 is not None else None

    def stub(x):
        return ref(x)
    stub.__name__ = stub.__qualname__ = pub
    stub.__doc__ = f"{name}(x) for float32/float64 inside @njit code (NumPy outside)."

    @overload(stub, jit_options=_OVERLOAD_OPTS)
    def _ov(x):
        F = _pick(x)
        if F is None:
            return None
        if simd is not None and F is np.float32 and _cpu_lanes() is not None:
            return lambda x: simd(x)
        if _exact(F, x):
            return _flat(F, name, ("x",))     # the overload's implementation itself
        fn = _flat_jit(F, name, ("x",))
        return lambda x: fn(F(x))
    return stub


vexp = _make_unary("vexp", "exp", np.exp)
vexp2 = _make_unary("vexp2", "exp2", np.exp2)
vexpm1 = _make_unary("vexpm1", "expm1", np.expm1)
vlog = _make_unary("vlog", "log", np.log)
vlog2 = _make_unary("vlog2", "log2", np.log2)
vlog10 = _make_unary("vlog10", "log10", np.log10)


def _positive_normal_finite_np(x, dtype):
    """NumPy's side of the fast forms' guards: is x normal, positive and finite in dtype?"""
    with np.errstate(invalid="ignore"):
        return (x >= np.finfo(dtype).tiny) & (x < np.inf)


def _log_special_np(x):
    x = np.asarray(x)
    return ~_positive_normal_finite_np(x, np.result_type(x, np.float32))


# log, log2 and log10 without their special cases, and where those are needed
# (vecmath_exp.py), for kernels that redo a slice with the exact form
vlog_fast = _make_unary("vlog_fast", "log_fast", np.log)
vlog2_fast = _make_unary("vlog2_fast", "log2_fast", np.log2)
vlog10_fast = _make_unary("vlog10_fast", "log10_fast", np.log10)
vlog_special = _make_unary("vlog_special", "log_special", _log_special_np)
vlog1p = _make_unary("vlog1p", "log1p", np.log1p)
vtanh = _make_unary("vtanh", "tanh", np.tanh)
vsigmoid = _make_unary("vsigmoid", "sigmoid", _sigmoid_np)
vsinh = _make_unary("vsinh", "sinh", np.sinh)
vcosh = _make_unary("vcosh", "cosh", np.cosh)
verf = _make_unary("verf", "erf", _erf_np)
vsin = _make_unary("vsin", "sin", np.sin, vecmath_trig_simd.call_sin)
vcos = _make_unary("vcos", "cos", np.cos, vecmath_trig_simd.call_cos)
# sin/cos without the huge-argument path, and where that path is needed (vecmath_trig.py)
vsin_fast = _make_unary("vsin_fast", "sin_fast", np.sin)
vcos_fast = _make_unary("vcos_fast", "cos_fast", np.cos)
vtrig_huge = _make_unary("vtrig_huge", "trig_huge", lambda x: np.abs(x) >= vecmath_trig.FAST_MAX_OF[
    np.float32 if np.asarray(x).dtype == np.float32 else np.float64])
vatan = _make_unary("vatan", "atan", np.arctan)


def vpow(x, y):
    """x**y for float32/float64 inside @njit code (NumPy's np.power outside)."""
    return np.power(x, y)


@intrinsic
def _vpow32_simd(typingctx, x, y):
    """float32 pow through the 16-lane vector function (vecmath_pow_simd.py)."""
    if x == types.float32 and y == types.float32:
        def codegen(context, builder, sig, args):
            return vecmath_pow_simd.call(builder, *args)
        return types.float32(x, y), codegen


def _cpu_has_simd():
    from numba.core.registry import cpu_target
    return vecmath_simd.available(cpu_target.target_context)


def _cpu_lanes():
    from numba.core.registry import cpu_target
    return vecmath_simd.native_lanes(cpu_target.target_context)


def vpow_fast(x, y):
    """x**y where not vpow_special(x, y), bit-identical to vpow there (some value
    elsewhere): what kernels compute before checking the guard (vecmath_pow.build)."""
    return np.power(x, y)


def vpow_special(x, y):
    """Is (x, y) outside vpow_fast's range: x not a positive normal finite number, or y
    not finite?"""
    x, y = np.asarray(x), np.asarray(y)
    return ~(_positive_normal_finite_np(x, np.result_type(x, y, np.float32)) & np.isfinite(y))


@intrinsic
def _vpow64_simd(typingctx, x, y):
    """float64 pow through the vector function (vecmath_pow64_simd.py)."""
    if x == types.float64 and y == types.float64:
        def codegen(context, builder, sig, args):
            return vecmath_pow64_simd.call(context, builder, *args)
        return types.float64(x, y), codegen


def _simd_pow(x, y):
    return _vpow32_simd(x, y)


def _simd_pow64(x, y):
    return _vpow64_simd(x, y)


def _simd_never_special(x, y):
    return False


def _pow_overload(name):
    def ov(x, y):
        F = _pick(x, y)
        if F is None:
            return None
        if F is np.float32 and _cpu_has_simd():
            # the vector function has its own fast path and special-case path
            return _simd_never_special if name == "pow_special" else _simd_pow
        if F is np.float64 and name == "pow" and _cpu_lanes() is not None:
            # vpow through the vector function; kernels' pow_fast/pow_special keep the
            # scalar code, which LLVM inlines: a kernel computing x**y and x**(y-1) (a
            # gradient) then shares one log(x) between them, and ran 30% faster than with
            # two calls of the vector function
            return _simd_pow64 if _exact(F, x, y) else (lambda x, y: _vpow64_simd(F(x), F(y)))
        if _exact(F, x, y):
            return _flat(F, name, ("x", "y"))
        fn = _flat_jit(F, name, ("x", "y"))
        return lambda x, y: fn(F(x), F(y))
    return ov


for _stub, _name in ((vpow, "pow"), (vpow_fast, "pow_fast"), (vpow_special, "pow_special")):
    overload(_stub, jit_options=_OVERLOAD_OPTS)(_pow_overload(_name))
del _stub, _name


__all__ = ["SOURCE_HASH", "vexp", "vexp2", "vexpm1", "vlog", "vlog2", "vlog10", "vlog1p", "vtanh",
           "vsigmoid", "vsinh", "vcosh", "verf", "vsin", "vcos", "vsin_fast", "vcos_fast",
           "vlog_fast", "vlog2_fast", "vlog10_fast", "vlog_special",
           "vtrig_huge", "vatan", "vpow", "vpow_fast", "vpow_special"]
