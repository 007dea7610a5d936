"""The simplify rule sum(matmul) -> matmul(sum) (dprog/passes/sum_of_matmul.py).

Each program runs three ways: its unoptimised graph in the reference interpreter (the
oracle), its optimised graph in the interpreter (the rewrite itself), and compiled.
The matmul FLOPs show whether the rule fired where it should, and only there.
"""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.passes import run_pipeline

from support import check_pipeline_keeps_values

RNG = np.random.default_rng(7)
X = RNG.standard_normal((40, 6))
W = RNG.standard_normal((6, 5))
B3 = RNG.standard_normal((3, 40, 6))
W3 = RNG.standard_normal((3, 6, 5))
MU = RNG.standard_normal(6)


def matmul_flops(graph):
    return sum(2 * int(np.prod(n.outs[0].aval.shape)) * n.inputs[0].aval.shape[-1]
               for n in graph.nodes if n.op.name == "matmul")


# name -> (function, arguments, does the rule shrink the products?)
PROGRAMS = {
    "rows": (lambda x, w: dnp.sum(x @ w, axis=0), (X, W), True),
    "columns": (lambda x, w: dnp.sum(x @ w, axis=1), (X, W), True),
    "rows and columns": (lambda x, w: dnp.sum(x @ w), (X, W), True),
    "through a transpose": (lambda x, w: dnp.sum((x @ w).T, axis=1), (X, W), True),
    "through neg and scale": (lambda x, w: dnp.sum(-(2.5 * (x @ w)), axis=0), (X, W), True),
    "transposed operand": (lambda x, w: dnp.sum(x.T.T @ w, axis=0), (X, W), True),
    "batched rows": (lambda b, w: dnp.sum(dnp.matmul(b, w), axis=1), (B3, W3), True),
    "batched, transposed operand": (
        lambda b, w: dnp.sum(dnp.matmul(dnp.transpose(dnp.transpose(b, (1, 0, 2)), (1, 0, 2)), w), axis=1),
        (B3, W3), True),
    "batch axis: unchanged": (lambda b, w: dnp.sum(dnp.matmul(b, w), axis=0), (B3, W3), False),
    "batch and rows: unchanged": (lambda b, w: dnp.sum(dnp.matmul(b, w), axis=(0, 1)), (B3, W3), False),
    "product by an array: unchanged": (lambda x, w, y: dnp.sum((x @ w) * y, axis=0),
                                       (X, W, RNG.standard_normal((40, 5))), False),
    "integers": (lambda x, w: dnp.sum(x @ w, axis=0), ((X * 10).astype(np.int64), (W * 10).astype(np.int64)), True),
    "float32": (lambda x, w: dnp.sum(x @ w, axis=0), (X.astype(np.float32), W.astype(np.float32)), True),
    # Reverse mode: d/dmu of sum((x - mu) @ w) sums the cotangent's product over x's rows.
    "grad of a centred product": (dp.grad(lambda mu, x, w: dnp.sum(dnp.tanh((x - mu) @ w))), (MU, X, W), True),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_rewrite_matches_the_unoptimised_program(name):
    fn, args, shrinks = PROGRAMS[name]
    tol = dict(rtol=1e-5, atol=1e-5) if args[0].dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    raw, optimised = check_pipeline_keeps_values(fn, args, **tol)
    before, after = matmul_flops(raw), matmul_flops(optimised)
    if shrinks:
        assert after < before, (before, after)
    else:
        assert after == before, (before, after)


def test_centred_product_gradient_never_forms_the_full_cotangent_product():
    # The gradient of mu needs sum_n (ct @ w.T)[n]: a (1, 5) x (5, 6) product, not (40, 5) x (5, 6).
    fn, args, _ = PROGRAMS["grad of a centred product"]
    graph = run_pipeline(dp.make_graph(fn)(*args))
    shapes = [(n.inputs[0].aval.shape, n.inputs[1].aval.shape) for n in graph.nodes if n.op.name == "matmul"]
    assert ((40, 6), (6, 5)) in shapes  # the forward product
    assert ((1, 5), (5, 6)) in shapes, shapes
    assert len(shapes) == 2, shapes
