"""Matrix products in the CPU driver (codegen/cpu_blas.py): stacks of products are split
across our own threads with one BLAS thread each; results must equal NumPy's for any
operand layout, under any thread setting, and after fork()."""
import os

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen import cpu_blas
from dprog.config import config

rng = np.random.default_rng(3)


@pytest.mark.parametrize("threads", [None, 1, 2, 3])
@pytest.mark.parametrize("layout", ["contiguous", "transposed operands", "strided stack"])
def test_stacked_product_matches_numpy(threads, layout, monkeypatch):
    k, m, n, p = 7, 128, 96, 160  # above cpu_blas.SPLIT_MIN_FLOPS
    a = rng.standard_normal((k, m, n))
    b = rng.standard_normal((k, n, p))
    if layout == "transposed operands":
        a = np.ascontiguousarray(a.transpose(0, 2, 1)).transpose(0, 2, 1)
        b = np.ascontiguousarray(b.transpose(0, 2, 1)).transpose(0, 2, 1)
    elif layout == "strided stack":
        a = rng.standard_normal((m, k, n)).transpose(1, 0, 2)
    out = np.empty((k, m, p))
    splits = []
    real = cpu_blas._split_stack
    monkeypatch.setattr(cpu_blas, "_split_stack", lambda *args: splits.append(args[-1]) or real(*args))
    old = config.blas_threads
    config.blas_threads = threads
    try:
        cpu_blas.matmul(a, b, out)
    finally:
        config.blas_threads = old
    np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-12, atol=1e-12)
    if cpu_blas._numpy_blas() is not None:  # threadpoolctl sees NumPy's BLAS
        workers = threads or cpu_blas._numpy_blas().num_threads
        assert splits == ([min(workers, k)] if workers > 1 else [])


def test_einsum_puts_the_output_last_index_in_the_product_columns():
    # "kij,nkj->nki" as Ls @ xc^T would leave i strided in the result; the product is
    # oriented so the transposed result is contiguous along i.
    L = rng.standard_normal((5, 6, 6))
    xc = rng.standard_normal((40, 5, 6))
    f = dp.jit(lambda L, xc: dnp.einsum("kij,nkj->nki", L, xc))
    np.testing.assert_allclose(f(L, xc), np.einsum("kij,nkj->nki", L, xc), rtol=1e-12)
    graph = f.lower(L, xc)
    (mm,) = [n for n in graph.nodes if n.op.name == "matmul"]
    assert mm.outs[0].aval.shape == (5, 40, 6)  # (k, n, i): i is the column index


def test_stacked_products_in_a_forked_child():
    f = dp.jit(lambda a, b: dnp.sum(a @ b))
    a, b = rng.standard_normal((8, 128, 128)), rng.standard_normal((8, 128, 128))  # split (SPLIT_MIN_FLOPS)
    want = float(np.sum(a @ b))
    np.testing.assert_allclose(f(a, b), want, rtol=1e-10)  # the parent's pool exists now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, repr(float(f(a, b))).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 100)
    os.waitpid(pid, 0)
    np.testing.assert_allclose(float(data), want, rtol=1e-10)
