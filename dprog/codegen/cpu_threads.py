"""Parallel kernels: one serial kernel, its outermost loop split across threads.

Every generated kernel takes the range of its outermost loop, `lo` and `hi`, as its
first two arguments. A planned parallel step calls `split(kernel, extent, ...)`, which
runs kernel(lo, hi, ...) on contiguous slices: this thread takes the last one, a small
pool of worker threads the others. Kernels are compiled with nogil=True, so the slices
run truly in parallel.

Why not Numba's prange: a parallel=True kernel is a second compile of every large
kernel, and parfor lowering is slow (0.2-0.45 s more per kernel on the development
machine: most of a cold first call). Its thread pools also need care: GNU OpenMP's kills
a child forked after a parallel region, and the workqueue pool must never run two
regions at once. Our pool is plain Python threads: it survives fork (a child makes its
own), and concurrent calls from several threads just queue their slices.
"""
import os
import threading

ALIGN = 64   # slice bounds of flat loops: whole cache lines of float32, never shared


def usable_cpus():
    env = os.environ.get("DPROG_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_state = {"pid": None, "pool": None, "threads": 1}
_lock = threading.Lock()


def pool():
    """The worker threads (None with one usable CPU); made again in a forked child."""
    if _state["pid"] != os.getpid():
        with _lock:
            if _state["pid"] != os.getpid():
                from concurrent.futures import ThreadPoolExecutor
                threads = usable_cpus()
                _state["threads"] = threads
                _state["pool"] = (ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="dprog-kernel")
                                  if threads > 1 else None)
                _state["pid"] = os.getpid()
    return _state["pool"]


def threads():
    """How many slices a parallel kernel is split into."""
    pool()
    return _state["threads"]


def bounds(extent, parts, align):
    """Slice bounds of range(extent) in `parts` nearly equal pieces, multiples of `align`."""
    edges = [min(extent, (extent * k // parts) // align * align) for k in range(parts + 1)]
    edges[-1] = extent
    return edges


def split(kernel, extent, flat, *args):
    """kernel(lo, hi, *args) over range(extent), in slices run in parallel. `flat`: the
    loop is over elements (slices aligned to cache lines) rather than rows."""
    workers = pool()
    parts = min(_state["threads"], extent)
    if workers is None or parts < 2 or not getattr(kernel, "compiled", True):
        # (a kernel's first call loads or compiles it: once, on this thread)
        return kernel(0, extent, *args)
    edges = bounds(extent, parts, ALIGN if flat else 1)
    futures = [workers.submit(kernel, lo, hi, *args)
               for lo, hi in zip(edges[:-2], edges[1:-1]) if hi > lo]
    try:
        kernel(edges[-2], edges[-1], *args)
    finally:
        for f in futures:
            f.result()


def split_partials(kernel, extent, flat, positions, *args):
    """split() for a kernel that reduces over the split dim: the arguments at `positions`
    are stacks with one accumulator per slice (axis 0), and slice p gets element p. The
    caller combines the stack afterwards. Slices run on the pool even with fewer threads
    than slices (a process forked onto fewer CPUs), so the result does not depend on it."""
    parts = len(args[positions[0]])
    if not getattr(kernel, "compiled", True):
        kernel(0, extent, *_slice_args(args, positions, 0))  # first call, whole, on this thread
        return
    edges = bounds(extent, parts, ALIGN if flat else 1)
    jobs = [(lo, hi, _slice_args(args, positions, p)) for p, (lo, hi) in enumerate(zip(edges, edges[1:]))
            if hi > lo]
    workers = pool()
    futures = [workers.submit(kernel, lo, hi, *a) for lo, hi, a in jobs[:-1]] if workers else []
    try:
        for lo, hi, a in (jobs if workers is None else jobs[-1:]):
            kernel(lo, hi, *a)
    finally:
        for f in futures:
            f.result()


def _slice_args(args, positions, p):
    args = list(args)
    for i in positions:
        args[i] = args[i][p]
    return args
