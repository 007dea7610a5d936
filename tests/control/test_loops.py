"""dp.scan, dp.fori_loop, dp.while_loop: values vs Python loops, derivatives vs the same
loop unrolled and vs finite differences, reverse mode through while raising, and
tracing cost independent of the trip count."""
import time

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from control_helpers import central_diff, count_nodes

W = np.array([[0.5, -0.3], [0.2, 0.8]])


def rnn_scan(h0, xs, w, reverse=False):
    def step(h, x):
        h = dnp.tanh(dnp.sum(w * h, axis=1) + x)  # w @ h
        return h, dnp.sum(h * h)
    h, ys = dp.scan(step, h0, xs, reverse=reverse)
    return dnp.sum(h) + dnp.sum(ys * dnp.arange(ys.shape[0]))


def rnn_unrolled(h0, xs, w, reverse=False):
    h, ys = h0, [None] * xs.shape[0]
    order = range(xs.shape[0] - 1, -1, -1) if reverse else range(xs.shape[0])
    for i in order:  # Python unrolling: the reference for values and derivatives
        h = dnp.tanh(dnp.sum(w * h, axis=1) + xs[i])
        ys[i] = dnp.sum(h * h)
    return dnp.sum(h) + dnp.sum(dnp.stack(ys) * dnp.arange(len(ys)))


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_matches_unrolled_values_and_derivatives(reverse):
    rng = np.random.default_rng(0)
    h0, xs = rng.normal(size=2), rng.normal(size=(5, 2))
    args = (h0, xs, W, reverse)
    assert np.allclose(rnn_scan(*args), rnn_unrolled(*args))
    g = dp.grad(rnn_scan, argnums=(0, 1, 2))(*args)
    g_ref = dp.grad(rnn_unrolled, argnums=(0, 1, 2))(*args)
    for a, b in zip(g, g_ref):
        assert np.allclose(a, b)
    assert np.allclose(g[2], central_diff(lambda w: rnn_unrolled(h0, xs, w, reverse), W), atol=1e-6)
    t = rng.normal(size=(2, 2))
    _, t_out = dp.jvp(lambda w: rnn_scan(h0, xs, w, reverse), (W,), (t,))
    assert np.allclose(t_out, np.sum(g[2] * t))
    # second order: Hessian-vector products through grad of scan, in both modes
    hvp = lambda w: dnp.sum(dp.grad(rnn_scan, argnums=2)(h0, xs, w, reverse) * t)
    hvp_ref = lambda w: dnp.sum(dp.grad(rnn_unrolled, argnums=2)(h0, xs, w, reverse) * t)
    assert np.allclose(dp.grad(hvp)(W), dp.grad(hvp_ref)(W))
    _, fwd_over_rev = dp.jvp(lambda w: dp.grad(rnn_scan, argnums=2)(h0, xs, w, reverse), (W,), (t,))
    assert np.allclose(np.sum(fwd_over_rev * t), dp.jvp(hvp_ref, (W,), (t,))[1])


def test_scan_pytrees_xs_none_and_jit():
    def f(c, x):
        return {"a": c["a"] + x[0], "b": c["b"] * x[1]}, (c["a"], None)
    xs = (np.arange(4.0), np.full(4, 2.0))
    carry, (ys, none) = dp.scan(f, {"a": 0.0, "b": np.ones(2)}, xs)
    assert carry["a"] == 6.0 and np.allclose(carry["b"], 16.0) and none is None
    assert np.allclose(ys, [0.0, 0.0, 1.0, 3.0])
    c, ys = dp.jit(lambda c0: dp.scan(lambda c, _: (c * 2, c), c0, None, length=3))(1.0)
    assert c == 8.0 and np.allclose(ys, [1, 2, 4])
    c, ys = dp.scan(lambda c, _: (c + 1, c), 0, None, length=0)
    assert c == 0 and ys.shape == (0,)


