"""The cost of reverse mode: nodes (and matmul FLOPs) of the grad graph vs the primal.

Programs mirror benchmarks/workloads at small sizes (node counts do not depend on sizes;
FLOP ratios do not either, as every matmul scales alike). Both graphs go through the pass
pipeline; nodes inside loop bodies count too. The bounds are justified in
docs/AUTODIFF.md, section "Reverse-mode cost"; `python tests/transforms/test_reverse_cost.py`
prints the table there.
"""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.passes import run_pipeline
from dprog.passes.fuse import fuse

RNG = np.random.default_rng(0)


def elementwise(x):
    return dnp.sum(dnp.tanh(x) * dnp.exp(-x * x) + dnp.log1p(x * x))


def softmax_ce(logits, labels):
    z = logits - dnp.max(logits, axis=1, keepdims=True)
    lse = dnp.log(dnp.sum(dnp.exp(z), axis=1))
    return dnp.mean(lse - dnp.take_along_axis(z, labels[:, None], axis=1)[:, 0])


def mlp_loss(params, x, y):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = dnp.tanh(h)
    return softmax_ce(h, y)


def particles(v0, k, x0, target):
    def step(carry, _):
        x, v = carry
        v = v + 0.01 * (-k * x - 0.1 * v)
        return (x + 0.01 * v, v), None
    (x, _), _ = dp.scan(step, (x0, v0), None, length=200)
    d = x - target
    return dnp.sum(d * d)


def _mlp_params():
    sizes = (78, 102, 102, 10)
    return [(RNG.standard_normal((m, n)) / np.sqrt(m), np.zeros(n)) for m, n in zip(sizes[:-1], sizes[1:])]


# name -> (function, arguments, argnums), as the benchmarks differentiate them
PROGRAMS = {
    "elementwise chain": (elementwise, (RNG.standard_normal(64),), 0),
    "softmax cross-entropy": (softmax_ce, (RNG.standard_normal((16, 10)), RNG.integers(0, 10, 16)), 0),
    "3-layer MLP loss": (mlp_loss, (_mlp_params(), RNG.standard_normal((25, 78)), RNG.integers(0, 10, 25)), 0),
    "200-step scan": (particles, (RNG.standard_normal((10, 2)), 2.0, RNG.standard_normal((10, 2)),
                                  RNG.standard_normal((10, 2))), (0, 1)),
}


def count_nodes(graph):
    return sum(1 + sum(count_nodes(g) for g in n.subgraphs()) for n in graph.nodes)


def matmul_flops(graph):
    total = 0
    for n in graph.nodes:
        if n.op.name == "matmul":
            a, b = (x.aval.shape for x in n.inputs)
            total += 2 * int(np.prod(n.outs[0].aval.shape)) * a[-1]
        total += sum(matmul_flops(g) for g in n.subgraphs())
    return total


def measure(name):
    fn, args, argnums = PROGRAMS[name]
    primal = run_pipeline(dp.make_graph(fn)(*args))
    grad = run_pipeline(dp.make_graph(dp.grad(fn, argnums=argnums))(*args))
    return {"primal nodes": count_nodes(primal), "grad nodes": count_nodes(grad),
            "primal kernels": len(fuse(primal).nodes), "grad kernels": len(fuse(grad).nodes),
            "primal flops": matmul_flops(primal), "grad flops": matmul_flops(grad)}


# Bound on grad/primal node ratios (see docs/AUTODIFF.md): the primal ops once, plus for
# each an adjoint of one or two ops (ct * partial; a broadcast back for a reduction).
# Measured 1.6-2.2; 3 leaves room for rules to change, not for a second forward sweep.
NODE_BOUND = 3.0


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_grad_graph_stays_within_a_constant_factor_of_the_primal(name):
    m = measure(name)
    ratio = m["grad nodes"] / m["primal nodes"]
    assert ratio <= NODE_BOUND, (name, m)


def test_mlp_grad_matmul_flops_at_most_three_times_the_primal():
    # Forward matmuls once, then dW for every layer and dh for all but the input layer:
    # at most 3x, less since the input's cotangent is never formed.
    m = measure("3-layer MLP loss")
    assert m["grad flops"] <= 3 * m["primal flops"], m
    # Exactly: the first layer's input gradient (x is not differentiated) is skipped.
    assert m["grad flops"] == 3 * m["primal flops"] - 2 * 25 * 78 * 102, m


def test_scan_grad_runs_two_loops_not_three():
    fn, args, argnums = PROGRAMS["200-step scan"]
    grad = run_pipeline(dp.make_graph(dp.grad(fn, argnums=argnums))(*args))
    assert [n.op.name for n in grad.nodes].count("scan") == 2


if __name__ == "__main__":
    print("| program | primal nodes | grad nodes | ratio | primal kernels | grad kernels | matmul FLOPs ratio |")
    print("|---|---|---|---|---|---|---|")
    for name in PROGRAMS:
        m = measure(name)
        flops = f"{m['grad flops'] / m['primal flops']:.2f}" if m["primal flops"] else "-"
        print(f"| {name} | {m['primal nodes']} | {m['grad nodes']} | {m['grad nodes'] / m['primal nodes']:.2f} "
              f"| {m['primal kernels']} | {m['grad kernels']} | {flops} |")
