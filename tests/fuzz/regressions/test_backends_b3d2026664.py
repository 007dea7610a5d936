"""Fuzzer regression (backends check): Exception: numba TypingError: Unknown attribute 'fmod' of type Module(math)

Written by tests/fuzz/test_fuzz.py under DPROG_FUZZ=long. Once the bug is fixed,
this test keeps it fixed."""
import numpy as np

from fuzz_checks import run_saved

SOURCE = """\
def f(x0):
    v0 = dnp.divide(x0, (dnp.square(x0) + 0.5))
    v1 = dnp.mod(x0, (dnp.square(v0) + 0.5))
    return v1
"""


def test_regression():
    run_saved(SOURCE, [()], np.float64, 47125, 'backends')
