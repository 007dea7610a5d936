"""Which peer frameworks are importable, set up for a fair CPU comparison."""
import os


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
