"""Tracers behave like NumPy arrays: Python operators, attributes, methods, len and
indexing (ints, strided and negative slices, None, ..., integer-array gathers)."""
import operator

import numpy as np
import pytest

import dprog as dp

rng = np.random.default_rng(7)
A = rng.uniform(-2, 2, (4, 5, 6))
B = rng.uniform(0.5, 2, (5, 6))
M = rng.uniform(-1, 1, (6, 3))
I32 = rng.integers(1, 5, (4, 5, 6)).astype(np.int32)

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
          operator.eq, operator.ne]


@pytest.mark.parametrize("op", BINARY, ids=lambda o: o.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_binary_operators(op, dtype):
    a, b = np.abs(A).astype(dtype) + 1, B.astype(dtype) + 1  # positive: pow and // are safe
    for f in (lambda x, y: op(x, y), lambda x, y: op(x, 2), lambda x, y: op(3, y),
              lambda x, y: op(np.ones(6, dtype), y)):
        expected = f(a, b)
        got = dp.jit(f)(a, b)
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_unary_operators_and_matmul():
    f = dp.jit(lambda x, m: (-x, abs(x), +x, x @ m, m.T @ x[0].T))
    for got, expected in zip(f(A, M), (-A, abs(A), +A, A @ M, M.T @ A[0].T)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_attributes_methods_and_len():
    seen = {}

    def f(x):
        seen.update(shape=x.shape, ndim=x.ndim, size=x.size, dtype=x.dtype, len=len(x))
        return (x.T, x.reshape(5, -1), x.reshape((-1,)), x.sum(), x.sum(axis=1), x.mean(axis=-1),
                x.max(), x.min(axis=(0, 2)), x.astype(np.int32), x.transpose(1, 0, 2),
                x.transpose((2, 0, 1)), x.mT)

    got = dp.jit(f)(A)
    assert seen == dict(shape=(4, 5, 6), ndim=3, size=120, dtype=np.dtype(np.float64), len=4)
    expected = (A.T, A.reshape(5, -1), A.reshape((-1,)), A.sum(), A.sum(axis=1),
                A.mean(axis=-1), A.max(), A.min(axis=(0, 2)), A.astype(np.int32),
                A.transpose(1, 0, 2), A.transpose((2, 0, 1)), A.mT)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-12)


i1 = np.array([0, 3, -1])
i2 = np.array([[1, 0], [3, -2]])
i3 = np.array([2, 0, 5])
KEYS = [
    2, -1, (1, 2), (1, 2, 3), (-1, -2, -3),
    slice(None), slice(1, 3), slice(None, None, 2), slice(None, None, -1), slice(3, 0, -2),
    slice(-2, None), slice(10, 20), (slice(None), slice(None, None, -3), 1),
    None, (None, 1), (Ellipsis, 2), (1, Ellipsis), (Ellipsis, None, slice(1, 3)),
    (slice(None), None, 0, None),
    i1, (i1,), (slice(None), i1), (Ellipsis, i3), i2, (1, i2),
    (i1, i1),                              # two arrays, adjacent
    (i1, i1, i3),                          # three arrays
    (slice(None), i1, i3),                 # adjacent after a slice: stays in place
    (i1, slice(None), i3),                 # non-adjacent: index dims go first
    (i2, slice(1, 4), np.array([1, 2])),   # non-adjacent with broadcasting
    (0, slice(None), i3),                  # an int with an array: non-adjacent
    (i1, None, slice(None), 2),
    [0, 2],                                # a list is an integer-array index
]


@pytest.mark.parametrize("key", KEYS, ids=[f"k{i}" for i in range(len(KEYS))])
def test_indexing_matches_numpy(key):
    expected = A[key]
    got = dp.jit(lambda x: x[key])(A)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_traced_integer_index_arrays():
    f = dp.jit(lambda x, i, j: (x[i], x[:, i, j], x[i, :, j]))
    idx, jdx = np.array([3, 0, -1]), np.array([1, 5, 2])
    for got, expected in zip(f(A, idx, jdx), (A[idx], A[:, idx, jdx], A[idx, :, jdx])):
        np.testing.assert_array_equal(got, expected)


def test_gather_gradient_accumulates_repeated_indices():
    idx = np.array([1, 1, 0, 1])
    g = dp.grad(lambda x: (x[idx] * np.arange(4.0)).sum())(np.ones(3))
    np.testing.assert_allclose(g, [2.0, 0.0 + 1 + 3, 0.0])


def test_numpy_dispatch_routes_into_dprog():
    def f(x, y):
        return np.sin(x), np.sum(x, axis=0), np.where(x > 0, x, y), np.maximum(x, 0.5), \
            np.add.reduce(x, axis=1), np.mean(x), np.concatenate([x, y])

    x, y = B[:2], B[2:4] - 1
    graph = dp.make_graph(f)(x, y)
    names = {n.op.name for n in graph.nodes}
    assert {"sin", "reduce_sum", "select", "maximum", "concatenate"} <= names
    for got, expected in zip(dp.jit(f)(x, y), f(x, y)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_int_array_operators_keep_int():
    f = dp.jit(lambda x: (x // 3, x % 3, -x, x * 2, x ** 2))
    for got, expected in zip(f(I32), (I32 // 3, I32 % 3, -I32, I32 * 2, I32 ** 2)):
        assert got.dtype == expected.dtype == np.int32
        np.testing.assert_array_equal(got, expected)
