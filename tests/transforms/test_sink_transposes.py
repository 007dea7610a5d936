"""The sink_transposes pass: elementwise values computed in the axis order their readers
transpose them to, when that adds no strided read (dprog/passes/sink_transposes.py).

Each program runs three ways: unoptimised in the reference interpreter (the oracle),
optimised in the interpreter, and compiled. `left` is how many transposes of elementwise
results the pass leaves, or None where it should change nothing."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.ops.record import Kind
from dprog.passes import run_pipeline
from dprog.passes.sink_transposes import sink_transposes

from support import check_pipeline_keeps_values

RNG = np.random.default_rng(5)
A = RNG.standard_normal((4, 6, 3))   # (k, n, d), as a batched matmul returns it
S = RNG.standard_normal((6, 4))      # (n, k)
W = RNG.standard_normal((4, 3, 2))


def gmm_like(a, s, w):
    # 2 * s[n, k] * a[k, n, :] over (n, k, d), then multiplied as (k, n, d): GMM's gradient.
    v = dnp.transpose(a, (1, 0, 2))
    t = 2.0 * (s[:, :, None] * v)
    return dnp.matmul(dnp.transpose(t, (1, 0, 2)), w)


def with_reductions(a, s, w):
    v = dnp.transpose(a, (1, 0, 2))
    t = dnp.exp(s[:, :, None] * v)
    return (dnp.matmul(dnp.transpose(t, (1, 0, 2)), w), dnp.sum(t, axis=0), dnp.max(t, axis=(0, 2)),
            dnp.sum(t, axis=2))


PROGRAMS = {
    "two elementwise levels": (gmm_like, (A, S, W), 0),
    "reductions read it too": (with_reductions, (A, S, W), 0),
    "also a result: unchanged": (lambda a, s: (dnp.transpose(s[:, :, None] * dnp.transpose(a, (1, 0, 2)), (1, 0, 2)),
                                               s[:, :, None] * dnp.transpose(a, (1, 0, 2))), (A, S), None),
    # Computed in the first reader's order; the second reads a transpose of that.
    "two different transposes": (
        lambda a, s: (dnp.transpose(dnp.sin(s[:, :, None] * dnp.transpose(a, (1, 0, 2))), (1, 0, 2)) * 1.0,
                      dnp.transpose(dnp.sin(s[:, :, None] * dnp.transpose(a, (1, 0, 2))), (2, 1, 0)) * 1.0),
        (A, S), 1),
    "an argument read across memory: unchanged": (
        lambda x, y: dnp.transpose(dnp.sin(x) * y, (1, 0)) @ np.ones((5, 2)), (RNG.standard_normal((5, 7)),
                                                                              RNG.standard_normal((5, 7))), None),
}


def _elementwise_transposes(graph):
    producer = {v.id: n for n in graph.nodes for v in n.outs}
    return sum(1 for n in graph.nodes if n.op.name == "transpose"
               and getattr(producer.get(getattr(n.inputs[0], "id", None)), "op", None) is not None
               and producer[n.inputs[0].id].op.kind is Kind.ELEMENTWISE)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_sinking_keeps_values_and_removes_the_transposes(name):
    fn, args, left = PROGRAMS[name]
    _, optimised = check_pipeline_keeps_values(fn, args)
    if left is None:
        assert sink_transposes(optimised) is optimised  # nothing for the pass to do
    else:
        assert _elementwise_transposes(optimised) == left, optimised


def test_gmm_gradient_multiplies_what_the_kernel_wrote():
    # In GMM's gradient, d/dL multiplies x - mu by 2 * ct * Lxc, a (k, n, d) operand. That
    # operand is now computed in that order: an elementwise result, not a transpose of one.
    from benchmarks.workloads import gmm
    alphas, means, icf, x, gamma, m = gmm.make_inputs(3, 4, n=20)
    f = dp.grad(lambda a, mu, q, x: gmm.objective(dnp, dp.nn.logsumexp, a, mu, q, x, gamma, m), argnums=(0, 1, 2))
    graph = run_pipeline(dp.make_graph(f)(alphas, means, icf, x))
    producer = {v.id: n for n in graph.nodes for v in n.outs}
    operands = [producer[n.inputs[1].id] for n in graph.nodes
                if n.op.name == "matmul" and n.inputs[1].aval.shape == (4, 20, 3)]
    assert len(operands) == 1 and operands[0].op.kind is Kind.ELEMENTWISE, operands
