"""Helpers shared by the vmap (batching) rules of the op records.

A batching rule has the signature `batch(axis_size, args, dims, **params) -> (out,
out_dim)` (lists of both for multiple_results ops). dims[i] is the batch axis of
args[i], or None when args[i] is the same for every batch member. Most rules first move
the batch axis to the front, so that "axis k of the unbatched op" is "axis k + 1 here". The first
three parameters are positional-only (`/`): broadcast_in_dim has a param named `dims`.
Primitives are imported lazily: the op modules import this one while they are defined.
"""
import numpy as np


def aval(x):
    from ..numpy._core import aval_of
    return aval_of(x)


def unbatched_shape(x, d):
    """The shape x has for one batch member."""
    shape = aval(x).shape
    return shape if d is None else shape[:d] + shape[d + 1:]


def moveaxis(x, src, dst):
    """x with axis `src` moved to position `dst` (no node when it is already there)."""
    if src == dst:
        return x
    from .shape import transpose_p
    nd = aval(x).ndim
    order = [a for a in range(nd) if a != src]
    order.insert(dst, src)
    return transpose_p(x, perm=tuple(order))


def bdim_to_front(x, d, axis_size=None):
    """x with its batch axis first; an unbatched x is broadcast when axis_size is given
    (it must then take part in an op whose operands all carry the batch axis)."""
    if d is None:
        if axis_size is None:
            return x
        from .shape import broadcast_in_dim_p
        a = aval(x)
        return broadcast_in_dim_p(x, shape=(axis_size,) + a.shape,
                                  dims=tuple(range(1, a.ndim + 1)))
    return moveaxis(x, d, 0)


def shift(params, names):
    """Params with the axis parameters in `names` shifted past a leading batch axis."""
    out = dict(params)
    for name in names:
        value = out[name]
        out[name] = value + 1 if isinstance(value, int) else tuple(a + 1 for a in value)
    return out


def shift_axes_rule(op_getter, *names):
    """Rule of a one-operand op whose params name axes of its operand: move the batch
    axis to the front and shift those axes by one."""
    def rule(axis_size, args, dims, /, **params):
        x = bdim_to_front(args[0], dims[0])
        return op_getter()(x, *args[1:], **shift(params, names)), 0
    return rule


def elementwise_rule(op):
    """Rule of an elementwise op: every operand gets the batch axis first and the full
    shape, except unbatched rank-0 operands, which the primitive broadcasts itself. A
    batched rank-0 operand is (B,) and is broadcast to (B, *shape) when another operand
    is full-shaped; an unbatched full-shaped one is broadcast to (B, *shape)."""
    def rule(axis_size, args, dims, /, **params):
        from .shape import broadcast_in_dim_p
        shapes = [unbatched_shape(x, d) for x, d in zip(args, dims)]
        full = next((s for s in shapes if s), ())
        out_shape = (axis_size,) + full
        new_args = []
        for x, d, s in zip(args, dims, shapes):
            if d is None:
                if s:
                    x = broadcast_in_dim_p(x, shape=out_shape, dims=tuple(range(1, len(s) + 1)))
            else:
                x = moveaxis(x, d, 0)
                if not s and full:
                    x = broadcast_in_dim_p(x, shape=out_shape, dims=(0,))
            new_args.append(x)
        return op(*new_args, **params), 0
    return rule


def batch_iota(axis_size, shape, dtype):
    """0..B-1 along axis 0 of an int array of shape (B, *shape): each member's index."""
    from .misc import iota_p
    return iota_p(shape=(axis_size,) + tuple(shape), dtype=np.dtype(dtype), axis=0)


def normalize_index(idx, n):
    """Indices wrapped (negative count from the end) and clamped to [0, n), as gather and
    scatter_add do, so that offsetting them by b * n stays inside member b's block."""
    from .elementwise import lt_p, maximum_p, minimum_p, select_p, add_p
    dt = aval(idx).dtype
    wrapped = select_p(lt_p(idx, dt.type(0)), add_p(idx, dt.type(n)), idx)
    return minimum_p(maximum_p(wrapped, dt.type(0)), dt.type(max(n - 1, 0)))
