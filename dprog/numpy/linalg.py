"""Products: matmul, dot, vdot, inner, outer, tensordot, einsum; trace and triangles.
Everything lowers to the batched `matmul` primitive plus movement ops and sums."""

import numpy as np

from .. import dtypes
from ..errors import ShapeError, UnsupportedError, with_location
from ..ops import contract
from ._core import aval_of, asarray, broadcast_shapes, broadcast_to, promote, normalize_axis
from .reductions import sum as _sum
from .shape import moveaxis, reshape, ravel, transpose


def matmul(a, b):
    a, b = promote("matmul", a, b, broadcast=False)
    aa, ba = aval_of(a), aval_of(b)
    if aa.ndim == 0 or ba.ndim == 0:
        raise ShapeError(with_location("matmul: operands must not be scalars (use *)"))
    if dtypes.is_bool(aa.dtype):
        raise ShapeError(with_location("matmul of bool arrays is not supported; cast to int or float"))
    a2 = reshape(a, (1,) + aa.shape) if aa.ndim == 1 else a
    b2 = reshape(b, ba.shape + (1,)) if ba.ndim == 1 else b
    sa, sb = aval_of(a2).shape, aval_of(b2).shape
    if sa[-1] != sb[-2]:
        raise ShapeError(with_location(
            f"matmul: shapes {aa.shape} and {ba.shape} do not align: {sa[-1]} (dim "
            f"{len(aa.shape) - 1} of the first) != {sb[-2]} (dim {max(len(ba.shape) - 2, 0)} of the second)"))
    batch = broadcast_shapes("matmul", sa[:-2], sb[:-2])
    a2 = broadcast_to(a2, batch + sa[-2:])
    b2 = broadcast_to(b2, batch + sb[-2:])
    out = contract.matmul_p(a2, b2)
    shape = batch + (sa[-2],) * (aa.ndim > 1) + (sb[-1],) * (ba.ndim > 1)
    return reshape(out, shape)


def dot(a, b):
    a, b = asarray(a), asarray(b)
    na, nb = aval_of(a).ndim, aval_of(b).ndim
    if na == 0 or nb == 0:
        return a * b
    if nb <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([na - 1], [nb - 2]))


def vdot(a, b):
    return dot(ravel(a), ravel(b))


def inner(a, b):
    a, b = asarray(a), asarray(b)
    na, nb = aval_of(a).ndim, aval_of(b).ndim
    if na == 0 or nb == 0:
        return a * b
    return tensordot(a, b, axes=([na - 1], [nb - 1]))


def outer(a, b):
    return reshape(ravel(a), (-1, 1)) * reshape(ravel(b), (1, -1))


