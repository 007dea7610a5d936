"""dp.vmap: in_axes/out_axes, pytrees, nesting, composition with grad/jit, errors."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.interpreter import evaluate
from dprog.ir import verify
from dprog.staging import trace_flat
from dprog.transforms.vmap import batch_eval, vmap_graph

RNG = np.random.default_rng(1)


def rand(*shape):
    return RNG.standard_normal(shape)


def f(x, y):
    return dnp.sum(dnp.tanh(x) * y, axis=-1)


def test_in_axes_int_none_tuple_and_negative():
    x, y = rand(3, 4), rand(4)
    want = np.stack([f(x[b], y) for b in range(3)])
    np.testing.assert_allclose(dp.vmap(f, in_axes=(0, None))(x, y), want)
    np.testing.assert_allclose(dp.vmap(f, in_axes=[-2, None])(x, y), want)
    np.testing.assert_allclose(dp.vmap(f, in_axes=(1, None))(x.T.copy(), y), want)
    np.testing.assert_allclose(dp.vmap(f, in_axes=(-1, None))(x.T.copy(), y), want)


def test_in_axes_pytree_prefix_and_kwargs():
    params = {"w": rand(4), "b": np.float64(0.5)}
    xs = rand(5, 4)

    def g(p, x):
        return dnp.dot(p["w"], x) + p["b"]
    want = xs @ params["w"] + 0.5
    np.testing.assert_allclose(dp.vmap(g, in_axes=(None, 0))(params, xs), want)
    np.testing.assert_allclose(dp.vmap(g, in_axes=({"w": None, "b": None}, 0))(params, xs), want)
    ws = rand(5, 4)
    got = dp.vmap(g, in_axes=({"w": 0, "b": None}, 0))({"w": ws, "b": 0.5}, xs)
    np.testing.assert_allclose(got, np.sum(ws * xs, axis=1) + 0.5)
    # keyword arguments are mapped over axis 0
    got = dp.vmap(lambda x, *, y: x * y)(xs, y=ws)
    np.testing.assert_allclose(got, xs * ws)


def test_out_axes_variants():
    x = rand(3, 4)
    g = lambda a: (a * 2, dnp.sum(a), dnp.ones(2))  # noqa: E731
    a2, s, ones = dp.vmap(g, out_axes=(1, 0, None))(x)
    np.testing.assert_allclose(a2, (x * 2).T)
    np.testing.assert_allclose(s, x.sum(1))
    np.testing.assert_allclose(ones, np.ones(2))
    np.testing.assert_allclose(dp.vmap(lambda a: a[:, None] * a, out_axes=-1)(x),
                               np.stack([np.outer(r, r) for r in x], axis=-1))
    # an unbatched output with an axis is broadcast along it
    out = dp.vmap(lambda a: {"c": dnp.ones(2), "a": a}, out_axes={"c": 1, "a": 0})(x)
    np.testing.assert_allclose(out["c"], np.ones((2, 3)))
    np.testing.assert_allclose(out["a"], x)


def test_axis_size_without_mapped_inputs():
    out = dp.vmap(lambda a: a + 1.0, in_axes=None, axis_size=4)(np.ones(2))
    np.testing.assert_allclose(out, np.full((4, 2), 2.0))


def test_nested_vmap():
    x, y = rand(3, 5, 4), rand(5, 4)
    got = dp.vmap(dp.vmap(f, in_axes=(0, 0)), in_axes=(0, None))(x, y)
    want = np.array([[f(x[i, j], y[j]) for j in range(5)] for i in range(3)])
    np.testing.assert_allclose(got, want)
    # inner maps axis 1 of its argument, outer axis 0: an outer product of batch axes
    outer = dp.vmap(dp.vmap(lambda a, b: a * b, in_axes=(None, 0)), in_axes=(0, None))
    np.testing.assert_allclose(outer(np.arange(3.0), np.arange(4.0)),
                               np.outer(np.arange(3.0), np.arange(4.0)))


def loss(w, x, y):
    return (dnp.tanh(dnp.dot(x, w)) - y) ** 2


def test_per_example_gradients():
    w, xs, ys = rand(4), rand(6, 4), rand(6)
    got = dp.vmap(dp.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
    want = np.stack([dp.grad(loss)(w, xs[i], ys[i]) for i in range(6)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # closed form: 2 (tanh(x.w) - y) (1 - tanh^2) x
    t = np.tanh(xs @ w)
    np.testing.assert_allclose(got, (2 * (t - ys) * (1 - t * t))[:, None] * xs, rtol=1e-12)


def test_grad_of_vmap_and_jit_of_vmap():
    w, xs, ys = rand(4), rand(6, 4), rand(6)
    total = lambda w: dnp.sum(dp.vmap(loss, in_axes=(None, 0, 0))(w, xs, ys))  # noqa: E731
    t = np.tanh(xs @ w)
    np.testing.assert_allclose(dp.grad(total)(w), ((2 * (t - ys) * (1 - t * t)) @ xs), rtol=1e-12)
    jitted = dp.jit(dp.vmap(loss, in_axes=(None, 0, 0)))
    np.testing.assert_allclose(jitted(w, xs, ys), (t - ys) ** 2)
    # vmap of a jitted function inlines it and batches its graph
    np.testing.assert_allclose(dp.vmap(dp.jit(loss), in_axes=(None, 0, 0))(w, xs, ys), (t - ys) ** 2)


def test_vmap_of_jvp():
    xs, ts = rand(5, 3), rand(5, 3)
    out, tout = dp.vmap(lambda x, t: dp.jvp(dnp.sin, (x,), (t,)))(xs, ts)
    np.testing.assert_allclose(out, np.sin(xs))
    np.testing.assert_allclose(tout, np.cos(xs) * ts)


def test_vmap_graph_is_graph_to_graph():
    graph = trace_flat(lambda x, y: [dnp.sum(x * y), x[0] + 1.0], [dp.ir.Aval((3,), np.float64)] * 2)
    batched = verify(vmap_graph(graph, [1, None], 4))
    assert [v.aval.shape for v in batched.invars] == [(3, 4), (3,)]
    assert [v.aval.shape for v in batched.outvars] == [(4,), (4,)]
    x, y = rand(3, 4), rand(3)
    s, first = evaluate(batched, x, y)
    np.testing.assert_allclose(s, y @ x)
    np.testing.assert_allclose(first, x[0] + 1.0)
    # batch_eval evaluates eagerly when no trace is active, and reports unbatched outputs
    outs, dims = batch_eval(graph, graph.consts, [x, y], [1, None], 4)
    assert dims == [0, 0]
    outs, dims = batch_eval(graph, graph.consts, [x[:, 0], y], [None, None], 4)
    assert dims == [None, None]


# --------------------------------------------------------------------------- errors

def _raises(fn, *args, match):
    with pytest.raises(dp.DprogError, match=match) as info:
        fn(*args)
    assert "test_vmap.py" in str(info.value)  # names the user's line
    return info.value


def test_error_inconsistent_sizes():
    e = _raises(dp.vmap(f), rand(3, 4), rand(5, 4), match="inconsistent sizes")
    assert "size 3" in str(e) and "size 5" in str(e)
    _raises(dp.vmap(f, in_axes=(0, None), axis_size=2), rand(3, 4), rand(4),
            match="inconsistent sizes")


def test_error_in_axes_structure():
    _raises(dp.vmap(f, in_axes=(0, None, 0)), rand(3, 4), rand(4), match="3 entries")
    _raises(dp.vmap(f, in_axes=({"a": 0}, None)), rand(3, 4), rand(4), match="does not match")
    _raises(dp.vmap(f, in_axes=("x", None)), rand(3, 4), rand(4), match="ints or None")
    with pytest.raises(dp.TransformError, match="in_axes must be"):
        dp.vmap(f, in_axes="0")


def test_error_axis_out_of_range_and_scalars():
    _raises(dp.vmap(f, in_axes=(2, None)), rand(3, 4), rand(4), match="out of range")
    _raises(dp.vmap(lambda a: a), 1.5, match="rank 0")
    _raises(dp.vmap(lambda a: a, in_axes=None), rand(3), match="axis_size")


def test_error_out_axes_none_for_batched_output():
    _raises(dp.vmap(lambda a: a * 2, out_axes=None), rand(3, 2), match="out_axes is None")
    _raises(dp.vmap(lambda a: (a, a), out_axes=(0,)), rand(3, 2), match="does not match")


def test_error_inside_jit_names_user_line():
    @dp.jit
    def outer(x, y):
        return dp.vmap(f)(x, y)
    _raises(outer, rand(3, 4), rand(2, 4), match="inconsistent sizes")


def test_grad_of_vmap_of_grad():
    x, w = rand(3, 5), rand(5)
    f = lambda w, x: dnp.sum(dnp.sin(w * x))  # noqa: E731
    per_example = dp.vmap(dp.grad(f), in_axes=(None, 0))
    gg = dp.grad(lambda w: dnp.sum(per_example(w, x)))(w)
    np.testing.assert_allclose(gg, np.sum(-np.sin(w * x) * x ** 2, axis=0), rtol=1e-12)
