"""Bad input never hurts: every mistake class gives a clear DprogError naming the user's
line, or a correct result; never a crash, a hang, a wrong answer or a broken cache.

Each table row is (name, how to call, function, bad args, expected error or None, good
args, NumPy reference). The bad call runs first; then the *same* transformed function is
called with good arguments and must be right, and a shared sanity function too (so one
mistake never poisons a cache or leaves a trace open).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog import (DprogError, DtypeError, LeakedTracerError, PytreeError, ShapeError,
                   StaticArgError, TracerConversionError, TransformError, UnsupportedError)
from dprog.trace import is_tracing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
x3, x4, m23, m32 = np.arange(3.0), np.arange(4.0), np.ones((2, 3)), np.ones((3, 2))


def jit(f):
    return dp.jit(f)


def grad(f):
    return dp.grad(f)


def vmap(f):
    return dp.vmap(f)


CASES = [
    # name, transform, function (one line: its line is the one the error must name),
    # bad args, error, good args, reference
    ("matmul inner dims", jit, lambda a, b: a @ b, (m23, m23), ShapeError, (m23, m32), np.matmul),
    ("broadcast", jit, lambda a, b: a + b, (x3, x4), ShapeError, (x3, x3), np.add),
    ("rank for transpose", jit, lambda a: dnp.transpose(a, (1, 0)), (x3,), ShapeError, (m23,), np.transpose),
    ("reshape size", jit, lambda a: dnp.reshape(a, (4,)), (x3,), ShapeError, (x4,), lambda a: a),
    ("reduction axis", jit, lambda a: dnp.sum(a, axis=1), (x3,), ShapeError, (m23,), lambda a: a.sum(1)),
    ("index out of range", jit, lambda a: a[5] * 2, (x3,), ShapeError, (np.arange(6.0),), lambda a: a[5] * 2),
    ("bitwise on floats", jit, lambda a: dnp.bitwise_and(a, 3), (x3,), DtypeError, (np.arange(5),),
     lambda a: a & 3),
    ("complex input", jit, lambda a: a * 2, (np.ones(2, complex),), DtypeError, (x3,), lambda a: a * 2),
    ("string input", jit, lambda a: a * 2, ("abc",), PytreeError, (x3,), lambda a: a * 2),
    ("python if on traced", jit, lambda a: a if dnp.sum(a) > 0 else -a, (x3,), TracerConversionError,
     None, None),
    ("int() of traced", jit, lambda a: dnp.ones(int(a[0])), (x3,), TracerConversionError, None, None),
    ("returns a string", jit, lambda a: "done", (x3,), PytreeError, None, None),
    ("grad of a vector", grad, lambda a: a * 2, (x3,), TransformError, None, None),
    ("grad of int input", grad, lambda a: dnp.sum(a * a), (np.arange(3),), TransformError, (x3,),
     lambda a: 2 * a),
    ("vmap axis sizes", vmap, lambda a, b: a * b, (x3, x4), TransformError, (x3, x3), np.multiply),
    ("cond branch structures", jit,
     lambda a: dp.cond(dnp.sum(a) > 0, lambda v: (v, v), lambda v: v, a), (x3,), PytreeError, None, None),
    ("cond branch dtypes", jit,
     lambda a: dp.cond(dnp.sum(a) > 0, lambda v: v, lambda v: dnp.astype(v, dnp.float32), a), (x3,),
     ShapeError, None, None),
    ("scan carry shape", jit, lambda a: dp.scan(lambda c, r: (c[None], r), a[0], a), (m23,), ShapeError,
     None, None),
    ("scan xs lengths", jit, lambda a, b: dp.scan(lambda c, r: (c + r[0] * r[1], c), 0.0, (a, b))[0],
     (x3, x4), ShapeError, (x3, x3), lambda a, b: np.sum(a * b)),
    ("while_loop float predicate", jit, lambda a: dp.while_loop(lambda c: c, lambda c: c, a), (x3,),
     DtypeError, None, None),
    ("fori_loop float bound", jit, lambda a: dp.fori_loop(0.5, 3, lambda i, c: c, a), (x3,), DtypeError,
     None, None),
    ("unsupported astype", jit, lambda a: a.astype("complex64"), (x3,), DtypeError, None, None),
    ("np.asarray of traced", jit, lambda a: np.asarray(a) * 2, (x3,), TracerConversionError, None, None),
    ("max of empty", jit, lambda a: dnp.max(a), (np.ones(0),), ShapeError, (x3,), np.max),
]


# Mistakes in the arguments or the result are reported at the call, not inside fn.
AT_CALL = {"complex input", "string input", "grad of int input", "vmap axis sizes", "returns a string",
           "grad of a vector"}


@dp.jit
def sanity(a, b):
    return dnp.sum(dnp.tanh(a) * b, axis=0), a @ b.T


def check_sanity():
    a, b = np.linspace(-1, 1, 6).reshape(2, 3), np.arange(6.0).reshape(2, 3)
    s, p = sanity(a, b)
    np.testing.assert_allclose(s, np.sum(np.tanh(a) * b, axis=0))
    np.testing.assert_allclose(p, a @ b.T)
    assert not is_tracing() and sanity.cache_size() == 1


def assert_names_line(error, fn=None):
    """The message names this file and, for an error inside `fn`, fn's own line."""
    msg = str(error)
    assert isinstance(error, DprogError), type(error)
    assert f'File "{__file__}", line ' in msg, msg
    if fn is not None:
        assert f"line {fn.__code__.co_firstlineno}" in msg, msg


