"""grad of sum(tanh(x) * exp(-x^2) + log1p(x^2)) on 4M float32 elements."""
import numpy as np

import dprog as dp
import dprog.numpy as dnp

from .peer_grads import add_peer_grads

NAME = "elementwise grad (4M f32)"
N = 4 * 1024 * 1024


def bytes_moved():
    return 2 * N * 4  # read x, write the gradient


def f(np_, x):
    return np_.sum(np_.tanh(x) * np_.exp(-x * x) + np_.log1p(x * x))


def f_dprog(x):
    return f(dnp, x)


def grad_numpy(x):
    t = np.tanh(x)
    e = np.exp(-x * x)
    return (1 - t * t) * e - 2 * x * t * e + 2 * x / (1 + x * x)


def build(peers):
    x = np.random.default_rng(0).standard_normal(N).astype(np.float32)
    g = dp.jit(dp.grad(f_dprog))
    fns = add_peer_grads({"dprog": lambda: g(x), "numpy": lambda: grad_numpy(x)}, peers, f, x)
    check = grad_numpy(x)
    np.testing.assert_allclose(g(x), check, rtol=2e-3, atol=2e-5)
    return fns
