"""Two shortcuts of the generated CPU driver (codegen/cpu_driver.py), each checked on its own:

- view steps (transpose, reshape, slice) are written into the driver as NumPy method
  calls or indexes instead of calls to the op's impl (`_inline_view`);
- kernels whose reductions all reduce trailing dims start their accumulators at the
  identity themselves (`cpu_kernel.self_initialising`), so the driver hands them a
  pooled or fresh buffer without filling it first.

Both must give exactly what the reference interpreter gives, also on later calls, when
the pooled buffers still hold the previous call's values."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen.cpu_driver import _inline_view
from dprog.codegen.cpu_kernel import kernel_source, self_initialising
from dprog.ops import shape as sh
from dprog.ops.fusion import fusion_p
from dprog.passes import run_pipeline

from support import reference  # tests/support.py

rng = np.random.default_rng(7)

VIEW_PROGRAMS = [
    # name, function, argument shape
    ("transpose 2-D", lambda x: x.T * 2.0, (4, 6)),
    ("transpose 3-D, any perm", lambda x: dnp.transpose(x, (2, 0, 1)) + 1.0, (2, 3, 4)),
    ("reshape to flat", lambda x: (x * 3.0).reshape(-1), (4, 6)),
    ("reshape splitting a dim", lambda x: x.reshape(2, 2, 6) - 1.0, (4, 6)),
    ("slice with steps", lambda x: x[1:4:2, ::3] * x[0:2, 1:3], (4, 6)),
    ("slice of a transpose", lambda x: (x.T)[1:, :3] * 2.0, (4, 6)),
    ("reshape of a slice", lambda x: x[:, 2:].reshape(-1) + 0.5, (4, 6)),
    ("rank-1 slice", lambda x: x[2:9:3] - x[0:3], (10,)),
]


def _view_nodes(graph):
    return [n for n in graph.nodes if n.op in (sh.transpose_p, sh.reshape_p, sh.slice_p)]


@pytest.mark.parametrize("name,fun,shape", VIEW_PROGRAMS, ids=[p[0] for p in VIEW_PROGRAMS])
def test_inline_view_text_equals_the_op_impl(name, fun, shape):
    x = rng.standard_normal(shape)
    nodes = _view_nodes(dp.jit(fun).lower(x))
    assert nodes, "the program should hold a view op"
    for node in nodes:
        src = rng.standard_normal(node.inputs[0].aval.shape)
        text = _inline_view(node, "src")
        assert text is not None
        got = eval(text, {"src": src})
        want = node.op.impl(src, **node.params)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name,fun,shape", VIEW_PROGRAMS, ids=[p[0] for p in VIEW_PROGRAMS])
def test_programs_with_inline_views_match_the_reference_and_are_fresh(name, fun, shape):
    f = dp.jit(fun)
    for _ in range(2):  # the second call reuses the pooled buffers
        x = rng.standard_normal(shape)
        got = f(x)
        np.testing.assert_allclose(got, reference(fun, x), rtol=1e-15, atol=0)
        assert not np.shares_memory(got, x)


def test_a_view_of_an_argument_as_the_result_is_a_copy():
    f = dp.jit(lambda x: (x.T, x[1:3], x.reshape(-1)))
    x = rng.standard_normal((4, 6))
    outs = f(x)
    source = next(iter(f._cache.values())).executable.source
    assert ".transpose((1, 0))" in source and "[1:3:1, 0:6:1]" in source
    for got, want in zip(outs, (x.T, x[1:3], x.reshape(-1))):
        np.testing.assert_array_equal(got, want)
        assert not np.shares_memory(got, x)
    x[...] = 0.0  # the results were copies: changing x changes none of them
    assert all(np.any(o != 0.0) for o in outs)


def _fusions(fun, *args):
    graph = run_pipeline(dp.jit(fun).lower(*args))
    return [n for n in graph.nodes if n.op is fusion_p and n.params.get("rows") is None]


REDUCTIONS = [
    # name, function, arguments: every reduction reduces the same trailing dims
    ("row sums", lambda x: dnp.sum(dnp.exp(x), axis=1), [(64, 33)]),
    ("row max and min", lambda x: (dnp.max(x * 2.0, axis=1), dnp.min(x * 2.0, axis=1)), [(16, 5)]),
    ("sum over the last two dims", lambda x: dnp.sum(dnp.sin(x), axis=(1, 2)), [(6, 4, 5)]),
    ("integer row sums", lambda i: dnp.sum(i * 3, axis=-1), [(9, 7)]),
    ("whole-array sum", lambda x: dnp.sum(dnp.tanh(x)), [(1000,)]),
    ("row sums of an empty dim", lambda x: dnp.sum(x + 1.0, axis=1), [(3, 0)]),
    # the sums are a pooled temporary (ws[...]) that BLAS reads
    ("row sums into a matmul", lambda x, w: dnp.sum(dnp.exp(x), axis=1) @ w, [(64, 33), (64, 3)]),
]


def _arg(shape, name):
    if name.startswith("integer"):
        return rng.integers(-50, 50, shape)
    return rng.standard_normal(shape)


@pytest.mark.parametrize("name,fun,shapes", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_trailing_reductions_start_from_the_identity_in_the_kernel(name, fun, shapes):
    args = [_arg(s, name) for s in shapes]
    kernels = [n for n in _fusions(fun, *args) if any(m.op.kind.value == "reduction"
                                                       for m in n.params["graph"].nodes)]
    for node in kernels:
        sub, ndim = node.params["graph"], len(node.params["shape"])
        reduced = self_initialising(sub, ndim)
        assert reduced, "every reduction reduces trailing dims: the kernel starts them"
        text = kernel_source(sub, ndim)
        for k, v in enumerate(sub.outvars):
            if v.id in reduced:
                assert f"acc_out{k} = " in text
    f = dp.jit(fun)
    f(*args)
    source = next(iter(f._cache.values())).executable.source
    assert "np.full(" not in source and ".fill(" not in source, source
    for _ in range(3):  # later calls get pooled buffers holding the last call's sums
        args = [_arg(s, name) for s in shapes]
        for got, want in zip(dp.tree_leaves(f(*args)), dp.tree_leaves(reference(fun, *args))):
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_driver_fills_only_the_reductions_the_kernel_does_not_start():
    # A sum over the leading dim accumulates across the loop nest: its output must
    # arrive holding 0. The row sums start themselves: no fill for them.
    def fun(x):
        y = dnp.exp(x)
        return dnp.sum(y, axis=0), dnp.sum(y * 2.0, axis=1)
    x = rng.standard_normal((8, 5))
    f = dp.jit(fun)
    got = f(x)
    source = next(iter(f._cache.values())).executable.source
    assert "np.full(" in source or ".fill(" in source
    for g, w in zip(got, reference(fun, x)):
        np.testing.assert_allclose(g, w, rtol=1e-13)


def test_a_reshape_of_a_fresh_result_is_returned_without_a_copy():
    x, w = rng.standard_normal((1, 5)), rng.standard_normal((5, 3))
    f = dp.jit(lambda x, w: (x @ w).reshape(-1))
    got = f(x, w)
    source = next(iter(f._cache.values())).executable.source
    assert "np.array(" not in source, source
    np.testing.assert_allclose(got, (x @ w).reshape(-1), rtol=1e-14)
    assert f(x, w) is not got and not np.shares_memory(f(x, w), got)


def test_results_sharing_one_buffer_never_alias():
    x, w = rng.standard_normal((1, 5)), rng.standard_normal((5, 3))
    f = dp.jit(lambda x, w: (lambda y: (y.reshape(-1), y, y.reshape(3, 1)))(x @ w))
    outs = f(x, w)
    for i in range(len(outs)):
        for j in range(i + 1, len(outs)):
            assert not np.shares_memory(outs[i], outs[j])
    np.testing.assert_allclose(outs[1], x @ w, rtol=1e-14)
    np.testing.assert_array_equal(outs[0], outs[1].reshape(-1))
