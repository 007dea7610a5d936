"""The CPU compiler: compiled kernels agree with the reference interpreter, fusion makes
one kernel per group, kernels are shape-generic, buffers do not grow, and the generated
code keeps float32 in float32."""
import gc
import re
import tracemalloc

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen import cpu_driver
from dprog.ops.fusion import fusion_p

from support import reference  # tests/support.py

rng = np.random.default_rng(0)


def softmax(x):
    z = x - dnp.max(x, axis=-1, keepdims=True)
    e = dnp.exp(z)
    return e / dnp.sum(e, axis=-1, keepdims=True)


PROGRAMS = [
    ("elementwise chain", lambda x, y: dnp.tanh(x) * dnp.exp(-x * x) + dnp.log1p(y * y), [(64, 33), (64, 33)]),
    ("bias broadcast", lambda x, b: dnp.maximum(x + b, 0.0), [(16, 8), (8,)]),
    ("transposed operand", lambda x, y: x.T * y, [(7, 5), (5, 7)]),
    ("row softmax", softmax, [(9, 13)]),
    ("column sums", lambda x: dnp.sum(x * x, axis=0), [(31, 6)]),
    ("full reductions", lambda x: (dnp.sum(x), dnp.max(x), dnp.min(x)), [(5, 4, 3)]),
    ("middle axis", lambda x: dnp.mean(dnp.sin(x), axis=1), [(3, 10, 4)]),
    ("iota mask", lambda x: dnp.tril(x) + dnp.eye(6) * 2.0, [(6, 6)]),
    ("integers", lambda i, j: (i * j + 3) // 2 - i % 5, [("i", (40,)), ("i", (40,))]),
    ("select", lambda x, y: dnp.where(x > y, x - y, 0.5 * y), [(50,), (50,)]),
    ("matmul epilogue", lambda a, b: dnp.tanh(a @ b + 1.0), [(8, 16), (16, 4)]),
    ("grad of softmax loss", dp.grad(lambda x: dnp.sum(softmax(x) ** 2)), [(5, 7)]),
    ("gather", lambda x, i: x[i] * 2.0, [(10, 3), ("idx", (4,))]),
    ("scalar math", lambda x: dnp.sum(x) * 2.0 + dnp.max(x), [(3,)]),
    ("fused full reductions", lambda x, y: (dnp.sum(x * y), dnp.max(x - y), x * y), [(37, 3, 2), (37, 3, 2)]),
]


def make_args(specs, dtype):
    args = []
    for spec in specs:
        if spec[0] == "i":
            args.append(rng.integers(-20, 20, spec[1]).astype(np.int64))
        elif spec[0] == "idx":
            args.append(rng.integers(0, 10, spec[1]))
        else:
            args.append(rng.standard_normal(spec).astype(dtype))
    return args


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fun,specs", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_compiled_matches_reference(name, fun, specs, dtype):
    args = make_args(specs, dtype)
    got = dp.jit(fun)(*args)
    want = reference(fun, *args)
    got_leaves, want_leaves = dp.tree_leaves(got), dp.tree_leaves(want)
    for g, w in zip(got_leaves, want_leaves):
        assert g.dtype == w.dtype and g.shape == w.shape
        tol = 2e-5 if g.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_softmax_is_three_kernels_and_fuses_its_elementwise_ops():
    x = rng.standard_normal((4, 5)).astype(np.float32)
    graph = dp.jit(softmax).lower(x)
    from dprog.passes.fuse import fuse
    fused = fuse(graph)
    kernels = [n for n in fused.nodes if n.op is fusion_p]
    assert len(kernels) == 3  # max; exp and its sum; the division
    exp_group = kernels[1].params["graph"]
    assert [n.op.name for n in exp_group.nodes] == ["sub", "exp", "reduce_sum"]


def test_full_reductions_run_in_a_flat_loop():
    # A group whose reductions are over every axis loops over the data once, in 1-D (the
    # inner loop of a (1000, 2) nest would have two iterations and not vectorise).
    x = rng.standard_normal((1000, 2)).astype(np.float32)
    f = dp.jit(lambda x, y: (dnp.sum(x * y), x * y + 1.0))
    total, prod = f(x, 2 * x)
    np.testing.assert_allclose(total, np.sum(2 * x * x, dtype=np.float64), rtol=1e-5)
    np.testing.assert_allclose(prod, 2 * x * x + 1.0, rtol=1e-6)
    (entry,) = f._cache.values()
    (step,) = [s for s in entry.executable.steps if s.kind == "kernel"]
    assert step.flat and step.reduce_inits
    assert ".reshape((1,))" in entry.executable.source
    # a reduction over some axes only keeps the loop nest
    g = dp.jit(lambda x: dnp.sum(x * x, axis=1))
    g(x)
    (entry,) = g._cache.values()
    assert not any(s.flat for s in entry.executable.steps if s.kind == "kernel")


def test_new_batch_size_reuses_compiled_kernels():
    f = dp.jit(lambda x: dnp.sum(dnp.tanh(x) * 2.0, axis=1))
    f(rng.standard_normal((4, 8)).astype(np.float32))
    before = len(cpu_driver._kernel_cache)
    f(rng.standard_normal((9, 8)).astype(np.float32))
    f(rng.standard_normal((17, 3)).astype(np.float32))
    assert f.cache_size() == 3           # re-traced and re-planned ...
    assert len(cpu_driver._kernel_cache) == before  # ... but nothing recompiled


def test_float32_stays_float32_in_generated_code():
    x = rng.standard_normal(8).astype(np.float32)
    f = dp.jit(lambda x: dnp.exp(x * 0.5) + 1.0 / (x * x + 2.0))
    assert f(x).dtype == np.float32
    from dprog.codegen.cpu_kernel import kernel_source
    graph = dp.jit(lambda x: x * 0.5 + 1.0).lower(x)
    from dprog.passes.fuse import fuse
    sub = next(n for n in fuse(graph).nodes if n.op is fusion_p).params["graph"]
    text = kernel_source(sub, 1)
    assert "np.float32(0.5)" in text and "np.float32(1.0)" in text
    assert not re.search(r"[^(\w]\d+\.\d+[^)\w]", text.replace("np.float32(0.5)", "").replace("np.float32(1.0)", ""))


def test_results_are_fresh_and_not_aliased():
    x = rng.standard_normal(6)
    f = dp.jit(lambda x: (x, x.reshape(2, 3), x * 1.0))
    a, b, c = f(x)
    for r in (a, b, c):
        assert not np.shares_memory(r, x)
    a2, _, _ = f(x)
    assert not np.shares_memory(a, a2)


def test_no_memory_growth_over_many_calls():
    f = dp.jit(lambda x, w: dnp.tanh(x @ w).sum(axis=0))
    x = rng.standard_normal((32, 16)).astype(np.float32)
    w = rng.standard_normal((16, 8)).astype(np.float32)
    for _ in range(200):
        f(x, w)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(3000):
        f(x, w)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes retained after 3000 calls"
