"""Hand-written CPU kernel: scatter-add (the VJP of a gather) as one Numba loop.

NumPy's np.add.at, which the reference implementation uses, walks the updates element
by element through its generic indexing machinery: 30-50 us for 2,500 updates and
0.13-0.19 s for 100,000 rows of 64 (an embedding gradient). This loop adds each update
row into its target row in place, vectorised along the row.

Arrays arrive as (head, axis, tail) blocks; indices are normalised inside as
dprog.ops.index does: negative counts from the end, out-of-range clamps.
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def scatter_add(out, upd, idx):
    """out[h, idx[j], t] += upd[h, j, t] for out (H, S, T), upd (H, N, T), idx (N,)."""
    size = out.shape[1]
    for h in range(upd.shape[0]):
        for j in range(upd.shape[1]):
            i = idx[j]
            if i < 0:
                i += size
            i = min(max(i, 0), size - 1)
            for t in range(upd.shape[2]):
                out[h, i, t] += upd[h, j, t]


def scatter_add_blocks(upd, idx, axis, size):
    """scatter_add_p's result (zeros of head + (size,) + tail, updates added at idx),
    computed by the loop above. upd has shape head + idx.shape + tail."""
    upd, idx = np.asarray(upd), np.asarray(idx)
    head, tail = upd.shape[:axis], upd.shape[axis + idx.ndim:]
    n_head = int(np.prod(head, dtype=np.int64))
    n_tail = int(np.prod(tail, dtype=np.int64))
    out = np.zeros((n_head, size, n_tail), upd.dtype)
    if upd.size and size:
        blocks = np.ascontiguousarray(upd).reshape(n_head, idx.size, n_tail)
        scatter_add(out, blocks, np.ascontiguousarray(idx, dtype=np.int64).reshape(-1))
    return out.reshape(head + (size,) + tail)
