"""Moving arrays through MPI: host buffers, and how GPU buffers get there.

mpi4py takes NumPy arrays directly, and GPU arrays through `__cuda_array_interface__`
when the MPI library is CUDA-aware (it reads device memory itself, over NVLink or
GPUDirect RDMA). The Open MPI wheel on PyPI is built without CUDA, so by default a GPU
array is *staged*: copied to host memory, reduced there, copied back. That costs two
PCIe transfers per collective but works with any MPI. Set DPROG_MPI_CUDA_AWARE=1 (or 0)
to override the detection.
"""
import ctypes
import os

import numpy as np

_cuda_aware = None


def is_device_array(x):
    if isinstance(x, np.ndarray):
        return False
    # Numba's CUDA simulator arrays have no __cuda_array_interface__: recognising them
    # lets the staging path run (and be tested) on machines without a GPU.
    return hasattr(x, "__cuda_array_interface__") or type(x).__name__ == "FakeCUDAArray"


def mpi_is_cuda_aware():
    """Ask the MPI library (Open MPI's MPIX_Query_cuda_support), once per process."""
    global _cuda_aware
    if _cuda_aware is None:
        forced = os.environ.get("DPROG_MPI_CUDA_AWARE")
        _cuda_aware = forced == "1" if forced in ("0", "1") else _query_library()
    return _cuda_aware


def _query_library():
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "/libmpi.so" in line})
        for path in paths:
            query = getattr(ctypes.CDLL(path), "MPIX_Query_cuda_support", None)
            if query is not None:
                query.restype = ctypes.c_int
                return bool(query())
    except OSError:
        pass
    return False  # MPICH and others: not detectable here, assume host staging


def to_host(x):
    """(contiguous NumPy array, was_on_device)."""
    if is_device_array(x):
        if hasattr(x, "copy_to_host"):  # Numba device arrays
            return np.asarray(x.copy_to_host(), order="C"), True
        from numba import cuda  # CuPy, PyTorch, ...: view through the interface
        return cuda.as_cuda_array(x).copy_to_host(), True
    return np.asarray(x, order="C"), False  # (ascontiguousarray would make 0-d 1-d)


def like_input(host, was_on_device):
    if was_on_device:
        from numba import cuda
        return cuda.to_device(host)
    return host


_MPI_OPS = {"sum": "SUM", "max": "MAX"}


def allreduce(group, x, op):
    """Sum or max of x over the group's processes, on every process."""
    if is_device_array(x) and mpi_is_cuda_aware():
        from numba import cuda
        out = cuda.device_array_like(x)
        group.comm.Allreduce(x, out, op=_mpi_op(op))
        return out
    host, on_device = to_host(x)
    carrier = host.astype(np.uint8) if host.dtype == np.bool_ else host  # no MAX on C bool
    out = np.empty_like(carrier)
    group.comm.Allreduce(carrier, out, op=_mpi_op(op))
    return like_input(out.astype(np.bool_) if host.dtype == np.bool_ else out, on_device)


def allgather(group, x):
    """x of every process stacked along a new leading axis (rank order)."""
    if is_device_array(x) and mpi_is_cuda_aware():
        from numba import cuda
        out = cuda.device_array((group.size,) + tuple(x.shape), dtype=x.dtype)
        group.comm.Allgather(x, out)
        return out
    host, on_device = to_host(x)
    out = np.empty((group.size,) + host.shape, host.dtype)
    group.comm.Allgather(host, out)
    return like_input(out, on_device)


def _mpi_op(name):
    from mpi4py import MPI
    return getattr(MPI, _MPI_OPS[name])
