"""The CUDA driver, called directly for the per-call path on a real GPU.

Numba compiles dprog's kernels; launching them through Numba costs about 45 us of Python
per launch (measured on an H200 host, benchmarks/RESULTS.md), and a Numba device
allocation is a cuMemAlloc whose deferred cuMemFree synchronises the device. A dprog
call on a GPU makes tens of launches and allocates every result, so on hardware:

  * kernels are launched with cuLaunchKernel from a parameter block built when the call
    is planned (`Launch`); a call only writes the buffers' addresses into it;
  * memory comes from the device's stream-ordered pool (cuMemAllocAsync and
    cuMemFreeAsync on dprog's stream), whose release threshold is raised so that freed
    memory is reused instead of returned to the driver at every synchronisation.

The simulator has no driver: there every path keeps Numba's arrays and launches.
"""
import contextlib
import ctypes
import ctypes.util
import struct
import threading
import weakref

import numpy as np

from .. import device

_lock = threading.Lock()
_state = {}
_thread = threading.local()

CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4


class DriverError(RuntimeError):
    pass


def _library():
    lib = _state.get("lib")
    if lib is not None:
        return lib
    with _lock:
        if "lib" not in _state:
            name = ctypes.util.find_library("cuda") or "libcuda.so.1"
            lib = ctypes.CDLL(name)
            u32, vp, u64 = ctypes.c_uint, ctypes.c_void_p, ctypes.c_uint64
            lib.cuLaunchKernel.argtypes = [vp, u32, u32, u32, u32, u32, u32, u32, vp, vp, vp]
            lib.cuMemAllocAsync.argtypes = [ctypes.POINTER(u64), ctypes.c_size_t, vp]
            lib.cuMemFreeAsync.argtypes = [u64, vp]
            lib.cuMemcpyHtoDAsync_v2.argtypes = [u64, vp, ctypes.c_size_t, vp]
            lib.cuMemcpyDtoHAsync_v2.argtypes = [vp, u64, ctypes.c_size_t, vp]
            lib.cuMemcpyDtoDAsync_v2.argtypes = [u64, u64, ctypes.c_size_t, vp]
            lib.cuStreamSynchronize.argtypes = [vp]
            lib.cuDeviceGetDefaultMemPool.argtypes = [ctypes.POINTER(vp), ctypes.c_int]
            lib.cuMemPoolSetAttribute.argtypes = [vp, ctypes.c_int, vp]
            _state["lib"] = lib
    return _state["lib"]


def available():
    """True on a real GPU whose driver library dprog can call (not in the simulator)."""
    ok = _state.get("available")
    if ok is None:
        ok = False
        if not device.simulating():
            try:
                _library()
                _setup_pool()
                ok = True
            except (OSError, AttributeError, DriverError) as e:
                import warnings
                warnings.warn(f"dprog: the CUDA driver library could not be used directly ({e}); "
                              f"launching through Numba instead (slower calls)", RuntimeWarning)
        _state["available"] = ok
    return ok


def _check(rc, what):
    if rc != 0:
        raise DriverError(f"{what} failed with CUDA error {rc}")


def ensure_context():
    """Make the device's primary context current on this thread (driver calls need it;
    Numba sets it up on the threads it runs on)."""
    if not getattr(_thread, "ready", False):
        device.cuda_module().current_context()
        _thread.ready = True


def stream_handle():
    """dprog's stream, or the stream a `launching_on` block on this thread names."""
    h = getattr(_thread, "stream", None)
    return h if h is not None else dprog_stream_handle()


def dprog_stream_handle():
    """dprog's stream, whatever block this thread is in."""
    h = _state.get("stream")
    if h is None:
        h = _state["stream"] = ctypes.c_void_p(int(device.stream()))
    return h


@contextlib.contextmanager
def launching_on(stream):
    """Launches made by this thread inside the block go to `stream` (a CUDA graph's
    capture stream, codegen/cuda_graph.py) instead of dprog's stream."""
    _thread.stream = stream
    try:
        yield
    finally:
        _thread.stream = None


