"""Shape manipulation with NumPy semantics: reshape, transpose, stack, split, pad, ..."""
import numpy as np

from ..errors import ShapeError, with_location
from ..ops import shape as sh
from ._core import aval_of, asarray, broadcast_shapes, broadcast_to, normalize_axis, promote


def shape(x):
    return aval_of(x).shape


def ndim(x):
    return aval_of(x).ndim


def size(x):
    return aval_of(x).size


def reshape(x, newshape, order="C"):
    if order != "C":
        raise ShapeError(with_location("reshape supports order='C' only"))
    x = asarray(x)
    aval = aval_of(x)
    if isinstance(newshape, (int, np.integer)):
        newshape = (newshape,)
    newshape = [int(d) for d in newshape]
    if newshape.count(-1) > 1:
        raise ShapeError(with_location(f"reshape: only one dimension can be -1, got {tuple(newshape)}"))
    if -1 in newshape:
        known = int(np.prod([d for d in newshape if d != -1], dtype=np.int64))
        if known == 0 or aval.size % known:
            raise ShapeError(with_location(
                f"cannot reshape an array of shape {aval.shape} into shape {tuple(newshape)}"))
        newshape[newshape.index(-1)] = aval.size // known
    newshape = tuple(newshape)
    if newshape == aval.shape:
        return x
    return sh.reshape_p(x, shape=newshape)


def ravel(x):
    return reshape(x, (-1,))


def transpose(x, axes=None):
    x = asarray(x)
    nd = aval_of(x).ndim
    perm = tuple(reversed(range(nd))) if axes is None else tuple(normalize_axis(a, nd) for a in axes)
    if perm == tuple(range(nd)):
        return x
    return sh.transpose_p(x, perm=perm)


def swapaxes(x, axis1, axis2):
    nd = aval_of(x).ndim
    perm = list(range(nd))
    a, b = normalize_axis(axis1, nd), normalize_axis(axis2, nd)
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x, source, destination):
    nd = aval_of(x).ndim
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    src = [normalize_axis(a, nd) for a in src]
    dst = [normalize_axis(a, nd) for a in dst]
    if len(src) != len(dst):
        raise ShapeError(with_location("moveaxis: source and destination need the same length"))
    order = [a for a in range(nd) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(x, axis):
    x = asarray(x)
    aval = aval_of(x)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out_nd = aval.ndim + len(axes)
    axes = sorted(normalize_axis(a, out_nd) for a in axes)
    shape_out = list(aval.shape)
    for a in axes:
        shape_out.insert(a, 1)
    return reshape(x, shape_out)


def squeeze(x, axis=None):
    x = asarray(x)
    aval = aval_of(x)
    if axis is None:
        axes = [i for i, n in enumerate(aval.shape) if n == 1]
    else:
        axes = [normalize_axis(a, aval.ndim) for a in ([axis] if isinstance(axis, (int, np.integer)) else axis)]
        for a in axes:
            if aval.shape[a] != 1:
                raise ShapeError(with_location(
                    f"squeeze: axis {a} of shape {aval.shape} has size {aval.shape[a]}, not 1"))
    return reshape(x, [n for i, n in enumerate(aval.shape) if i not in axes])


def atleast_1d(x):
    x = asarray(x)
    return reshape(x, (1,)) if aval_of(x).ndim == 0 else x


def atleast_2d(x):
    x = asarray(x)
    nd = aval_of(x).ndim
    return reshape(x, (1,) * (2 - nd) + aval_of(x).shape) if nd < 2 else x


def concatenate(arrays, axis=0):
    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ShapeError(with_location("concatenate needs at least one array"))
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    arrays = _same_dtype(arrays)
    nd = aval_of(arrays[0]).ndim
    if nd == 0:
        raise ShapeError(with_location("zero-dimensional arrays cannot be concatenated"))
    axis = normalize_axis(axis, nd)
    if len(arrays) == 1:
        return arrays[0]
    return sh.concatenate_p(*arrays, axis=axis)


def _same_dtype(arrays):
    """promote() without broadcasting: concatenate/stack need their own shape checks."""
    from ._core import cast
    from .. import dtypes
    avals = [aval_of(a) for a in arrays]
    dtype, weak = dtypes.result_type(*avals)
    return [cast(a, dtype, weak) for a in arrays]


def stack(arrays, axis=0):
    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ShapeError(with_location("stack needs at least one array"))
    shapes = {aval_of(a).shape for a in arrays}
    if len(shapes) != 1:
        raise ShapeError(with_location(
            f"stack: all input arrays must have the same shape, got {[aval_of(a).shape for a in arrays]}"))
    nd = aval_of(arrays[0]).ndim + 1
    axis = normalize_axis(axis, nd)
    return concatenate([expand_dims(a, axis) for a in _same_dtype(arrays)], axis=axis)


def vstack(arrays):
    return concatenate([atleast_2d(a) for a in arrays], axis=0)


def hstack(arrays):
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, axis=0 if aval_of(arrays[0]).ndim == 1 else 1)


