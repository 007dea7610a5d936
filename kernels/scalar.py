"""Scalar helpers that generated kernels call, with NumPy's exact semantics.

Numba's own operators differ from NumPy at the edges (max with NaN, Python-style modulo
of floats, casts of NaN to int), so fused kernels call these instead. Each is inlined
into the calling loop, so it costs nothing over writing the expression by hand and
LLVM can still vectorise the loop.
"""
import math

import numpy as np
from numba import njit

_OPTS = dict(inline="always", error_model="numpy", cache=True)


@njit(**_OPTS)
def maximum(a, b):
    # NumPy propagates NaN from either side.
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


@njit(**_OPTS)
def minimum(a, b):
    if a != a:
        return a
    if b != b:
        return b
    return a if a <= b else b


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
