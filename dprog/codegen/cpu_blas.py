"""Matrix products for the CPU driver: BLAS through NumPy, with an optional thread cap.

OpenBLAS's threads synchronise with spin barriers. When another process holds one of the
cores, a multi-threaded sgemm of any size stalls for scheduler time slices: measured on 2
cores under load, the MLP benchmark step took 150 ms with NumPy's 2 BLAS threads, 72 ms
with the product split across two single-threaded calls, and 20 ms with one BLAS thread.
On the same machine idle, 2 threads are faster (15 ms vs 22 ms). So `config.blas_threads`
(DPROG_BLAS_THREADS) defaults to NumPy's setting, and 1 is the choice for shared machines;
dprog sets it around its own products only, restoring the user's setting (about 1 us).
"""
import os
import threading

import numpy as np

from ..config import config

TOGGLE_MIN_FLOPS = 1e6   # small products run single-threaded in OpenBLAS anyway

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
    if threads is None or 2.0 * a.size // max(k, 1) * n * k < TOGGLE_MIN_FLOPS:
        return np.matmul(a, b, out=out)
    blas = _numpy_blas()
    if blas is None:
        return np.matmul(a, b, out=out)
    with _lock:  # the thread count is process-wide: restore it only after our call
        previous = blas.num_threads
        if previous != threads:
            blas.set_num_threads(threads)
        try:
            return np.matmul(a, b, out=out)
        finally:
            if previous != threads:
                blas.set_num_threads(previous)
