"""Placement, device arrays, pooling and the hand-written kernels, in the simulator."""
import warnings

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen import cuda_driver, cuda_executable


def test_device_put_and_back():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    d = dp.device_put(x, "cuda")
    assert isinstance(d, dp.DeviceArray) and d.shape == (3, 4) and d.dtype == np.float32
    iface = d.__cuda_array_interface__
    assert iface["shape"] == (3, 4) and np.dtype(iface["typestr"]) == np.float32 and iface["version"] == 3
    np.testing.assert_array_equal(np.asarray(d), x)
    tree = dp.device_put({"a": x, "b": [1.5, d]}, "cuda")
    assert isinstance(tree["b"][0], dp.DeviceArray) and tree["b"][1] is d
    back = dp.device_put(tree, "cpu")
    assert type(back["a"]) is np.ndarray and float(back["b"][0]) == 1.5


def test_placement_by_argument_and_mixing():
    f = dp.jit(lambda x, y: x * y + 1.0)  # default device: placement follows the arguments
    x = np.arange(6, dtype=np.float32)
    dp.config.backend = "reference"  # host calls here need no CPU kernels
    try:
        host = f(x, x)
    finally:
        dp.config.backend = ""
    assert type(host) is np.ndarray
    dev = f(dp.device_put(x), x)  # a host argument of a CUDA call is copied over
    assert isinstance(dev, dp.DeviceArray)
    np.testing.assert_allclose(np.asarray(dev), host)
    assert f.cache_size() == 2
    g = dp.jit(lambda x: x * 2.0, device="cuda")
    assert isinstance(g(x), dp.DeviceArray)   # device="cuda" moves host inputs


def test_results_are_fresh_and_chain_on_device():
    f = dp.jit(lambda x: (x, x.T, x * 2.0), device="cuda")
    x = dp.device_put(np.arange(6, dtype=np.float32).reshape(2, 3))
    a, b, c = f(x)
    assert a.device_buffer() is not x.device_buffer()
    np.testing.assert_array_equal(np.asarray(b), np.asarray(x).T)
    d = dp.jit(lambda u, v: u.sum() + v.sum())(a, c)   # device results feed device calls
    assert float(np.asarray(d)) == 45.0
    assert dp.block_until_ready((a, [b])) == (a, [b])


def test_temporaries_come_from_the_pool(monkeypatch):
    f = dp.jit(lambda x: dnp.sum(dnp.exp(x) * 2.0, axis=0) + dnp.max(x), device="cuda")
    x = dp.device_put(np.linspace(0, 1, 40, dtype=np.float32).reshape(5, 8))
    first = np.asarray(f(x))
    made = []
    if cuda_driver.available():  # a real GPU: buffers come from the driver's pool
        real_raw = cuda_driver.RawBuffer.allocate
        monkeypatch.setattr(cuda_driver.RawBuffer, "allocate",
                            classmethod(lambda cls, *a: made.append(a) or real_raw(*a)))
    else:
        cuda = cuda_executable.device.cuda_module()
        real = cuda.device_array
        monkeypatch.setattr(cuda, "device_array", lambda *a, **k: made.append(a) or real(*a, **k))
    second = np.asarray(f(x))
    np.testing.assert_array_equal(first, second)
    assert len(made) == 1, made   # only the result is new; temporaries are reused


def test_multi_chunk_reduction_uses_atomic_combine():
    # One row: 300 cols are two chunks for the simulator's 2 blocks of 8 threads; on a
    # GPU, a row must be longer than a warp-per-row kernel takes to be split.
    from dprog.codegen.cuda_kernel import WARP_ROW_MAX_COLS
    cols = 300 if cuda_executable.device.simulating() else 4 * WARP_ROW_MAX_COLS
    x = np.random.default_rng(0).normal(size=(1, cols)).astype(np.float32)
    # A lone sum over a split row is pre-filled and combined atomically across chunks.
    lone = dp.jit(lambda x: dnp.sum(x, axis=1), device="cuda")
    np.testing.assert_allclose(np.asarray(lone(x)), x.sum(1), rtol=1e-4, atol=1e-3)
    (entry,) = lone._cache.values()
    assert sum(len(step.fills) for step in entry.executable.steps) == 1
    # Float max/min are never combined with atomics (hardware atomics would drop NaN),
    # also when fusion puts them in one group with the sum.
    f = dp.jit(lambda x: (dnp.sum(x, axis=1), dnp.max(x, axis=1), dnp.min(x)), device="cuda")
    s, m, n = (np.asarray(r) for r in f(x))
    np.testing.assert_allclose(s, x.sum(1), rtol=1e-4, atol=1e-3)
    assert m[0] == x.max() and n == x.min()
    x[0, 7] = np.nan
    assert np.isnan(np.asarray(f(x)[1])[0])   # max propagates NaN, as NumPy


