"""dprog.numpy: NumPy's API on traced values (and on plain arrays, eagerly).

    import dprog.numpy as dnp
    dnp.sum(dnp.tanh(x) * w, axis=1)

Inside a traced function these record graph nodes; outside, they compute with NumPy.
NumPy's own functions also work on traced values (np.sin(x), np.sum(x)) through the
__array_ufunc__/__array_function__ protocols: see dprog/numpy/dispatch.py.
"""
import numpy as _np

from .creation import (arange, array, asarray, empty, empty_like, eye, full, full_like,  # noqa: F401
                       identity, linspace, ones, ones_like, zeros, zeros_like)
from .bits import (bitwise_and, bitwise_invert, bitwise_not, bitwise_or,  # noqa: F401
                   bitwise_xor, invert, left_shift, right_shift)
from .cumulative import cumprod, cumsum, diff  # noqa: F401
from .elementwise import (abs, absolute, add, arccos, arccosh, arcsin, arcsinh, arctan,  # noqa: F401
                          arctan2, arctanh, around, cbrt, ceil, clip, cos, cosh, deg2rad, divide,
                          equal, erf, exp, exp2, expm1, float_power, floor, floor_divide, greater,
                          greater_equal, hypot, isfinite, isnan, less, less_equal, log, log1p,
                          log2, log10, logaddexp, logical_and, logical_not, logical_or,
                          logical_xor, maximum, minimum, mod, multiply, nan_to_num, negative,
                          not_equal, positive, power, rad2deg, reciprocal, remainder, round,
                          sigmoid, sign, sin, sinh, sqrt, square, subtract, tan, tanh,
                          true_divide, where)
from .indexing import getitem, take, take_along_axis  # noqa: F401
from .linalg import (diag, diagonal, dot, einsum, inner, matmul, outer, tensordot,  # noqa: F401
                     trace, tril, triu, vdot)
from . import linalg  # noqa: F401
from .reductions import (all, amax, amin, any, argmax, argmin, average, count_nonzero,  # noqa: F401
                         max, mean, min, prod, std, sum, var)
from .shape import (array_split, atleast_1d, atleast_2d, broadcast_arrays, concatenate,  # noqa: F401
                    expand_dims, flip, fliplr, flipud, hstack, moveaxis, ndim, pad, ravel,
                    repeat, reshape, roll, shape, size, split, squeeze, stack, swapaxes, tile,
                    transpose, vstack)
from ._core import astype, broadcast_to  # noqa: F401

float32 = _np.float32
float64 = _np.float64
int32 = _np.int32
int64 = _np.int64
bool_ = _np.bool_
pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
