"""Hand-written Numba code that dprog's generated kernels call (installed as dprog.kernels)."""
