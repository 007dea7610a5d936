"""Run on P processes: values and derivatives of psum/pmean/pmax/all_gather under jit.

Derivatives follow the SPMD convention (derivative of the sum over processes of each
process's output); the expected values below are worked out by hand from that. Any
mismatch raises, which (through dp.distributed's abort hook) fails the whole job.
"""
import numpy as np

import dprog as dp
import dprog.numpy as dnp

info = dp.distributed.init(device="cpu")
r, P = info.rank, info.size
assert P >= 2, "run me with mpirun -n 2 (or more)"


def close(got, want, what):
    got = np.asarray(got)
    if got.shape != np.shape(want) or not np.allclose(got, want, rtol=1e-12, atol=1e-12):
        raise AssertionError(f"rank {r}: {what}: got {got!r}, want {np.asarray(want)!r}")


base = np.array([1.0, -2.0, 3.0])
x = (r + 1) * base                                # x_s = (s + 1) * base
S = sum((s + 1) for s in range(P)) * base         # psum(x)
gathered = np.stack([(s + 1) * base for s in range(P)])

# ---- values, eager and compiled, incl. pytrees, ints and bools
close(dp.psum(x), S, "eager psum")
close(dp.jit(dp.psum)(x), S, "jit psum")
close(dp.jit(dp.pmean)(x), S / P, "jit pmean")
tree = dp.jit(dp.psum)({"a": x, "b": (np.int64(r), x[:1])})
close(tree["a"], S, "psum pytree leaf a")
close(tree["b"][0], sum(range(P)), "psum of ints")
close(dp.jit(dp.all_gather)(x), gathered, "all_gather")
close(dp.jit(lambda v: dp.all_gather(v, axis=1))(x[None]), gathered[None], "all_gather axis=1")
close(dp.jit(lambda v: dp.all_gather(v, tiled=True))(x), gathered.reshape(-1), "tiled gather")
flags = dp.jit(dp.pmax)(np.array([r == 0, False, True]))
assert flags.dtype == np.bool_ and flags.tolist() == [True, False, True], flags

# pmax: position 0 is largest on the last rank, position 1 is tied on every rank,
# position 2 is largest on rank 0.
m = np.array([float(r), 5.0, -float(r)])
M = np.array([P - 1.0, 5.0, 0.0])
close(dp.jit(dp.pmax)(m), M, "pmax")
w = np.array([1.0 if r == P - 1 else 0.0, 1.0 / P, 1.0 if r == 0 else 0.0])  # argmax weights

# ---- reverse mode under jit (SPMD: cotangents of every process are summed)
g = dp.jit(dp.grad(lambda v: dnp.sum(dp.psum(v) ** 2)))(x)
close(g, 2 * P * S, "grad psum")
g = dp.jit(dp.grad(lambda v: dnp.sum(dp.pmean(v) ** 2)))(x)
close(g, 2 * S / P, "grad pmean")
c = np.array([1.0, 2.0, 3.0]) * (r + 1)          # per-rank weights: sum_r c_r = C
C = np.array([1.0, 2.0, 3.0]) * sum(s + 1 for s in range(P))
g = dp.jit(dp.grad(lambda v: dnp.sum(c * dp.pmax(v))))(m)
close(g, C * w, "grad pmax (ties split equally)")
cg = np.arange(P * 3, dtype=float).reshape(P, 3) * (r + 1)
g = dp.jit(dp.grad(lambda v: dnp.sum(cg * dp.all_gather(v))))(x)
close(g, np.arange(P * 3, dtype=float).reshape(P, 3)[r] * sum(s + 1 for s in range(P)),
      "grad all_gather (reduce-scatter)")
g = dp.jit(dp.grad(lambda v: dnp.sum(cg.reshape(-1) * dp.all_gather(v, tiled=True))))(x)
close(g, np.arange(P * 3, dtype=float).reshape(P, 3)[r] * sum(s + 1 for s in range(P)),
      "grad tiled all_gather")

# ---- forward mode under jit
t = np.array([0.5, 1.0, -1.0]) * (r + 1)         # per-rank tangents
T = np.array([0.5, 1.0, -1.0]) * sum(s + 1 for s in range(P))
_, tout = dp.jit(lambda v, tv: dp.jvp(dp.psum, (v,), (tv,)))(x, t)
close(tout, T, "jvp psum")
_, tout = dp.jit(lambda v, tv: dp.jvp(dp.pmax, (v,), (tv,)))(m, t)
tw = np.array([t[0] / (r + 1) * P, T[1] / P, t[2] / (r + 1)])  # tangent of the argmax rank(s)
close(tout, tw, "jvp pmax")
_, tout = dp.jit(lambda v, tv: dp.jvp(dp.all_gather, (v,), (tv,)))(x, t)
close(tout, np.stack([np.array([0.5, 1.0, -1.0]) * (s + 1) for s in range(P)]), "jvp gather")

# ---- second order: Hessian-vector product of sum(psum(v)^3), jvp of grad
f3 = lambda v: dnp.sum(dp.psum(v) ** 3)  # noqa: E731
_, hvp = dp.jit(lambda v, tv: dp.jvp(dp.grad(f3), (v,), (tv,)))(x, t)
close(hvp, 6 * P * S * T, "hvp through psum")

# ---- vmap: a batch axis rides along each collective
X = np.stack([x, 2 * x])
close(dp.jit(dp.vmap(dp.psum))(X), np.stack([S, 2 * S]), "vmap psum")
close(dp.jit(dp.vmap(dp.all_gather))(X), np.stack([gathered, 2 * gathered]), "vmap gather")
close(dp.jit(dp.vmap(dp.all_gather, in_axes=1, out_axes=1))(X.T),
      np.stack([gathered, 2 * gathered]).transpose(1, 0, 2), "vmap gather axes")

# ---- the staging path for GPU arrays (Numba's CUDA simulator under NUMBA_ENABLE_CUDASIM)
import os  # noqa: E402
if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    from numba import cuda
    from dprog.distributed import buffers
    from dprog.distributed.comm import group
    dev = buffers.allreduce(group(), cuda.to_device(x), "sum")
    assert buffers.is_device_array(dev), type(dev)
    close(dev.copy_to_host(), S, "staged device allreduce")
    dev = buffers.allgather(group(), cuda.to_device(x))
    close(dev.copy_to_host(), gathered, "staged device allgather")
    print(f"rank {r}: staged CUDA path ok")

print(f"rank {r}: collectives ok")
