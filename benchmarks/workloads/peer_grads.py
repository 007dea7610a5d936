"""JAX and PyTorch callables for the gradient of a function written once for any array
module, f(np_, x) -> scalar, with np_ being jax.numpy or torch (the elementwise and
slices workloads)."""


def add_peer_grads(fns, peers, f, x):
    """Add "jax" and "torch" entries to fns (where those peers are loaded), each
    computing the gradient of f(np_, x) at the NumPy array x and returning when done."""
    jax = peers.get("jax")
    if jax:
        jg = jax.jit(jax.grad(lambda x: f(jax.numpy, x)))
        xj = jax.device_put(x)
        fns["jax"] = lambda: jg(xj).block_until_ready()
    torch = peers.get("torch")
    if torch:
        xt = torch.from_numpy(x)

        def torch_grad():
            xr = xt.detach().requires_grad_(True)
            (gx,) = torch.autograd.grad(f(torch, xr), xr)
            return gx
        fns["torch"] = torch_grad
    return fns
