"""cumsum, cumprod and diff along an axis."""
from ..ops import misc
from ..ops import shape as sh
from ._core import aval_of, asarray, cast, normalize_axis
from .reductions import _sum_dtype
from .shape import ravel
from .. import dtypes
import numpy as np


def cumsum(x, axis=None, dtype=None):
    x = asarray(x)
    if axis is None:
        x, axis = ravel(x), 0
    aval = aval_of(x)
    x = cast(x, dtypes.canonical(dtype) if dtype is not None else _sum_dtype(aval.dtype))
    return misc.cumsum_p(x, axis=normalize_axis(axis, aval.ndim), reverse=False)


def cumprod(x, axis=None, dtype=None):
    """Inclusive prefix product by doubling (Hillis-Steele) over multiplications, so its
    derivatives are exact at zeros and to any order."""
    x = asarray(x)
    if axis is None:
        x, axis = ravel(x), 0
    aval = aval_of(x)
    axis = normalize_axis(axis, aval.ndim)
    x = cast(x, dtypes.canonical(dtype) if dtype is not None else _sum_dtype(aval.dtype))
    n = aval.shape[axis]
    nd = aval.ndim
    one = np.ones((), aval_of(x).dtype)
    shift = 1
    while shift < n:
        lo = [0] * nd
        lo[axis] = shift
        limit = list(aval.shape)
        limit[axis] = n - shift
        head = sh.slice_p(x, start=(0,) * nd, limit=tuple(limit), step=(1,) * nd)
        shifted = sh.pad_p(head, one, lo=tuple(lo), hi=(0,) * nd, interior=(0,) * nd)
        x = x * shifted
        shift *= 2
    return x


def diff(x, n=1, axis=-1):
    x = asarray(x)
    for _ in range(n):
        aval = aval_of(x)
        ax = normalize_axis(axis, aval.ndim)
        m = aval.shape[ax]
        start = [0] * aval.ndim
        limit = list(aval.shape)
        start[ax] = 1
        upper = sh.slice_p(x, start=tuple(start), limit=tuple(limit), step=(1,) * aval.ndim)
        limit[ax] = max(m - 1, 0)
        lower = sh.slice_p(x, start=(0,) * aval.ndim, limit=tuple(limit), step=(1,) * aval.ndim)
        x = upper - lower
    return x
