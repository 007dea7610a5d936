"""Each user mistake raises its DprogError subclass, names the line in this file that
made it and says what to do; afterwards the same jitted function still works (no
poisoned cache entry, no tracing state left behind)."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog import errors
from dprog.trace import is_tracing

x3, x4 = np.ones(3), np.ones(4)


def line_of(marker):
    """The line number in this file of the line that contains `marker`."""
    with open(__file__) as f:
        hits = [i for i, line in enumerate(f, 1) if line.rstrip().endswith("# " + marker)]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def raises_at(exc_type, marker, *needles):
    """Check the pending error's type, that it names this file's `marker` line, and text."""
    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(exc_type)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            msg = str(self.info.value)
            assert isinstance(self.info.value, errors.DprogError)
            assert f'test_errors.py", line {line_of(marker)}' in msg, msg
            for needle in needles:
                assert needle in msg, (needle, msg)
            assert not is_tracing()
            return handled
    return Check()


# --------------------------------------------------------- Python control flow on tracers

CONTROL_HINTS = ("dp.cond", "dp.fori_loop", "dp.while_loop", "dp.scan", "static_argnums")


@dp.jit(static_argnums=1)
def branchy(x, how):
    if how == "if":
        if x.sum() > 0:  # MARK-if
            return x
    elif how == "while":
        while x.sum() < 10:  # MARK-while
            x = x * 2
    elif how == "bool":
        return bool(x[0])  # MARK-bool
    elif how == "int":
        return x * int(x[0])  # MARK-int
    elif how == "float":
        return x * float(x[0])  # MARK-float
    elif how == "and":
        return x if (x[0] > 0 and x[1] > 0) else -x  # MARK-and
    return x + 1


@pytest.mark.parametrize("how", ["if", "while", "bool", "int", "float", "and"])
def test_python_control_flow_on_a_traced_value(how):
    with raises_at(errors.TracerConversionError, f"MARK-{how}", *CONTROL_HINTS):
        branchy(x3, how)
    np.testing.assert_array_equal(branchy(x3, "ok"), x3 + 1)
    with raises_at(errors.TracerConversionError, f"MARK-{how}"):
        branchy(x3, how)  # still an error: the failed trace was not cached


def test_np_asarray_of_a_tracer():
    @dp.jit
    def f(x):
        return np.asarray(x)  # MARK-asarray

    with raises_at(errors.TracerConversionError, "MARK-asarray", "dnp"):
        f(x3)


def test_tracer_as_a_python_index():
    @dp.jit
    def f(x, n):
        return x[:2] * len(range(n))  # MARK-range

    with raises_at(errors.TracerConversionError, "MARK-range", "static_argnums"):
        f(x3, 2)


# ------------------------------------------------------------------------ shape errors

@dp.jit
def add(x, y):
    return x + y  # MARK-add


@dp.jit
def mm(a, b):
    return a @ b  # MARK-matmul


@dp.jit
def cat(a, b):
    return dnp.concatenate([a, b], axis=0)  # MARK-concat


@dp.jit(static_argnums=1)
def reshape(x, shape):
    return x.reshape(shape)  # MARK-reshape


@pytest.mark.parametrize("fn,bad,good,marker,needles", [
    (add, (x3, x4), (x3, x3), "MARK-add", ("add", "(3,)", "(4,)")),
    (add, (np.ones((2, 3)), np.ones((3, 2))), (np.ones((2, 3)), np.ones(3)), "MARK-add",
     ("(2, 3)", "(3, 2)")),
    (mm, (np.ones((3, 4)), np.ones((5, 2))), (np.ones((3, 4)), np.ones((4, 2))), "MARK-matmul",
     ("matmul", "(3, 4)", "(5, 2)")),
    (cat, (np.ones((2, 3)), np.ones((2, 4))), (np.ones((2, 3)), np.ones((1, 3))), "MARK-concat",
     ("concatenate", "(2, 3)", "(2, 4)")),
    (reshape, (np.ones(6), (4,)), (np.ones(6), (3, 2)), "MARK-reshape",
     ("reshape", "(6,)", "(4,)")),
], ids=["broadcast", "broadcast2d", "matmul", "concatenate", "reshape"])
def test_shape_mismatch_names_shapes_and_op(fn, bad, good, marker, needles):
    with raises_at(errors.ShapeError, marker, *needles):
        fn(*bad)
    out = fn(*good)
    with np.errstate(all="ignore"):
        assert out.shape == np.asarray(fn.fun(*good)).shape
    with raises_at(errors.ShapeError, marker):
        fn(*bad)


# ------------------------------------------------------------------------ dtype errors

def test_float_indices():
    @dp.jit
    def f(x, i):
        return x[i]  # MARK-findex

    with raises_at(errors.DtypeError, "MARK-findex", "integer"):
        f(x3, np.array([0.0, 1.0]))
    np.testing.assert_array_equal(f(x3, np.array([0, 2])), x3[[0, 2]])

    @dp.jit
    def g(x):
        return x[1.5]  # MARK-fscalar

    with raises_at(errors.DtypeError, "MARK-fscalar", "integer"):
        g(x3)

    @dp.jit
    def h(x):
        return dnp.take(x, np.array([0.5]))  # MARK-take

    with raises_at(errors.DtypeError, "MARK-take", "integer"):
        h(x3)


def test_unsupported_dtype():
    @dp.jit
    def f(x):
        return dnp.astype(x, np.complex128)  # MARK-complex

    with raises_at(errors.DtypeError, "MARK-complex", "float32"):
        f(x3)


def test_grad_of_integer_input():
    g = dp.grad(lambda x: dnp.sum(x * 1.0))
    with pytest.raises(errors.TransformError, match="float"):
        g(np.arange(3))  # MARK-gradint
    np.testing.assert_array_equal(g(np.arange(3.0)), np.ones(3))


# ---------------------------------------------------------- static args and results

def test_unhashable_static_argument():
    f = dp.jit(lambda x, axes: dnp.sum(x, axis=axes), static_argnums=1)
    with raises_at(errors.StaticArgError, "MARK-static", "hashable", "tuple"):
        f(np.ones((2, 3)), [0, 1])  # MARK-static
    assert f(np.ones((2, 3)), (0, 1)) == 6.0


@pytest.mark.parametrize("leaf", ["text", object(), print], ids=["str", "object", "function"])
def test_function_returning_a_non_array_leaf(leaf):
    @dp.jit(static_argnums=1)
    def f(x, bad):
        return (x, leaf) if bad else (x, x)

    with raises_at(errors.PytreeError, "MARK-leaf", type(leaf).__name__):
        f(x3, True)  # MARK-leaf
    a, b = f(x3, False)
    np.testing.assert_array_equal(a, x3)


def test_non_array_argument_leaf():
    f = dp.jit(lambda x: x)
    with raises_at(errors.PytreeError, "MARK-argleaf", "static_argnums"):
        f("abc")  # MARK-argleaf
    np.testing.assert_array_equal(f(x3), x3)


def test_leaked_tracer():
    box = []

    @dp.jit
    def leak(x):
        box.append(x)
        return x

    leak(x3)
    with raises_at(errors.LeakedTracerError, "MARK-leak", "return it"):
        dnp.sin(box[0])  # MARK-leak
    with raises_at(errors.LeakedTracerError, "MARK-leak2"):
        dp.jit(lambda y: y + box[0])(x3)  # MARK-leak2
    np.testing.assert_array_equal(leak(x3), x3)


def test_unsupported_numpy_function_names_it():
    @dp.jit
    def f(x):
        return np.unwrap(x)  # MARK-unwrap

    with raises_at(errors.UnsupportedError, "MARK-unwrap", "numpy.unwrap"):
        f(x3)
