"""Gradient of the mean softmax cross-entropy w.r.t. 4096x1000 float32 logits."""
import numpy as np

import dprog as dp
import dprog.numpy as dnp

NAME = "softmax cross-entropy grad (4096x1000 f32)"
B, C = 4096, 1000


def bytes_moved():
    return 2 * B * C * 4


def loss_dprog(logits, labels):
    lse = dp.nn.logsumexp(logits, axis=1)
    picked = dnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
    return dnp.mean(lse - picked)


def grad_numpy(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(B), labels] -= 1
    return p / B


def build(peers):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((B, C)).astype(np.float32)
    labels = rng.integers(0, C, B)
    g = dp.jit(dp.grad(loss_dprog))
    fns = {"dprog": lambda: g(logits, labels), "numpy": lambda: grad_numpy(logits, labels)}
    jax = peers.get("jax")
    if jax:
        jnp = jax.numpy

        def loss_jax(z, y):
            return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.take_along_axis(z, y[:, None], axis=1)[:, 0])
        jg = jax.jit(jax.grad(loss_jax))
        zj, yj = jax.device_put(logits), jax.device_put(labels.astype(np.int32))
        fns["jax"] = lambda: jg(zj, yj).block_until_ready()
    torch = peers.get("torch")
    if torch:
        zt, yt = torch.from_numpy(logits), torch.from_numpy(labels)

        def torch_grad():
            zr = zt.detach().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(zr, yt)
            return torch.autograd.grad(loss, zr)[0]
        fns["torch"] = torch_grad
    np.testing.assert_allclose(g(logits, labels), grad_numpy(logits, labels), rtol=1e-3, atol=1e-7)
    return fns
