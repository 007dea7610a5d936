"""kernels/vecmath_flatten.py: a vecmath entry point and the @jit helpers it calls become
one plain function. Checked on small helpers written in the same style: the flat function
computes what the helpers compute, decides builder constants at flatten time, and refuses
anything outside its subset instead of compiling it differently."""
import numpy as np
import pytest
from numba import njit

from dprog.kernels.vecmath_bits import fma, jit, make_poly
from dprog.kernels.vecmath_flatten import flatten


def build(flag):
    HALF = np.float64(0.5)
    p = make_poly((2.0, -1.0, 3.0), np.float64)     # exec'd source, no file

    @jit
    def split(x):
        return x * HALF, x - x * HALF               # a tuple return

    @jit
    def pick(x):
        if flag:                                    # a builder constant: decided here
            return x + 1.0
        return x - 1.0

    @jit
    def entry(x):
        a, b = split(x)
        a = pick(a) if flag else a                  # a constant conditional expression
        return fma(a, b, p(x)) + pick(b)            # helpers nested in an expression

    return entry


@pytest.mark.parametrize("flag", [True, False])
def test_flat_function_computes_what_the_helpers_compute(flag):
    entry = build(flag)
    flat = flatten(entry, ("x",))
    assert "split" in flat.__dprog_source__ and "def entry(x)" in flat.__dprog_source__
    x = np.linspace(-3, 3, 13)
    want = np.array([entry(v) for v in x])           # the helpers, compiled one by one
    got = np.array([njit(flat)(v) for v in x])       # the flattened function
    np.testing.assert_array_equal(got, want)
    # only the branch for this flag is left in the text
    assert ("- 1.0" in flat.__dprog_source__) != flag


def test_arguments_can_be_renamed():
    flat = flatten(build(True), ("value",))
    assert "def entry(value)" in flat.__dprog_source__
    assert njit(flat)(2.0) == build(True)(2.0)


def loop_helper():
    @jit
    def bad(x):
        for _ in range(3):
            x = x + 1.0
        return x
    return bad


def dynamic_if_helper():
    @jit
    def bad(x):
        if x > 0:
            return x
        return -x
    return bad


@pytest.mark.parametrize("make, message", [
    (loop_helper, "For statements are not supported"),
    (dynamic_if_helper, "must test a constant of the builder"),
])
def test_code_outside_the_subset_is_refused(make, message):
    with pytest.raises(TypeError, match=message):
        flatten(make(), ("x",))
