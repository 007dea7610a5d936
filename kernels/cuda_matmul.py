"""Tiled shared-memory batched matmul for CUDA: c[b] = a[b] @ b[b].

Operands are flat buffers with an element offset and a stride per (batch, row, col)
dim, so transposed operands (the VJP's swap_last views) and broadcast batches (stride 0)
need no copy. The output is contiguous (batch, m, n). Blocks stride over output tiles
(grid-stride), so any grid size is correct; each thread owns one output element and
walks the k dimension one shared-memory tile pair at a time.

The tile size and dtype are compile-time constants (shared arrays need them), so a
kernel is made per (tile, dtype) by `matmul_kernel`.
"""
import functools

import numpy as np
import numba
from numba import cuda


@functools.lru_cache(maxsize=None)
def matmul_kernel(tile, dtype_name):
    nb_type = numba.from_dtype(np.dtype(dtype_name))
    zero = np.dtype(dtype_name).type(0)

    def matmul(c, a, a_off, a_sb, a_sm, a_sk, b, b_off, b_sb, b_sk, b_sn, batch, m, n, k):
        ta = cuda.shared.array((tile, tile), nb_type)
        tb = cuda.shared.array((tile, tile), nb_type)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tiles_m = (m + tile - 1) // tile
        tiles_n = (n + tile - 1) // tile
        per_batch = tiles_m * tiles_n
        for task in range(cuda.blockIdx.x, batch * per_batch, cuda.gridDim.x):
            bi = task // per_batch
            rem = task - bi * per_batch
            row = (rem // tiles_n) * tile + ty
            col = (rem % tiles_n) * tile + tx
            acc = zero
            for kt in range(0, k, tile):
                ka = kt + tx
                kb = kt + ty
                if row < m and ka < k:
                    ta[ty, tx] = a[a_off + bi * a_sb + row * a_sm + ka * a_sk]
                else:
                    ta[ty, tx] = zero
                if kb < k and col < n:
                    tb[ty, tx] = b[b_off + bi * b_sb + kb * b_sk + col * b_sn]
                else:
                    tb[ty, tx] = zero
                cuda.syncthreads()
                for j in range(tile):
                    acc += ta[ty, j] * tb[j, tx]
                cuda.syncthreads()
            if row < m and col < n:
                c[(bi * m + row) * n + col] = acc

    matmul.__name__ = f"matmul_{tile}_{dtype_name}"
    return cuda.jit(matmul), matmul
