"""One SGD training step of a 784-1024-1024-10 tanh MLP on a batch of 256 (float32)."""
import numpy as np

import dprog as dp
import dprog.numpy as dnp

NAME = "MLP train step 256x784-1024-1024-10 (f32)"
SIZES = (784, 1024, 1024, 10)
BATCH = 256
LR = 0.01


def bytes_moved():
    return None  # matmul-bound


def init_params(rng):
    params = []
    for m, n in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.standard_normal((m, n)).astype(np.float32) / np.float32(np.sqrt(m)),
                       np.zeros(n, np.float32)))
    return params


def mlp_loss(xp, logsumexp, params, x, y):
    """Mean softmax cross-entropy of the tanh MLP, written once for dprog.numpy and
    jax.numpy (`xp`, with that framework's logsumexp)."""
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = xp.tanh(h)
    return xp.mean(logsumexp(h, axis=1) - xp.take_along_axis(h, y[:, None], axis=1)[:, 0])


def loss_dprog(params, x, y):
    return mlp_loss(dnp, dp.nn.logsumexp, params, x, y)


@dp.jit
def step_dprog(params, x, y):
    loss, g = dp.value_and_grad(loss_dprog)(params, x, y)
    new = dp.tree_map(lambda p, gp: p - LR * gp, params, g)
    return new, loss


def make_step_jax(jax):
    """The same step in JAX (jitted), for the benchmarks and the compile-time script."""
    jnp = jax.numpy

    def loss_jax(params, x, y):
        return mlp_loss(jnp, jax.nn.logsumexp, params, x, y)

    @jax.jit
    def step_jax(params, x, y):
        loss, g = jax.value_and_grad(loss_jax)(params, x, y)
        return jax.tree_util.tree_map(lambda p, gp: p - LR * gp, params, g), loss
    return step_jax


def make_step_torch(torch, params, x, y, device=None):
    """The same step in PyTorch eager mode on `device` (CPU when None)."""
    def tensor(a):
        t = torch.from_numpy(np.array(a))
        return t.to(device) if device else t
    flat = [tensor(a).requires_grad_(True) for pair in params for a in pair]
    xt, yt = tensor(x), tensor(y)

    def step_torch():
        h = xt
        for i in range(0, len(flat), 2):
            h = h @ flat[i] + flat[i + 1]
            if i < len(flat) - 2:
                h = torch.tanh(h)
        loss = torch.nn.functional.cross_entropy(h, yt)
        grads = torch.autograd.grad(loss, flat)
        with torch.no_grad():
            new = [p - LR * g for p, g in zip(flat, grads)]
        if device == "cuda":
            torch.cuda.synchronize()
        return new, loss
    return step_torch


def build(peers):
    rng = np.random.default_rng(0)
    params = init_params(rng)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    fns = {"dprog": lambda: step_dprog(params, x, y)}
    jax = peers.get("jax")
    if jax:
        step_jax = make_step_jax(jax)
        pj = jax.device_put(params)
        xj, yj = jax.device_put(x), jax.device_put(y.astype(np.int32))
        fns["jax"] = lambda: jax.block_until_ready(step_jax(pj, xj, yj))
    torch = peers.get("torch")
    if torch:
        fns["torch"] = make_step_torch(torch, params, x, y)
    return fns
