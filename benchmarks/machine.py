"""The machine's limits, measured: memory bandwidth (a large copy) and sgemm FLOP/s."""
import os
import platform

import numpy as np

from .timing import interleaved, median


def measure():
    n = 1 << 25  # 128 MiB of float32: far beyond the caches
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    copy = median(interleaved({"copy": lambda: np.copyto(dst, src)}, rounds=10)["copy"])
    bandwidth = 2 * src.nbytes / copy  # read + write
    m = 1024
    a = np.random.rand(m, m).astype(np.float32)
    b = np.random.rand(m, m).astype(np.float32)
    gemm = median(interleaved({"gemm": lambda: a @ b}, rounds=10)["gemm"])
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "bandwidth_GBps": bandwidth / 1e9,
        "sgemm_GFLOPs": 2 * m ** 3 / gemm / 1e9,
    }
