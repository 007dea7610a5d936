"""Movement primitives: broadcast, reshape, transpose, slice, reverse, pad, concatenate.

All are linear, so each JVP applies the op itself to the tangent; each VJP is the
adjoint movement (a broadcast's adjoint is a sum, a slice's adjoint is a pad, ...).
"""
import numpy as np

from ..errors import ShapeError, with_location
from ..ir import Aval
from .batching import aval, bdim_to_front, shift_axes_rule, unbatched_shape
from .record import Kind, Op, register


def linear_jvp(op_getter):
    """JVP of an op that is linear in its first operand: apply it to the tangent."""
    def jvp(primals, tangents, outs, **params):
        t = tangents[0]
        return None if t is None else op_getter()(t, *primals[1:], **params)
    return jvp


# ----------------------------------------------------------------------- broadcast_in_dim

def _broadcast_abstract(x, *, shape, dims):
    if len(dims) != x.ndim or any(
            x.shape[i] not in (1, shape[d]) for i, d in enumerate(dims)):
        raise ShapeError(with_location(
            f"cannot broadcast an array of shape {x.shape} to shape {tuple(shape)}"))
    return Aval(shape, x.dtype, x.weak)


def _broadcast_impl(x, *, shape, dims):
    expanded = [1] * len(shape)
    for i, d in enumerate(dims):
        expanded[d] = np.shape(x)[i]
    return np.broadcast_to(np.reshape(x, expanded), shape)


def _broadcast_vjp(ct, primals, outs, *, shape, dims):
    (x,) = primals
    summed = tuple(d for d in range(len(shape)) if d not in dims
                   or x.aval.shape[dims.index(d)] != shape[d])
    total = reduce_sum_p(ct, axes=summed) if summed else ct
    return [reshape_p(total, shape=x.aval.shape) if total.aval.shape != x.aval.shape else total]


def _broadcast_batch(axis_size, args, bdims, /, *, shape, dims):
    x = bdim_to_front(args[0], bdims[0])
    return broadcast_in_dim_p(x, shape=(axis_size,) + tuple(shape),
                              dims=(0,) + tuple(d + 1 for d in dims)), 0


def _broadcast_read_index(src_shape, index_names, *, shape, dims):
    return [index_names[d] if n != 1 else "0" for d, n in zip(dims, src_shape)]


broadcast_in_dim_p = register(Op(
    "broadcast_in_dim", Kind.MOVEMENT, _broadcast_abstract, _broadcast_impl,
    jvp=linear_jvp(lambda: broadcast_in_dim_p), vjp=_broadcast_vjp, batch=_broadcast_batch,
    read_index=_broadcast_read_index,
    doc="operand dim i becomes output dim dims[i]; other output dims are new"))


# ---------------------------------------------------------------------------- reshape

def _reshape_abstract(x, *, shape):
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(with_location(
            f"cannot reshape an array of shape {x.shape} ({x.size} elements) "
            f"into shape {tuple(shape)}"))
    return Aval(shape, x.dtype, x.weak)


reshape_p = register(Op(
    "reshape", Kind.MOVEMENT, _reshape_abstract, lambda x, *, shape: np.reshape(x, shape),
    jvp=linear_jvp(lambda: reshape_p),
    vjp=lambda ct, primals, outs, *, shape: [reshape_p(ct, shape=primals[0].aval.shape)],
    batch=lambda axis_size, args, dims, /, *, shape: (
        reshape_p(bdim_to_front(args[0], dims[0]), shape=(axis_size,) + tuple(shape)), 0),
    doc="row-major (C order) reshape"))


# -------------------------------------------------------------------------- transpose

def _transpose_abstract(x, *, perm):
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(with_location(f"transpose: axes {perm} are not a permutation of "
                                       f"the {x.ndim} axes of shape {x.shape}"))
    return Aval(tuple(x.shape[p] for p in perm), x.dtype, x.weak)


def compose_perms(inner, outer):
    """The perm of transpose(transpose(x, inner), outer)."""
    return tuple(inner[p] for p in outer)


def inverse_perm(perm):
    """The perm that undoes `perm`: output axis j of transpose(x, perm) is x's axis perm[j]."""
    inv = [0] * len(perm)
    for j, p in enumerate(perm):
        inv[p] = j
    return tuple(inv)


def _transpose_read_index(src_shape, index_names, *, perm):
    parts = [None] * len(src_shape)
    for k, p in enumerate(perm):
        parts[p] = index_names[k]
    return parts


transpose_p = register(Op(
    "transpose", Kind.MOVEMENT, _transpose_abstract,
    lambda x, *, perm: np.transpose(x, perm), read_index=_transpose_read_index,
    jvp=linear_jvp(lambda: transpose_p),
    vjp=lambda ct, primals, outs, *, perm: [transpose_p(ct, perm=tuple(np.argsort(perm).tolist()))],
    batch=lambda axis_size, args, dims, /, *, perm: (
        transpose_p(bdim_to_front(args[0], dims[0]), perm=(0,) + tuple(p + 1 for p in perm)), 0)))


