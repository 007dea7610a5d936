"""Fuzzer regression (transpose check): AssertionError: <vjp(u), v> != <u, jvp(v)>: a scan of length 0 returned its carry, whose pooled buffer was then reused (grad gave 1.0, not 0.22)

Written by tests/fuzz/test_fuzz.py under DPROG_FUZZ=long. Once the bug is fixed,
this test keeps it fixed."""
import numpy as np

from fuzz_checks import run_saved

SOURCE = """\
def f(x0):
    v0 = dnp.abs(x0)
    v1 = dp.fori_loop(0, 0, lambda i, c: dnp.astype(0.5 * c + 0.3 * dnp.abs(c) * dnp.tanh(v0) + 0.01 * i, c.dtype), v0)
    v2 = dnp.arccosh((dnp.square(v1) + 1.5))
    return v2
"""


def test_regression():
    run_saved(SOURCE, [()], np.float32, 0, 'transpose')
