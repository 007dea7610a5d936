"""Scalar helpers that generated kernels call, with NumPy's exact semantics.

Numba's own operators differ from NumPy at the edges (max with NaN, Python-style modulo
of floats, casts of NaN to int), so fused kernels call these instead. Each is inlined
into the calling loop, so it costs nothing over writing the expression by hand and
LLVM can still vectorise the loop.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

_OPTS = dict(inline="always", error_model="numpy", cache=True)


def _float_min_max_intrinsic(llvm_name):
    """An intrinsic calling LLVM's NaN-propagating llvm.maximum / llvm.minimum, which
    matches NumPy's maximum/minimum for floats and, unlike a compare-and-branch, lets
    LLVM vectorise max/min reductions (measured on 4096x1000 f32 rows: 0.73 ms serial
    against 5.2 ms for the branchy form and NumPy's 0.9 ms). The one difference from
    NumPy: the maximum of -0.0 and +0.0 is +0.0 whichever comes first."""
    @intrinsic
    def call(typingctx, a, b):
        if not (isinstance(a, types.Float) and a == b):
            return None

        def codegen(context, builder, signature, args):
            lty = context.get_value_type(signature.return_type)
            suffix = "f32" if lty == ir.FloatType() else "f64"
            fnty = ir.FunctionType(lty, [lty, lty])
            fn = cgutils.get_or_insert_function(builder.module, fnty, f"{llvm_name}.{suffix}")
            return builder.call(fn, args)
        return a(a, b), codegen
    return call


_llvm_maximum = _float_min_max_intrinsic("llvm.maximum")
_llvm_minimum = _float_min_max_intrinsic("llvm.minimum")


def maximum(a, b):
    """NumPy's maximum of two scalars (NaN from either side propagates)."""
    return np.maximum(a, b)


def minimum(a, b):
    """NumPy's minimum of two scalars (NaN from either side propagates)."""
    return np.minimum(a, b)


@njit(**_OPTS)
def _ge(a, b):
    return a >= b


@njit(**_OPTS)
def _le(a, b):
    return a <= b


def _overload_min_max(stub, llvm_fn, first_wins):
    """Floats of one dtype: the LLVM intrinsic. Anything else (integers, bools, mixed
    types): NaN from either side propagates, else the comparison picks."""
    @overload(stub, inline="always")
    def _impl(a, b):
        if isinstance(a, types.Float) and a == b:
            return lambda a, b: llvm_fn(a, b)

        def impl(a, b):
            if a != a:
                return a
            if b != b:
                return b
            return a if first_wins(a, b) else b
        return impl


_overload_min_max(maximum, _llvm_maximum, _ge)
_overload_min_max(minimum, _llvm_minimum, _le)


@njit(**_OPTS)
def fmod_floor(a, b):
    """NumPy's mod for floats: the result has the sign of the divisor."""
    r = np.fmod(a, b)  # Numba has no math.fmod
    if r != 0 and ((r < 0) != (b < 0)):
        r += b
    return r


@njit(**_OPTS)
def int_mod(a, b):
    if b == 0:
        return a - a
    r = a % b
    return r


@njit(**_OPTS)
def int_floor_divide(a, b):
    if b == 0:
        return a - a
    return a // b


@njit(**_OPTS)
def float_floor_divide(a, b):
    return math.floor(a / b) if b != 0 else a / b


@njit(**_OPTS)
def round_half_even(x):
    if not np.isfinite(x):
        return x
    r = np.floor(x + 0.5)
    # Exactly halfway: go to the even neighbour (banker's rounding, as np.round).
    if r - x == 0.5 and np.fmod(r, 2) != 0:
        r -= 1
    return r


@njit(**_OPTS)
def cbrt(x):
    if x == 0 or x != x or math.isinf(x):
        return x
    r = abs(x) ** (x - x + 1.0 / 3.0)
    # One Newton step tightens the pow-based estimate to a few ULP.
    r = r - (r * r * r - abs(x)) / (3 * r * r)
    return r if x > 0 else -r


@njit(**_OPTS)
def int_pow(a, b):
    """Integer power by squaring. NumPy raises for negative exponents; a kernel cannot,
    so those give 0 (the integer part of the true result for |a| > 1)."""
    if b < 0:
        return a - a + (1 if a == 1 else (1 - 2 * ((-b) % 2) if a == -1 else 0))
    result = a - a + 1
    base = a
    while b > 0:
        if b & 1:
            result *= base
        base *= base
        b >>= 1
    return result