def test_fori_loop_static_bounds_is_a_scan_and_reverse_differentiable():
    f = lambda x: dp.fori_loop(1, 6, lambda i, c: dnp.sin(c) * i + x, x)

    def f_py(x):
        c = x
        for i in range(1, 6):
            c = np.sin(c) * i + x
        return c

    assert np.allclose(f(0.3), f_py(0.3))
    graph = dp.make_graph(f)(0.3)
    assert [n.op.name for n in graph.nodes] == ["scan"]
    assert np.allclose(dp.grad(f)(0.3), central_diff(f_py, 0.3), atol=1e-6)
    g2 = dp.grad(dp.grad(f))(0.3)
    assert np.allclose(g2, central_diff(lambda x: dp.grad(f)(x), 0.3, eps=1e-5), atol=1e-5)
    assert np.allclose(dp.jvp(f, (0.3,), (1.0,))[1], dp.grad(f)(0.3))
    assert dp.fori_loop(5, 2, lambda i, c: c + i, 7) == 7  # empty range


def test_fori_loop_traced_bounds_is_a_while_forward_only():
    f = lambda x, n: dp.fori_loop(0, n, lambda i, c: c * x + i, 1.0)
    graph = dp.make_graph(f)(2.0, np.int32(4))
    assert [n.op.name for n in graph.nodes if n.op.name in ("while", "scan")] == ["while"]

    def f_py(x, n):
        c = 1.0
        for i in range(n):
            c = c * x + i
        return c

    assert np.allclose(dp.jit(f)(1.5, np.int32(4)), f_py(1.5, 4))
    _, t = dp.jvp(lambda x: f(x, np.int32(4)), (1.5,), (1.0,))
    assert np.allclose(t, central_diff(lambda x: f_py(x, 4), 1.5), atol=1e-6)
    # np.int32 bounds count as static outside jit (as Python ints): a scan, so grad works
    assert np.allclose(dp.grad(f)(1.5, np.int32(4)), t)
    with pytest.raises(dp.TransformError) as e:
        dp.grad(f)(1.5, np.array(4, np.int32))  # reverse mode through while
    assert "fori_loop" in str(e.value) and "scan" in str(e.value) and "test_loops.py" in str(e.value)


def test_while_loop_values_jvp_and_grad_error():
    def f(x):
        return dp.while_loop(lambda c: c[1] < 10.0, lambda c: (c[0] + 1, c[1] * x), (0, 1.0))

    n, v = f(3.0)
    assert n == 3 and v == 27.0
    _, (tn, tv) = dp.jvp(f, (3.0,), (1.0,))
    assert tv == 27.0 and tn == 0  # d(x^3)/dx at 3, the int counter has no tangent
    _, t2 = dp.jvp(lambda x: dp.jvp(lambda y: f(y)[1], (x,), (1.0,))[1], (3.0,), (1.0,))
    assert t2 == 18.0  # second-order forward mode
    with pytest.raises(dp.TransformError, match="while_loop"):
        dp.grad(lambda x: f(x)[1])(3.0)
    with pytest.raises(dp.TransformError, match="while_loop"):
        dp.vjp(lambda x: f(x)[1], 3.0)


def test_ten_thousand_steps_trace_like_ten():
    def make(n):
        return lambda x: dp.fori_loop(0, n, lambda i, c: c * 0.999 + dnp.sin(c) * x, x)

    def trace_time(fn):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            graph = dp.make_graph(fn)(0.5)
            best = min(best, time.perf_counter() - start)
        return graph, best

    for wrap in (lambda f: f, dp.grad, lambda f: dp.grad(dp.grad(f))):
        g10, t10 = trace_time(wrap(make(10)))
        g10k, t10k = trace_time(wrap(make(10_000)))
        assert count_nodes(g10k) == count_nodes(g10)
        assert t10k < 3 * t10 + 0.05
    # and it runs: 10,000 steps through the reference interpreter
    assert np.isfinite(dp.jit(make(10_000))(0.5))