def tensordot(a, b, axes=2):
    a, b = promote("tensordot", a, b, broadcast=False)
    aa, ba = aval_of(a), aval_of(b)
    if isinstance(axes, (int, np.integer)):
        ax_a = list(range(aa.ndim - axes, aa.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
        ax_a = [normalize_axis(x, aa.ndim) for x in ax_a]
        ax_b = [normalize_axis(x, ba.ndim) for x in ax_b]
    if [aa.shape[i] for i in ax_a] != [ba.shape[i] for i in ax_b]:
        raise ShapeError(with_location(
            f"tensordot: contracted dims of {aa.shape} (axes {ax_a}) and {ba.shape} "
            f"(axes {ax_b}) differ"))
    free_a = [i for i in range(aa.ndim) if i not in ax_a]
    free_b = [i for i in range(ba.ndim) if i not in ax_b]
    k = int(np.prod([aa.shape[i] for i in ax_a], dtype=np.int64))
    m = int(np.prod([aa.shape[i] for i in free_a], dtype=np.int64))
    n = int(np.prod([ba.shape[i] for i in free_b], dtype=np.int64))
    a2 = reshape(transpose(a, free_a + ax_a), (m, k))
    b2 = reshape(transpose(b, ax_b + free_b), (k, n))
    out = contract.matmul_p(a2, b2)
    return reshape(out, tuple(aa.shape[i] for i in free_a) + tuple(ba.shape[i] for i in free_b))


# ------------------------------------------------------------------------------ einsum

def _parse(subscripts, n_operands):
    subscripts = subscripts.replace(" ", "")
    if "..." in subscripts:
        raise UnsupportedError(with_location("einsum with '...' is not supported; name the axes"))
    if "->" in subscripts:
        ins, out = subscripts.split("->")
    else:
        ins = subscripts
        counts = {}
        for c in ins.replace(",", ""):
            counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    ins = ins.split(",")
    if len(ins) != n_operands:
        raise ShapeError(with_location(
            f"einsum: {len(ins)} operand specs for {n_operands} operands"))
    return ins, out


def _single(spec, x, keep):
    """Reduce one operand to the indices in `keep`: diagonals, then sums. Returns (spec, x)."""
    x = asarray(x)
    while len(set(spec)) != len(spec):  # repeated index: take the diagonal
        c = next(ch for ch in spec if spec.count(ch) > 1)
        i = spec.index(c)
        j = spec.index(c, i + 1)
        x = diagonal(x, 0, i, j)
        spec = spec[:i] + spec[i + 1:j] + spec[j + 1:] + c
    drop = [i for i, c in enumerate(spec) if c not in keep]
    if drop:
        x = _sum(x, axis=tuple(drop), dtype=aval_of(x).dtype)  # einsum keeps int32
        spec = "".join(c for i, c in enumerate(spec) if i not in drop)
    return spec, x


def _pair(sa, a, sb, b, out, order=""):
    """Contract two operands to the indices `out` (any order) with one matmul. `order`:
    the final output's index order, when this is the last contraction."""
    keep = set(out)
    sa, a = _single(sa, a, keep | set(sb))
    sb, b = _single(sb, b, keep | set(sa))
    if order and order[-1] in sa and order[-1] not in sb:
        # The output's last index should be the product's column index, so that the
        # final transpose leaves it contiguous: loops reading the result then run
        # along memory (GMM's (n, k, d) einsum read a (k, d, n) product with stride n).
        sa, a, sb, b = sb, b, sa, a
    batch = [c for c in sa if c in sb and c in keep]
    contract_ = [c for c in sa if c in sb and c not in keep]
    free_a = [c for c in sa if c not in sb]
    free_b = [c for c in sb if c not in sa]
    sizes = {}
    for spec, x in ((sa, a), (sb, b)):
        for c, n in zip(spec, aval_of(x).shape):
            if sizes.setdefault(c, n) != n:
                raise ShapeError(with_location(f"einsum: index {c!r} has sizes {sizes[c]} and {n}"))

    def size(cs):
        return int(np.prod([sizes[c] for c in cs], dtype=np.int64))
    a, b = promote("einsum", a, b, broadcast=False)
    a3 = reshape(transpose(a, [sa.index(c) for c in batch + free_a + contract_]),
                 (size(batch), size(free_a), size(contract_)))
    b3 = reshape(transpose(b, [sb.index(c) for c in batch + contract_ + free_b]),
                 (size(batch), size(contract_), size(free_b)))
    res = contract.matmul_p(a3, b3)
    spec = "".join(batch + free_a + free_b)
    res = reshape(res, tuple(sizes[c] for c in spec))
    return spec, res


def einsum(subscripts, *operands):
    ins, out = _parse(subscripts, len(operands))
    for spec, x in zip(ins, operands):
        if len(spec) != aval_of(asarray(x)).ndim:
            raise ShapeError(with_location(
                f"einsum: spec {spec!r} has {len(spec)} indices but the operand has shape {aval_of(asarray(x)).shape}"))
    specs, xs = list(ins), [asarray(x) for x in operands]
    if len(xs) == 1:
        spec, x = _single(specs[0], xs[0], set(out))
    else:
        spec, x = specs[0], xs[0]
        for i in range(1, len(xs)):
            later = set("".join(specs[i + 1:]))
            spec, x = _pair(spec, x, specs[i], xs[i], set(out) | later,
                            order=out if i == len(xs) - 1 else "")
    if sorted(spec) != sorted(out):
        raise ShapeError(with_location(f"einsum: output indices {out!r} not all present"))
    return transpose(x, [spec.index(c) for c in out]) if spec != out else x


# --------------------------------------------------------------------- diagonals, triangles

def diagonal(x, offset=0, axis1=0, axis2=1):
    from .indexing import take
    x = asarray(x)
    aval = aval_of(x)
    a1, a2 = normalize_axis(axis1, aval.ndim), normalize_axis(axis2, aval.ndim)
    x = moveaxis(x, (a1, a2), (aval.ndim - 2, aval.ndim - 1))
    n, m = aval.shape[a1], aval.shape[a2]
    rows = np.arange(max(0, -offset), min(n, m - offset)) if min(n, m - offset) > max(0, -offset) else np.arange(0)
    flat = reshape(x, aval_of(x).shape[:-2] + (n * m,))
    return take(flat, rows * m + rows + offset, axis=-1)


def trace(x, offset=0, axis1=0, axis2=1):
    return _sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diag(v, k=0):
    from .creation import eye
    from .shape import pad
    v = asarray(v)
    aval = aval_of(v)
    if aval.ndim == 2:
        return diagonal(v, k)
    if aval.ndim != 1:
        raise ShapeError(with_location(f"diag: input must be 1-D or 2-D, got shape {aval.shape}"))
    size = aval.shape[0] + abs(k)
    padded = pad(v, (0, abs(k)))
    mask = eye(size, k=k, dtype=aval.dtype)
    # Row i of the k >= 0 diagonal holds v[i]; column j of the k < 0 one holds v[j].
    return mask * reshape(padded, (size, 1) if k >= 0 else (1, size))


def _triangle(x, k, lower):
    from .creation import tri_mask
    from .elementwise import where
    x = asarray(x)
    aval = aval_of(x)
    if aval.ndim < 2:
        raise ShapeError(with_location(f"{'tril' if lower else 'triu'} needs at least 2-D input"))
    mask = tri_mask(aval.shape[-2], aval.shape[-1], k, lower)
    return where(mask, x, np.zeros((), aval.dtype))


def tril(x, k=0):
    return _triangle(x, k, True)


def triu(x, k=0):
    return _triangle(x, k, False)


def norm(x, ord=None, axis=None, keepdims=False):
    from .elementwise import sqrt, abs as _abs
    from .reductions import max as _max
    if ord in (None, 2, "fro") and (axis is None or isinstance(axis, (int, tuple))):
        return sqrt(_sum(asarray(x) * asarray(x), axis=axis, keepdims=keepdims))
    if ord == 1:
        return _sum(_abs(x), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return _max(_abs(x), axis=axis, keepdims=keepdims)
    raise UnsupportedError(with_location(f"norm(ord={ord!r}) is not supported"))


