"""Code generators: fused loop nests as Numba source (CPU now, CUDA sharing the same plan)."""
