"""Matrix products for the CPU driver: BLAS through NumPy, with an optional thread cap.

OpenBLAS's threads synchronise with spin barriers. When another process holds one of the
cores, a multi-threaded sgemm of any size stalls for scheduler time slices: measured on 2
cores under load, the MLP benchmark step took 150 ms with NumPy's 2 BLAS threads, 72 ms
with the product split across two single-threaded calls, and 20 ms with one BLAS thread.
On the same machine idle, 2 threads are faster (15 ms vs 22 ms). So `config.blas_threads`
(DPROG_BLAS_THREADS) defaults to NumPy's setting, and 1 is the choice for shared machines;
dprog sets it around its own products only, restoring the user's setting (about 1 us).
A stack of products (batched matmul) runs with one BLAS thread per product, the stack
split across dprog's own threads: OpenBLAS would synchronise its threads once per matrix.
"""
import os
import threading

import numpy as np

from ..config import config
from . import cpu_threads

TOGGLE_MIN_FLOPS = 1e6   # small products run single-threaded in OpenBLAS anyway
# A stack split across threads must give each thread enough work to pay for handing it
# over (about 50 us): 25 products of 10x10 by 10x1000 (5 MFLOP) took 480 us split and
# 330 us in one np.matmul call.
SPLIT_MIN_FLOPS = 16e6

_pool = {"pid": None, "blas": None}
_lock = threading.Lock()


def _numpy_blas():
    """NumPy's BLAS thread controller (found once per process), or None."""
    if _pool["pid"] != os.getpid():
        _pool["pid"] = os.getpid()
        _pool["blas"] = None
        try:
            import threadpoolctl
            controllers = threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # threadpoolctl cannot inspect this BLAS: leave it alone
            controllers = []
        for c in controllers:
            if "numpy" in c.filepath:
                _pool["blas"] = c
        if _pool["blas"] is None and controllers:
            _pool["blas"] = controllers[0]
    return _pool["blas"]


def matmul(a, b, out):
    """out[...] = a @ b with equal batch shapes (dprog's matmul primitive)."""
    m, k = a.shape[-2:]
    n = b.shape[-1]
    threads = config.blas_threads
    flops = 2.0 * a.size // max(k, 1) * n * k
    if flops < TOGGLE_MIN_FLOPS:
        return np.matmul(a, b, out=out)
    # A stack of products: OpenBLAS would start and join its threads for every matrix
    # (100 64x64x1000 products took 266 ms with 2 threads on a loaded machine, 26 ms
    # with one). One BLAS thread per product instead, and the stack split across our
    # own threads.
    stack = (out.ndim > 2 and out.shape[0] >= 2 and flops >= SPLIT_MIN_FLOPS
             and a.shape[:-2] == b.shape[:-2] == out.shape[:-2])
    if threads is None and not stack:
        # NumPy's own thread setting, nothing to change: no need to find the controller
        # (threadpoolctl's scan of the loaded libraries was 50 ms of a warm first call).
        return np.matmul(a, b, out=out)
    blas = _numpy_blas()
    if blas is None:
        return np.matmul(a, b, out=out)
    with _lock:  # the thread count is process-wide: restore it only after our call
        previous = blas.num_threads
        workers = threads or previous
        stacked = stack and workers > 1
        wanted = 1 if stacked else (threads or previous)
        if previous != wanted:
            blas.set_num_threads(wanted)
        try:
            if stacked:
                return _split_stack(a, b, out, min(workers, out.shape[0]))
            return np.matmul(a, b, out=out)
        finally:
            if previous != wanted:
                blas.set_num_threads(previous)


def _split_stack(a, b, out, parts):
    """np.matmul over slices of the leading batch axis, one slice per thread of the
    kernels' pool (cpu_threads; NumPy releases the GIL in BLAS); this thread takes the
    last slice."""
    bounds = np.linspace(0, out.shape[0], parts + 1).astype(int)
    pool = cpu_threads.pool()
    if pool is None:
        return np.matmul(a, b, out=out)
    futures = [pool.submit(np.matmul, a[lo:hi], b[lo:hi], out=out[lo:hi])
               for lo, hi in zip(bounds[:-2], bounds[1:-1])]
    np.matmul(a[bounds[-2]:], b[bounds[-2]:], out=out[bounds[-2]:])
    for f in futures:
        f.result()
    return out
