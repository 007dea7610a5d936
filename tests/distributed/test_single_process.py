"""One process (no launcher, so MPI is never initialised): every collective is an
identity, the IR shows them, passes keep them, and dp.distributed's helpers work."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.distributed import comm
from dprog.distributed.buckets import plan_buckets
from dprog.passes import run_pipeline

X = np.array([1.5, -2.0, 3.0], np.float32)


def test_collectives_are_identities_eagerly_and_under_jit():
    for fn in (lambda v: v, dp.jit):
        np.testing.assert_array_equal(fn(dp.psum)(X), X)
        np.testing.assert_array_equal(fn(dp.pmean)(X), X)
        np.testing.assert_array_equal(fn(dp.pmax)(X), X)
        np.testing.assert_array_equal(fn(dp.all_gather)(X), X[None])
        np.testing.assert_array_equal(fn(lambda v: dp.all_gather(v, tiled=True))(X), X)
        np.testing.assert_array_equal(fn(lambda v: dp.all_gather(v, axis=1))(X[None]), X[None, None])
    assert dp.jit(dp.psum)(X).dtype == np.float32
    assert dp.pmean(np.arange(3)).dtype == np.float64  # integers average to floats
    tree = dp.psum({"w": X, "b": (np.float64(2.0), np.int32(3))})
    assert float(tree["b"][0]) == 2.0 and int(tree["b"][1]) == 3


def test_derivatives_and_vmap_through_collectives_in_one_process():
    def f(v):
        return dnp.sum(dp.psum(v) ** 2) + dnp.sum(dp.pmax(v) * 3.0) + dnp.sum(dp.all_gather(v))

    np.testing.assert_allclose(dp.jit(dp.grad(f))(X), 2 * X + 3.0 + 1.0)
    t = np.array([1.0, 0.5, -1.0], np.float32)
    _, tout = dp.jit(lambda v, tv: dp.jvp(f, (v,), (tv,)))(X, t)
    np.testing.assert_allclose(tout, np.sum((2 * X + 4.0) * t), rtol=1e-6)
    np.testing.assert_allclose(dp.jit(dp.hessian(lambda v: dnp.sum(dp.psum(v) ** 3)))(X),
                               np.diag(6 * X), rtol=1e-6)
    batch = np.stack([X, 2 * X])
    np.testing.assert_array_equal(dp.vmap(dp.psum)(batch), batch)
    assert dp.vmap(dp.all_gather, in_axes=1)(batch).shape == (3, 1, 2)


def test_collectives_print_in_the_ir_and_survive_dce_and_cse():
    def f(v):
        dp.psum(v)            # unused here, but another process may be waiting for it
        a, b = dp.psum(v), dp.psum(v)  # two exchanges: CSE must not merge them
        return a + b

    graph = dp.make_graph(f)(X)
    assert "psum[axis_name='world'] a" in str(graph)
    optimised = run_pipeline(graph)
    assert [n.op.name for n in optimised.nodes].count("psum") == 3
    assert "all_gather[axis=0, axis_name='world', tiled=False]" in str(
        dp.make_graph(dp.all_gather)(X))


def test_unknown_communicator_and_bad_dtype_name_the_user_line():
    with pytest.raises(dp.DistributedError, match="unknown communicator 'rows'") as e:
        dp.jit(lambda v: dp.psum(v, axis_name="rows"))(X)
    assert "test_single_process.py" in str(e.value) and "register_comm" in str(e.value)
    with pytest.raises(dp.DtypeError, match="psum of a bool array"):
        dp.psum(X > 0)
    with pytest.raises(dp.ShapeError, match="all_gather"):
        dp.all_gather(X, axis=2)


def test_init_without_a_launcher_is_a_job_of_one(monkeypatch):
    for var in comm._LAUNCHER_VARS + ("DPROG_DISTRIBUTED",):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(comm, "_info", None)
    info = dp.distributed.init(device="cpu")
    assert (info.rank, info.size, info.local_rank, info.device) == (0, 1, 0, "cpu")
    assert dp.distributed.rank() == 0 and dp.distributed.size() == 1
    with pytest.raises(dp.DistributedError, match="device must be"):
        dp.distributed.init(device="tpu")


def test_init_cuda_without_a_gpu_says_so(monkeypatch):
    from numba import cuda
    monkeypatch.setattr(cuda, "is_available", lambda: False)
    monkeypatch.setattr(comm, "_info", None)
    with pytest.raises(dp.DistributedError, match="no CUDA GPU is visible"):
        dp.distributed.init(device="cuda")


class _FakeGroup:
    """Rank 1 of 2, for the pure-Python parts that only read rank and size."""
    comm, rank, size = None, 1, 2


def test_shard_batch_gives_each_rank_its_contiguous_slice(monkeypatch):
    x, y = np.arange(12).reshape(6, 2), np.arange(6)
    np.testing.assert_array_equal(dp.distributed.shard_batch((x, y))[0], x)  # one process
    monkeypatch.setitem(comm._groups, "world", _FakeGroup())
    xs, ys = dp.distributed.shard_batch((x, y))
    np.testing.assert_array_equal(xs, x[3:])
    np.testing.assert_array_equal(ys, y[3:])
    with pytest.raises(dp.DistributedError, match="does not split evenly over 2"):
        dp.distributed.shard_batch(np.arange(5))
    with pytest.raises(dp.DistributedError, match="same leading"):
        dp.distributed.shard_batch((x, np.arange(4)))


def test_plan_buckets_fills_from_the_last_leaf_and_splits_dtypes():
    shapes = [(4,), (2, 2), (), (10,)]
    dts = [np.float32, np.float32, np.float64, np.float32]
    buckets = plan_buckets(shapes, dts, bucket_bytes=40)
    layout = [(b.dtype.name, [(i, off, n) for i, off, n, _ in b.entries]) for b in buckets]
    # Leaf 3 (40 bytes) fills a bucket alone; the float64 leaf goes apart; leaves 1 and 0
    # share the last one. Partly filled buckets leave in the order they were opened.
    assert layout == [("float32", [(3, 0, 10)]), ("float64", [(2, 0, 1)]),
                      ("float32", [(1, 0, 4), (0, 4, 4)])]
    assert [b.buffer.size for b in buckets] == [10, 1, 8]


def test_data_parallel_in_one_process_is_the_plain_step():
    params = {"w": np.ones((3, 2), np.float32), "b": np.zeros(2, np.float32)}
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    y = np.ones((8, 2), np.float32)

    def loss(p, x, y):
        return dnp.mean((x @ p["w"] + p["b"] - y) ** 2)

    opt = dp.optim.sgd(0.1)
    step = dp.distributed.data_parallel(dp.value_and_grad(loss), has_value=True, optimizer=opt)
    p1, s1, l1 = step(params, opt.init(params), x, y)
    l0, g = dp.value_and_grad(loss)(params, x, y)
    p0, _ = opt.update(g, opt.init(params), params)
    np.testing.assert_allclose(l1, l0)
    for k in params:
        np.testing.assert_allclose(p1[k], p0[k], rtol=1e-6)
    grads_only = dp.distributed.data_parallel(dp.grad(loss))
    np.testing.assert_allclose(grads_only(params, x, y)["w"], g["w"], rtol=1e-6)
    with pytest.raises(dp.DistributedError, match=r"\(value, grads\)"):
        dp.distributed.data_parallel(dp.grad(loss), has_value=True)(params, x, y)


def test_checksum_is_bitwise_and_assert_synchronized_returns_it():
    params = [np.ones(3, np.float32), np.zeros((2, 2))]
    c = dp.distributed.checksum(params)
    assert c == dp.distributed.checksum([p.copy() for p in params]) and len(c) == 64
    nudged = [params[0] + np.float32(1e-7), params[1]]
    assert dp.distributed.checksum(nudged) != c
    assert dp.distributed.checksum([params[0].astype(np.float64), params[1]]) != c
    assert dp.distributed.assert_synchronized(params) == c
    assert dp.distributed.broadcast(params) is params


def test_example_with_cuda_but_no_gpu_exits_with_a_message(monkeypatch, capsys):
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "train_data_parallel.py")
    spec = importlib.util.spec_from_file_location("example_train_data_parallel", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    monkeypatch.setattr(example.train_digits, "cuda_available", lambda: False)
    assert example.main(["--device", "cuda"]) == 2
    assert "no CUDA GPU is visible" in capsys.readouterr().err
