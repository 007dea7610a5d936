"""Gathers, pads and slices absorbed into CPU kernels (passes/fuse.py _absorb_views,
expressions.gather_read / pad_read / view_index): the kernel reads x at the picked index,
x and the padding value by a bounds test, or x at start + step*i, so the gathered or
padded array is never materialised and a slice is read from its source array.
Each program runs compiled and in the reference interpreter, with traced indices that
repeat, count from the end and fall out of range (clamped, as dprog.ops.index defines)."""
import re

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.ops.fusion import fusion_p
from dprog.ops.index import gather_p
from dprog.ops.shape import pad_p, rev_p, slice_p

from support import reference

RNG = np.random.default_rng(11)


def _idx(shape, n):
    return RNG.integers(-n - 3, n + 3, shape)


# name -> (function, argument makers); x arguments are float arrays, i arguments indices.
PROGRAMS = {
    "rows then elementwise": (lambda x, i: dnp.tanh(dnp.take(x, i, axis=0)) * 2.0,
                              [(12, 5), ("i", (7,), 12)]),
    "middle axis, 2-d index": (lambda x, i: dnp.take(x, i, axis=1) + 1.0,
                               [(3, 9, 4), ("i", (2, 5), 9)]),
    "last axis": (lambda x, i: dnp.exp(dnp.take(x, i, axis=-1)), [(6, 8), ("i", (3,), 8)]),
    "scalar index": (lambda x, i: dnp.take(x, i, axis=0) * x[0], [(5, 4), ("i", (), 5)]),
    "feeds a reduction": (lambda x, i: dnp.sum(dnp.take(x, i, axis=0) ** 2, axis=1),
                          [(20, 6), ("i", (9,), 20)]),
    "two gathers, one kernel": (lambda x, i, j: dnp.take(x, i, axis=0) - dnp.take(x, j, axis=0),
                                [(10, 3), ("i", (4,), 10), ("i", (4,), 10)]),
    "gather of a computed array": (lambda x, i: dnp.take(dnp.sin(x) @ x.T, i, axis=1) * 3.0,
                                   [(6, 6), ("i", (4,), 6)]),
    "gradient (scatter back)": (dp.grad(lambda x, i: dnp.sum(dnp.cos(dnp.take(x, i, axis=0)))),
                                [(8, 3), ("i", (11,), 8)]),
    # Pads: reverse mode makes one per slice, and sums them.
    "pad both sides, every axis": (lambda x: dnp.tanh(dnp.pad(x, ((2, 1), (0, 3)))) + 1.0, [(4, 5)]),
    "pad with a value": (lambda x: dnp.pad(x, ((1, 1),), constant_values=2.5) * 3.0, [(7,)]),
    "pad feeds a reduction": (lambda x: dnp.sum(dnp.pad(x, ((0, 0), (3, 0))) ** 2, axis=0), [(6, 4)]),
    "gradient of slices": (dp.grad(lambda x: dnp.sum(dnp.sin(x[:, :3]) * x[:, 2:5]) + dnp.sum(x[1:, 4])), [(5, 7)]),
    "gradient of a concatenation": (dp.grad(lambda a, b: dnp.sum(dnp.exp(dnp.concatenate([a, b], axis=1)))),
                                    [(3, 2), (3, 4)]),
    "strided slice gradient (interior pad)": (dp.grad(lambda x: dnp.sum(dnp.cos(x[::2]))), [(9, 2)]),
    "strided slice gradient plus a term": (dp.grad(lambda x: dnp.sum(dnp.cos(x[::2])) + dnp.sum(x ** 3)),
                                           [(9, 2)]),
    "interior pads with offsets, two axes": (
        dp.grad(lambda x: dnp.sum(dnp.sin(x[1::3, 2:9:2]) * 2.0) + dnp.sum(x * x)), [(10, 11)]),
    "complementary strided slices": (dp.grad(lambda x: dnp.sum(dnp.exp(x[:, ::2])) + dnp.sum(x[:, 1::2] ** 2)),
                                     [(4, 9)]),
    # Slices: read at start + step*i from their source.
    "strided slice, every axis": (lambda x: dnp.tanh(x[1:8:2, ::3]) * 2.0, [(9, 10)]),
    "column slice feeds a reduction": (lambda x: dnp.sum(dnp.exp(x[:, 2:6]), axis=1), [(8, 9)]),
    "finite difference": (lambda x: (x[1:] - x[:-1]) * 0.5, [(10, 3)]),
    "slice of a computed array": (lambda x: dnp.sin(x @ x.T)[::2, 1:] * 3.0, [(7, 5)]),
    "3-d slice": (lambda x: dnp.cos(x[1:, ::2, 2:4]) + x[:2, 1:5, 0:2], [(3, 7, 5)]),
    "softmax of a slice (row kernel)": (lambda x: dp.nn.softmax(x[:, 1::2] * 2.0, axis=1), [(6, 23)]),
    # Reversals: read at n-1-i from their source.
    "reversed rows": (lambda x: dnp.tanh(x[::-1]) * 2.0, [(7, 5)]),
    "flip of the last axis plus x": (lambda x: dnp.flip(x, axis=1) + x * 0.5, [(4, 9)]),
    "reversed strided slice": (lambda x: dnp.exp(x[::-2, 1:]) - 1.0, [(9, 4)]),
    "gradient through a flip": (
        dp.grad(lambda x: dnp.sum(dnp.sin(dnp.flip(x, axis=0)) * dnp.arange(6.0)) + dnp.sum(x * x)), [(6,)]),
    "softmax of a flipped row (row kernel)": (lambda x: dp.nn.softmax(x[:, ::-1] * 3.0, axis=1), [(5, 17)]),
}


