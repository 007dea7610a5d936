"""1000 particles on springs with drag, 200 steps of dp.scan; gradient of the final loss
w.r.t. the initial velocities and the stiffness (float32)."""
import numpy as np

import dprog as dp
import dprog.numpy as dnp

NAME = "particles: 1000 x 200-step scan, grad (f32)"
P, STEPS, DT = 1000, 200, 0.01


def bytes_moved():
    return None


def simulate(xp, scan, v0, k, x0, target, steps=STEPS):
    def step(carry, _):
        x, v = carry
        a = -k * x - 0.1 * v
        v = v + DT * a
        x = x + DT * v
        return (x, v), None
    (x, v), _ = scan(step, (x0, v0), None, length=steps)
    d = x - target
    return xp.sum(d * d)


def build(peers):
    if not hasattr(dp, "scan"):
        return {}
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((P, 2)).astype(np.float32)
    v0 = rng.standard_normal((P, 2)).astype(np.float32)
    target = rng.standard_normal((P, 2)).astype(np.float32)
    k = np.float32(2.0)
    g = dp.jit(dp.grad(lambda v0, k: simulate(dnp, dp.scan, v0, k, x0, target), argnums=(0, 1)))
    fns = {"dprog": lambda: g(v0, k)}
    jax = peers.get("jax")
    if jax:
        jnp = jax.numpy
        jg = jax.jit(jax.grad(lambda v0, k: simulate(jnp, jax.lax.scan, v0, k, x0, target), argnums=(0, 1)))
        fns["jax"] = lambda: jax.block_until_ready(jg(v0, k))
    torch = peers.get("torch")
    if torch:
        def torch_scan(f, carry, xs, length):
            for _ in range(length):
                carry, _ = f(carry, None)
            return carry, None

        class TorchNP:
            sum = staticmethod(torch.sum)

        def torch_grad():
            vt = torch.from_numpy(v0).requires_grad_(True)
            kt = torch.tensor(2.0, requires_grad=True)
            loss = simulate(TorchNP, torch_scan, vt, kt, torch.from_numpy(x0), torch.from_numpy(target))
            return torch.autograd.grad(loss, [vt, kt])
        fns["torch"] = torch_grad
    return fns
