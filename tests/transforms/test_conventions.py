"""Derivatives at non-differentiable points: one test per convention in docs/AUTODIFF.md
("Non-differentiable points"). Each is checked in reverse and forward mode."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp


def both_modes(f, x):
    """(grad, jvp with a ones tangent) of a scalar f at x: equal for elementwise f."""
    x = np.asarray(x, np.float64)
    _, t = dp.jvp(lambda v: dnp.sum(f(v)), (x,), (np.ones_like(x),))
    return dp.grad(lambda v: dnp.sum(f(v)))(x), t


def test_maximum_and_minimum_ties_split_equally():
    for op in (dnp.maximum, dnp.minimum):
        gx, gy = dp.grad(lambda a, b: op(a, b), argnums=(0, 1))(2.0, 2.0)
        assert (gx, gy) == (0.5, 0.5)
        gx, gy = dp.grad(lambda a, b: op(a, b), argnums=(0, 1))(3.0, 2.0)
        assert (gx, gy) == ((1.0, 0.0) if op is dnp.maximum else (0.0, 1.0))
    # reductions: every member of a tie gets an equal share
    np.testing.assert_array_equal(dp.grad(dnp.max)(np.array([1.0, 3.0, 3.0])), [0, 0.5, 0.5])
    np.testing.assert_array_equal(dp.grad(dnp.min)(np.array([1.0, 1.0, 1.0, 4.0])), [1 / 3, 1 / 3, 1 / 3, 0])
    _, t = dp.jvp(dnp.max, (np.array([3.0, 3.0]),), (np.array([1.0, 0.0]),))
    assert t == 0.5


def test_abs_derivative_at_zero_is_zero():
    g, t = both_modes(dnp.abs, [0.0, -2.0, 3.0])
    np.testing.assert_array_equal(g, [0.0, -1.0, 1.0])
    np.testing.assert_array_equal(t, 0.0 - 1.0 + 1.0)


def test_relu_derivative_at_zero_is_zero():
    g, t = both_modes(dp.nn.relu, [0.0, -1.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])
    assert t == 1.0


def test_where_sends_the_derivative_only_to_the_chosen_branch():
    c = np.array([True, False, True])

    def f(x, y):
        return dnp.sum(dnp.where(c, x * x, 3.0 * y))
    x, y = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    gx, gy = dp.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [2.0, 0.0, 6.0])
    np.testing.assert_array_equal(gy, [0.0, 3.0, 0.0])
    # The other branch is still evaluated: a non-finite partial there poisons the zero
    # cotangent (0 * inf), as in JAX. Guard the operand itself (the "double where").
    naive = dp.grad(lambda v: dnp.sum(dnp.where(v > 0, dnp.log(v), 0.0)))
    safe = dp.grad(lambda v: dnp.sum(dnp.where(v > 0, dnp.log(dnp.where(v > 0, v, 1.0)), 0.0)))
    v = np.array([0.0, 2.0])
    with np.errstate(all="ignore"):
        assert np.isnan(naive(v)[0])
    np.testing.assert_array_equal(safe(v), [0.0, 0.5])


def test_pow_derivative_in_the_exponent_at_zero_base_is_zero():
    gx, gy = dp.grad(lambda a, b: a ** b, argnums=(0, 1))(0.0, 2.0)
    assert (gx, gy) == (0.0, 0.0)  # d/dy 0**y = 0 * log(0) is taken as 0
    gx, _ = dp.grad(lambda a, b: a ** b, argnums=(0, 1))(0.0, 0.0)
    assert gx == 0.0  # x**0 is constant 1: d/dx = 0, not 0 * 0**-1
    _, t = dp.jvp(lambda b: np.float64(0.0) ** b, (1.5,), (1.0,))
    assert t == 0.0
    _, gy = dp.grad(lambda a, b: a ** b, argnums=(0, 1))(2.0, 3.0)
    assert np.isclose(gy, 8.0 * np.log(2.0))


def test_integer_and_bool_values_get_zero_tangents_and_cotangents():
    n = np.arange(3, dtype=np.int32)
    mask = np.array([True, False, True])

    def f(x, k, m):
        return dnp.sum(x * k + m * x + x.astype(np.int32))  # the int cast carries no derivative
    x = np.array([1.5, 2.5, -0.5])
    _, vjp_fn = dp.vjp(f, x, n, mask)
    gx, gk, gm = vjp_fn(1.0)
    np.testing.assert_array_equal(gx, n + mask)
    assert gk.dtype == np.int32 and not gk.any()
    assert gm.dtype == np.bool_ and not gm.any()
    _, t = dp.jvp(lambda v: f(v, n, mask), (x,), (np.ones(3),))
    assert t == np.sum(n + mask)
    with pytest.raises(dp.TransformError, match="float inputs"):
        dp.grad(f, argnums=1)(x, n, mask)
