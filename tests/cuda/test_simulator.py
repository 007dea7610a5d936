"""Runs tests/cuda_sim under Numba's CUDA simulator in a subprocess.

NUMBA_ENABLE_CUDASIM must be set before numba is first imported, and this process has
imported it already, so the simulator suite gets a fresh interpreter. The test fails if
that suite fails or collects nothing."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import dprog as dp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_cuda_suite_passes_in_the_simulator(tmp_path):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", DPROG_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/cuda_sim", "-o", "addopts=", "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert passed and int(passed.group(1)) >= 20, tail


def test_cuda_without_a_gpu_is_a_clear_error():
    import numba
    from numba import cuda
    if numba.config.ENABLE_CUDASIM or cuda.is_available():
        pytest.skip("this machine can run CUDA kernels")
    f = dp.jit(lambda x: x + 1.0, device="cuda")
    with pytest.raises(dp.UnsupportedError, match="NUMBA_ENABLE_CUDASIM"):
        f(np.ones(3, np.float32))
