"""Per-call latency of a jitted a*b+c on 8 float32 elements (dispatch overhead)."""
import numpy as np

import dprog as dp

from ..timing import repeat

NAME = "dispatch: jitted a*b+c on 8 f32 (per call)"
CALLS = 2000


def bytes_moved():
    return None


def build(peers):
    a, b, c = (np.full(8, v, np.float32) for v in (1.0, 2.0, 3.0))
    f = dp.jit(lambda a, b, c: a * b + c)
    fns = {"dprog": repeat(lambda: f(a, b, c), CALLS),
           "numpy": repeat(lambda: a * b + c, CALLS)}
    jax = peers.get("jax")
    if jax:
        jf = jax.jit(lambda a, b, c: a * b + c)
        aj, bj, cj = (jax.device_put(v) for v in (a, b, c))
        fns["jax"] = repeat(lambda: jf(aj, bj, cj).block_until_ready(), CALLS)
    torch = peers.get("torch")
    if torch:
        at, bt, ct = (torch.from_numpy(v) for v in (a, b, c))
        fns["torch"] = repeat(lambda: at * bt + ct, CALLS)
    return fns
