"""Passes and the verifier on graphs whose nodes hold sub-graphs."""
import numpy as np

import dprog as dp
import dprog.numpy as dnp
from dprog.ir import verify
from dprog.passes import run_pipeline


def _ops(graph):
    return [n.op.name for n in graph.nodes]


def test_cse_merges_identical_control_nodes_only():
    inner = dp.jit(lambda x: dp.cond(x[0] > 0, lambda v: v * 2.0, lambda v: v - 1.0, x))

    def twice(x):
        return inner(x) + inner(x)  # the same node (same branch graphs) twice: merged

    def different(x):
        a = dp.cond(x[0] > 0, lambda v: v + 1.0, lambda v: v, x)
        b = dp.cond(x[0] > 0, lambda v: v + 2.0, lambda v: v, x)  # other branches: kept
        return a * b

    x = np.array([1.0, 2.0])
    g = run_pipeline(dp.make_graph(twice)(x))
    assert _ops(g).count("cond") == 1
    assert np.allclose(dp.jit(twice)(x), 4 * x)
    g = run_pipeline(dp.make_graph(different)(x))
    assert _ops(g).count("cond") == 2
    assert np.allclose(dp.jit(different)(x), (x + 1) * (x + 2))


def test_dce_drops_unused_loops_and_keeps_captured_operands():
    table = np.arange(6.0).reshape(3, 2)  # captured by the body: an operand of the node

    def f(x):
        dp.scan(lambda c, r: (c * r, None), x, table)  # result unused: dropped
        c, _ = dp.scan(lambda c, r: (c + r * table[0], None), x, table)
        return c

    g = run_pipeline(dp.make_graph(f)(np.ones(2)))
    assert _ops(g).count("scan") == 1
    verify(g)
    assert np.allclose(dp.jit(f)(np.ones(2)), 1 + table.sum(0) * table[0])


def test_verify_accepts_control_graphs_and_their_derivatives():
    def f(x):
        y = dp.fori_loop(0, 3, lambda i, c: dnp.sin(c) + x, x)
        z = dp.cond(y > 0, lambda v: v * v, lambda v: -v, y)
        return dp.checkpoint(lambda v: dnp.tanh(v) * 2.0)(z)

    for fn in (f, dp.grad(f), dp.grad(dp.grad(f))):
        verify(dp.make_graph(fn)(0.4))
    text = str(dp.make_graph(f)(0.4))
    assert "scan[body=" in text and "cond[branches=" in text and "checkpoint[body=" in text


def test_reverse_mode_scan_runs_the_forward_loop_once():
    f = lambda x: dp.fori_loop(0, 5, lambda i, c: dnp.sin(c) * x, x)
    vg = dp.jit(dp.value_and_grad(f))
    raw = dp.make_graph(dp.value_and_grad(f))(0.7)
    assert _ops(raw).count("scan") == 3  # primal, carry-stacking forward, backward
    g = vg.lower(0.7)
    assert _ops(g).count("scan") == 2  # the primal scan merged into the stacking one
    verify(g)
    value, grad = vg(0.7)
    assert np.allclose(value, f(0.7)) and np.allclose(grad, dp.grad(f)(0.7))


def _scans(graph):
    return [n for n in graph.nodes if n.op.name == "scan"]


def test_dce_drops_stacked_ys_nobody_reads():
    xs = np.arange(12.0).reshape(4, 3)

    def f(c0):
        final, (squares, _) = dp.scan(lambda c, x: (c + x, (c * c, c - x)), c0, xs)
        return final, squares  # the second ys is never read

    g = run_pipeline(dp.make_graph(f)(np.ones(3)))
    (scan,) = _scans(g)
    assert len(scan.outs) == 2 and len(scan.params["body"].outvars) == 2
    verify(g)
    final, squares = dp.jit(f)(np.ones(3))
    c = np.ones(3) + np.concatenate([np.zeros((1, 3)), np.cumsum(xs, 0)[:-1]])
    assert np.allclose(final, 1 + xs.sum(0)) and np.allclose(squares, c * c)


def test_reverse_mode_scan_stacks_only_what_its_backward_scan_reads():
    """A linear update's derivative needs no state, only the carry that multiplies a
    parameter: the forward loop stacks x (for d/dk) but not v, and the backward loop
    reads one stack, while the primal scan still merges into the stacking one."""
    x0 = np.linspace(-1.0, 1.0, 6).reshape(3, 2)

    def loss(v0, k):
        def step(carry, _):
            x, v = carry
            v = v + 0.01 * (-k * x - 0.1 * v)
            return (x + 0.01 * v, v), None
        (x, v), _ = dp.scan(step, (x0, v0), None, length=7)
        return dnp.sum(x * x) + dnp.sum(v)

    v0 = np.ones((3, 2))
    vg = dp.jit(dp.value_and_grad(loss, argnums=(0, 1)))
    g = vg.lower(v0, 2.0)
    forward, backward = _scans(g)
    nc = forward.params["num_carry"]
    assert len(forward.outs) - nc == 1  # x's stack only
    xs_in = len(backward.inputs) - backward.params["num_consts"] - backward.params["num_carry"]
    assert xs_in == 1
    verify(g)
    value, (gv, gk) = vg(v0, 2.0)
    dp.config.backend = "reference"
    try:
        value_ref, (gv_ref, gk_ref) = dp.jit(dp.value_and_grad(loss, argnums=(0, 1)))(v0, 2.0)
    finally:
        dp.config.backend = ""
    eps = 1e-6
    fd = (loss(v0, 2.0 + eps) - loss(v0, 2.0 - eps)) / (2 * eps)
    assert np.allclose(value, value_ref) and np.allclose(gv, gv_ref) and np.allclose(gk, gk_ref)
    assert np.allclose(gk, fd, rtol=1e-5)
