"""Which peer frameworks are importable, set up for a fair CPU comparison."""
import os

# Interleaved timing runs each framework right after another. With OpenMP's default
# (active) wait policy, PyTorch's idle worker threads spin for a while after each call and
# steal the cores from whichever framework runs next; passive waiting removes that bias.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def load_jax():
    try:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
        jax.config.update("jax_enable_x64", False)
        return jax
    except Exception:
        return None


def load_torch():
    try:
        import torch
        return torch
    except Exception:
        return None
