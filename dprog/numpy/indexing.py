"""Indexing: x[...] with ints, slices (any step), None, Ellipsis and integer arrays;
take and take_along_axis. Boolean masks give data-dependent shapes and are refused with
a pointer to `where`.
"""
import numbers

import numpy as np

from .. import dtypes
from ..errors import DtypeError, ShapeError, UnsupportedError, with_location
from ..ops import index as ix
from ..ops import shape as sh
from ..trace import Tracer
from ._core import aval_of, asarray, broadcast_shapes, broadcast_to, cast, normalize_axis
from .shape import moveaxis, reshape, ravel


def _is_int_scalar(k):
    return isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, (bool, np.bool_))


def _is_array_index(k):
    if isinstance(k, Tracer):
        return True
    if isinstance(k, (list, np.ndarray)):
        return True
    return False


def _expand_ellipsis(key, ndim):
    key = list(key)
    n_ell = sum(1 for k in key if k is Ellipsis)
    if n_ell > 1:
        raise ShapeError(with_location("an index can only have a single ellipsis ('...')"))
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > ndim:
        raise ShapeError(with_location(f"too many indices: {consumed} for an array of rank {ndim}"))
    if n_ell:
        i = key.index(Ellipsis)
        key[i:i + 1] = [slice(None)] * (ndim - consumed)
    else:
        key += [slice(None)] * (ndim - consumed)
    return key


def getitem(x, key):
    x = asarray(x)
    aval = aval_of(x)
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if isinstance(k, (bool, np.bool_)) or (_is_array_index(k) and dtypes.is_bool(aval_of(k).dtype)):
            raise UnsupportedError(with_location(
                "boolean-mask indexing gives a data-dependent shape, which cannot be traced; "
                "use dnp.where(mask, x, 0) or a sum over the mask instead"))
    key = _expand_ellipsis(key, aval.ndim)
    if any(_is_array_index(k) for k in key):
        # With an array index present, NumPy treats int indices as 0-d array indices.
        key = [np.asarray(k) if _is_int_scalar(k) else k for k in key]

    # Basic part: one strided slice (plus a flip for negative steps) over every dim.
    start, limit, step, flips = [], [], [], []
    slots, advanced = [], []  # slots: the output dims in order; advanced: (dim, index)
    dim = 0
    for k in key:
        if k is None:
            slots.append("new")
            continue
        n = aval.shape[dim]
        if isinstance(k, slice):
            s, e, st = k.indices(n)
            count = len(range(s, e, st))
            if st < 0:  # take the same elements in forward order, then flip
                s = s + (count - 1) * st if count else 0
                st = -st
                flips.append(dim)
            start.append(s)
            limit.append(s + (count - 1) * st + 1 if count else s)
            step.append(st)
            slots.append("dim")
        elif _is_int_scalar(k):
            i = int(k)
            if not -n <= i < n:
                raise ShapeError(with_location(f"index {i} is out of bounds for axis {dim} with size {n}"))
            start.append(i % n)
            limit.append(i % n + 1)
            step.append(1)
        elif _is_array_index(k) or isinstance(k, np.generic):
            start.append(0)
            limit.append(n)
            step.append(1)
            advanced.append((dim, k))
            slots.append("adv")
        elif isinstance(k, (float, np.floating)):
            raise DtypeError(with_location(
                f"index {k!r} is a float; indices must be integers (use int(...) or .astype(int))"))
        else:
            raise ShapeError(with_location(
                f"unsupported index {k!r} of type {type(k).__name__}; use ints, slices, "
                f"None, ... or integer arrays"))
        dim += 1

    if (tuple(start), tuple(limit), tuple(step)) != ((0,) * aval.ndim, aval.shape, (1,) * aval.ndim):
        x = sh.slice_p(x, start=tuple(start), limit=tuple(limit), step=tuple(step))
    if flips:
        x = sh.rev_p(x, axes=tuple(flips))
    n_index_dims = 0
    if advanced:
        x, adjacent, n_index_dims = _gather_advanced(x, advanced)
        # NumPy: adjacent advanced indices keep their place, others go to the front.
        first = slots.index("adv")
        slots = [s for s in slots if s != "adv"]
        slots.insert(first if adjacent else 0, "adv")
        dropped = set(d for d, _ in advanced)
    else:
        dropped = set()
    # The array now has, in order, the kept dims (int-indexed dims have size 1 and are
    # dropped here), with the index block in its slot; None slots add size-1 dims.
    gathered = list(aval_of(x).shape)
    int_dims = [d for d, k in zip(range(aval.ndim), [k for k in key if k is not None])
                if _is_int_scalar(k) and d not in dropped]
    remaining = _drop_positions(gathered, int_dims, advanced, n_index_dims)
    final, cursor = [], 0
    for s in slots:
        if s == "new":
            final.append(1)
        elif s == "adv":
            final.extend(remaining[cursor:cursor + n_index_dims])
            cursor += n_index_dims
        else:
            final.append(remaining[cursor])
            cursor += 1
    return reshape(x, tuple(final))