def _args(makers, dtype):
    out = []
    for m in makers:
        if m[0] == "i":
            out.append(_idx(m[1], m[2]))
        else:
            out.append(RNG.standard_normal(m).astype(dtype))
    return out


def _fused(fn, args, op=gather_p):
    """(op nodes inside fusion nodes, standalone ones) in the compiled program's plan."""
    jitted = dp.jit(fn)
    jitted(*args)
    graph = next(iter(jitted._cache.values())).executable.graph
    inside = sum(n.op is op for f in graph.nodes if f.op is fusion_p for n in f.params["graph"].nodes)
    alone = sum(n.op is op for n in graph.nodes)
    return inside, alone


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_fused_gather_matches_reference(name, dtype):
    fn, makers = PROGRAMS[name]
    args = _args(makers, dtype)
    got = dp.jit(fn)(*args)
    expected = reference(fn, *args)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("name", ["rows then elementwise", "middle axis, 2-d index", "feeds a reduction",
                                  "two gathers, one kernel"])
def test_gather_runs_inside_the_kernel(name):
    fn, makers = PROGRAMS[name]
    inside, alone = _fused(fn, _args(makers, np.float64))
    assert inside >= 1 and alone == 0, (inside, alone)


@pytest.mark.parametrize("name", ["pad both sides, every axis", "pad with a value", "pad feeds a reduction",
                                  "gradient of slices"])
def test_pad_runs_inside_the_kernel(name):
    fn, makers = PROGRAMS[name]
    inside, alone = _fused(fn, _args(makers, np.float64), pad_p)
    assert inside >= 1 and alone == 0, (inside, alone)


@pytest.mark.parametrize("name", ["strided slice, every axis", "column slice feeds a reduction", "finite difference",
                                  "slice of a computed array", "3-d slice", "softmax of a slice (row kernel)"])
def test_slice_runs_inside_the_kernel(name):
    # The kernel reads the slice's source with computed indices: a NumPy view of it
    # would reach the kernel with runtime strides, and its loop would not vectorise.
    fn, makers = PROGRAMS[name]
    inside, alone = _fused(fn, _args(makers, np.float64), slice_p)
    assert inside >= 1 and alone == 0, (inside, alone)


@pytest.mark.parametrize("name", ["reversed rows", "flip of the last axis plus x", "reversed strided slice",
                                  "gradient through a flip", "softmax of a flipped row (row kernel)"])
def test_reversal_runs_inside_the_kernel(name):
    fn, makers = PROGRAMS[name]
    inside, alone = _fused(fn, _args(makers, np.float64), rev_p)
    assert inside >= 1 and alone == 0, (inside, alone)


@pytest.mark.parametrize("name", ["strided slice gradient plus a term", "interior pads with offsets, two axes",
                                  "complementary strided slices"])
def test_interior_padding_runs_inside_the_kernel(name):
    # A strided slice's gradient puts its cotangent at every step-th position
    # (expressions.pad_read tests (i - lo) % step), read by the kernel that adds it to
    # the other terms: the padded array is never materialised. (A pad that is itself
    # the result, as in "strided slice gradient (interior pad)", stays a step.)
    fn, makers = PROGRAMS[name]
    inside, alone = _fused(fn, _args(makers, np.float64), pad_p)
    assert inside >= 1 and alone == 0, (inside, alone)


def test_gather_read_by_two_kernels_and_returned_stays_standalone():
    # A gathered value that is a result must exist as an array: the gather stays a step.
    fn = lambda x, i: (dnp.take(x, i, axis=0), dnp.take(x, i, axis=0) + 1.0)  # noqa: E731
    args = _args([(6, 2), ("i", (5,), 6)], np.float64)
    got, expected = dp.jit(fn)(*args), reference(fn, *args)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


