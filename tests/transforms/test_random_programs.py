"""Property tests of the autodiff transforms on random straight-line programs.

(a) transposition: <vjp(u), v> == <u, jvp(v)> for random u, v (exact up to rounding,
    so non-smooth ops are included);
(b) grad vs central finite differences along a random direction;
(c) second order: jvp of grad vs finite differences of grad.
Graphs go through the pass pipeline and run on the reference interpreter, so a random
program costs no kernel compilation. CI profile: derandomized, 50 examples per property;
DPROG_FUZZ=long runs thousands with fresh randomness.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import dprog as dp
import dprog.numpy as dnp
from dprog.interpreter import evaluate
from dprog.passes import run_pipeline

from dprog.ops.elementwise import mul_p
from random_programs import describe, op_tables, programs, run_program

LONG = os.environ.get("DPROG_FUZZ") == "long"
FUZZ = settings(max_examples=3000 if LONG else 50, derandomize=not LONG, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
X_SHAPE, Y_SHAPE = (2, 3), (3,)


def run_graph(fn, *args):
    """fn traced, passed through the pipeline and run on the reference interpreter."""
    graph = run_pipeline(dp.make_graph(fn)(*args))
    outs = evaluate(graph, *args)
    return outs[0] if len(outs) == 1 else outs


def draw(rng, shape):
    return rng.standard_normal(shape)


def scalar_loss(steps, smooth, weights_seed):
    def loss(x, y):
        out = run_program(steps, x, y, smooth)
        w = np.random.default_rng(weights_seed).standard_normal(out.shape)
        return dnp.sum(out * w)
    return loss


def check_transpose(steps, seed):
    rng = np.random.default_rng(seed)
    x, y, vx, vy = draw(rng, X_SHAPE), draw(rng, Y_SHAPE), draw(rng, X_SHAPE), draw(rng, Y_SHAPE)

    def f(a, b):
        return run_program(steps, a, b, smooth=False)
    out_shape = np.shape(f(x, y))
    u = draw(rng, out_shape)
    jv = run_graph(lambda a, b, ta, tb: dp.jvp(f, (a, b), (ta, tb))[1], x, y, vx, vy)
    ux, uy = run_graph(lambda a, b, ct: dp.vjp(f, a, b)[1](ct), x, y, u)
    lhs = np.sum(ux * vx) + np.sum(uy * vy)
    rhs = np.sum(u * jv)
    scale = np.sum(np.abs(ux * vx)) + np.sum(np.abs(uy * vy)) + np.sum(np.abs(u * jv)) + 1.0
    assert abs(lhs - rhs) <= 1e-10 * scale, describe(steps, False)


def check_grad(steps, seed):
    rng = np.random.default_rng(100 + seed)
    x, y, vx, vy = draw(rng, X_SHAPE), draw(rng, Y_SHAPE), draw(rng, X_SHAPE), draw(rng, Y_SHAPE)
    loss = scalar_loss(steps, True, seed)
    gx, gy = run_graph(dp.grad(loss, argnums=(0, 1)), x, y)
    eps = 1e-5
    fd = (loss(x + eps * vx, y + eps * vy) - loss(x - eps * vx, y - eps * vy)) / (2 * eps)
    ad = np.sum(gx * vx) + np.sum(gy * vy)
    assert abs(ad - fd) <= 1e-6 * (1 + abs(fd)), describe(steps, True)


def check_second_order(steps, seed):
    rng = np.random.default_rng(200 + seed)
    x, y, vx, vy = draw(rng, X_SHAPE), draw(rng, Y_SHAPE), draw(rng, X_SHAPE), draw(rng, Y_SHAPE)
    g = dp.grad(scalar_loss(steps, True, seed), argnums=(0, 1))
    hx, hy = run_graph(lambda a, b, ta, tb: dp.jvp(g, (a, b), (ta, tb))[1], x, y, vx, vy)
    grad_at = lambda a, b: run_graph(g, a, b)  # noqa: E731
    eps = 1e-5
    (px, py), (mx, my) = grad_at(x + eps * vx, y + eps * vy), grad_at(x - eps * vx, y - eps * vy)
    for ad, plus, minus in ((hx, px, mx), (hy, py, my)):
        fd = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(ad, fd, rtol=1e-5, atol=1e-6, err_msg=describe(steps, True))


@FUZZ
@given(programs(), st.integers(0, 2 ** 16))
def test_vjp_is_the_transpose_of_jvp(steps, seed):
    check_transpose(steps, seed)


@FUZZ
@given(programs(), st.integers(0, 2 ** 16))
def test_grad_matches_finite_differences(steps, seed):
    check_grad(steps, seed)


@FUZZ
@given(programs(max_steps=4), st.integers(0, 2 ** 16))
def test_jvp_of_grad_matches_finite_differences_of_grad(steps, seed):
    check_second_order(steps, seed)


# Every op of the tables, in a fixed small program (op on x, then combined with y and
# reduced), so each registry op is checked however the random draws fall.
UNARY_ALL, BINARY_ALL = op_tables(smooth=False)
UNARY_SMOOTH, BINARY_SMOOTH = op_tables(smooth=True)


def _sweep_program(op):
    if op in UNARY_ALL:
        return [(0, UNARY_ALL.index(op), 0, 0), (1, BINARY_ALL.index(mul_p), 2, 1), (2, 0, 3, 1)]
    return [(1, BINARY_ALL.index(op), 0, 1), (1, BINARY_ALL.index(op), 1, 2), (2, 0, 3, 1)]


def _smooth_steps(steps, op):
    """The same program with indices into the smooth tables."""
    table = UNARY_SMOOTH if op in UNARY_ALL else BINARY_SMOOTH
    full = UNARY_ALL if op in UNARY_ALL else BINARY_ALL
    out = []
    for kind, a, b, c in steps:
        if kind == 0:
            a = UNARY_SMOOTH.index(UNARY_ALL[a])
        elif kind == 1:
            a = BINARY_SMOOTH.index(BINARY_ALL[a])
        out.append((kind, a, b, c))
    assert table[out[0][1]] is full[steps[0][1]]
    return out


@pytest.mark.parametrize("op", UNARY_ALL + BINARY_ALL, ids=lambda op: op.name)
def test_every_op_in_a_small_program(op):
    steps = _sweep_program(op)
    check_transpose(steps, 1)
    if op in UNARY_SMOOTH or op in BINARY_SMOOTH:
        smooth = _smooth_steps(steps, op)
        check_grad(smooth, 2)
        check_second_order(smooth, 3)
