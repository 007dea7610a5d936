"""tests/cuda_sim runs only under Numba's CUDA simulator, which must be switched on
before numba is imported: tests/cuda/test_simulator.py starts it in a subprocess with
NUMBA_ENABLE_CUDASIM=1. Collected in an ordinary run, these files are ignored."""
import os
import sys

collect_ignore_glob = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["test_*.py"]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cuda"))
