"""grad of sum(tanh(x) * exp(-x^2) + log1p(x^2)) on 4M float32 elements."""
import numpy as np

import dprog as dp
import dprog.numpy as dnp

NAME = "elementwise grad (4M f32)"
N = 4 * 1024 * 1024


def bytes_moved():
    return 2 * N * 4  # read x, write the gradient


def f_dprog(x):
    return dnp.sum(dnp.tanh(x) * dnp.exp(-x * x) + dnp.log1p(x * x))


def grad_numpy(x):
    t = np.tanh(x)
    e = np.exp(-x * x)
    return (1 - t * t) * e - 2 * x * t * e + 2 * x / (1 + x * x)


def build(peers):
    x = np.random.default_rng(0).standard_normal(N).astype(np.float32)
    g = dp.jit(dp.grad(f_dprog))
    fns = {"dprog": lambda: g(x), "numpy": lambda: grad_numpy(x)}
    jax = peers.get("jax")
    if jax:
        jnp = jax.numpy
        jg = jax.jit(jax.grad(lambda x: jnp.sum(jnp.tanh(x) * jnp.exp(-x * x) + jnp.log1p(x * x))))
        xj = jax.device_put(x)
        fns["jax"] = lambda: jg(xj).block_until_ready()
    torch = peers.get("torch")
    if torch:
        xt = torch.from_numpy(x)

        def torch_grad():
            xr = xt.detach().requires_grad_(True)
            y = torch.sum(torch.tanh(xr) * torch.exp(-xr * xr) + torch.log1p(xr * xr))
            (gx,) = torch.autograd.grad(y, xr)
            return gx
        fns["torch"] = torch_grad
    check = grad_numpy(x)
    np.testing.assert_allclose(g(x), check, rtol=2e-3, atol=2e-5)
    return fns
