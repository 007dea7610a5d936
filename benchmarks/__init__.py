"""dprog's benchmarks: `python -m benchmarks` times dprog against NumPy, JAX and PyTorch."""
