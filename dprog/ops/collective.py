"""Collective primitives: psum, pmax, all_gather across the processes of a communicator.

Every process runs the same program (SPMD), so each collective node is met by all of
them in the same order. The records are effectful: DCE must not drop a collective that
one process needs just because this process ignores its result, and CSE must not merge
two (each is a separate message exchange). `axis_name` names a communicator (see
dprog/distributed/comm.py); with a single process each op is an identity (all_gather
adds an axis of size 1).

Derivatives follow the SPMD convention: they are derivatives of the sum over processes
of each process's output. A psum's transpose is therefore a psum; pmax routes the
cotangent to the process(es) holding the maximum, split equally on ties; all_gather's
transpose is this process's slice of the psum'd cotangent (a reduce-scatter).
"""
import numpy as np

from .. import dtypes
from ..errors import DtypeError, ShapeError, with_location
from ..ir import Aval
from .batching import bdim_to_front
from .record import Kind, Op, register
from .shape import linear_jvp, reshape_p, slice_p


def _group(axis_name):
    from ..distributed.comm import group
    return group(axis_name)


def _reduce_impl(op):
    def impl(x, *, axis_name):
        g = _group(axis_name)
        from ..distributed.buffers import allreduce, is_device_array
        if g.size == 1:
            return x if is_device_array(x) else np.array(x, copy=True)
        return allreduce(g, x, op)
    return impl


def _reduce_abstract(name, accepts_bool):
    def abstract(x, *, axis_name):
        _group(axis_name)  # an unknown communicator fails here, at the user's line
        if dtypes.is_bool(x.dtype) and not accepts_bool:
            raise DtypeError(with_location(
                f"{name} of a bool array: cast it first, e.g. x.astype(np.int32)"))
        return x
    return abstract


def _elementwise_batch(op_getter):
    """Collectives act elementwise across processes: a batch axis just rides along."""
    def rule(axis_size, args, dims, /, **params):
        return op_getter()(args[0], **params), dims[0]
    return rule


psum_p = register(Op(
    "psum", Kind.COLLECTIVE, _reduce_abstract("psum", False), _reduce_impl("sum"),
    jvp=linear_jvp(lambda: psum_p),
    vjp=lambda ct, primals, outs, *, axis_name: [psum_p(ct, axis_name=axis_name)],
    batch=_elementwise_batch(lambda: psum_p), effectful=True,
    doc="elementwise sum over the processes of axis_name (MPI Allreduce)"))


def _pmax_weights(x, out, axis_name):
    """1/k on the processes where x reaches the maximum (k of them), 0 elsewhere."""
    hits = (x == out).astype(x.aval.dtype)
    return hits / psum_p(hits, axis_name=axis_name)


def _pmax_jvp(primals, tangents, outs, *, axis_name):
    (x,), (t,) = primals, tangents
    if t is None or not dtypes.is_float(x.aval.dtype):
        return None
    return psum_p(t * _pmax_weights(x, outs[0], axis_name), axis_name=axis_name)


def _pmax_vjp(ct, primals, outs, *, axis_name):
    (x,) = primals
    if not dtypes.is_float(x.aval.dtype):
        return [None]
    return [psum_p(ct, axis_name=axis_name) * _pmax_weights(x, outs[0], axis_name)]


pmax_p = register(Op(
    "pmax", Kind.COLLECTIVE, _reduce_abstract("pmax", True), _reduce_impl("max"),
    jvp=_pmax_jvp, vjp=_pmax_vjp, batch=_elementwise_batch(lambda: pmax_p), effectful=True,
    doc="elementwise maximum over the processes of axis_name; ties share the derivative"))


def _gather_abstract(x, *, axis_name, axis, tiled):
    n = _group(axis_name).size
    if tiled:
        if not 0 <= axis < x.ndim:
            raise ShapeError(with_location(
                f"all_gather(tiled=True): axis {axis} out of range for shape {x.shape}"))
        shape = x.shape[:axis] + (x.shape[axis] * n,) + x.shape[axis + 1:]
    else:
        if not 0 <= axis <= x.ndim:
            raise ShapeError(with_location(
                f"all_gather: axis {axis} out of range for an array of rank {x.ndim}"))
        shape = x.shape[:axis] + (n,) + x.shape[axis:]
    return Aval(shape, x.dtype, x.weak)


def _gather_impl(x, *, axis_name, axis, tiled):
    g = _group(axis_name)
    if g.size == 1:
        stacked = np.array(x, copy=True)[None]
    else:
        from ..distributed.buffers import allgather
        stacked = allgather(g, x)
        if not isinstance(stacked, np.ndarray):  # a GPU array: no NumPy moves on it yet
            stacked = stacked.copy_to_host()
    if tiled:
        return np.concatenate(list(stacked), axis=axis)
    return np.moveaxis(stacked, 0, axis)


def _gather_vjp(ct, primals, outs, *, axis_name, axis, tiled):
    (x,) = primals
    g = _group(axis_name)
    total = psum_p(ct, axis_name=axis_name)
    shape = total.aval.shape
    width = x.aval.shape[axis] if tiled else 1
    start = [0] * len(shape)
    limit = list(shape)
    start[axis], limit[axis] = g.rank * width, (g.rank + 1) * width
    mine = slice_p(total, start=tuple(start), limit=tuple(limit), step=(1,) * len(shape))
    return [mine if tiled else reshape_p(mine, shape=x.aval.shape)]


def _gather_batch(axis_size, args, dims, /, *, axis_name, axis, tiled):
    x = bdim_to_front(args[0], dims[0])
    return all_gather_p(x, axis_name=axis_name, axis=axis + 1, tiled=tiled), 0


all_gather_p = register(Op(
    "all_gather", Kind.COLLECTIVE, _gather_abstract, _gather_impl,
    jvp=linear_jvp(lambda: all_gather_p), vjp=_gather_vjp, batch=_gather_batch,
    effectful=True,
    doc="every process's x, stacked along a new `axis` (tiled: concatenated along it)"))
