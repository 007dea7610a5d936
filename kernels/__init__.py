"""Hand-written Numba code that dprog's generated kernels call.

vecmath: scalar math functions (vexp, vlog, vtanh, ...) written so that LLVM vectorises
the loops that call them; float32 stays float32. See VECMATH.md for accuracy and speed.
"""
