"""Creation (iota) and scan (cumsum) primitives."""
import numpy as np

from .. import dtypes
from ..errors import ShapeError, with_location
from ..ir import Aval
from .batching import shift_axes_rule
from .record import Kind, Op, register
from .shape import linear_jvp


def _iota_abstract(*, shape, dtype, axis):
    if not 0 <= axis < len(shape):
        raise ShapeError(with_location(f"iota: axis {axis} out of range for shape {shape}"))
    return Aval(shape, dtypes.canonical(dtype))


def _iota_impl(*, shape, dtype, axis):
    ramp = np.arange(shape[axis], dtype=dtype).reshape(
        [n if i == axis else 1 for i, n in enumerate(shape)])
    return np.broadcast_to(ramp, shape)


def _iota_batch(axis_size, args, dims, /, **params):
    # No operands, so nothing is ever batched: every member sees the same ramp.
    return iota_p(**params), None


iota_p = register(Op("iota", Kind.CREATION, _iota_abstract, _iota_impl, differentiable=False,
                     batch=_iota_batch,
                     doc="0, 1, 2, ... along `axis`, broadcast to `shape`"))


def _cumsum_abstract(x, *, axis, reverse):
    if not 0 <= axis < x.ndim:
        raise ShapeError(with_location(f"cumsum: axis {axis} out of range for shape {x.shape}"))
    return x


def _cumsum_impl(x, *, axis, reverse):
    x = np.asarray(x)
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
    return np.cumsum(x, axis=axis, dtype=x.dtype)


cumsum_p = register(Op(
    "cumsum", Kind.SCAN, _cumsum_abstract, _cumsum_impl,
    jvp=linear_jvp(lambda: cumsum_p), batch=shift_axes_rule(lambda: cumsum_p, "axis"),
    vjp=lambda ct, primals, outs, *, axis, reverse: [cumsum_p(ct, axis=axis, reverse=not reverse)],
    doc="inclusive prefix sum along axis (from the end when reverse)"))