# ------------------------------------------------------------------------------ slice

def _slice_abstract(x, *, start, limit, step):
    if not (len(start) == len(limit) == len(step) == x.ndim):
        raise ShapeError(with_location(f"slice of rank {len(start)} on shape {x.shape}"))
    shape = []
    for s, l, st, n in zip(start, limit, step, x.shape):
        if not (0 <= s <= l <= n and st >= 1):
            raise ShapeError(with_location(f"slice [{s}:{l}:{st}] out of range for size {n}"))
        shape.append(max(0, -(-(l - s) // st)))
    return Aval(tuple(shape), x.dtype, x.weak)


def _slice_impl(x, *, start, limit, step):
    return x[tuple(slice(s, l, st) for s, l, st in zip(start, limit, step))]


def _slice_vjp(ct, primals, outs, *, start, limit, step):
    (x,) = primals
    lo, hi, interior = [], [], []
    for s, st, n, m in zip(start, step, x.aval.shape, ct.aval.shape):
        last = s + (m - 1) * st + 1 if m else s
        lo.append(s)
        hi.append(n - last)
        interior.append(st - 1 if m else 0)
    return [pad_p(ct, np.zeros((), ct.aval.dtype), lo=tuple(lo), hi=tuple(hi),
                  interior=tuple(interior))]


def _slice_batch(axis_size, args, dims, /, *, start, limit, step):
    x = bdim_to_front(args[0], dims[0])
    return slice_p(x, start=(0,) + tuple(start), limit=(axis_size,) + tuple(limit),
                   step=(1,) + tuple(step)), 0


def _slice_read_index(src_shape, index_names, *, start, limit, step):
    # start + step*i in uint64: an unsigned index has no negative-index wraparound for
    # Numba to test (LLVM could not rule it out for a signed sum, and the loop over
    # x[1:] - x[:-1] ran at half the speed). Every part is uint64: Numba turns mixed
    # uint64 and int64 arithmetic into float64.
    parts = []
    for i, s, st in zip(index_names, start, step):
        if s == 0 and st == 1:
            parts.append(i)
            continue
        term = f"np.uint64({i})" if st == 1 else f"np.uint64({st}) * np.uint64({i})"
        parts.append(f"np.uint64({s}) + {term}" if s else term)
    return parts


slice_p = register(Op(
    "slice", Kind.MOVEMENT, _slice_abstract, _slice_impl,
    jvp=linear_jvp(lambda: slice_p), vjp=_slice_vjp, batch=_slice_batch,
    read_index=_slice_read_index,
    doc="static strided slice x[start:limit:step] per axis (step >= 1)"))


# -------------------------------------------------------------------------------- pad

def _pad_abstract(x, value, *, lo, hi, interior):
    if value.ndim != 0 or value.dtype != x.dtype:
        raise ShapeError(with_location("pad: the padding value must be a scalar of the array's dtype"))
    shape = []
    for n, a, b, i in zip(x.shape, lo, hi, interior):
        if a < 0 or b < 0 or i < 0:
            raise ShapeError(with_location(f"pad: widths must be >= 0, got {lo}, {hi}"))
        shape.append(a + b + n + max(0, n - 1) * i)
    return Aval(tuple(shape), x.dtype, x.weak)


def _pad_impl(x, value, *, lo, hi, interior):
    shape = _pad_abstract(Aval(np.shape(x), np.asarray(x).dtype), Aval((), np.asarray(x).dtype),
                          lo=lo, hi=hi, interior=interior).shape
    out = np.full(shape, value, dtype=np.asarray(x).dtype)
    index = tuple(slice(a, a + (n - 1) * (i + 1) + 1 if n else a, i + 1)
                  for a, n, i in zip(lo, np.shape(x), interior))
    out[index] = x
    return out


def _pad_jvp(primals, tangents, outs, *, lo, hi, interior):
    tx, tv = tangents
    if tx is None and tv is None:
        return None
    from .. import numpy as dnp
    x, v = primals
    tx = dnp.zeros_like(x) if tx is None else tx
    tv = np.zeros((), x.aval.dtype) if tv is None else tv
    return pad_p(tx, tv, lo=lo, hi=hi, interior=interior)


def _pad_vjp(ct, primals, outs, *, lo, hi, interior):
    x, v = primals
    n = ct.aval.shape
    start = tuple(lo)
    limit = tuple(s - b for s, b in zip(n, hi))
    step = tuple(i + 1 for i in interior)
    ct_x = slice_p(ct, start=start, limit=limit, step=step)
    ct_v = None
    from ..trace import Tracer
    if isinstance(v, Tracer) and v.aval.dtype.kind == "f":
        from .. import numpy as dnp
        ct_v = dnp.sum(ct) - dnp.sum(ct_x)
    return [ct_x, ct_v]


def _pad_batch(axis_size, args, dims, /, *, lo, hi, interior):
    x, v = args
    wide = dict(lo=(0,) + tuple(lo), hi=(0,) + tuple(hi), interior=(0,) + tuple(interior))
    xb = bdim_to_front(x, dims[0], axis_size)
    if dims[1] is None:
        return pad_p(xb, v, **wide), 0
    # One padding value per member: pad with zero, then fill the pad positions (a mask
    # padded with False marks the original elements) with each member's value.
    from .elementwise import select_p
    padded = pad_p(xb, np.zeros((), aval(xb).dtype), **wide)
    inner = np.ones(unbatched_shape(x, dims[0]), np.bool_)
    mask = pad_p(inner, np.False_, lo=tuple(lo), hi=tuple(hi), interior=tuple(interior))
    out_shape = aval(padded).shape
    mask = broadcast_in_dim_p(mask, shape=out_shape, dims=tuple(range(1, len(out_shape))))
    fill = broadcast_in_dim_p(v, shape=out_shape, dims=(0,))
    return select_p(mask, padded, fill), 0


pad_p = register(Op(
    "pad", Kind.MOVEMENT, _pad_abstract, _pad_impl, jvp=_pad_jvp, vjp=_pad_vjp,
    batch=_pad_batch,
    doc="constant padding: lo/hi widths per axis and interior padding between elements"))


# -------------------------------------------------------------------------------- rev

def _rev_abstract(x, *, axes):
    if any(not 0 <= a < x.ndim for a in axes):
        raise ShapeError(with_location(f"flip: axes {axes} out of range for shape {x.shape}"))
    return x


def _rev_read_index(src_shape, index_names, *, axes):
    # (n - 1) - i in uint64, as a slice's index (_slice_read_index). On the last axis
    # LLVM reads a reversed run with vector loads and a lane shuffle. On an outer axis
    # the `% n` (a no-op: the value is below n) hides the descending row order from
    # LLVM's alias check: it otherwise tests the whole outer loop at once, rejects the
    # negative row stride and runs every row's loop scalar (tanh(x[::-1]) on 4096x1000
    # float32, one thread: 28 ms, against 6.3 ms with the % and 4.4 ms unreversed).
    flipped, last = set(axes), len(src_shape) - 1
    parts = []
    for d, i in enumerate(index_names):
        if d not in flipped:
            parts.append(f"np.uint64({i})")
            continue
        n = src_shape[d]
        back = f"np.uint64({n - 1}) - np.uint64({i})"
        parts.append(back if d == last else f"({back}) % np.uint64({max(n, 1)})")
    return parts


rev_p = register(Op(
    "rev", Kind.MOVEMENT, _rev_abstract, lambda x, *, axes: np.flip(x, axes), read_index=_rev_read_index,
    jvp=linear_jvp(lambda: rev_p), batch=shift_axes_rule(lambda: rev_p, "axes"),
    vjp=lambda ct, primals, outs, *, axes: [rev_p(ct, axes=axes)], doc="reverse along axes"))


# ------------------------------------------------------------------------ concatenate

def _concat_abstract(*xs, axis):
    first = xs[0]
    for x in xs[1:]:
        if (x.ndim != first.ndim or x.dtype != first.dtype or
                x.shape[:axis] + x.shape[axis + 1:] != first.shape[:axis] + first.shape[axis + 1:]):
            raise ShapeError(with_location(
                f"concatenate along axis {axis}: shapes {[a.shape for a in xs]} (dtypes "
                f"{[str(a.dtype) for a in xs]}) must agree except along that axis"))
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return Aval(tuple(shape), first.dtype, all(x.weak for x in xs))


def _concat_jvp(primals, tangents, outs, *, axis):
    if all(t is None for t in tangents):
        return None
    from .. import numpy as dnp
    ts = [dnp.zeros_like(x) if t is None else t for x, t in zip(primals, tangents)]
    return concatenate_p(*ts, axis=axis)


def _concat_vjp(ct, primals, outs, *, axis):
    cts, offset = [], 0
    for x in primals:
        n = x.aval.shape[axis]
        start = [0] * ct.aval.ndim
        limit = list(ct.aval.shape)
        start[axis], limit[axis] = offset, offset + n
        cts.append(slice_p(ct, start=tuple(start), limit=tuple(limit), step=(1,) * ct.aval.ndim))
        offset += n
    return cts


def _concat_batch(axis_size, args, dims, /, *, axis):
    xs = [bdim_to_front(x, d, axis_size) for x, d in zip(args, dims)]
    return concatenate_p(*xs, axis=axis + 1), 0


concatenate_p = register(Op(
    "concatenate", Kind.MOVEMENT, _concat_abstract,
    lambda *xs, axis: np.concatenate(xs, axis=axis),
    jvp=_concat_jvp, vjp=_concat_vjp, batch=_concat_batch))


from .reduce import reduce_sum_p  # noqa: E402  (vjp of broadcast sums; reduce imports us too)
