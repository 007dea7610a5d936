"""dp.nn: activations against NumPy formulas and their derivatives, stability at
extremes, initialiser statistics, layers and losses."""
import math

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog import nn

X = np.array([-3.0, -1.0, -0.1, 0.0, 0.2, 1.5, 4.0])


def _erf(x):
    return np.vectorize(math.erf)(x)


@pytest.mark.parametrize("fn,ref", [
    (nn.relu, lambda x: np.maximum(x, 0)),
    (nn.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (nn.softplus, lambda x: np.log1p(np.exp(x))),
    (nn.silu, lambda x: x / (1 + np.exp(-x))),
    (lambda x: nn.gelu(x, approximate=False), lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    (lambda x: nn.gelu(x, approximate=True),
     lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
])
def test_activation_values_and_derivatives(fn, ref):
    np.testing.assert_allclose(fn(X), ref(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dp.jit(fn)(X), ref(X), rtol=1e-12, atol=1e-12)
    # Derivative against central differences (away from relu's kink).
    pts = X[X != 0.0]
    h = 1e-6
    fd = (ref(pts + h) - ref(pts - h)) / (2 * h)
    g = dp.grad(lambda x: dnp.sum(fn(x)))(pts)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_relu_derivative_at_zero_is_zero():
    assert dp.grad(lambda x: nn.relu(x))(0.0) == 0.0
    np.testing.assert_array_equal(dp.grad(lambda x: dnp.sum(nn.relu(x)))(np.array([-1.0, 0.0, 2.0])),
                                  [0.0, 0.0, 1.0])


def test_gelu_forms_close_but_different():
    exact, approx = nn.gelu(X, approximate=False), nn.gelu(X, approximate=True)
    assert np.abs(exact - approx).max() < 1e-3 and not np.allclose(exact, approx, atol=1e-6)


def test_softplus_and_sigmoid_stable_at_extremes():
    big = np.array([-800.0, 800.0])
    np.testing.assert_allclose(nn.softplus(big), [0.0, 800.0])
    np.testing.assert_allclose(dp.grad(lambda x: dnp.sum(nn.softplus(x)))(big), [0.0, 1.0])
    np.testing.assert_allclose(nn.sigmoid(big), [0.0, 1.0])
    assert dp.grad(lambda x: nn.softplus(x))(0.0) == pytest.approx(0.5)


def test_activations_keep_float32():
    x = X.astype(np.float32)
    for fn in (nn.relu, nn.gelu, nn.sigmoid, nn.softplus, nn.softmax, nn.log_softmax):
        assert fn(x).dtype == np.float32, fn.__name__
    assert nn.logsumexp(x).dtype == np.float32


def _ref_lse(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else (np.squeeze(out, axis=axis) if axis is not None else out.reshape(()))


@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), (-1, False),
                                           ((0, 1), True)])
def test_logsumexp_axes(axis, keepdims):
    x = np.random.default_rng(0).normal(size=(4, 5)) * 3
    got = nn.logsumexp(x, axis=axis, keepdims=keepdims)
    want = _ref_lse(x, axis, keepdims)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_logsumexp_stable_and_gradient_is_softmax():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e4, -1e4 + 1.0, -1e4]])
    np.testing.assert_allclose(nn.logsumexp(x, axis=1), [1000 + np.log(2), -1e4 + 1 + np.log(1 + 2 / np.e)])
    g = dp.grad(lambda x: dnp.sum(nn.logsumexp(x, axis=1)))(x)
    np.testing.assert_allclose(g, nn.softmax(x, axis=1), rtol=1e-12)
    np.testing.assert_allclose(g.sum(axis=1), [1.0, 1.0])
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer here
        assert np.isneginf(nn.logsumexp(np.array([-np.inf, -np.inf])))


def test_softmax_and_log_softmax():
    x = np.random.default_rng(1).normal(size=(3, 6)) * 50
    s = nn.softmax(x)
    np.testing.assert_allclose(s.sum(-1), 1.0)
    np.testing.assert_allclose(np.log(s), nn.log_softmax(x), atol=1e-9, rtol=1e-9)
    np.testing.assert_allclose(nn.softmax(x, axis=0).sum(0), 1.0)
    # Jacobian-vector check: d softmax . v = s * (v - <s, v>).
    v = np.random.default_rng(2).normal(size=x.shape)
    _, t = dp.jvp(lambda x: nn.softmax(x), (x,), (v,))
    np.testing.assert_allclose(t, s * (v - (s * v).sum(-1, keepdims=True)), atol=1e-10)


def test_one_hot():
    out = nn.one_hot(np.array([[0, 2], [1, 7]]), 3)
    assert out.shape == (2, 2, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out[0], [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(out[1], [[0, 1, 0], [0, 0, 0]])  # out of range: zeros
    traced = dp.jit(lambda y: nn.one_hot(y, 4, np.float32))(np.array([3, 0]))
    assert traced.dtype == np.float32 and traced.tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]]
    with pytest.raises(dp.DprogError, match="integers"):
        nn.one_hot(np.array([0.0]), 3)