def _drop_positions(gathered, int_dims, advanced, n_index_dims):
    """Remove the size-1 dims left by static int indices (only when there is no array
    index: with one, ints were turned into array indices)."""
    if advanced or not int_dims:
        return gathered
    return [n for d, n in enumerate(gathered) if d not in int_dims]


def _index_operand(k, n, name="index"):
    k = asarray(k) if not isinstance(k, Tracer) else k
    if not isinstance(k, Tracer):
        k = np.asarray(k)
        if k.dtype.kind not in "iu":
            raise DtypeError(with_location(
                f"array indices must be integers, got {k.dtype} (use .astype(int))"))
        if k.size and ((k >= n).any() or (k < -n).any()):
            raise ShapeError(with_location(
                f"index {int(k.max() if (k >= n).any() else k.min())} is out of bounds for size {n}"))
        return k.astype(np.int64)
    if not dtypes.is_int(k.aval.dtype):
        raise DtypeError(with_location(
            f"array indices must be integers, got {k.aval.dtype} (use .astype(int))"))
    return k


def _gather_advanced(x, advanced):
    """Gather with all advanced indices. Returns x with the index dims in place of the
    advanced dims and ('inplace'|'front', number of index dims)."""
    aval = aval_of(x)
    dims = [d for d, _ in advanced]
    idxs = [_index_operand(k, aval.shape[d]) for d, k in advanced]
    bshape = broadcast_shapes("indexing", *[aval_of(i).shape for i in idxs])
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    # Bring the advanced dims together at position p, merge them, and take once.
    p = dims[0] if adjacent else 0
    x = moveaxis(x, dims, tuple(range(p, p + len(dims))))
    sizes = [aval.shape[d] for d in dims]
    m = int(np.prod(bshape))
    if len(dims) == 1:
        linear = idxs[0]
    elif m < sizes[0]:
        # Fewer picks than rows: take the picked rows of the first dim first, so that the
        # merge reshapes that small result, not x (a copy when x is a strided view).
        first = reshape(broadcast_to(idxs[0], bshape), (m,))
        x = ix.gather_p(x, first, axis=p)
        rows = np.arange(m, dtype=np.int64).reshape(bshape) * int(np.prod(sizes[1:]))
        linear, x = _merge(x, p, [m] + sizes[1:], rows, idxs[1:], sizes[1:])
    else:
        linear, x = _merge(x, p, sizes, None, idxs, sizes)
    linear = broadcast_to(linear, bshape)
    x = ix.gather_p(x, linear, axis=p)
    return x, adjacent, len(bshape)


