"""dp.custom_vjp, dp.custom_jvp and dp.checkpoint: the custom rules are the ones used
(marker values), under jit and nesting; checkpoint saves fewer residuals."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.transforms.partial_eval import split
from dprog.transforms.vjp import vjp_graph


@dp.custom_vjp
def marked_sin(x):
    return dnp.sin(x)


def _fwd(x):
    return dnp.sin(x), x


def _bwd(x, ct):
    return (ct * 42.0 + x * 0.0,)  # marker: the true derivative is cos(x)


marked_sin.defvjp(_fwd, _bwd)


def test_custom_vjp_rule_is_used_eagerly_under_jit_and_nesting():
    assert np.allclose(marked_sin(1.0), np.sin(1.0))
    assert dp.grad(marked_sin)(1.0) == 42.0
    assert dp.grad(dp.jit(marked_sin))(1.0) == 42.0  # the rule survives jit's graph
    assert dp.jit(dp.grad(marked_sin))(1.0) == 42.0
    assert dp.grad(dp.jit(lambda x: dp.jit(marked_sin)(x) * 2.0))(1.0) == 84.0
    _, vjp_fn = dp.vjp(marked_sin, np.array([1.0, 2.0]))
    assert np.allclose(vjp_fn(np.ones(2)), 42.0)
    # inside a differentiated loop body, each step uses the rule: d/dx of 3 nested sins
    assert dp.grad(lambda x: dp.fori_loop(0, 3, lambda i, c: marked_sin(c), x))(0.5) == 42.0 ** 3
    # forward mode has no custom rule here: it differentiates the function itself
    assert np.allclose(dp.jvp(marked_sin, (1.0,), (1.0,))[1], np.cos(1.0))


def test_custom_vjp_second_order_pytrees_and_nondiff_argnums():
    @dp.custom_vjp
    def f(g, p):
        return g(p["a"]) * p["b"]

    def f_fwd(g, p):
        return f(g, p), (p["a"], p["b"])

    def f_bwd(g, res, ct):
        a, b = res
        # written with traced ops, so it differentiates again
        return ({"a": ct * b * dnp.cos(a) * 10.0, "b": ct * g(a)},)

    f.defvjp(f_fwd, f_bwd)
    f = dp.custom_vjp(f.fun, nondiff_argnums=(0,))
    f.defvjp(f_fwd, f_bwd)
    p = {"a": 0.7, "b": 3.0}
    assert np.allclose(f(dnp.sin, p), 3.0 * np.sin(0.7))
    g = dp.grad(lambda q: f(dnp.sin, q))(p)
    assert np.allclose(g["a"], 30.0 * np.cos(0.7)) and np.allclose(g["b"], np.sin(0.7))
    h = dp.grad(lambda a: dp.grad(lambda q: f(dnp.sin, q))({"a": a, "b": 3.0})["a"])(0.7)
    assert np.allclose(h, -30.0 * np.sin(0.7))


def test_custom_vjp_errors():
    @dp.custom_vjp
    def f(x, y):
        return x * y

    with pytest.raises(dp.TransformError, match="defvjp"):
        f(1.0, 2.0)
    f.defvjp(lambda x, y: (x * y, None), lambda res, ct: (ct,))
    with pytest.raises(dp.PytreeError, match="2 cotangents") as e:
        f(1.0, 2.0)  # bwd returns one cotangent for two arguments
    assert "test_custom.py" in str(e.value)


def test_custom_jvp_rule_used_in_forward_and_reverse_mode():
    @dp.custom_jvp
    def f(x, y):
        return dnp.sin(x) * y

    @f.defjvp
    def f_jvp(primals, tangents):
        x, y = primals
        tx, ty = tangents
        return f(x, y), 7.0 * tx + 5.0 * ty  # marker rule

    assert np.allclose(f(1.0, 2.0), 2.0 * np.sin(1.0))
    assert dp.jvp(lambda x: f(x, 2.0), (1.0,), (1.0,))[1] == 7.0
    assert dp.jvp(dp.jit(f), (1.0, 2.0), (1.0, 1.0))[1] == 12.0
    # reverse mode transposes the (linear) tangent rule
    assert dp.grad(f, argnums=(0, 1))(1.0, 2.0) == (7.0, 5.0)
    assert dp.grad(dp.jit(f))(np.float32(1.0), np.float32(2.0)) == 7.0
    xs = np.array([0.1, 0.2, 0.3])
    assert np.allclose(dp.grad(lambda v: dnp.sum(f(v, 1.0)))(xs), 7.0)


def test_custom_jvp_nonlinear_rule_differentiates_twice():
    @dp.custom_jvp
    def softplus(x):
        return dnp.log1p(dnp.exp(x))

    @softplus.defjvp
    def softplus_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t * dnp.sigmoid(x)

    s = 1 / (1 + np.exp(-0.3))
    assert np.allclose(dp.grad(softplus)(0.3), s)
    assert np.allclose(dp.grad(dp.grad(softplus))(0.3), s * (1 - s))


def _residual_bytes(f, x):
    """Bytes dp.vjp's partial evaluation keeps between the forward and backward passes."""
    graph = dp.make_graph(f)(x)
    joint = vjp_graph(graph)
    n_out = len(graph.outvars)
    known, unknown, _ = split(joint, [False] * len(graph.invars) + [True] * n_out)
    residuals = unknown.invars[:len(unknown.invars) - n_out]
    return sum(v.aval.size * v.aval.dtype.itemsize for v in residuals)


def test_checkpoint_saves_fewer_residuals_and_gives_the_same_gradient():
    def chain(x):
        for _ in range(4):
            x = dnp.sin(x) * dnp.tanh(x) + x
        return x

    plain = lambda x: dnp.sum(chain(x))
    remat = lambda x: dnp.sum(dp.checkpoint(chain)(x))
    x = np.linspace(-1, 1, 1000)
    plain_bytes, remat_bytes = _residual_bytes(plain, x), _residual_bytes(remat, x)
    assert remat_bytes == x.nbytes  # only the input is saved
    assert plain_bytes >= 4 * x.nbytes
    assert np.allclose(dp.grad(remat)(x), dp.grad(plain)(x))
    out, vjp_fn = dp.vjp(dp.checkpoint(chain), x)
    assert np.allclose(out, chain(x)) and np.allclose(vjp_fn(np.ones_like(x)), dp.grad(plain)(x))
    assert np.allclose(dp.jvp(remat, (x,), (np.ones_like(x),))[1], np.sum(dp.grad(plain)(x)))
    h = lambda v: dp.grad(remat)(v)[3]
    assert np.allclose(dp.grad(h)(x), dp.grad(lambda v: dp.grad(plain)(v)[3])(x))
