"""Derivatives of composite dprog.numpy functions (built from several primitives) against
central finite differences: reverse mode (grad) and forward mode (jvp)."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp

rng = np.random.default_rng(3)
X = rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1, 1], (3, 4))
W = rng.uniform(-1, 1, (3, 4))
IDX = np.array([[0, 3], [1, 1], [2, 0]])
EPS = 1e-6

FUNCTIONS = {
    "prod": lambda x: dnp.prod(x, axis=1),
    "prod_with_zero": lambda x: dnp.prod(x * np.array([1.0, 0.0, 1.0, 1.0]), axis=1),
    "cumprod": lambda x: dnp.cumprod(x, axis=1),
    "cumsum": lambda x: dnp.cumsum(x, axis=0),
    "var": lambda x: dnp.var(x, axis=0, keepdims=True),
    "std": lambda x: dnp.std(x, ddof=1),
    "mean": lambda x: dnp.mean(x, axis=(0, 1)),
    "max": lambda x: dnp.max(x, axis=1),
    "einsum": lambda x: dnp.einsum("ij,kj->ik", x, x),
    "einsum3": lambda x: dnp.einsum("ij,jk,kl->il", x, x.T, x),
    "trace": lambda x: dnp.trace(x @ x.T),
    "tensordot": lambda x: dnp.tensordot(x, x, axes=([0], [0])),
    "take_along_axis": lambda x: dnp.take_along_axis(x, IDX, axis=1),
    "gather2": lambda x: x[np.array([0, 2, 0]), np.array([1, 1, 3])],
    "strided": lambda x: x[::-1, ::2],
    "where": lambda x: dnp.where(x > 0, dnp.sin(x), x * x),
    "clip": lambda x: dnp.clip(x, -0.9, 0.9),
    "power": lambda x: dnp.abs(x) ** 1.5,
    "stack_split": lambda x: dnp.stack(dnp.split(x, 2, axis=1), axis=0),
    "pad_tile_repeat": lambda x: dnp.repeat(dnp.tile(dnp.pad(x, 1, constant_values=2.0), 2), 2, axis=0),
    "tril_diag": lambda x: dnp.tril(x @ x.T, k=-1) + dnp.diag(dnp.diagonal(x)),
    "norm_like": lambda x: dnp.sqrt(dnp.sum(x * x, axis=1)),
    "broadcast_ops": lambda x: x[:, None, :] * x[None, :, :] - dnp.mean(x, axis=0),
}


def loss(f):
    return lambda x: dnp.sum(f(x) * np.cos(np.arange(np.size(f(X))).reshape(np.shape(f(X)))))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_grad_and_jvp_match_finite_differences(name):
    L = loss(FUNCTIONS[name])
    g = dp.grad(L)(X)
    _, t = dp.jvp(L, (X,), (W,))
    fd = (L(X + EPS * W) - L(X - EPS * W)) / (2 * EPS)
    np.testing.assert_allclose(np.vdot(g, W), fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t, fd, rtol=1e-5, atol=1e-6)