@pytest.mark.parametrize("init,std", [
    (nn.glorot_uniform, math.sqrt(2 / (300 + 200))), (nn.glorot_normal, math.sqrt(2 / 500)),
    (nn.he_uniform, math.sqrt(2 / 300)), (nn.he_normal, math.sqrt(2 / 300)),
    (nn.lecun_normal, math.sqrt(1 / 300)),
])
def test_initialiser_scale(init, std):
    w = init(dp.random.key(0), (300, 200), np.float32)
    assert w.shape == (300, 200) and w.dtype == np.float32
    assert abs(w.mean()) < 0.02 * std * 10 and abs(w.std() / std - 1) < 0.02
    np.testing.assert_array_equal(w, init(dp.random.key(0), (300, 200), np.float32))
    if "uniform" in init.__name__:
        assert np.abs(w).max() <= std * math.sqrt(3) + 1e-6


def test_dense_and_mlp():
    params = nn.mlp_init(dp.random.key(1), [5, 7, 3], np.float32)
    assert [p["w"].shape for p in params] == [(5, 7), (7, 3)]
    assert not params[0]["b"].any()
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    h = np.maximum(x @ params[0]["w"] + params[0]["b"], 0)
    want = h @ params[1]["w"] + params[1]["b"]
    np.testing.assert_allclose(nn.mlp(params, x), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dp.jit(nn.mlp)(params, x), want, rtol=1e-5, atol=1e-6)


def test_layer_norm_normalises_and_differentiates():
    x = np.random.default_rng(0).normal(size=(3, 8)) * 5 + 2
    p = nn.layer_norm_init(8)
    y = nn.layer_norm(p, x)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(-1), 1, atol=1e-5)
    p2 = {"scale": np.full(8, 2.0), "bias": np.full(8, 1.0)}
    np.testing.assert_allclose(nn.layer_norm(p2, x), 2 * y + 1)
    # Normalised output is invariant to shifting the input: zero gradient along ones.
    g = dp.grad(lambda x: dnp.sum(nn.layer_norm(p, x) * np.arange(8.0)))(x)
    np.testing.assert_allclose(g.sum(-1), 0, atol=1e-10)


def test_dropout():
    x = np.ones(40000)
    y = nn.dropout(dp.random.key(3), x, 0.25)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    assert abs(y.mean() - 1) < 0.02  # inverted scaling keeps the expectation
    np.testing.assert_array_equal(nn.dropout(dp.random.key(3), x, 0.25, training=False), x)
    np.testing.assert_array_equal(dp.jit(lambda k, x: nn.dropout(k, x, 0.25))(dp.random.key(3), x), y)
    g = dp.grad(lambda x: dnp.sum(nn.dropout(dp.random.key(3), x, 0.25)))(x)
    np.testing.assert_allclose(g, y)  # derivative is the mask times 1/(1-rate)
    with pytest.raises(dp.DprogError, match="rate"):
        nn.dropout(dp.random.key(0), x, 1.0)


def test_embedding():
    p = nn.embedding_init(dp.random.key(0), 6, 3)
    ids = np.array([[1, 5], [0, 1]])
    out = nn.embedding(p, ids)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0, 0], p["table"][1])
    g = dp.grad(lambda p: dnp.sum(nn.embedding(p, ids)))(p)
    np.testing.assert_array_equal(g["table"][:, 0], [1, 2, 0, 0, 0, 1])  # row use counts


def test_softmax_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    logp = logits - _ref_lse(logits, axis=1, keepdims=True)
    per = -logp[np.arange(5), labels]
    np.testing.assert_allclose(nn.softmax_cross_entropy(logits, labels), per.mean())
    np.testing.assert_allclose(nn.softmax_cross_entropy(logits, labels, reduction="sum"), per.sum())
    np.testing.assert_allclose(nn.softmax_cross_entropy(logits, labels, reduction="none"), per)
    g = dp.grad(nn.softmax_cross_entropy)(logits, labels)
    np.testing.assert_allclose(g, (np.exp(logp) - np.eye(4)[labels]) / 5, atol=1e-12)
    with pytest.raises(dp.DprogError, match="integer"):
        nn.softmax_cross_entropy(logits, labels.astype(np.float64))
    with pytest.raises(dp.DprogError, match="logits.shape"):
        nn.softmax_cross_entropy(logits, labels[:3])


def test_mse():
    a, b = np.array([1.0, 2.0, 4.0]), np.array([0.0, 2.0, 1.0])
    assert nn.mse(a, b) == pytest.approx(10 / 3)
    np.testing.assert_allclose(dp.grad(nn.mse)(a, b), 2 * (a - b) / 3)
    np.testing.assert_array_equal(nn.mse(a, b, reduction="none"), [1, 0, 9])
    with pytest.raises(dp.DprogError, match="reduction"):
        nn.mse(a, b, reduction="avg")
