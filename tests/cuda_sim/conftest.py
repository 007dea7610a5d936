"""tests/cuda_sim runs only under Numba's CUDA simulator, which must be switched on
before numba is imported: tests/cuda/test_simulator.py starts it in a subprocess with
NUMBA_ENABLE_CUDASIM=1. Collected in an ordinary run, these files are ignored, unless
DPROG_CUDA_TESTS_ON_GPU=1 (benchmarks/gpu_check.py runs them on a real GPU that way)."""
import os
import sys

_ON = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or os.environ.get("DPROG_CUDA_TESTS_ON_GPU") == "1"
collect_ignore_glob = [] if _ON else ["test_*.py"]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cuda"))
