"""dp.cond and dp.switch: values, derivatives (vs Python and finite differences), errors."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from control_helpers import central_diff


def piecewise(x):
    return dp.cond(dnp.sum(x) > 0, lambda v: dnp.sum(dnp.sin(v) * v), lambda v: dnp.sum(v ** 3), x)


def piecewise_py(x):
    return np.sum(np.sin(x) * x) if np.sum(x) > 0 else np.sum(x ** 3)


@pytest.mark.parametrize("x", [np.array([0.3, 1.2, -0.4]), np.array([-0.3, 0.2, -0.9])])
def test_cond_value_grad_and_second_order(x):
    assert np.allclose(piecewise(x), piecewise_py(x))
    assert np.allclose(dp.jit(piecewise)(x), piecewise_py(x))
    g = dp.grad(piecewise)(x)
    assert np.allclose(g, central_diff(piecewise_py, x), atol=1e-6)
    # second order: d/dx of (grad . ones) vs finite differences of the gradient
    gsum = lambda v: dnp.sum(dp.grad(piecewise)(v))
    fd = central_diff(lambda v: np.sum(dp.grad(piecewise)(v)), x, eps=1e-5)
    assert np.allclose(dp.grad(gsum)(x), fd, atol=1e-5)
    t = np.array([1.0, -2.0, 0.5])
    out, tout = dp.jvp(piecewise, (x,), (t,))
    assert np.allclose(out, piecewise_py(x))
    assert np.allclose(tout, g @ t)


def test_cond_only_runs_one_branch_eagerly():
    ran = []

    def bad(v):
        ran.append("traced")  # tracing is fine; running it would divide by zero
        return 1.0 / v

    assert dp.cond(False, bad, lambda v: v + 1.0, np.float64(0.0)) == 1.0
    assert ran == ["traced"]


def test_cond_pytrees_closures_and_int_pred():
    def f(params, x):
        scale = params["s"] * 2.0  # closed over by both branches: an explicit operand
        out = dp.cond(x[0], lambda a, b: (a * scale, {"n": b}), lambda a, b: (a - scale, {"n": b + 1}),
                      params["w"], x[1])
        return out[0] + out[1]["n"]

    params = {"s": 1.5, "w": np.array([1.0, 2.0])}
    assert np.allclose(f(params, (3, 10)), [13.0, 16.0])  # nonzero int pred = true
    assert np.allclose(dp.jit(f)(params, (0, 10)), [9.0, 10.0])
    g = dp.grad(lambda p: dnp.sum(f(p, (1, 0))))(params)
    assert np.allclose(g["s"], 2.0 * 3.0) and np.allclose(g["w"], [3.0, 3.0])


def test_cond_weak_scalar_branch_adopts_strong_dtype():
    x = np.ones(3, np.float32)
    out = dp.jit(lambda v: dp.cond(v[0] > 0, lambda a: a * 2, lambda a: dnp.zeros_like(a), v))(x)
    assert out.dtype == np.float32
    out = dp.cond(True, lambda a: 1.0, lambda a: a[0], x)
    assert out.dtype == np.float32 and out == 1.0


def test_switch_clamps_index_and_differentiates():
    branches = [lambda x: x, lambda x: x * x, lambda x: dnp.sin(x)]
    for i, expect in [(-5, 2.0), (0, 2.0), (1, 4.0), (2, np.sin(2.0)), (9, np.sin(2.0))]:
        assert np.allclose(dp.switch(i, branches, 2.0), expect)
        assert np.allclose(dp.jit(lambda k, x: dp.switch(k, branches, x))(np.int32(i), 2.0), expect)
    grads = [dp.grad(lambda x, k: dp.switch(k, branches, x))(2.0, np.int64(k)) for k in range(3)]
    assert np.allclose(grads, [1.0, 4.0, np.cos(2.0)])
    h = dp.grad(dp.grad(lambda x: dp.switch(2, branches, x)))(2.0)
    assert np.allclose(h, -np.sin(2.0))
    _, t = dp.jvp(lambda x: dp.switch(1, branches, x), (3.0,), (1.0,))
    assert t == 6.0


def test_linearize_through_cond():
    f = lambda x: dp.cond(x > 1.0, lambda v: v ** 3, lambda v: v, x)
    out, f_jvp = dp.linearize(f, 2.0)
    assert out == 8.0 and f_jvp(1.0) == 12.0 and f_jvp(2.0) == 24.0


def test_branch_output_mismatch_names_both_avals_and_line():
    with pytest.raises(dp.ShapeError) as e:
        dp.cond(True, lambda x: x, lambda x: x[:2], np.ones(3))  # the user's line
    msg = str(e.value)
    assert "f64[3]" in msg and "f64[2]" in msg and "test_cond.py" in msg and "the user's line" in msg
    with pytest.raises(dp.PytreeError) as e:
        dp.switch(0, [lambda x: (x, x), lambda x: x], 1.0)  # structure mismatch
    assert "structure mismatch" in str(e.value)
    with pytest.raises(dp.ShapeError, match="f32"):
        dp.cond(True, lambda x: x.astype(np.float32), lambda x: x, np.ones(2))


def test_bad_predicate_and_index_raise():
    with pytest.raises(dp.DtypeError) as e:
        dp.jit(lambda x: dp.cond(x, lambda v: v, lambda v: -v, x))(1.0)  # float predicate
    assert "bool or integer" in str(e.value) and "float predicate" in str(e.value)
    with pytest.raises(dp.ShapeError, match="scalar"):
        dp.cond(np.array([True, False]), lambda v: v, lambda v: v, 1.0)
    with pytest.raises(dp.DtypeError, match="integer scalar"):
        dp.switch(1.0, [lambda v: v], 1.0)
