"""Gather and scatter-add along one axis through an integer index array.

gather(x, idx, axis) is np.take: out.shape = x.shape[:axis] + idx.shape + x.shape[axis+1:].
Negative indices count from the end (as NumPy); out-of-range indices are clamped (as JAX),
because a compiled kernel cannot raise. Its VJP is scatter_add, whose VJP is gather.
"""
import numpy as np

from .. import dtypes
from ..errors import DtypeError, ShapeError, with_location
from ..ir import Aval
from .record import Kind, Op, register


def _normalise(idx, n):
    idx = np.asarray(idx)
    idx = np.where(idx < 0, idx + n, idx)
    return np.clip(idx, 0, max(n - 1, 0))


def _check_index(name, idx):
    if not dtypes.is_int(idx.dtype):
        raise DtypeError(with_location(
            f"{name}: indices must be integers, got {idx.dtype} (use .astype(int))"))


def _gather_abstract(x, idx, *, axis):
    _check_index("take", idx)
    if not 0 <= axis < x.ndim:
        raise ShapeError(with_location(f"take: axis {axis} out of range for shape {x.shape}"))
    if x.shape[axis] == 0 and idx.size:
        raise ShapeError(with_location(f"take: cannot index an empty axis of shape {x.shape}"))
    return Aval(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype, x.weak)


def _gather_impl(x, idx, *, axis):
    x = np.asarray(x)
    return np.take(x, _normalise(idx, x.shape[axis]), axis=axis)


def _gather_jvp(primals, tangents, outs, *, axis):
    t = tangents[0]
    return None if t is None else gather_p(t, primals[1], axis=axis)


def _gather_vjp(ct, primals, outs, *, axis):
    x, idx = primals
    if not dtypes.is_float(x.aval.dtype):
        return [None, None]
    return [scatter_add_p(ct, idx, axis=axis, size=x.aval.shape[axis]), None]


gather_p = register(Op("gather", Kind.INDEX, _gather_abstract, _gather_impl,
                       jvp=_gather_jvp, vjp=_gather_vjp, domain="gather"))


def _scatter_abstract(upd, idx, *, axis, size):
    _check_index("scatter_add", idx)
    head, tail = upd.shape[:axis], upd.shape[axis + idx.ndim:]
    if upd.shape[axis:axis + idx.ndim] != idx.shape:
        raise ShapeError(with_location(
            f"scatter_add: updates {upd.shape} do not match indices {idx.shape} at axis {axis}"))
    return Aval(head + (size,) + tail, upd.dtype, upd.weak)


def _scatter_impl(upd, idx, *, axis, size):
    upd = np.asarray(upd)
    idx = _normalise(idx, size)
    head = upd.shape[:axis]
    tail = upd.shape[axis + idx.ndim:]
    out = np.zeros(head + (size,) + tail, upd.dtype)
    flat_upd = upd.reshape(head + (idx.size,) + tail)
    index = (slice(None),) * axis + (idx.reshape(-1),)
    np.add.at(out, index, flat_upd)
    return out


def _scatter_jvp(primals, tangents, outs, *, axis, size):
    t = tangents[0]
    return None if t is None else scatter_add_p(t, primals[1], axis=axis, size=size)


def _scatter_vjp(ct, primals, outs, *, axis, size):
    return [gather_p(ct, primals[1], axis=axis), None]


scatter_add_p = register(Op("scatter_add", Kind.INDEX, _scatter_abstract, _scatter_impl,
                            jvp=_scatter_jvp, vjp=_scatter_vjp, domain="scatter",
                            doc="zeros of the gathered-from shape, with updates added at idx"))
