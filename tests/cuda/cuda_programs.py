"""Programs shared by the CUDA tests: (name, function, argument maker).

Small sizes: the simulator runs every CUDA thread as a Python thread. Each program is
also a PTX-compilation case (tests/cuda/test_ptx.py) and a differential case against the
CPU reference (tests/cuda_sim/).
"""
import numpy as np

import dprog as dp
import dprog.numpy as dnp


def _rng(seed=0):
    return np.random.default_rng(seed)


def f32(*shape, lo=-2.0, hi=2.0, seed=0):
    return _rng(seed).uniform(lo, hi, shape).astype(np.float32)


def f64(*shape, lo=-2.0, hi=2.0, seed=0):
    return _rng(seed).uniform(lo, hi, shape)


def _mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = dnp.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    return -dnp.mean(dnp.sum(dp.nn.log_softmax(logits, axis=-1) * y, axis=-1))


def _mlp_args(dtype=np.float32):
    r = _rng(3)
    params = tuple(a.astype(dtype) for a in (r.normal(0, 0.5, (6, 8)), r.normal(0, 0.1, 8),
                                              r.normal(0, 0.5, (8, 4)), r.normal(0, 0.1, 4)))
    x = r.normal(size=(5, 6)).astype(dtype)
    y = np.eye(4, dtype=dtype)[r.integers(0, 4, 5)]
    return (params, x, y)


def _gmm_objective(alphas, means, icf, x):
    from benchmarks.workloads import gmm
    return gmm.objective(dnp, dp.nn.logsumexp, alphas, means, icf, x, 1.0, 0)


def _gmm_args():
    from benchmarks.workloads import gmm
    return gmm.make_inputs(2, 2, n=4)[:4]


def _oscillators(v0, k):
    """A small simulation: a scan over time with a carry, xs and ys."""
    def step(c, x):
        p, v = c
        v = v + 0.1 * (-k * p + x)
        p = p + 0.1 * v
        return (p, v), dnp.sum(p * p)
    (p, _), energy = dp.scan(step, (dnp.zeros_like(v0), v0), dnp.ones((6,) + v0.shape, v0.dtype) * 0.01)
    return dnp.sum(p) + dnp.sum(energy)


def _halvings(x):
    return dp.while_loop(lambda c: dnp.max(dnp.abs(c[0])) > 0.1, lambda c: (c[0] * 0.5, c[1] + 1), (x, 0))