def _slice_axis(x, axis, start, stop):
    aval = aval_of(x)
    starts = [0] * aval.ndim
    limits = list(aval.shape)
    starts[axis], limits[axis] = start, stop
    return sh.slice_p(x, start=tuple(starts), limit=tuple(limits), step=(1,) * aval.ndim)


def split(x, indices_or_sections, axis=0):
    x = asarray(x)
    aval = aval_of(x)
    axis = normalize_axis(axis, aval.ndim)
    n = aval.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ShapeError(with_location(
                f"split: array of size {n} along axis {axis} does not divide into {k} equal parts"))
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + [min(max(int(i), 0), n) for i in indices_or_sections] + [n]
    return [_slice_axis(x, axis, a, max(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]


def array_split(x, sections, axis=0):
    n = aval_of(x).shape[normalize_axis(axis, aval_of(x).ndim)]
    base, extra = divmod(n, sections)
    cuts, pos = [], 0
    for i in range(sections - 1):
        pos += base + (1 if i < extra else 0)
        cuts.append(pos)
    return split(x, cuts, axis)


def flip(x, axis=None):
    x = asarray(x)
    nd = aval_of(x).ndim
    axes = tuple(range(nd)) if axis is None else tuple(
        normalize_axis(a, nd) for a in ([axis] if isinstance(axis, (int, np.integer)) else axis))
    return sh.rev_p(x, axes=axes) if axes else x


def fliplr(x):
    return flip(x, 1)


def flipud(x):
    return flip(x, 0)


def pad(x, pad_width, mode="constant", constant_values=0):
    if mode != "constant":
        raise ShapeError(with_location(f"pad: mode={mode!r} is not supported (only 'constant')"))
    x = asarray(x)
    aval = aval_of(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (aval.ndim, 2))
    if (widths < 0).any():
        raise ShapeError(with_location(f"pad: widths must be non-negative, got {pad_width}"))
    value = np.asarray(constant_values).astype(aval.dtype)
    return sh.pad_p(x, value, lo=tuple(int(w) for w in widths[:, 0]),
                    hi=tuple(int(w) for w in widths[:, 1]), interior=(0,) * aval.ndim)


def tile(x, reps):
    x = asarray(x)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    aval = aval_of(x)
    nd = max(aval.ndim, len(reps))
    reps = (1,) * (nd - len(reps)) + reps
    base = (1,) * (nd - aval.ndim) + aval.shape
    x = reshape(x, base)
    # Broadcast to (r0, n0, r1, n1, ...) then merge each pair.
    inter = []
    for r, n in zip(reps, base):
        inter += [r, n]
    expanded = sh.broadcast_in_dim_p(x, shape=tuple(inter), dims=tuple(range(1, 2 * nd, 2)))
    return reshape(expanded, tuple(r * n for r, n in zip(reps, base)))


def repeat(x, repeats, axis=None):
    x = asarray(x)
    if axis is None:
        x, axis = ravel(x), 0
    aval = aval_of(x)
    axis = normalize_axis(axis, aval.ndim)
    if isinstance(repeats, (int, np.integer)):
        r = int(repeats)
        shape_b = aval.shape[:axis + 1] + (r,) + aval.shape[axis + 1:]
        dims = tuple(range(axis + 1)) + tuple(range(axis + 2, aval.ndim + 1))
        expanded = sh.broadcast_in_dim_p(x, shape=shape_b, dims=dims)
        return reshape(expanded, aval.shape[:axis] + (aval.shape[axis] * r,) + aval.shape[axis + 1:])
    counts = np.asarray(repeats, dtype=np.int64)
    index = np.repeat(np.arange(aval.shape[axis]), counts)
    from .indexing import take
    return take(x, index, axis=axis)


def broadcast_arrays(*arrays):
    arrays = [asarray(a) for a in arrays]
    target = broadcast_shapes("broadcast_arrays", *[aval_of(a).shape for a in arrays])
    return [broadcast_to(a, target) for a in arrays]


def roll(x, shift, axis=None):
    x = asarray(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), aval_of(x).shape)
    aval = aval_of(x)
    axis = normalize_axis(axis, aval.ndim)
    n = aval.shape[axis]
    if n == 0:
        return x
    k = int(shift) % n
    if k == 0:
        return x
    return concatenate([_slice_axis(x, axis, n - k, n), _slice_axis(x, axis, 0, n - k)], axis=axis)
