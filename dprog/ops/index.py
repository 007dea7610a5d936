"""Gather and scatter-add along one axis through an integer index array.

gather(x, idx, axis) is np.take: out.shape = x.shape[:axis] + idx.shape + x.shape[axis+1:].
Negative indices count from the end (as NumPy); out-of-range indices are clamped (as JAX),
because a compiled kernel cannot raise. Its VJP is scatter_add, whose VJP is gather.
"""
import numpy as np

from .. import dtypes
from ..errors import DtypeError, ShapeError, with_location
from ..ir import Aval
from .batching import aval, batch_iota, bdim_to_front, moveaxis, normalize_index
from .record import Kind, Op, register


def _normalise(idx, n):
    idx = np.asarray(idx)
    if not idx.size or (idx.min() >= 0 and idx.max() < n):
        return idx  # the common case, at a third of the cost of the fix-ups below
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
    idx = _normalise(idx, x.shape[axis])
    if x.flags.c_contiguous:
        return np.take(x, idx, axis=axis)
    # np.take copies a non-contiguous x whole first; indexing reads only the picked rows
    # (a strided view may be far bigger than its memory).
    return x[(slice(None),) * axis + (idx,)]


def _gather_jvp(primals, tangents, outs, *, axis):
    t = tangents[0]
    return None if t is None else gather_p(t, primals[1], axis=axis)


def _gather_vjp(ct, primals, outs, *, axis):
    x, idx = primals
    if not dtypes.is_float(x.aval.dtype):
        return [None, None]
    return [scatter_add_p(ct, idx, axis=axis, size=x.aval.shape[axis]), None]


def _member_offsets(idx, n, axis_size):
    """idx (batch axis first) normalised and offset by b * n for member b, so that one
    gather/scatter over the batch folded into the indexed axis serves every member."""
    from .elementwise import add_p, mul_p
    dt = aval(idx).dtype
    base = mul_p(batch_iota(axis_size, aval(idx).shape[1:], dt), dt.type(n))
    return add_p(normalize_index(idx, n), base)


def _gather_batch(axis_size, args, dims, /, *, axis):
    x, idx = args
    dx, di = dims
    if di is None:
        return gather_p(bdim_to_front(x, dx), idx, axis=axis + 1), 0
    idx = bdim_to_front(idx, di)
    if dx is None:  # the batch axis of idx lands where the gathered axis was
        return gather_p(x, idx, axis=axis), axis
    x = moveaxis(x, dx, axis)  # head + (B, n) + tail
    shape = aval(x).shape
    n = shape[axis + 1]
    from .shape import reshape_p
    x = reshape_p(x, shape=shape[:axis] + (axis_size * n,) + shape[axis + 2:])
    return gather_p(x, _member_offsets(idx, n, axis_size), axis=axis), axis


gather_p = register(Op("gather", Kind.INDEX, _gather_abstract, _gather_impl,
                       jvp=_gather_jvp, vjp=_gather_vjp, batch=_gather_batch, domain="gather"))


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


def _scatter_batch(axis_size, args, dims, /, *, axis, size):
    upd, idx = args
    du, di = dims
    if di is None:
        return scatter_add_p(bdim_to_front(upd, du), idx, axis=axis + 1, size=size), 0
    idx = bdim_to_front(idx, di)
    # (B, head, idx, tail) -> (head, B, idx, tail): the (B, idx) block matches the
    # offset indices, which scatter into one output axis of B * size.
    upd = moveaxis(bdim_to_front(upd, du, axis_size), 0, axis)
    out = scatter_add_p(upd, _member_offsets(idx, size, axis_size), axis=axis,
                        size=axis_size * size)
    shape = aval(out).shape
    from .shape import reshape_p
    return reshape_p(out, shape=shape[:axis] + (axis_size, size) + shape[axis + 1:]), axis


scatter_add_p = register(Op("scatter_add", Kind.INDEX, _scatter_abstract, _scatter_impl,
                            jvp=_scatter_jvp, vjp=_scatter_vjp, batch=_scatter_batch,
                            domain="scatter",
                            doc="zeros of the gathered-from shape, with updates added at idx"))