def _setup_pool():
    lib = _library()
    ensure_context()
    pool = ctypes.c_void_p()
    dev = device.cuda_module().get_current_device().id
    _check(lib.cuDeviceGetDefaultMemPool(ctypes.byref(pool), dev), "cuDeviceGetDefaultMemPool")
    threshold = ctypes.c_uint64(2 ** 64 - 1)  # keep freed memory in the pool
    _check(lib.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, ctypes.byref(threshold)),
           "cuMemPoolSetAttribute")


# ---------------------------------------------------------------------------- memory

def _free(ptr, stream):
    try:
        ensure_context()
        _library().cuMemFreeAsync(ptr, stream)
    except Exception:  # interpreter shutdown: the context may be gone already
        pass


class RawBuffer:
    """`size` elements of `dtype` on the device at address `ptr`. An owned buffer goes back
    to the stream-ordered pool when it is garbage (after the work queued on dprog's
    stream); a borrowed one (a foreign CUDA array's memory) keeps its owner alive."""
    __slots__ = ("ptr", "size", "dtype", "owner", "__weakref__")

    def __init__(self, ptr, size, dtype, owner=None):
        self.ptr, self.size, self.dtype, self.owner = ptr, size, np.dtype(dtype), owner

    @classmethod
    def allocate(cls, size, dtype):
        ensure_context()
        nbytes = max(int(size), 1) * np.dtype(dtype).itemsize
        ptr = ctypes.c_uint64()
        stream = stream_handle()
        _check(_library().cuMemAllocAsync(ctypes.byref(ptr), nbytes, stream), "cuMemAllocAsync")
        buf = cls(ptr.value, size, dtype)
        weakref.finalize(buf, _free, ptr.value, stream)
        return buf

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    def copy_to_host(self):
        """A host copy (waits for dprog's stream)."""
        host = np.empty(max(self.size, 1), self.dtype)
        if self.size:
            ensure_context()
            lib = _library()
            _check(lib.cuMemcpyDtoHAsync_v2(host.ctypes.data, self.ptr, self.nbytes, stream_handle()),
                   "cuMemcpyDtoHAsync")
        synchronize()
        return host[:self.size]


def upload(host):
    """A new RawBuffer holding the C-ordered elements of the host array `host`."""
    host = np.ascontiguousarray(host)
    buf = RawBuffer.allocate(host.size, host.dtype)
    if host.size:
        _check(_library().cuMemcpyHtoDAsync_v2(buf.ptr, host.ctypes.data, host.nbytes, stream_handle()),
               "cuMemcpyHtoDAsync")
        # A pageable host copy is staged by the driver before the call returns, so `host`
        # may be freed at once.
    return buf


def copy_pointers(dst_ptr, src_ptr, nbytes):
    """Device-to-device copy between addresses, on dprog's stream."""
    if nbytes:
        _check(_library().cuMemcpyDtoDAsync_v2(dst_ptr, src_ptr, nbytes, stream_handle()), "cuMemcpyDtoDAsync")


def borrow(array, dtype):
    """A RawBuffer over a C-contiguous foreign CUDA array (no copy), or None if it is
    strided. The CUDA Array Interface says the consumer keeps the producer alive."""
    iface = array.__cuda_array_interface__
    shape = tuple(iface["shape"])
    size = int(np.prod(shape, dtype=np.int64))
    strides = iface.get("strides")
    if strides is not None:
        itemsize = np.dtype(iface["typestr"]).itemsize
        expect, s = [], itemsize
        for n in reversed(shape):
            expect.append(s)
            s *= n
        if any(n != 1 and a != b for n, a, b in zip(shape, strides, reversed(expect))):
            return None
    return RawBuffer(iface["data"][0], size, dtype, owner=array)


def synchronize():
    ensure_context()
    _check(_library().cuStreamSynchronize(stream_handle()), "cuStreamSynchronize")


# ---------------------------------------------------------------------------- launches

class Param:
    """One kernel parameter known when planning: a slot's buffer (filled in per call) or a
    scalar of a Numba type."""
    __slots__ = ("slot", "size", "dtype", "value", "nbtype")

    def __init__(self, slot=None, size=0, dtype=None, value=None, nbtype=None):
        self.slot, self.size, self.dtype, self.value, self.nbtype = slot, size, dtype, value, nbtype


