"""vmap of every op family against a Python loop over batch members + np.stack.

Each case maps over different combinations of batched and unbatched operands, since
each combination takes a different path through the op's batching rule.
"""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.ir import verify
from dprog.ops.index import scatter_add_p
from dprog.ops.record import Kind, Op
from dprog.ops.shape import pad_p

RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def member(x, axis, b):
    return x if axis is None else np.take(x, b, axis=axis)


def loop(f, args, in_axes, out_axis=0):
    size = next(np.shape(x)[a] for x, a in zip(args, in_axes) if a is not None)
    results = [np.asarray(f(*[member(x, a, b) for x, a in zip(args, in_axes)]))
               for b in range(size)]
    return np.stack(results, axis=out_axis)


def check(f, *args, in_axes=None, rtol=1e-12):
    in_axes = (0,) * len(args) if in_axes is None else in_axes
    got = dp.vmap(f, in_axes=in_axes)(*args)
    want = loop(f, args, in_axes)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)
    # The staged graph is well formed (the verifier checks every node's aval rule).
    verify(dp.make_graph(dp.vmap(f, in_axes=in_axes))(*args))
    return got


B = 3


@pytest.mark.parametrize("fn", [dnp.sin, dnp.exp, dnp.tanh, dnp.abs, dnp.square, dnp.sigmoid,
                                dnp.negative, dnp.floor, lambda x: x > 0.1])
def test_unary_elementwise(fn):
    check(fn, rand(B, 4, 2))


@pytest.mark.parametrize("in_axes", [(0, 0), (0, None), (None, 0), (1, 0)])
def test_binary_elementwise(in_axes):
    x = rand(4, 5) if in_axes[0] is None else (rand(B, 4, 5) if in_axes[0] == 0 else rand(4, B, 5))
    y = rand(4, 5) if in_axes[1] is None else rand(B, 4, 5)
    check(lambda a, b: a * b + dnp.maximum(a, b) - a / (1.5 + b * b), x, y, in_axes=in_axes)


def test_batched_rank0_against_full_shape():
    # A batched scalar becomes (B,) and must be broadcast to (B, *shape), not (shape..., B).
    s, x = rand(B), rand(B, 4)
    check(lambda s, x: s * x, s, x)
    check(lambda s, x: x - s, s, rand(4), in_axes=(0, None))
    check(lambda s, t: s * t + 1.0, s, np.float64(2.5), in_axes=(0, None))
    check(lambda s, x: dnp.where(s > 0, x, -x), s, rand(B, 4))


def test_select_and_convert():
    x, y = rand(B, 6), rand(6)
    check(lambda a, b: dnp.where(a > b, a, b * 2.0), x, y, in_axes=(0, None))
    check(lambda a: a.astype(np.float32) * np.float32(2), x)
    check(lambda a: (a > 0).astype(np.int64) + 3, x)


def test_float32_stays_float32():
    got = check(lambda a, b: a * b + 1.0, rand(B, 3, dtype=np.float32),
                rand(3, dtype=np.float32), in_axes=(0, None), rtol=1e-6)
    assert got.dtype == np.float32


@pytest.mark.parametrize("f", [
    lambda x: dnp.broadcast_to(x, (2, 4, 5)),
    lambda x: dnp.reshape(x, (5, 4)),
    lambda x: dnp.transpose(x),
    lambda x: x[1:3, ::2],
    lambda x: x[::-1],
    lambda x: dnp.flip(x, axis=1),
    lambda x: dnp.pad(x, ((1, 2), (0, 1)), constant_values=7.0),
    lambda x: dnp.concatenate([x, x * 2], axis=1),
    lambda x: dnp.expand_dims(x, 0) + dnp.ones((3, 4, 5)),
])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_movement(f, axis):
    shape = [4, 5]
    shape.insert(axis, B)
    check(f, rand(*shape), in_axes=(axis,))


def test_concatenate_mixed():
    check(lambda a, b: dnp.concatenate([a, b], axis=0), rand(B, 2, 3), rand(4, 3),
          in_axes=(0, None))
    check(lambda a, b: dnp.stack([a, b], axis=1), rand(4, 3), rand(4, B, 3), in_axes=(None, 1))


