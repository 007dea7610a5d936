"""Hand-written CUDA kernels: gather (np.take along one axis), scatter-add (its VJP,
with atomic adds so repeated indices accumulate) and fill.

Arrays are flat and contiguous (the planner materialises strided views first), viewed
as (head, axis, tail). Indices are normalised as dprog.ops.index does on the CPU:
negative counts from the end, out-of-range clamps (a kernel cannot raise).
All loops are grid-stride, so any launch size is correct.
"""
from numba import cuda




def gather(out, x, x_off, idx, idx_off, total, n, count, tail):
    for f in range(cuda.grid(1), total, cuda.gridsize(1)):
        t = f % tail
        r = f // tail
        j = r % count
        h = r // count
        i = idx[idx_off + j]
        if i < 0:
            i += n
        i = min(max(i, 0), n - 1)
        out[f] = x[x_off + (h * n + i) * tail + t]


def scatter_add(out, upd, upd_off, idx, idx_off, total, size, count, tail):
    for f in range(cuda.grid(1), total, cuda.gridsize(1)):
        t = f % tail
        r = f // tail
        j = r % count
        h = r // count
        i = idx[idx_off + j]
        if i < 0:
            i += size
        i = min(max(i, 0), size - 1)
        cuda.atomic.add(out, (h * size + i) * tail + t, upd[upd_off + f])


def fill(out, value, total):
    for f in range(cuda.grid(1), total, cuda.gridsize(1)):
        out[f] = value


# Plain functions above stay importable for compile_ptx (tests); these are the launchers.
gather_kernel = cuda.jit(gather)
scatter_add_kernel = cuda.jit(scatter_add)
fill_kernel = cuda.jit(fill)
