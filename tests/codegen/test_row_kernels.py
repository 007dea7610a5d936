"""Row kernels (passes/fuse_rows.py, codegen/cpu_row_kernel.py): loops that meet at a
reduction over the inner dims become one kernel of several passes per row. Results must
match the reference interpreter, including NaN rows, labels out of range and vectors
that have a row's shape but vary along the inner dims."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen import cpu_driver
from dprog.codegen.cpu_kernel import OUTER_LOOP
from dprog.ops.fusion import fusion_p
from dprog.passes.fuse import fuse
from dprog.passes.fuse_rows import fuse_rows

from support import reference  # tests/support.py

rng = np.random.default_rng(1)


def cpu_graph(fun, *args):
    return fuse_rows(fuse(dp.jit(fun).lower(*args), absorb_views=True))


def softmax(x):
    z = x - dnp.max(x, axis=-1, keepdims=True)
    e = dnp.exp(z)
    return e / dnp.sum(e, axis=-1, keepdims=True)


def cross_entropy(z, y):
    lse = dp.nn.logsumexp(z, axis=1)
    picked = dnp.take_along_axis(z, y[:, None], axis=1)[:, 0]
    return dnp.mean(lse - picked)


def layer_norm(x):
    mu = dnp.mean(x, axis=-1, keepdims=True)
    var = dnp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return (x - mu) / dnp.sqrt(var + 1e-5)


def floats(*shape):
    return lambda: rng.standard_normal(shape)


PROGRAMS = [
    # name, function, argument makers
    ("softmax", softmax, [floats(9, 13)]),
    ("softmax and its row max", lambda x: (softmax(x), dnp.max(x, axis=1)), [floats(6, 11)]),
    ("log softmax", lambda x: x - dp.nn.logsumexp(x, axis=1, keepdims=True), [floats(7, 5)]),
    ("layer norm (two reductions in a chain)", layer_norm, [floats(8, 33)]),
    ("grad of layer norm", dp.grad(lambda x: dnp.sum(layer_norm(x) * dnp.arange(33.0))), [floats(8, 33)]),
    ("cross-entropy grad", dp.grad(cross_entropy),
     [floats(16, 10), lambda: rng.integers(0, 10, 16)]),
    ("cross-entropy grad, labels out of range", dp.grad(cross_entropy),
     [floats(6, 10), lambda: np.array([-1, -10, 10, 2**40, -2**40, 3])]),
    ("sequence mask against long lengths", lambda x, n: dnp.sum(dnp.where(dnp.arange(7)[None, :] < n[:, None], x, 0.0), axis=1)
     / dnp.sum(x * x, axis=1), [floats(5, 7), lambda: np.array([0, 3, 7, 2**40, -5])]),
    ("two outer dims", softmax, [floats(3, 4, 6)]),
    ("reduction over two inner dims", lambda x: x / dnp.sum(dnp.abs(x), axis=(1, 2), keepdims=True),
     [floats(3, 4, 5)]),
    ("column vector with a row's shape", lambda x, v: x * v - dnp.max(x, axis=1, keepdims=True),
     [floats(4, 4), floats(4)]),
    ("row vector broadcast down the rows", lambda x, v: x * v[:, None] - dnp.max(x, axis=1, keepdims=True),
     [floats(4, 4), floats(4)]),
    ("whole small vector (no outer dims)", lambda x: x - dnp.mean(x), [floats(50)]),
    ("output read again by a later pass", lambda x: (dnp.exp(x), dnp.exp(x) / dnp.sum(dnp.exp(x), axis=1, keepdims=True)),
     [floats(5, 6)]),
    ("integer rows", lambda i: i - dnp.max(i, axis=1, keepdims=True) + dnp.sum(i, axis=1, keepdims=True),
     [lambda: rng.integers(-50, 50, (6, 5))]),
    ("broadcast constant (the cotangent of a sum)", dp.grad(lambda x: dnp.sum(softmax(x) * x)), [floats(4, 9)]),
    ("checkpointed block, inlined", dp.grad(lambda x: dnp.sum(dp.checkpoint(lambda y: dnp.sin(y) * 1.01)(x))),
     [floats(50)]),
    ("min and max", lambda x: (x - dnp.min(x, axis=1, keepdims=True)) / (dnp.max(x, axis=1, keepdims=True) + 10.0),
     [floats(6, 9)]),
    ("cross-entropy value and grad", dp.value_and_grad(cross_entropy),
     [floats(16, 10), lambda: rng.integers(0, 10, 16)]),
    ("cross-entropy grad with a bias (a sum over the rows)",
     dp.grad(lambda z, b, y: cross_entropy(z + b, y), argnums=(0, 1)),
     [floats(16, 10), floats(10), lambda: rng.integers(0, 10, 16)]),
    ("column max and min beside a row softmax", lambda x: (softmax(x), dnp.max(x, axis=0), dnp.min(x * 2.0, axis=0)),
     [floats(9, 13)]),
    # The log reads the row sums and a reversed copy of them: merging it into the row
    # kernel would make the kernel read the copy before it exists.
    ("row epilogue beside a reversed copy", lambda x: (lambda s: dnp.log(s) + s[::-1])(dnp.sum(x * x, axis=1) + 1.0),
     [floats(6, 5)]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fun,makers", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_row_kernel_matches_reference(name, fun, makers, dtype):
    args = [m() for m in makers]
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in args]
    got, want = dp.tree_leaves(dp.jit(fun)(*args)), dp.tree_leaves(reference(fun, *args))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        tol = 3e-5 if g.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def row_kernels(graph):
    return [n for n in graph.nodes if n.op is fusion_p and n.params.get("rows") is not None]


def test_cross_entropy_gradient_is_one_row_kernel_with_an_int32_one_hot():
    z = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    graph = cpu_graph(dp.grad(cross_entropy), z, y)
    assert [n.op.name for n in graph.nodes] == ["fusion"]
    (node,) = row_kernels(graph)
    assert node.params["rows"] == 1
    from dprog.codegen.cpu_row_kernel import row_kernel_source
    text = row_kernel_source(node.params["graph"], node.params["shape"], 1)
    assert text.count("for i1 in range(n1):") == 3  # max, exp-sum, gradient
    assert "(np.int32(i1) == rc" in text and OUTER_LOOP in text


def test_multi_pass_row_kernels_prefetch_their_next_row():
    from dprog.codegen.cpu_row_kernel import row_kernel_source

    def source(fun, *args):
        (node,) = row_kernels(cpu_graph(fun, *args))
        return row_kernel_source(node.params["graph"], node.params["shape"], node.params["rows"])
    z = rng.standard_normal((64, 256)).astype(np.float32)  # rows of 1 KB
    y = rng.integers(0, 256, 64)
    text = source(dp.grad(cross_entropy), z, y)
    # the logits (in0) only: labels are one value per row
    assert "for pf in range(0, n1, 16):" in text and "sc.prefetch(in0, i0 + np.uint64(1), pf)" in text
    assert text.count("sc.prefetch(") == 1
    # one cache line per step: 8 float64
    assert "for pf in range(0, n1, 8):" in source(softmax, rng.standard_normal((8, 128)))
    # rows shorter than 1 KB, or two outer dims: no prefetch
    assert "prefetch" not in source(dp.grad(cross_entropy), z[:, :10], y % 10)
    assert "prefetch" not in source(softmax, rng.standard_normal((3, 4, 600)))


def test_prefetching_row_kernel_matches_reference_across_threads():
    # Large enough to be split across threads: each slice prefetches up to its own end.
    z = rng.standard_normal((2048, 300)).astype(np.float32)
    z[5] = np.nan
    y = rng.integers(0, 300, 2048)
    grad = dp.grad(cross_entropy)
    got, want = dp.jit(grad)(z, y), reference(grad, z, y)
    np.testing.assert_allclose(got, want, rtol=3e-5, atol=1e-9)


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")  # the reference's log(0)
def test_values_computed_once_per_row_call_libm_not_vecmath():
    # The log of the row sums runs once per row, outside the vectorised loops: NumPy's
    # scalar log (cheaper to compile), while the exp inside the loop stays vecmath's.
    from dprog.codegen.cpu_row_kernel import row_kernel_source
    z = rng.standard_normal((64, 10)).astype(np.float32)
    (node,) = row_kernels(cpu_graph(lambda z: dp.nn.logsumexp(z, axis=1), z))
    text = row_kernel_source(node.params["graph"], node.params["shape"], 1)
    assert "np.log(acc" in text and "vm.vlog" not in text and "vm.vexp(" in text
    z[3] = -np.inf
    z[4, 2] = np.inf
    z[5, 1] = np.nan
    f = lambda z: dp.nn.logsumexp(z, axis=1) * 2.0
    got, want = dp.jit(f)(z), reference(f, z)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_row_values_after_the_last_pass_join_the_row_kernel():
    # log(sum) runs once per row after the last pass, not as a kernel of its own
    x = rng.standard_normal((32, 10)).astype(np.float32)
    graph = cpu_graph(lambda x: dnp.log(dnp.sum(dnp.exp(x), axis=1)) * 2.0, x)
    assert [n.op.name for n in graph.nodes] == ["fusion"] and len(row_kernels(graph)) == 1
    # and a mean's division follows its sum in the same (single-row) kernel
    a, b = rng.standard_normal((2, 256)).astype(np.float32)
    graph = cpu_graph(lambda a, b: dnp.mean(a - b), a, b)
    assert [n.op.name for n in graph.nodes] == ["fusion"]
    np.testing.assert_allclose(dp.jit(lambda a, b: dnp.mean(a - b))(a, b), np.mean(a - b), rtol=1e-5)


def test_sum_over_the_rows_joins_the_row_kernel_and_splits_into_partials():
    # The bias gradient of a softmax cross-entropy (a sum over the rows of the logits'
    # gradient) is accumulated by the row kernel itself; with the rows split across
    # threads, each slice accumulates its own partial sum.
    def loss(z, b, y):
        return cross_entropy(z + b, y)
    z = rng.standard_normal((4096, 300)).astype(np.float32)
    b = rng.standard_normal(300).astype(np.float32)
    y = rng.integers(0, 300, 4096)
    grad = dp.grad(loss, argnums=(0, 1))
    graph = cpu_graph(grad, z, b, y)
    assert [n.op.name for n in graph.nodes] == ["fusion"] and len(row_kernels(graph)) == 1
    from dprog.codegen.cpu_plan import plan
    (step,) = [s for s in plan(graph)[0] if s.kind == "kernel"]
    assert step.parallel and step.partials
    got, want = dp.jit(grad)(z, b, y), reference(grad, z, b, y)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-7)


def test_softmax_runs_as_one_kernel_with_nan_rows():
    x = rng.standard_normal((5, 8))
    x[2, 3] = np.nan
    x[4, :] = -np.inf
    assert len(cpu_graph(softmax, x).nodes) == 1
    got, want = dp.jit(softmax)(x), reference(softmax, x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-12)


def test_column_broadcast_is_not_mistaken_for_a_row_value():
    # v has the shape of a row value (4,) but is spread along the inner dim: the kernel
    # must read v[i1], not one value per row.
    x, v = rng.standard_normal((4, 4)), rng.standard_normal(4)
    f = lambda x, v: x * v - dnp.max(x, axis=1, keepdims=True)
    np.testing.assert_allclose(dp.jit(f)(x, v), x * v - x.max(1, keepdims=True), rtol=1e-12)


def test_large_whole_array_reduction_stays_parallel():
    # With no outer dims a merged kernel would run on one thread: not for big arrays.
    x = np.zeros(1 << 18, np.float32)
    graph = cpu_graph(lambda x: x - dnp.mean(x), x)
    assert not row_kernels(graph)


def test_new_batch_size_reuses_the_row_kernel():
    f = dp.jit(lambda x: softmax(x) * 2.0)
    f(rng.standard_normal((8, 5)).astype(np.float32))
    before = len(cpu_driver._kernel_cache)
    f(rng.standard_normal((13, 5)).astype(np.float32))
    f(rng.standard_normal((3, 7)).astype(np.float32))
    assert f.cache_size() == 3
    assert len(cpu_driver._kernel_cache) == before