def test_carry_errors_name_the_users_line():
    with pytest.raises(dp.PytreeError) as e:
        dp.scan(lambda c, x: ((c, c), x), 0.0, np.ones(3))  # carry structure changes
    assert "structure" in str(e.value) and "carry structure changes" in str(e.value)
    with pytest.raises(dp.ShapeError) as e:
        dp.fori_loop(0, 3, lambda i, c: dnp.concatenate([c, c]), np.ones(2))  # grows
    assert "f64[4]" in str(e.value) and "f64[2]" in str(e.value) and "# grows" in str(e.value)
    with pytest.raises(dp.ShapeError, match="f32"):
        dp.while_loop(lambda c: c < 3, lambda c: c.astype(np.float32), np.float64(1.0))
    with pytest.raises(dp.PytreeError, match="pair"):
        dp.scan(lambda c, x: c, 0.0, np.ones(3))
    with pytest.raises(dp.ShapeError, match="length"):
        dp.scan(lambda c, x: (c, x), 0.0, (np.ones(3), np.ones(4)))
    with pytest.raises(dp.DtypeError, match="bool scalar"):
        dp.while_loop(lambda c: c, lambda c: c + 1.0, 1.0)


def test_weak_init_adopts_body_dtype():
    xs = np.ones(3, np.float32)
    c, _ = dp.scan(lambda c, x: (c + x, None), 0.0, xs)
    assert c.dtype == np.float32 and c == 3.0
    assert dp.fori_loop(0, 3, lambda i, c: c + np.float32(0.5), 0).dtype == np.float32


def test_bad_static_arguments_raise_dprog_errors():
    with pytest.raises(dp.ShapeError, match="length must be a Python int"):
        dp.scan(lambda c, x: (c, x), 0.0, None, length=2.5)
    with pytest.raises(dp.DtypeError, match="integer"):
        dp.fori_loop(0.0, 3, lambda i, c: c, 1.0)
    with pytest.raises(dp.PytreeError, match="sequence of functions"):
        dp.switch(0, lambda x: x, 1.0)


def test_nested_scans_closing_over_outer_values_differentiate_twice():
    def f(x):
        def outer(c, xi):  # the inner body closes over x and xi (outer traced values)
            inner, _ = dp.scan(lambda d, y: (dnp.sin(d * y + x), None), c, dnp.arange(3.0) * xi)
            return inner, inner
        c, ys = dp.scan(outer, x, dnp.arange(4.0) * 0.1)
        return c + dnp.sum(ys)

    def f_py(x):
        c, s = x, 0.0
        for xi in np.arange(4.0) * 0.1:
            for y in np.arange(3.0) * xi:
                c = np.sin(c * y + x)
            s += c
        return c + s

    assert np.allclose(f(0.4), f_py(0.4))
    assert np.allclose(dp.grad(f)(0.4), central_diff(f_py, 0.4), atol=1e-7)
    fd2 = central_diff(lambda x: central_diff(f_py, x, eps=1e-5), 0.4, eps=1e-4)
    assert np.allclose(dp.grad(dp.grad(f))(0.4), fd2, atol=1e-5)
    assert np.allclose(dp.jvp(dp.grad(f), (0.4,), (1.0,))[1], fd2, atol=1e-5)


def test_grad_through_while_names_the_while_loop_line():
    import inspect

    def f(x):
        return dp.while_loop(lambda c: c < 10.0, lambda c: c * x, 1.0)  # WHILE-LINE
    line = next(i for i, text in enumerate(inspect.getsourcelines(f)[0]) if "WHILE-LINE" in text)
    where = f'line {inspect.getsourcelines(f)[1] + line}'
    for transform in (dp.grad, lambda g: dp.vmap(dp.grad(g))):
        with pytest.raises(dp.TransformError) as e:
            transform(f)(np.array([3.0]) if transform is not dp.grad else 3.0)
        assert "while_loop" in str(e.value) and "test_loops.py" in str(e.value)
        assert where in str(e.value) and "WHILE-LINE" in str(e.value)
