"""Reductions with NumPy's axis/keepdims conventions: sum, mean, prod, max, min, ..."""
import numpy as np

from .. import dtypes
from ..ops import reduce as rd
from ..ops import shape as sh
from ._core import aval_of, asarray, cast, normalize_axes, normalize_axis


def _keep(y, x_aval, axes, keepdims):
    if not keepdims:
        return y
    shape = tuple(1 if i in axes else n for i, n in enumerate(x_aval.shape))
    return sh.reshape_p(y, shape=shape)


def _sum_dtype(dt):
    """NumPy sums bools and small ints in the platform integer (int64 here)."""
    if dtypes.is_bool(dt) or dtypes.is_int(dt):
        return dtypes.int64
    return dt


def sum(x, axis=None, dtype=None, keepdims=False):  # noqa: A001
    x = asarray(x)
    aval = aval_of(x)
    axes = normalize_axes(axis, aval.ndim)
    x = cast(x, dtypes.canonical(dtype) if dtype is not None else _sum_dtype(aval.dtype))
    y = rd.reduce_sum_p(x, axes=axes) if axes else x
    return _keep(y, aval, axes, keepdims)


def mean(x, axis=None, dtype=None, keepdims=False):
    x = asarray(x)
    aval = aval_of(x)
    axes = normalize_axes(axis, aval.ndim)
    out_dtype = dtypes.canonical(dtype) if dtype is not None else dtypes.float_type(aval)
    count = int(np.prod([aval.shape[a] for a in axes], dtype=np.int64))
    total = sum(cast(x, out_dtype), axis=axes, keepdims=keepdims)
    return total / out_dtype.type(count) if count else total * out_dtype.type(np.nan)


def _chooser(prim, name):
    def fn(x, axis=None, keepdims=False, initial=None):
        x = asarray(x)
        aval = aval_of(x)
        axes = normalize_axes(axis, aval.ndim)
        y = prim(x, axes=axes) if axes else x
        if initial is not None:
            from .elementwise import maximum, minimum
            y = (maximum if name == "max" else minimum)(y, initial)
        return _keep(y, aval, axes, keepdims)
    fn.__name__ = name
    fn.__doc__ = f"{name} over axes; the derivative is shared equally among ties."
    return fn


max = _chooser(rd.reduce_max_p, "max")  # noqa: A001
min = _chooser(rd.reduce_min_p, "min")  # noqa: A001
amax, amin = max, min


def _arg(prim, name):
    def fn(x, axis=None, keepdims=False):
        x = asarray(x)
        aval = aval_of(x)
        if axis is None:
            from .shape import ravel
            y = prim(ravel(x), axis=0)
            return sh.reshape_p(y, shape=(1,) * aval.ndim) if keepdims else y
        ax = normalize_axis(axis, aval.ndim)
        return _keep(prim(x, axis=ax), aval, (ax,), keepdims)
    fn.__name__ = name
    return fn


argmax = _arg(rd.argmax_p, "argmax")
argmin = _arg(rd.argmin_p, "argmin")


def prod(x, axis=None, dtype=None, keepdims=False):
    """Product as a pairwise tree of multiplications: exact derivatives, zeros included."""
    from .shape import moveaxis, reshape
    from ._core import full_like_aval
    from ..ops import shape as shape_ops
    x = asarray(x)
    aval = aval_of(x)
    axes = normalize_axes(axis, aval.ndim)
    x = cast(x, dtypes.canonical(dtype) if dtype is not None else _sum_dtype(aval.dtype))
    if not axes:
        return x
    kept = [i for i in range(aval.ndim) if i not in axes]
    x = moveaxis(x, axes, tuple(range(len(kept), aval.ndim)))
    n = int(np.prod([aval.shape[a] for a in axes], dtype=np.int64))
    x = reshape(x, tuple(aval.shape[i] for i in kept) + (n,))
    xa = aval_of(x)
    if n == 0:
        y = full_like_aval(xa.update(shape=xa.shape[:-1]), 1)
        return _keep(y, aval, axes, keepdims)
    while n > 1:
        half = (n + 1) // 2
        if n % 2:  # pad with a one so the halves match
            x = shape_ops.pad_p(x, np.ones((), xa.dtype), lo=(0,) * xa.ndim,
                                hi=(0,) * (xa.ndim - 1) + (1,), interior=(0,) * xa.ndim)
        lead = tuple(aval_of(x).shape[:-1])
        first = shape_ops.slice_p(x, start=(0,) * xa.ndim, limit=lead + (half,), step=(1,) * xa.ndim)
        second = shape_ops.slice_p(x, start=(0,) * (xa.ndim - 1) + (half,), limit=lead + (2 * half,),
                                   step=(1,) * xa.ndim)
        x = first * second
        n = half
    y = reshape(x, aval_of(x).shape[:-1])
    return _keep(y, aval, axes, keepdims)


def var(x, axis=None, dtype=None, ddof=0, keepdims=False):
    x = asarray(x)
    aval = aval_of(x)
    axes = normalize_axes(axis, aval.ndim)
    mu = mean(x, axis=axes, dtype=dtype, keepdims=True)
    centered = x - mu
    count = int(np.prod([aval.shape[a] for a in axes], dtype=np.int64)) - ddof
    sq = sum(centered * centered, axis=axes, keepdims=keepdims)
    return sq / aval_of(sq).dtype.type(count) if count > 0 else sq * aval_of(sq).dtype.type(np.nan)


def std(x, axis=None, dtype=None, ddof=0, keepdims=False):
    from .elementwise import sqrt
    return sqrt(var(x, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def all(x, axis=None, keepdims=False):  # noqa: A001
    x = asarray(x)
    return min(cast(x, dtypes.bool_), axis=axis, keepdims=keepdims) if aval_of(x).size else \
        _empty_logical(x, axis, keepdims, True)


def any(x, axis=None, keepdims=False):  # noqa: A001
    x = asarray(x)
    return max(cast(x, dtypes.bool_), axis=axis, keepdims=keepdims) if aval_of(x).size else \
        _empty_logical(x, axis, keepdims, False)


def _empty_logical(x, axis, keepdims, value):
    aval = aval_of(x)
    axes = normalize_axes(axis, aval.ndim)
    shape = tuple(1 if i in axes else n for i, n in enumerate(aval.shape)) if keepdims else \
        tuple(n for i, n in enumerate(aval.shape) if i not in axes)
    return np.full(shape, value)


def count_nonzero(x, axis=None, keepdims=False):
    return sum(cast(asarray(x), dtypes.bool_), axis=axis, keepdims=keepdims)


def average(x, axis=None, weights=None, keepdims=False):
    if weights is None:
        return mean(x, axis=axis, keepdims=keepdims)
    from ._core import promote
    x, w = promote("average", x, weights, to_float=True)
    return sum(x * w, axis=axis, keepdims=keepdims) / sum(w, axis=axis, keepdims=keepdims)


