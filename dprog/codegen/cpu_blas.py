"""Matrix products for the CPU driver: BLAS through NumPy, with its threads capped.

OpenBLAS's threads synchronise with spin barriers. When another process (or Numba's own
pool) holds one of the cores, a multi-threaded sgemm of any size stalls for scheduler
time slices: measured here on 2 cores under load, the MLP benchmark step took 150 ms
with NumPy's default 2 BLAS threads, 72 ms with the product split across two
single-threaded calls, and 20 ms with one BLAS thread. So dprog runs its large products
with `config.blas_threads` threads (default 1), restoring the user's setting after each
call (about 1 us), as DESIGN.md advises: cap threads.
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
