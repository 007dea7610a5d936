"""grad of sum(tanh(x[:, ::2]) * 2) + sum(exp(x[:, 3:503])) on 4096x1000 float32: a
strided and a column slice, and their gradients (the slices' transposes: pads).

Not one of issue 4's workloads: it checks that kernels read slices from their source
array (passes/fuse.py ABSORBABLE_READS). A slice handed to a kernel as a NumPy view has
runtime strides, and the kernel's loop does not vectorise."""
import numpy as np

import dprog as dp
import dprog.numpy as dnp

from .peer_grads import add_peer_grads

NAME = "slices grad (4096x1000 f32, x[:, ::2] and x[:, 3:503])"
SHAPE = (4096, 1000)


def f(np_, x):
    return np_.sum(np_.tanh(x[:, ::2]) * 2.0) + np_.sum(np_.exp(x[:, 3:503]))


def grad_numpy(x):
    g = np.zeros_like(x)
    t = np.tanh(x[:, ::2])
    g[:, ::2] = 2.0 * (1.0 - t * t)
    g[:, 3:503] += np.exp(x[:, 3:503])
    return g


def build(peers):
    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    g = dp.jit(dp.grad(lambda x: f(dnp, x)))
    fns = add_peer_grads({"dprog": lambda: g(x), "numpy": lambda: grad_numpy(x)}, peers, f, x)
    np.testing.assert_allclose(g(x), grad_numpy(x), rtol=2e-5, atol=2e-6)
    return fns