_SCALAR_FORMAT = {"int64": "<q", "int32": "<i", "uint64": "<Q", "float64": "<d", "float32": "<f",
                  "bool": "<?", "int8": "<b", "uint8": "<B"}


def pack_params(params):
    """The parameter block of a Numba kernel: (values, fixups), where values is one 8-byte
    word per kernel parameter and fixups lists (word index, slot) pairs whose word gets
    the slot's device address at launch.

    Numba passes a 1-D array as seven parameters: meminfo, parent, nitems, itemsize,
    data, shape[0], strides[0] (bytes); a scalar as one parameter of its own size (the
    driver reads that many bytes from the word's start, little-endian)."""
    words, fixups = [], []
    for p in params:
        if p.slot is not None:
            itemsize = np.dtype(p.dtype).itemsize
            words += [0, 0, p.size, itemsize]
            fixups.append((len(words), p.slot))
            words += [0, p.size, itemsize]
        else:
            raw = struct.pack(_SCALAR_FORMAT[p.nbtype], p.value)
            words.append(int.from_bytes(raw.ljust(8, b"\0"), "little"))
    return words, fixups


def numba_signature(params):
    import numba
    sig = []
    for p in params:
        if p.slot is not None:
            sig.append(numba.from_dtype(np.dtype(p.dtype))[::1])
        else:
            sig.append(getattr(numba, "boolean" if p.nbtype == "bool" else p.nbtype))
    return tuple(sig)


def scalar_param(value):
    """A Param for a Python or NumPy scalar, typed as Numba types it at a launch."""
    if isinstance(value, (bool, np.bool_)):
        return Param(value=bool(value), nbtype="bool")
    if isinstance(value, np.generic):
        return Param(value=value.item(), nbtype=np.dtype(type(value)).name)
    if isinstance(value, int):
        return Param(value=value, nbtype="int64")
    if isinstance(value, float):
        return Param(value=value, nbtype="float64")
    raise TypeError(f"unsupported kernel scalar {value!r}")


class Launch:
    """One kernel launch with its parameter block prepared: per call, write the buffers'
    addresses and call cuLaunchKernel."""
    __slots__ = ("launch", "handle", "grid", "block", "words", "pointers", "fixups")

    def __init__(self, dispatcher, params, grid, block):
        sig = numba_signature(params)
        kernel = dispatcher.compile(sig)
        cufunc = kernel._codelibrary.get_cufunc()
        self.handle = ctypes.c_void_p(int(cufunc.handle))
        block = block if isinstance(block, tuple) else (block,)
        self.block = tuple(block) + (1,) * (3 - len(block))
        self.grid = _fit_grid(cufunc, int(grid), int(np.prod(block)))
        values, fixups = pack_params(params)
        self.words = (ctypes.c_uint64 * max(len(values), 1))(*values)
        base = ctypes.addressof(self.words)
        self.pointers = (ctypes.c_void_p * max(len(values), 1))(*[base + 8 * i for i in range(len(values))])
        self.fixups = tuple(fixups)
        self.launch = _library().cuLaunchKernel

    def run(self, env, stream):
        words = self.words
        for i, slot in self.fixups:
            words[i] = env[slot].ptr
        bx, by, bz = self.block
        _check(self.launch(self.handle, self.grid, 1, 1, bx, by, bz, 0, stream, self.pointers, None),
               "cuLaunchKernel")


def _fit_grid(cufunc, grid, threads):
    """At most as many blocks as the device runs at once for this kernel (its registers
    decide): every dprog kernel strides over its work, so extra blocks only add a tail."""
    try:
        ctx = device.cuda_module().current_context()
        active = ctx.get_active_blocks_per_multiprocessor(cufunc, threads, 0)
        sms = ctx.device.MULTIPROCESSOR_COUNT
        if active > 0:
            return max(1, min(grid, active * sms))
    except Exception:
        pass
    return max(1, grid)
