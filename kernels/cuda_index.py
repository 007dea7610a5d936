"""Hand-written CUDA kernels: gather (np.take along one axis), scatter-add (its VJP,
with atomic adds so repeated indices accumulate), fill, argmax/argmin and cumsum.

Arrays are flat and contiguous (the planner materialises strided views first), viewed
as (head, axis, tail). Indices are normalised as dprog.ops.index does on the CPU:
negative counts from the end, out-of-range clamps (a kernel cannot raise).
All loops are grid-stride, so any launch size is correct.

gather, scatter_add and scatter_or repeat the same index decoding: a shared
@cuda.jit(device=True) helper cannot be compiled to PTX without a GPU driver (Numba asks
the driver for a context), and CI compiles these kernels with none.
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


def scatter_or(out, upd, upd_off, idx, idx_off, total, size, count, tail):
    """scatter_add for bool, which is logical or (NumPy's np.add.at on bool). CUDA has
    no atomic add on bytes; every writer stores the same True, so plain stores race
    harmlessly."""
    for f in range(cuda.grid(1), total, cuda.gridsize(1)):
        if upd[upd_off + f]:
            t = f % tail
            r = f // tail
            j = r % count
            h = r // count
            i = idx[idx_off + j]
            if i < 0:
                i += size
            i = min(max(i, 0), size - 1)
            out[(h * size + i) * tail + t] = True


def fill(out, value, total):
    for f in range(cuda.grid(1), total, cuda.gridsize(1)):
        out[f] = value


def arg_extreme(out, x, x_off, total, n, inner, want_max):
    """argmax (want_max) or argmin along the middle axis of x viewed as (outer, n,
    inner), one thread per result. NumPy's rules: the first extreme wins, and the first
    NaN wins over everything."""
    for f in range(cuda.grid(1), total, cuda.gridsize(1)):
        o = f // inner
        t = f - o * inner
        base = x_off + o * n * inner + t
        best = x[base]
        found = 0
        if best == best:
            for j in range(1, n):
                v = x[base + j * inner]
                if v != v:
                    found = j
                    break
                if (v > best) if want_max else (v < best):
                    best = v
                    found = j
        out[f] = found


def cumulative_sum(out, x, x_off, total, n, inner, reverse, zero):
    """Inclusive prefix sums along the middle axis of x viewed as (outer, n, inner), one
    thread per line (from the end when `reverse`); `zero` is 0 in x's dtype."""
    for f in range(cuda.grid(1), total, cuda.gridsize(1)):
        o = f // inner
        t = f - o * inner
        base = o * n * inner + t
        acc = zero
        for step in range(n):
            j = n - 1 - step if reverse else step
            acc += x[x_off + base + j * inner]
            out[base + j * inner] = acc


# Plain functions above stay importable for compile_ptx (tests); these are the launchers.
gather_kernel = cuda.jit(gather)
scatter_add_kernel = cuda.jit(scatter_add)
scatter_or_kernel = cuda.jit(scatter_or)
fill_kernel = cuda.jit(fill)
arg_extreme_kernel = cuda.jit(arg_extreme)
cumulative_sum_kernel = cuda.jit(cumulative_sum)
