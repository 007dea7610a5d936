"""Reduction primitives over a tuple of axes (keepdims is a reshape in dprog.numpy).

reduce_max/min split the derivative equally among tied maxima, as JAX does. Products are
not a primitive: dprog.numpy builds them from multiplications (a pairwise tree), which
keeps derivatives exact at zeros.
"""
import numpy as np

from .. import dtypes
from ..errors import ShapeError, DtypeError, with_location
from ..ir import Aval
from .batching import shift_axes_rule
from .record import Kind, Op, register
from .shape import broadcast_in_dim_p, linear_jvp


def _check_axes(name, x, axes):
    if len(set(axes)) != len(axes) or any(not 0 <= a < x.ndim for a in axes):
        raise ShapeError(with_location(f"{name}: axes {axes} invalid for shape {x.shape}"))


def _reduced_shape(x, axes):
    return tuple(n for i, n in enumerate(x.shape) if i not in axes)


def _kept_dims(ndim, axes):
    return tuple(i for i in range(ndim) if i not in axes)


def _reduce_abstract(name, accepts_bool):
    def abstract(x, *, axes):
        _check_axes(name, x, axes)
        if dtypes.is_bool(x.dtype) and not accepts_bool:
            raise DtypeError(with_location(f"{name} does not accept bool operands"))
        if name in ("reduce_max", "reduce_min") and x.size == 0 and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(with_location(
                f"{name[7:]} of an empty axis has no identity; pass initial= or use a non-empty array"))
        return Aval(_reduced_shape(x, axes), x.dtype, x.weak)
    return abstract


def _lowest(dt):
    return -np.inf if dt.kind == "f" else (False if dt.kind == "b" else np.iinfo(dt).min)


def _highest(dt):
    return np.inf if dt.kind == "f" else (True if dt.kind == "b" else np.iinfo(dt).max)


def _expand(y, x_aval, axes):
    """Broadcast a reduced value back to the operand's shape."""
    return broadcast_in_dim_p(y, shape=x_aval.shape, dims=_kept_dims(x_aval.ndim, axes))


def _sum_vjp(ct, primals, outs, *, axes):
    return [_expand(ct, primals[0].aval, axes)]


reduce_sum_p = register(Op(
    "reduce_sum", Kind.REDUCTION, _reduce_abstract("reduce_sum", False),
    lambda x, *, axes: np.sum(x, axis=axes, dtype=np.asarray(x).dtype),
    jvp=linear_jvp(lambda: reduce_sum_p), vjp=_sum_vjp, expr="{acc} + {v}",
    identity=lambda dt: 0,
    batch=shift_axes_rule(lambda: reduce_sum_p, "axes")))


def _chooser_indicators(x, out, axes):
    """Where x attains the reduced value, as float weights summing to 1 per output."""
    from .. import numpy as dnp
    hits = (x == _expand(out, x.aval, axes)).astype(x.aval.dtype)
    counts = reduce_sum_p(hits, axes=axes)
    return hits / _expand(counts, x.aval, axes)


def _chooser_jvp(primals, tangents, outs, *, axes):
    (t,) = tangents
    if t is None or not dtypes.is_float(primals[0].aval.dtype):
        return None
    return reduce_sum_p(t * _chooser_indicators(primals[0], outs[0], axes), axes=axes)


def _chooser_vjp(ct, primals, outs, *, axes):
    if not dtypes.is_float(primals[0].aval.dtype):
        return [None]
    return [_expand(ct, primals[0].aval, axes) * _chooser_indicators(primals[0], outs[0], axes)]


reduce_max_p = register(Op(
    "reduce_max", Kind.REDUCTION, _reduce_abstract("reduce_max", True),
    lambda x, *, axes: np.max(x, axis=axes), jvp=_chooser_jvp, vjp=_chooser_vjp,
    expr="sc.maximum({acc}, {v})", identity=lambda dt: _lowest(dt),
    batch=shift_axes_rule(lambda: reduce_max_p, "axes"),
    doc="NaN propagates; ties share the derivative equally"))
reduce_min_p = register(Op(
    "reduce_min", Kind.REDUCTION, _reduce_abstract("reduce_min", True),
    lambda x, *, axes: np.min(x, axis=axes), jvp=_chooser_jvp, vjp=_chooser_vjp,
    expr="sc.minimum({acc}, {v})", identity=lambda dt: _highest(dt),
    batch=shift_axes_rule(lambda: reduce_min_p, "axes"),
    doc="NaN propagates; ties share the derivative equally"))


def _arg_abstract(name):
    def abstract(x, *, axis):
        _check_axes(name, x, (axis,))
        if x.shape[axis] == 0:
            raise ShapeError(with_location(f"{name} of an empty axis"))
        return Aval(_reduced_shape(x, (axis,)), dtypes.int64)
    return abstract


argmax_p = register(Op("argmax", Kind.REDUCTION, _arg_abstract("argmax"),
                       lambda x, *, axis: np.argmax(x, axis=axis), differentiable=False,
                       batch=shift_axes_rule(lambda: argmax_p, "axis"),
                       doc="first index of the maximum (first NaN wins)"))
argmin_p = register(Op("argmin", Kind.REDUCTION, _arg_abstract("argmin"),
                       lambda x, *, axis: np.argmin(x, axis=axis), differentiable=False,
                       batch=shift_axes_rule(lambda: argmin_p, "axis"),
                       doc="first index of the minimum (first NaN wins)"))
