"""Device arrays and placement: dp.device_put, dp.block_until_ready, DeviceArray.

CUDA work runs asynchronously on one dprog stream per process. A DeviceArray is the
result type of CUDA calls: it exposes `__cuda_array_interface__` (zero-copy with CuPy,
PyTorch, Numba) and `__array__` (np.asarray(x) waits for the stream and copies to the
host). Any object with `__cuda_array_interface__` may be passed to a jitted function; it
is used in place, without a copy.

Placement: a jitted call with at least one CUDA array argument runs on CUDA (whatever the
jit's device); host (NumPy or Python scalar) arguments of a CUDA call are copied to the
device on every call, so keep repeated inputs on the device with dp.device_put.
Foreign arrays (CuPy, PyTorch) are read on dprog's stream: finish writing them (their
stream) before the call, as the CUDA Array Interface asks of producers.
"""
import threading

import numpy as np

from .errors import UnsupportedError, with_location

_state = threading.local()
_lock = threading.Lock()
_shared = {}


def cuda_module():
    """numba.cuda, or a DprogError saying how to get it."""
    _numpy_compat()
    try:
        from numba import cuda
    except ImportError as e:  # pragma: no cover - numba.cuda ships with numba-cuda or numba
        raise UnsupportedError(with_location(
            f"CUDA needs numba-cuda ({e}); install it with pip install 'dprog[cuda]'")) from None
    return cuda


def _numpy_compat():
    """numba-cuda (0.30 and earlier) registers a kernel overload of np.row_stack when it
    compiles its first kernel; NumPy 2.5 removed that name (an alias of np.vstack since
    NumPy 2.0), so every CUDA compile failed with an AttributeError. Restore the alias."""
    if "row_stack" not in np.__dict__:
        np.row_stack = np.vstack


def simulating():
    import numba
    return bool(numba.config.ENABLE_CUDASIM)


def check_available():
    cuda = cuda_module()
    if not simulating() and not cuda.is_available():
        raise UnsupportedError(with_location(
            "device='cuda' needs an NVIDIA GPU with a working driver (none was found); use "
            "device='cpu', or set NUMBA_ENABLE_CUDASIM=1 before importing numba to run "
            "CUDA kernels in Numba's simulator"))
    return cuda


def stream():
    """The process-wide dprog stream (created on first use)."""
    s = _shared.get("stream")
    if s is None:
        with _lock:
            s = _shared.get("stream")
            if s is None:
                s = _shared["stream"] = check_available().stream()
    return s


def is_cuda_array(x):
    return isinstance(x, DeviceArray) or hasattr(type(x), "__cuda_array_interface__")


class DeviceArray:
    """A contiguous array on the GPU made by dprog (a result of a CUDA call)."""
    __slots__ = ("_flat", "shape", "dtype", "__weakref__")
    __array_priority__ = 100

    def __init__(self, flat, shape, dtype):
        self._flat = flat          # 1-D Numba device array holding exactly size elements
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def device_buffer(self):
        """The 1-D Numba device array behind this array (for dprog's kernels)."""
        return self._flat

    @property
    def __cuda_array_interface__(self):
        flat = self._flat
        if _is_raw(flat):
            # "stream": consumers wait for dprog's stream before reading (results are
            # computed asynchronously).
            return {"shape": self.shape, "typestr": self.dtype.str, "strides": None,
                    "data": (flat.ptr, False), "version": 3, "stream": int(stream())}
        if not simulating():
            iface = dict(flat.__cuda_array_interface__)
            iface["shape"] = self.shape
            iface["strides"] = None
            return iface
        # The simulator's arrays live in host memory and have no interface of their
        # own; describe that memory so code written for the GPU can be tested.
        host = flat._ary if hasattr(flat, "_ary") else np.asarray(flat)
        return {"shape": self.shape, "typestr": self.dtype.str, "strides": None,
                "data": (host.__array_interface__["data"][0], False), "version": 3,
                "stream": None}

    def copy_to_host(self):
        if _is_raw(self._flat):
            return self._flat.copy_to_host().reshape(self.shape)
        host = self._flat.copy_to_host(stream=stream())
        stream().synchronize()
        # An empty array's buffer holds one element (CUDA has no empty allocations).
        return np.asarray(host).reshape(-1)[:self.size].reshape(self.shape)

    def __array__(self, dtype=None, copy=None):
        out = self.copy_to_host()
        return out if dtype is None else out.astype(dtype, copy=False)

    def block_until_ready(self):
        stream().synchronize()
        return self

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __repr__(self):
        return f"DeviceArray({self.copy_to_host()!r}, device='cuda')"

    def __float__(self):
        return float(self.copy_to_host())

    def __int__(self):
        return int(self.copy_to_host())


def _is_raw(flat):
    """Is a DeviceArray's buffer a cuda_driver.RawBuffer (on a GPU) rather than a Numba
    device array (simulator)?"""
    from .codegen.cuda_driver import RawBuffer
    return type(flat) is RawBuffer


def to_device_array(value, dtype=None):
    """A DeviceArray holding a copy of a host value (copied on the dprog stream)."""
    cuda = check_available()
    host = np.array(value, dtype=dtype, order="C")  # (ascontiguousarray makes 0-d 1-d)
    from .codegen import cuda_driver
    if cuda_driver.available():
        return DeviceArray(cuda_driver.upload(host.reshape(-1)), host.shape, host.dtype)
    flat = cuda.to_device(host.reshape(-1) if host.ndim != 1 else host, stream=stream())
    return DeviceArray(flat, host.shape, host.dtype)


def device_put(x, device="cuda"):
    """Copy a pytree's arrays to `device` ("cuda" or "cpu"); CUDA arrays stay as they are."""
    from .tree import tree_map
    if device == "cuda":
        return tree_map(lambda a: a if is_cuda_array(a) else to_device_array(_supported(a)), x)
    if device == "cpu":
        return tree_map(lambda a: np.asarray(a) if is_cuda_array(a) else a, x)
    raise UnsupportedError(with_location(f"device_put: device must be 'cuda' or 'cpu', got {device!r}"))


def _supported(a):
    from .staging import leaf_aval
    return np.asarray(a, dtype=leaf_aval(a).dtype)


def block_until_ready(tree):
    """Wait until the CUDA work producing `tree`'s arrays has finished; returns `tree`."""
    from .tree import tree_leaves
    if any(isinstance(a, DeviceArray) for a in tree_leaves(tree)):
        stream().synchronize()
    return tree