def test_fused_gather_in_a_scan_body():
    def f(x, i):
        def step(c, _):
            return c + dnp.take(x, i, axis=0) * 0.5, None
        out, _ = dp.scan(step, dnp.zeros((i.shape[0], x.shape[1])), None, length=4)
        return out
    args = _args([(7, 3), ("i", (5,), 7)], np.float64)
    np.testing.assert_allclose(dp.jit(f)(*args), reference(f, *args), rtol=1e-12)


def test_view_of_a_view_is_read_from_its_source():
    # transpose(broadcast(s)) with s's axes swapped cannot be one NumPy broadcast; the
    # kernel reads s[i1, i0] itself instead of a strided view made per call.
    fn = lambda s, a: dnp.transpose(dnp.broadcast_to(s[:, :, None], (6, 4, 3)), (1, 0, 2)) * a  # noqa: E731
    args = [RNG.standard_normal((6, 4)), RNG.standard_normal((4, 6, 3))]
    jitted = dp.jit(fn)
    np.testing.assert_array_equal(jitted(*args), reference(fn, *args))
    graph = next(iter(jitted._cache.values())).executable.graph
    assert [n.op.name for n in graph.nodes] == ["fusion"], graph


def test_a_slice_read_by_a_kernel_and_by_other_steps_stays_one_value():
    # GMM's gradient: offdiag = icf[:, d:] is read by a gather (the forward pass) and by
    # the gradient's loop over offdiag's shape, which absorbs the slice. That loop must
    # not export the slice as its result: the forward pass would then depend on the
    # gradient (a cycle in the plan, which failed to compile).
    from benchmarks.workloads import gmm
    alphas, means, icf, x, gamma, m = gmm.make_inputs(4, 3, n=30)
    f = dp.grad(lambda a, mu, q, x: gmm.objective(dnp, dp.nn.logsumexp, a, mu, q, x, gamma, m), argnums=(0, 1, 2))
    got = dp.jit(f)(alphas, means, icf, x)
    expected = reference(f, alphas, means, icf, x)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", [lambda x: dnp.tanh(x[1:] - x[:-1]),
                                lambda x: dnp.tanh(x.reshape(64, 64)[:, 3:40] * 2.0)],
                         ids=["finite difference", "column slice"])
def test_unit_stride_slices_are_read_with_vector_loads(fn):
    # A kernel reading a slice must vectorise like one reading the array itself:
    # contiguous vector loads, not a gather or a scalar loop. (A column slice handed over
    # as a strided view left the loop scalar: the column case fails without slices in
    # ABSORBABLE_READS. The index's unsigned arithmetic, which doubled the finite
    # difference's speed, is not told apart here: both forms have vector loads.)
    ir = _tanh_kernel_ir(fn, RNG.standard_normal(4096).astype(np.float32))
    assert re.search(r"load <(4|8|16) x float>", ir), "no vector load of the slice"
    assert "masked.gather" not in ir


def _tanh_kernel_ir(fn, x):
    """LLVM IR of the kernel (calling vm.vtanh) that running dp.jit(fn)(x) compiles,
    after checking the result against the reference."""
    from dprog.codegen import cpu_driver, module_cache
    before = set(cpu_driver._kernel_cache)
    np.testing.assert_allclose(dp.jit(fn)(x), reference(fn, x), rtol=2e-6, atol=2e-6)
    (body,) = [b for b in set(cpu_driver._kernel_cache) - before if "vm.vtanh" in b]
    module = cpu_driver._kernel_cache[body]
    fresh = module_cache._load_in_memory(module.__name__ + "_ir", module.__dprog_source__)
    signature = module.kernel.signatures[0]
    fresh.kernel.compile(signature)
    return fresh.kernel.inspect_llvm(signature)


def test_reversed_rows_keep_the_vector_loop():
    # Rows read in descending order: LLVM's alias check, hoisted out of the row loop,
    # sees a negative row stride and sends every row to the scalar loop (its
    # "stride.check ... icmp slt" is always true); tanh(x[::-1]) ran 5x slower. The
    # rev record's `% n` keeps the check per row (ops/shape.py _rev_read_index).
    ir = _tanh_kernel_ir(lambda x: dnp.tanh(x[::-1]) * 2.0, RNG.standard_normal((64, 40)).astype(np.float32))
    assert re.search(r"load <(4|8|16) x float>", ir)
    assert not re.search(r"%stride\.check\d* = icmp slt", ir), "the vector loop is never taken"
