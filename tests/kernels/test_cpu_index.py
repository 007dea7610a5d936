"""kernels/cpu_index.py: the CPU scatter-add against the reference (np.add.at), and the
compiled driver using it."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.kernels.cpu_index import scatter_add_blocks
from dprog.ops.index import _scatter_impl
from support import reference

RNG = np.random.default_rng(3)

# (update shape, index shape, axis, size): head and tail dims, 2-d indices, empty ones.
CASES = [
    ((7,), (7,), 0, 5),
    ((6, 4), (6,), 0, 3),
    ((4, 6), (6,), 1, 9),
    ((3, 2, 5, 4), (2, 5), 1, 6),
    ((25, 10, 10), (10, 10), 1, 45),
    ((3, 0, 2), (0,), 1, 4),
    ((0, 5), (5,), 1, 3),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("upd_shape, idx_shape, axis, size", CASES)
def test_scatter_add_matches_np_add_at(upd_shape, idx_shape, axis, size, dtype):
    upd = (RNG.standard_normal(upd_shape) * 10).astype(dtype)
    # Repeats, negative indices and out-of-range ones (clamped, as the reference does).
    idx = RNG.integers(-size - 2, size + 2, idx_shape)
    expected = _scatter_impl(upd, idx, axis=axis, size=size)
    got = scatter_add_blocks(upd, idx, axis, size)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # same order of additions: exact


def test_scatter_add_reads_strided_updates():
    upd = RNG.standard_normal((8, 6))[:, ::2].T  # (3, 8), neither C nor F contiguous
    idx = np.array([0, 1, 1])
    np.testing.assert_array_equal(scatter_add_blocks(upd, idx, 0, 2), _scatter_impl(upd, idx, axis=0, size=2))


def test_compiled_gather_gradient_equals_the_reference_exactly():
    x = RNG.standard_normal((50, 8)).astype(np.float32)
    idx = np.array([[3, 3, -1], [7, 100, -200]])  # traced: out of range clamps
    f = dp.grad(lambda x, i: dnp.sum(dnp.take(x, i, axis=0) ** 2))
    np.testing.assert_array_equal(dp.jit(f)(x, idx), reference(f, x, idx))
