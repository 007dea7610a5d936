"""What every dprog.numpy function needs: operand avals, NumPy promotion and broadcasting.

Operands are Tracers, NumPy arrays/scalars or Python scalars. Functions here turn NumPy's
implicit rules into explicit primitive calls (casts, broadcasts), so that primitives only
ever see operands of one dtype and one shape (or rank 0).
"""
import numbers

import numpy as np

from .. import dtypes
from ..errors import ShapeError, with_location
from ..ir import Aval, aval_of_value
from ..ops import elementwise as ew
from ..ops import shape as sh
from ..trace import Tracer

ArrayLike = (Tracer, np.ndarray, np.generic, numbers.Number)


def aval_of(x):
    if isinstance(x, Tracer):
        return x.aval
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    return aval_of_value(x)


def asarray(x, dtype=None):
    """An operand usable by primitives: Tracers pass; anything else becomes a NumPy value."""
    if isinstance(x, Tracer):
        return x if dtype is None else astype(x, dtype)
    if dtypes.python_scalar_dtype(x) is not None and dtype is None:
        return x
    arr = np.asarray(x)
    if dtype is not None:
        return arr.astype(dtypes.canonical(dtype))
    if arr.dtype not in dtypes.SUPPORTED:
        arr = _supported_array(arr)
    return arr


def _supported_array(arr):
    """Map a NumPy dtype outside dprog's set to the nearest supported one.

    float16 -> float32, small integers (int8/16, uint8/16) -> int32, uint32/uint64 ->
    int64. Anything else (complex, strings, objects) raises a DtypeError.
    """
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    if kind == "f" and size < 4:
        return arr.astype(np.float32)
    if kind in "iu" and size < 4:
        return arr.astype(np.int32)
    if kind == "u":
        return arr.astype(np.int64)
    dtypes.canonical(arr.dtype)  # raises the user-facing error
    return arr


def cast(x, dtype, weak=False):
    """x converted to dtype; Python scalars stay Python scalars when the result is weak."""
    aval = aval_of(x)
    dtype = np.dtype(dtype)
    if aval.dtype == dtype and (aval.weak == weak or not isinstance(x, Tracer)):
        return x
    if isinstance(x, Tracer):
        return ew.convert_element_type_p(x, dtype=dtype, weak=weak)
    if dtypes.python_scalar_dtype(x) is not None:
        if weak:
            return {"b": bool, "i": int, "f": float}[dtype.kind](x)
        return dtype.type(x)
    return np.asarray(x).astype(dtype)


def astype(x, dtype):
    return cast(asarray(x), dtypes.canonical(dtype))


def broadcast_shapes(name, *shapes):
    """NumPy broadcasting of shapes, with an error that shows them all."""
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(ndim):
        sizes = {s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ShapeError(with_location(
                f"{name}: shapes {', '.join(str(tuple(s)) for s in shapes)} cannot be broadcast together"))
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def broadcast_to(x, shape):
    x = asarray(x)
    aval = aval_of(x)
    shape = tuple(int(d) for d in shape)
    if aval.shape == shape:
        return x
    if aval.ndim > len(shape):
        raise ShapeError(with_location(f"cannot broadcast shape {aval.shape} to {shape}"))
    lead = len(shape) - aval.ndim
    return sh.broadcast_in_dim_p(x, shape=shape, dims=tuple(range(lead, len(shape))))


def promote(name, *xs, to_float=False, keep_rank0=True, broadcast=True):
    """Cast and broadcast operands to a common dtype and shape (rank-0 operands may stay).
    broadcast=False only casts (contractions have their own shape rules)."""
    xs = [asarray(x) for x in xs]
    avals = [aval_of(x) for x in xs]
    dtype, weak = dtypes.result_type(*avals)
    if to_float and not dtypes.is_float(dtype):
        dtype, weak = dtypes.float64, False
    shape = broadcast_shapes(name, *[a.shape for a in avals]) if broadcast else None
    out = []
    for x, a in zip(xs, avals):
        x = cast(x, dtype, weak)
        if broadcast and a.shape != shape and not (keep_rank0 and a.ndim == 0):
            x = broadcast_to(x, shape)
        out.append(x)
    return out


def is_traced(*xs):
    return any(isinstance(x, Tracer) for x in xs)


def normalize_axis(axis, ndim, name="axis"):
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise ShapeError(with_location(f"{name} must be an int, got {axis!r}"))
    if not -ndim <= axis < max(ndim, 1):
        raise ShapeError(with_location(f"{name} {axis} is out of bounds for an array of rank {ndim}"))
    return int(axis) % max(ndim, 1)


def normalize_axes(axis, ndim):
    """axis=None/int/tuple -> sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ShapeError(with_location(f"repeated axis in {axis}"))
        return tuple(sorted(axes))
    return (normalize_axis(axis, ndim),)


def full_like_aval(aval, value):
    """A constant array of `aval`'s shape and dtype (a broadcast scalar when traced)."""
    scalar = aval.dtype.type(value)
    if not aval.shape:
        return np.asarray(scalar)
    return broadcast_to(np.asarray(scalar), aval.shape)


__all__ = ["aval_of", "asarray", "cast", "astype", "broadcast_shapes", "broadcast_to",
           "promote", "is_traced", "normalize_axis", "normalize_axes", "Aval"]