PROGRAMS = [
    ("elementwise_math", lambda x: dnp.tanh(x) * dnp.exp(-x * x) + dnp.log1p(x * x) - dnp.sin(x),
     lambda: (f32(4, 9),)),
    ("scalar_helpers", lambda x, y: dnp.maximum(x, y) + dnp.minimum(x, 0.5) + dnp.sign(x)
     + dnp.round(x * 3) + dnp.cbrt(x) + dnp.mod(x, 0.7) + dnp.floor_divide(x, 0.3),
     lambda: (f32(3, 7), f32(3, 7, seed=1))),
    ("unary_more", lambda x: dnp.sqrt(dnp.abs(x)) + dnp.arctan(x) + dp.nn.sigmoid(x)
     + dnp.where(dnp.isfinite(x), dnp.floor(x), 0.0) + dnp.power(dnp.abs(x) + 1, 1.5),
     lambda: (f32(2, 3, 5),)),
    ("broadcasting", lambda x, b, c: x * b[None, :] + c * x.T.T[::-1] / (1 + b ** 2) - x[:, ::2].sum(),
     lambda: (f32(6, 5), f32(5, seed=2), f32(6, 1, seed=3))),
    ("integer_ops", lambda i, j: (i % 5) + (i // 3) * j + dnp.maximum(i, j) + dnp.sign(i) + (i % 4) ** (j - 1) + (i % 3) ** (i % 5),
     lambda: (np.arange(-12, 12, dtype=np.int32).reshape(4, 6), np.full((4, 6), 3, np.int32))),
    ("float64", lambda x: dnp.exp(x) / dnp.sum(dnp.exp(x), axis=0), lambda: (f64(7, 3),)),
    ("sum_all", lambda x: dnp.sum(x * x), lambda: (f32(11, 13),)),
    ("reductions_axes", lambda x: (dnp.max(x, axis=1), dnp.min(x, axis=0), dnp.sum(x, axis=(0, 2))),
     lambda: (f32(3, 4, 5),)),
    ("mean_var", lambda x: dnp.var(x, axis=-1) + dnp.mean(x, axis=-1), lambda: (f32(4, 33),)),
    ("softmax", lambda z: dp.nn.softmax(z, axis=-1), lambda: (f32(5, 40, lo=-5, hi=5),)),
    ("logsumexp_rows", lambda z: dp.nn.logsumexp(z, axis=1), lambda: (f32(3, 70),)),
    ("any_all", lambda x: (dnp.any(x > 1.5, axis=1), dnp.all(x > -1.9)), lambda: (f32(4, 6),)),
    ("iota_where", lambda x: dnp.where(dnp.arange(x.shape[1]) % 2 == 0, x, -x), lambda: (f32(3, 8),)),
    ("matmul", lambda a, b: a @ b, lambda: (f32(5, 7), f32(7, 3, seed=1))),
    ("matmul_batched_T", lambda a, b: dnp.matmul(a, dnp.swapaxes(b, -1, -2)),
     lambda: (f32(2, 4, 6), f32(2, 5, 6, seed=1))),
    ("matmul_f64", lambda a, b: a.T @ b, lambda: (f64(6, 4), f64(6, 3, seed=1))),
    ("gather", lambda x, i: dnp.take(x, i, axis=0) * 2, lambda: (f32(6, 4), np.array([5, 0, -1, 2, 2]))),
    ("grad_gather", dp.grad(lambda x, i: dnp.sum(dnp.take(x, i, axis=1) ** 2)),
     lambda: (f32(3, 5), np.array([[0, 4], [4, 1]]))),
    ("softmax_ce_grad", dp.grad(lambda z, y: -dnp.mean(dnp.sum(dp.nn.log_softmax(z, axis=-1) * y, axis=-1))),
     lambda: (f32(6, 10), np.eye(10, dtype=np.float32)[[1, 3, 0, 9, 9, 2]])),
    ("elementwise_grad", dp.grad(lambda x: dnp.sum(dnp.tanh(x) ** 2 * dnp.exp(-x))), lambda: (f32(50),)),
    ("mlp_loss_grad", dp.value_and_grad(_mlp_loss), _mlp_args),
    # GMM's gradient: the graph passes that reshape contractions and layouts
    # (sum_of_matmul, sink_transposes) run for CUDA graphs too.
    ("gmm_grad", dp.grad(_gmm_objective, argnums=(0, 1, 2)), _gmm_args),
    # Row kernels (passes/fuse_rows.py, codegen/cuda_row_kernel.py): several passes per
    # row, per-row values between them, transposed and per-row inputs, rows longer than
    # a block, two outer dims, bool and integer reductions, float64.
    ("layer_norm_grad", dp.grad(lambda x, g: dnp.sum(dp.nn.layer_norm(
        dp.nn.layer_norm_init(50, np.float32), x) * g)), lambda: (f32(6, 50), f32(6, 50, seed=1))),
    ("softmax_3d_transposed", lambda x, b: dp.nn.softmax(dnp.transpose(x, (1, 0, 2)) * b[None, :, None], axis=-1),
     lambda: (f32(4, 3, 37), f32(4, seed=1))),
    ("row_any_and_int_sum", lambda x, i: (dnp.where(dnp.any(x > 1.5, axis=1, keepdims=True), x, -x),
                                          dnp.sum(i * 2, axis=1) + dnp.max(i, axis=1)),
     lambda: (f32(5, 9), np.arange(45, dtype=np.int64).reshape(5, 9) % 7)),
    ("logsumexp_f64_keepdims", lambda z: z - dp.nn.logsumexp(z, axis=-1, keepdims=True),
     lambda: (f64(4, 70, lo=-30, hi=30),)),
    # pad and concatenate: kernels of their own over strided operands.
    ("pad_concatenate", lambda x, y: (dnp.pad(x.T, ((1, 2), (0, 3)), constant_values=-1.0),
                                      dnp.concatenate([x, y[::-1], x * 2.0], axis=1)),
     lambda: (f32(3, 4), f32(3, 2, seed=1))),
    # (the gradient of a strided slice is a pad with interior padding)
    ("pad_grad_interior", dp.grad(lambda x: dnp.sum(dnp.pad(x, ((2, 1),)) ** 2 * dnp.arange(9.0))
                                  + dnp.sum(x[1::3] * 3.0)),
     lambda: (f64(6),)),
    ("argmax_cumsum", lambda x: (dnp.argmax(x * 2.0, axis=1), dnp.argmin(x.T - 1.0, axis=0),
                                 dnp.cumsum(x + 1.0, axis=0)), lambda: (f32(5, 8),)),
    # Control flow: bodies run as CUDA executables of their own (codegen/cuda_control.py).
    ("scan_grad", dp.grad(_oscillators, argnums=(0, 1)), lambda: (f32(12), np.float32(2.0))),
    ("scan_reverse_f64", lambda xs: dp.scan(lambda c, x: (c * 0.5 + x, c), dnp.zeros(xs.shape[1]), xs, reverse=True),
     lambda: (f64(5, 3),)),
    ("while_loop", _halvings, lambda: (f32(3, 4),)),
    ("switch", lambda i, x: dp.switch(i, [lambda x: dnp.exp(x), lambda x: x * 2.0, lambda x: -x], x),
     lambda: (np.int64(1), f32(2, 5))),
]