def test_pad_with_batched_value():
    x, v = rand(B, 3, 2), rand(B)
    f = lambda x, v: pad_p(x, v, lo=(1, 0), hi=(0, 2), interior=(1, 1))  # noqa: E731
    check(f, x, v)
    check(f, rand(3, 2), v, in_axes=(None, 0))


@pytest.mark.parametrize("f", [
    lambda x: dnp.sum(x), lambda x: dnp.sum(x, axis=1), lambda x: dnp.mean(x, axis=0),
    lambda x: dnp.max(x, axis=1), lambda x: dnp.min(x), lambda x: dnp.argmax(x, axis=1),
    lambda x: dnp.argmin(x, axis=0), lambda x: dnp.cumsum(x, axis=1),
    lambda x: dnp.cumsum(x[::-1], axis=0), lambda x: dnp.prod(x, axis=0),
])
@pytest.mark.parametrize("axis", [0, 2])
def test_reductions_and_scans(f, axis):
    shape = [4, 5]
    shape.insert(axis, B)
    check(f, rand(*shape), in_axes=(axis,))


@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (1, 1)])
def test_gather(in_axes):
    x = rand(4, 5) if in_axes[0] is None else np.moveaxis(rand(B, 4, 5), 0, in_axes[0])
    idx = np.array([[0, 3, -1], [2, 2, 1]])
    if in_axes[1] is not None:
        idx = np.moveaxis(np.stack([idx, (idx + 1) % 4, -idx - 1]), 0, in_axes[1])
    check(lambda a, i: dnp.take(a, i, axis=0), x, idx, in_axes=in_axes)
    if in_axes[0] is not None:
        check(lambda a, i: dnp.take(a, i % 5, axis=1), x, idx, in_axes=in_axes)


@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (2, 0)])
def test_scatter_add(in_axes):
    idx = np.array([[1, 1], [0, -1]])  # repeated and negative indices accumulate
    upd = rand(3, 2, 2, 4)
    if in_axes[0] is not None:
        upd = np.moveaxis(rand(B, 3, 2, 2, 4), 0, in_axes[0])
    if in_axes[1] is not None:
        idx = np.stack([idx, idx[::-1], (idx + 2) % 5])
    f = lambda u, i: scatter_add_p(u, i, axis=1, size=5)  # noqa: E731
    check(f, upd, idx, in_axes=in_axes)


def test_fancy_indexing_and_grad_of_gather():
    x, i = rand(B, 6), np.array([[0, 5], [1, 1], [4, 2]])
    check(lambda a, j: a[j], x, i)
    # grad of a gather is a scatter_add whose indices are batched too.
    check(dp.grad(lambda a, j: dnp.sum(a[j] ** 2)), x, i)


@pytest.mark.parametrize("shapes,in_axes", [
    (((B, 2, 3), (3, 4)), (0, None)),
    (((2, 3), (B, 3, 4)), (None, 0)),
    (((2, 3), (3, B, 4)), (None, 1)),
    (((B, 2, 3), (B, 3, 4)), (0, 0)),
    (((2, B, 3), (3, 4, B)), (1, 2)),
    (((B, 5, 2, 3), (5, 3, 4)), (0, None)),
    (((5, 2, 3), (B, 5, 3, 4)), (None, 0)),
    (((B, 3), (3, 4)), (0, None)),
    (((3,), (B, 3)), (None, 0)),
    (((B, 2, 3), (B, 3)), (0, 0)),
])
def test_matmul(shapes, in_axes):
    a, b = rand(*shapes[0]), rand(*shapes[1])
    check(lambda x, y: x @ y, a, b, in_axes=in_axes)


def test_einsum_and_dot():
    check(lambda a, b: dnp.einsum("ij,jk->ik", a, b), rand(B, 2, 3), rand(3, 4), in_axes=(0, None))
    check(lambda a, b: dnp.dot(a, b), rand(B, 3), rand(B, 3))


def test_iota_inside_vmap():
    check(lambda x: x * dnp.arange(4.0) + dnp.eye(4)[1], rand(B, 4))


def test_op_without_rule_falls_back_to_a_loop():
    # An unregistered op with no batch rule (as a new control op might be): vmap loops.
    doubled = Op("test_double_rows", Kind.CONTROL, lambda x: x,
                 lambda x: np.asarray(x) * 2 + np.arange(np.shape(x)[0]))
    got = check(lambda x: doubled(x) + 1.0, rand(B, 4))
    assert got.shape == (B, 4)