def _merge(x, p, merged_sizes, linear, idxs, sizes):
    """x with its dims p .. p + len(merged_sizes) - 1 merged into one, and the index into
    that dim: `linear` (or 0) plus the row-major offset of `idxs` within `sizes`."""
    stride = 1
    for i, n in reversed(list(zip(idxs, sizes))):
        i = _wrap_negative(cast(i, dtypes.int64), n)
        term = i * stride if stride != 1 else i
        linear = term if linear is None else linear + term
        stride *= n
    xs = aval_of(x).shape
    x = reshape(x, xs[:p] + (int(np.prod(merged_sizes)),) + xs[p + len(merged_sizes):])
    return linear, x


def _wrap_negative(i, n):
    if isinstance(i, Tracer):
        from .elementwise import where
        return where(i < 0, i + n, i)
    return np.where(i < 0, i + n, i)


def take(a, indices, axis=None):
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, aval_of(a).ndim)
    idx = _index_operand(indices, aval_of(a).shape[axis])
    return ix.gather_p(a, idx, axis=axis)


# Up to this axis length, picking one entry per row is a compare-and-sum over the row
# (fused with whatever else reads the row) instead of a gather: its derivative is then an
# elementwise select, not a scatter-add into a dense zero array.
ONE_HOT_MAX_AXIS = 1 << 14


def _pick_one(arr, idx, axis):
    """take_along_axis for one index per row: sum(where(iota == idx, arr, 0)) along axis."""
    from ..ops import misc
    from .elementwise import clip, where
    from .reductions import sum as _sum
    aval = aval_of(arr)
    n = aval.shape[axis]
    idx = clip(_wrap_negative(cast(idx, dtypes.int64), n), 0, n - 1)  # clamp, as gather does
    positions = misc.iota_p(shape=aval.shape, dtype=np.int64, axis=axis)
    hit = positions == broadcast_to(idx, aval.shape)
    zero = np.zeros((), aval.dtype)
    return _sum(where(hit, arr, zero), axis=axis, keepdims=True, dtype=aval.dtype)


def take_along_axis(arr, indices, axis):
    """out[..., i, ...] = arr[..., indices[..., i, ...], ...] along `axis`."""
    arr = asarray(arr)
    aval = aval_of(arr)
    if axis is None:
        return take(ravel(arr), ravel(indices), axis=0)
    axis = normalize_axis(axis, aval.ndim)
    idx = _index_operand(indices, aval.shape[axis])
    iaval = aval_of(idx)
    if iaval.ndim != aval.ndim:
        raise ShapeError(with_location(
            f"take_along_axis: indices of rank {iaval.ndim} for an array of rank {aval.ndim}"))
    rest = aval.shape[:axis] + aval.shape[axis + 1:]
    if (iaval.shape[axis] == 1 and aval.shape[axis] <= ONE_HOT_MAX_AXIS
            and iaval.shape[:axis] + iaval.shape[axis + 1:] == rest):
        return _pick_one(arr, idx, axis)
    # Broadcast the other dims, then gather from the flattened array with linear indices.
    target = list(broadcast_shapes("take_along_axis", aval.shape[:axis] + (1,) + aval.shape[axis + 1:],
                                   iaval.shape[:axis] + (1,) + iaval.shape[axis + 1:]))
    arr_shape = tuple(target[:axis] + [aval.shape[axis]] + target[axis + 1:])
    idx_shape = tuple(target[:axis] + [iaval.shape[axis]] + target[axis + 1:])
    arr = broadcast_to(arr, arr_shape)
    idx = broadcast_to(cast(idx, dtypes.int64), idx_shape)
    idx = _wrap_negative(idx, aval.shape[axis])
    strides = np.cumprod((arr_shape[1:] + (1,))[::-1])[::-1]
    linear = idx * int(strides[axis]) if int(strides[axis]) != 1 else idx
    from ..ops import misc
    for d in range(len(idx_shape)):
        if d == axis or idx_shape[d] == 1:
            continue
        ramp = misc.iota_p(shape=idx_shape, dtype=np.int64, axis=d)
        linear = linear + (ramp * int(strides[d]) if int(strides[d]) != 1 else ramp)
    return ix.gather_p(ravel(arr), linear, axis=0)