def test_matmul_edges():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 9, 11)).astype(np.float32)
    b = rng.normal(size=(11, 10)).astype(np.float32)
    f = dp.jit(lambda a, b: dnp.matmul(a, b), device="cuda")  # b broadcast over the batch
    np.testing.assert_allclose(np.asarray(f(a, b)), a @ b, rtol=1e-5, atol=1e-5)
    g = dp.jit(lambda a: dnp.swapaxes(a, 1, 2) @ a[::-1], device="cuda")
    np.testing.assert_allclose(np.asarray(g(a)), np.swapaxes(a, 1, 2) @ a[::-1], rtol=1e-5, atol=1e-5)
    i = np.arange(12, dtype=np.int64).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(dp.jit(lambda i: i @ i.T, device="cuda")(i)), i @ i.T)


def test_gather_scatter_clamp_and_repeats():
    x = np.arange(20, dtype=np.float64).reshape(4, 5)
    idx = np.array([-1, 0, 7, 2, 2, -9])
    f = dp.jit(lambda x, i: dnp.take(x, i, axis=1), device="cuda")
    expected = np.take(x, np.clip(np.where(idx < 0, idx + 5, idx), 0, 4), axis=1)
    np.testing.assert_array_equal(np.asarray(f(x, idx)), expected)
    g = dp.jit(dp.grad(lambda x, i: dnp.sum(dnp.take(x, i, axis=0) * 3.0)), device="cuda")
    counts = np.bincount([0, 0, 3, 3, 3], minlength=4)  # repeated indices accumulate
    np.testing.assert_array_equal(np.asarray(g(x, np.array([0, 0, 3, -1, 3]))),
                                  3.0 * counts[:, None] * np.ones((4, 5)))


def test_op_without_kernel_runs_on_host_with_a_warning():
    # A cumsum of bools (a running "or") has no CUDA kernel: it runs on the host.
    from dprog.ops.misc import cumsum_p
    f = dp.jit(lambda x: cumsum_p(x > 2.0, axis=0, reverse=False), device="cuda")
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    cuda_executable._warned.discard("cumsum")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f(x)
    np.testing.assert_array_equal(np.asarray(out), np.cumsum(x > 2.0, axis=0, dtype=bool))
    assert any("no CUDA kernel" in str(w.message) for w in caught)
    (entry,) = f._cache.values()
    assert [type(s).__name__ for s in entry.executable.steps].count("HostStep") == 1


def test_argmax_argmin_and_cumsum_kernels():
    x = np.random.default_rng(2).normal(size=(4, 7, 3)).astype(np.float32)
    x[1, 4, 2] = np.nan
    x[2, :, 0] = 1.0   # ties: the first index wins
    f = dp.jit(lambda x: (dnp.argmax(x, axis=1), dnp.argmin(x[:, ::-1], axis=2),
                          dnp.cumsum(x, axis=1), dnp.cumsum(x.T, axis=0)), device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # no host steps
        amax, amin, c1, c0 = (np.asarray(a) for a in f(x))
    np.testing.assert_array_equal(amax, np.argmax(x, axis=1))
    np.testing.assert_array_equal(amin, np.argmin(x[:, ::-1], axis=2))
    np.testing.assert_allclose(c1, np.cumsum(x, axis=1), rtol=1e-6)
    np.testing.assert_allclose(c0, np.cumsum(x.T, axis=0), rtol=1e-6)
    g = dp.jit(dp.grad(lambda x: dnp.sum(dnp.cumsum(x, axis=0) ** 2)), device="cuda")  # reverse cumsum
    np.testing.assert_allclose(np.asarray(g(x[0])), 2 * np.cumsum(np.cumsum(x[0], 0)[::-1], 0)[::-1], rtol=1e-5)


def test_bad_device_argument_is_a_dprog_error():
    with pytest.raises(dp.DprogError, match="device_put"):
        dp.device_put(np.ones(2), "tpu")


def test_control_flow_runs_on_the_device_without_host_steps():
    """scan, while and cond bodies are CUDA executables of their own (no HostStep, which
    would copy every operand to the host and warn)."""
    from dprog.codegen import cuda_control
    f = dp.jit(lambda xs: dp.scan(lambda c, x: (c + x, c * x), np.float32(0), xs), device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        c, ys = f(np.arange(1, 5, dtype=np.float32))
    assert float(np.asarray(c)) == 10.0
    np.testing.assert_array_equal(np.asarray(ys), [0, 2, 9, 24])
    (entry,) = f._cache.values()
    kinds = [type(s).__name__ for s in entry.executable.steps]
    assert "ScanStep" in kinds and "HostStep" not in kinds, kinds
    assert isinstance(entry.executable.steps[kinds.index("ScanStep")], cuda_control.ControlStep)



def test_pad_with_interior_widths_over_a_strided_view():
    from dprog.ops.shape import pad_p
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    widths = dict(lo=(0, 2), hi=(1, 0), interior=(1, 2))

    def f(x):
        return pad_p(x.T[::-1].T, np.float32(-7), **widths)   # a strided, reversed view
    got = np.asarray(dp.jit(f, device="cuda")(x))
    dp.config.backend = "reference"
    try:
        expected = dp.jit(f)(x)
    finally:
        dp.config.backend = ""
    np.testing.assert_array_equal(got, expected)
    assert (got == -7).any() and got.shape == expected.shape
