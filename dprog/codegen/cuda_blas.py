"""Matrix products on a GPU through cuBLAS, called with ctypes on dprog's stream.

As the CPU backend hands contractions to BLAS, the CUDA backend hands float32/float64
matmuls to cuBLAS (strided-batched gemm) when the library is present: NVIDIA's kernels
reach several times the throughput of dprog's tiled kernel (kernels/cuda_matmul.py),
which stays the fallback (integers, operands cuBLAS cannot describe, no cuBLAS). The
library comes from the CUDA toolkit or the nvidia-cublas wheel (found with
cuda.pathfinder where installed). Products are exact float32 (no TF32), like the CPU.

cuBLAS is column-major; dprog's arrays are row-major views (offset + strides). A row-major
C = A @ B (contiguous, m x n) is the column-major C^T = B^T A^T, so B goes first, and an
operand whose rows are contiguous is passed as is ("N"), one whose columns are contiguous
as transposed ("T").
"""
import contextlib
import ctypes
import ctypes.util
import glob
import threading

import numpy as np

from . import cuda_driver

_state = {}
_thread = threading.local()
_lock = threading.Lock()
OP_N, OP_T = 0, 1
INT_MAX = 2 ** 31 - 1


def _load():
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib
        return ctypes.CDLL(load_nvidia_dynamic_lib("cublas").abs_path)
    except Exception:
        pass
    candidates = [ctypes.util.find_library("cublas")]
    candidates += sorted(glob.glob("/usr/local/cuda*/lib64/libcublas.so*"))
    for name in candidates:
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    return None


def library():
    """The cuBLAS library, or None (then matmuls use dprog's own kernel)."""
    if "lib" not in _state:
        with _lock:
            if "lib" not in _state:
                lib = _load() if cuda_driver.available() else None
                if lib is not None:
                    vp, i32, i64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong
                    for name in ("cublasSgemmStridedBatched", "cublasDgemmStridedBatched"):
                        getattr(lib, name).argtypes = [vp, i32, i32, i32, i32, i32, vp, vp, i32, i64,
                                                       vp, i32, i64, vp, vp, i32, i64, i32]
                    lib.cublasCreate_v2.argtypes = [ctypes.POINTER(vp)]
                    lib.cublasSetStream_v2.argtypes = [vp, vp]
                _state["lib"] = lib
    return _state["lib"]


def _handle():
    """One cuBLAS handle per thread (handles are not thread-safe), bound to dprog's stream."""
    h = getattr(_thread, "handle", None)
    if h is None:
        lib = library()
        cuda_driver.ensure_context()
        h = ctypes.c_void_p()
        _check(lib.cublasCreate_v2(ctypes.byref(h)), "cublasCreate")
        _check(lib.cublasSetStream_v2(h, cuda_driver.dprog_stream_handle()), "cublasSetStream")
        _thread.handle = h
    return h


@contextlib.contextmanager
def products_on(stream):
    """This thread's products inside the block go to `stream` (a CUDA graph's capture
    stream) instead of dprog's stream. Makes the thread's handle first, outside any
    capture: creating it allocates."""
    if library() is None:
        yield
        return
    h = _handle()
    _check(library().cublasSetStream_v2(h, stream), "cublasSetStream")
    try:
        yield
    finally:
        _check(library().cublasSetStream_v2(h, cuda_driver.dprog_stream_handle()), "cublasSetStream")


def _check(rc, what):
    if rc != 0:
        raise cuda_driver.DriverError(f"{what} failed with cuBLAS status {rc}")


def column_major(rows, cols, row_stride, col_stride):
    """How to pass the row-major view X (rows x cols; element (r, c) at r*row_stride +
    c*col_stride) to cuBLAS so that it reads X^T: (op, ld), or None if no leading
    dimension describes it (e.g. a broadcast with stride 0)."""
    if col_stride == 1 or cols == 1:
        ld = row_stride if rows > 1 else cols
        if ld >= max(cols, 1):
            return OP_N, max(ld, 1)
    if row_stride == 1 or rows == 1:
        ld = col_stride if cols > 1 else rows
        if ld >= max(rows, 1):
            return OP_T, max(ld, 1)
    return None


class Gemm:
    """C[b] = A[b] @ B[b] for the matmul kernel's parameter list, through cuBLAS."""
    __slots__ = ("fn", "ops", "dims", "lds", "strides", "slots", "offsets", "scalars", "alpha", "beta",
                 "batch", "itemsize")

    def __init__(self, fn, ops, dims, lds, strides, slots, offsets, dtype, batch):
        self.fn, self.ops, self.dims, self.lds, self.strides = fn, ops, dims, lds, strides
        self.slots, self.offsets, self.batch = slots, offsets, batch
        scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
        self.scalars = (scalar(1.0), scalar(0.0))          # kept alive for the pointers below
        self.alpha, self.beta = (ctypes.byref(x) for x in self.scalars)
        self.itemsize = np.dtype(dtype).itemsize

    def run(self, env, stream):
        c, a, b = (env[s].ptr for s in self.slots)
        a_off, b_off = self.offsets
        n, m, k = self.dims
        op_b, op_a = self.ops
        ld_b, ld_a = self.lds
        s_b, s_a = self.strides
        size = self.itemsize
        _check(self.fn(_handle(), op_b, op_a, n, m, k, self.alpha,
                       b + b_off * size, ld_b, s_b, a + a_off * size, ld_a, s_a,
                       self.beta, c, n, m * n, self.batch), "gemm")


def gemm_launch(params):
    """A Gemm for the matmul kernel's parameters (see cuda_steps.matmul_step), or None
    when cuBLAS cannot do this product (then dprog's kernel does)."""
    (c, a, a_off, a_bs, a_sm, a_sk, b, b_off, b_bs, b_sk, b_sn, batch, m, n, k) = params
    dtype = np.dtype(c.dtype)
    if dtype not in (np.float32, np.float64) or library() is None:
        return None
    m, n, k, batch = (p.value for p in (m, n, k, batch))
    if min(m, n, k, batch) <= 0 or max(m, n, k, batch) > INT_MAX:
        return None
    pa = column_major(m, k, a_sm.value, a_sk.value)   # A (m x k) read as A^T
    pb = column_major(k, n, b_sk.value, b_sn.value)   # B (k x n) read as B^T
    if pa is None or pb is None or max(pa[1], pb[1]) > INT_MAX:
        return None
    lib = library()
    fn = lib.cublasSgemmStridedBatched if dtype == np.float32 else lib.cublasDgemmStridedBatched
    return Gemm(fn, (pb[0], pa[0]), (n, m, k), (pb[1], pa[1]), (b_bs.value, a_bs.value),
                (c.slot, a.slot, b.slot), (a_off.value, b_off.value), dtype, batch)