@pytest.mark.parametrize("backend", ["", "reference"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_mistake_then_correct_call(case, backend):
    name, transform, fn, bad, error, good, ref = case
    old, dp.config.backend = dp.config.backend, backend
    try:
        f = transform(fn)
        with pytest.raises(error) as info:
            f(*bad)
        assert_names_line(info.value, None if name in AT_CALL else fn)
        if good is not None:
            np.testing.assert_allclose(f(*good), ref(*good), rtol=1e-12)
        check_sanity()
    finally:
        dp.config.backend = old


# ------------------------------------------------------------- pytrees between calls

def test_pytree_structure_changes_between_calls_retrace():
    f = dp.jit(lambda d: d["a"] * 2 + sum(d.get("rest", [])))
    np.testing.assert_allclose(f({"a": x3}), 2 * x3)
    np.testing.assert_allclose(f({"a": x3, "rest": [x3, x3]}), 4 * x3)
    np.testing.assert_allclose(f({"a": x3, "rest": (x3,)}), 3 * x3)
    np.testing.assert_allclose(f({"a": x3}), 2 * x3)
    assert f.cache_size() == 3
    out, vjp_fn = dp.vjp(lambda a: (a * 2, {"s": dnp.sum(a)}), x3)
    with pytest.raises(TransformError) as info:
        vjp_fn(x3)  # cotangent without the output's structure
    assert_names_line(info.value)
    np.testing.assert_allclose(vjp_fn((np.ones(3), {"s": 1.0}))[0], np.full(3, 3.0))
    check_sanity()


# ------------------------------------------------------------------- statics

def test_unhashable_statics():
    f = dp.jit(lambda a, n: a * len(n), static_argnums=1)
    for bad in ([1, 2], x3, {"k": 1}):
        with pytest.raises(StaticArgError) as info:
            f(x3, bad)
        assert_names_line(info.value)
    np.testing.assert_allclose(f(x3, (1, 2)), 2 * x3)
    with pytest.raises(StaticArgError) as info:
        dp.jit(lambda a: a, static_argnums=4)
    assert_names_line(info.value)
    np.testing.assert_allclose(dp.jit(lambda a, n: a * n, static_argnums=-1)(x3, 3), 3 * x3)
    check_sanity()


# ------------------------------------------------------------------- leaked tracers

def test_leaked_tracer_used_later():
    box = []

    @dp.jit
    def leak(a):
        box.append(a * 2)
        return a
    np.testing.assert_allclose(leak(x3), x3)
    uses = [lambda: dp.jit(lambda a: a + box[0])(x3), lambda: box[0] + 1, lambda: dnp.sin(box[0]),
            lambda: np.asarray(box[0]), lambda: dp.grad(lambda a: dnp.sum(a * box[0]))(x3)]
    for use in uses:
        with pytest.raises(LeakedTracerError) as info:
            use()
        assert_names_line(info.value)
        assert "escaped" in str(info.value)
    np.testing.assert_allclose(leak(x3 + 1), x3 + 1)
    check_sanity()


# ------------------------------------------------------------------- recursion

RECURSION = r"""
import numpy as np, dprog as dp
@dp.jit
def f(a):
    return f(a - 1.0)
try:
    f(np.ones(2))
except dp.UnsupportedError as e:
    assert "calls itself" in str(e) and "line 5" in str(e), e
g = dp.jit(lambda a, n: a if n == 0 else g(a * 2.0, n - 1), static_argnums=1)
assert g(np.ones(2), 3).tolist() == [8.0, 8.0]
print("ok")
"""


def test_jitted_function_calling_itself_never_hangs(tmp_path):
    """In a child process: a deadlock fails the test by its timeout instead of hanging CI."""
    script = tmp_path / "recursion.py"  # a real file, so the error can name its line
    script.write_text(RECURSION)
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


# ------------------------------------------------------------------- values

NONFINITE = np.array([np.nan, 1.0, np.inf, -np.inf, -2.0, 0.0])
VALUE_CASES = [
    ("exp sum", lambda a: dnp.sum(dnp.exp(a)), lambda a: np.sum(np.exp(a))),
    ("max", lambda a: dnp.max(a), np.max),
    ("maximum", lambda a: dnp.maximum(a, 0.5), lambda a: np.maximum(a, 0.5)),
    ("where isnan", lambda a: dnp.where(dnp.isnan(a), 0.0, a * 2), lambda a: np.where(np.isnan(a), 0.0, a * 2)),
    ("tanh", lambda a: dnp.tanh(a) + 1, lambda a: np.tanh(a) + 1),
    ("cumsum", lambda a: dnp.cumsum(a), np.cumsum),
    ("sort of reductions", lambda a: dnp.min(a[1:]) + dnp.argmax(a[1:]), lambda a: np.min(a[1:]) + np.argmax(a[1:])),
]


@pytest.mark.parametrize("backend", ["", "reference"])
@pytest.mark.parametrize("name, fn, ref", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_nan_and_inf_inputs_give_numpys_answer(name, fn, ref, backend):
    old, dp.config.backend = dp.config.backend, backend
    try:
        with np.errstate(all="ignore"):
            for x in (NONFINITE, NONFINITE.astype(np.float32)):
                np.testing.assert_array_equal(dp.jit(fn)(x), ref(x))
    finally:
        dp.config.backend = old


EMPTY_CASES = [
    ("sum axis 0", lambda a: dnp.sum(a, axis=0), lambda a: np.sum(a, axis=0), (0, 3)),
    ("elementwise", lambda a: dnp.tanh(a) * 2, lambda a: np.tanh(a) * 2, (0, 3)),
    ("matmul inner 0", lambda a: a.T @ a, lambda a: a.T @ a, (0, 3)),
    ("cumsum", lambda a: dnp.cumsum(a, axis=0), lambda a: np.cumsum(a, axis=0), (0, 2)),
    ("concatenate", lambda a: dnp.concatenate([a, a + 1]), lambda a: np.concatenate([a, a + 1]), (0,)),
    ("scan of length 0", lambda a: dp.scan(lambda c, r: (c + r, c), dnp.zeros(3), a)[0],
     lambda a: np.zeros(3), (0, 3)),
]


@pytest.mark.parametrize("backend", ["", "reference"])
@pytest.mark.parametrize("name, fn, ref, shape", EMPTY_CASES, ids=[c[0] for c in EMPTY_CASES])
def test_empty_arrays(name, fn, ref, shape, backend):
    old, dp.config.backend = dp.config.backend, backend
    try:
        x = np.ones(shape)
        out = dp.jit(fn)(x)
        assert out.shape == ref(x).shape
        np.testing.assert_allclose(out, ref(x))
        g = dp.grad(lambda a: dnp.sum(fn(a)))(x)
        assert g.shape == x.shape
    finally:
        dp.config.backend = old
    with np.errstate(all="ignore"):
        assert np.isnan(dp.jit(lambda a: dnp.mean(a))(np.ones(0)))  # as NumPy: nan


# ------------------------------------------------------------- huge (> 2**31 elements)

def huge_view():
    """A read-only (2**20, 2**12) float64 view, 2**32 elements in 8 MiB: x[i, j] = i + j."""
    base = np.arange(2**20 + 2**12, dtype=np.float64)
    return np.lib.stride_tricks.as_strided(base, shape=(2**20, 2**12), strides=(8, 8), writeable=False)


HUGE_CASES = [
    ("slice corner", lambda a: a[-2:, -3:] * 2.0, lambda a: a[-2:, -3:] * 2.0),
    ("last element", lambda a: a[2**20 - 1, 2**12 - 1] + 1.0, lambda a: a[-1, -1] + 1.0),
    ("strided sum", lambda a: dnp.sum(a[::2**10, ::2**9]), lambda a: np.sum(a[::2**10, ::2**9])),
    ("take far column", lambda a: dnp.take(a[-4:], np.array([2**12 - 1, 0]), axis=1),
     lambda a: np.take(a[-4:], [2**12 - 1, 0], axis=1)),
    ("gather far rows", lambda a: a[:, -1][np.array([2**20 - 1, 2**19])], lambda a: a[[2**20 - 1, 2**19], -1]),
]


@pytest.mark.parametrize("backend", ["", "reference"])
@pytest.mark.parametrize("name, fn, ref", HUGE_CASES, ids=[c[0] for c in HUGE_CASES])
def test_more_than_2_to_31_elements(name, fn, ref, backend):
    x = huge_view()
    assert x.size > 2**31
    old, dp.config.backend = dp.config.backend, backend
    try:
        np.testing.assert_array_equal(dp.jit(fn)(x), ref(x))
    finally:
        dp.config.backend = old
    check_sanity()


@pytest.mark.parametrize("backend", ["", "reference"])
@pytest.mark.parametrize("fn", [lambda a: a[np.array([2**20 - 1]), np.array([2**12 - 1])],
                                lambda a: a[np.array([2**20 - 1]), -1]], ids=["two arrays", "array and int"])
def test_advanced_index_on_two_axes_of_a_huge_view(fn, backend):
    """Several indexed axes: the picked rows are gathered before the axes are merged, so
    the strided view (32 GiB if copied) is never copied."""
    old, dp.config.backend = dp.config.backend, backend
    try:
        np.testing.assert_array_equal(dp.jit(fn)(huge_view()), [2**20 + 2**12 - 2])
    finally:
        dp.config.backend = old
    check_sanity()
