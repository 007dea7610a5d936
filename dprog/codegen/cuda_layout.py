"""Static strided views for the CUDA planner.

Every runtime value is a flat device buffer (a slot) plus an element offset and strides.
Movement ops only change that description, so on CUDA they cost nothing at run time:
broadcast gives stride 0, transpose permutes strides, slice moves the offset and scales
strides, rev negates a stride, reshape of a contiguous view re-derives strides. Shapes
are fixed per cache entry, so all of this is computed once, when planning.
"""
import numpy as np

from ..ops import shape as sh


class Layout:
    __slots__ = ("slot", "offset", "shape", "strides")

    def __init__(self, slot, offset, shape, strides):
        self.slot, self.offset = slot, offset
        self.shape, self.strides = tuple(shape), tuple(strides)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def is_contiguous(self):
        """C order (size-1 dims may have any stride)."""
        return self.strides_match(contiguous_strides(self.shape))

    def strides_match(self, strides):
        return all(n == 1 or s == t for n, s, t in zip(self.shape, self.strides, strides))

    def __repr__(self):
        return f"Layout(slot={self.slot}, offset={self.offset}, shape={self.shape}, strides={self.strides})"


from .cpu_plan import c_strides as contiguous_strides  # noqa: E402  (one definition)


def fresh(slot, shape):
    return Layout(slot, 0, shape, contiguous_strides(shape))


VIEW_OPS = (sh.broadcast_in_dim_p, sh.transpose_p, sh.slice_p, sh.rev_p, sh.reshape_p)


def view(node, src):
    """The layout of a movement node's output over `src`, or None when it needs a copy
    (a reshape of a non-contiguous view)."""
    op, p = node.op, node.params
    out_shape = node.outs[0].aval.shape
    if op is sh.broadcast_in_dim_p:
        strides = [0] * len(out_shape)
        for i, d in enumerate(p["dims"]):
            strides[d] = src.strides[i] if src.shape[i] == out_shape[d] else 0
        return Layout(src.slot, src.offset, out_shape, strides)
    if op is sh.transpose_p:
        return Layout(src.slot, src.offset, out_shape, [src.strides[q] for q in p["perm"]])
    if op is sh.slice_p:
        offset = src.offset + sum(s * st for s, st in zip(p["start"], src.strides))
        return Layout(src.slot, offset, out_shape, [st * k for st, k in zip(src.strides, p["step"])])
    if op is sh.rev_p:
        offset, strides = src.offset, list(src.strides)
        for a in p["axes"]:
            offset += (src.shape[a] - 1) * strides[a]
            strides[a] = -strides[a]
        return Layout(src.slot, offset, out_shape, strides)
    if op is sh.reshape_p:
        if not src.is_contiguous():
            return None
        return Layout(src.slot, src.offset, out_shape, contiguous_strides(out_shape))
    raise AssertionError(f"{op.name} is not a view op")


def collapse(layout, dims):
    """One stride for the dims `dims` (consecutive) taken together, or None if they do
    not form one arithmetic progression (then the operand must be copied)."""
    dims = [d for d in dims if layout.shape[d] != 1]
    if not dims:
        return 0
    for a, b in zip(dims, dims[1:]):
        if layout.strides[a] != layout.strides[b] * layout.shape[b]:
            if not (layout.strides[a] == 0 and layout.strides[b] == 0):
                return None
    return layout.strides[dims[-1]]
