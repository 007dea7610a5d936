"""Replaying a CUDA executable as one CUDA graph.

A cache-hit call on a real GPU launches its steps from Python: on the H200 host about
10 us per kernel launch and 20 us per cuBLAS product (benchmarks/RESULTS.md, eighth and
fourteenth sessions). The MLP training step makes 15 launches and 8 products, so the GPU
waits for the host. Once an executable has run WARM_CALLS times (its kernels compiled,
the thread's cuBLAS handle made), and when the model below says it pays, its steps are
captured once into a CUDA graph over buffers the graph owns. Every later call then:

  1. copies its inputs into the graph's input buffers (device to device);
  2. launches the graph: one driver call;
  3. copies each result into a fresh buffer from the stream-ordered pool.

All of it is queued on dprog's stream, so nothing waits for the device, and results are
fresh arrays as on the step-by-step path. A captured executable keeps its graph's buffers
(inputs, temporaries with the step-by-step path's reuse, results: one call's working set)
for as long as it lives. The cost model counts the bytes copied, so a program whose inputs
and results are large next to the launches a graph saves is not captured. A lock per
executable keeps two threads' copy/launch/copy sequences from interleaving over the
shared buffers.

Capture runs on a private stream of the capturing thread (other threads keep launching on
dprog's stream meanwhile), with the steps' own launch code. Executables with a host step
or control flow (their loops run from the host) are never captured. A driver error while
capturing gives up graphs for that executable with one warning; the steps run as before.

DPROG_CUDA_GRAPHS=0 (dp.config.cuda_graphs = False) turns replay off.
"""
import ctypes
import threading
import warnings
import weakref

from ..config import config
from . import cuda_driver
from . import cuda_steps as cs

WARM_CALLS = 2
CU_STREAM_NON_BLOCKING = 1
CU_STREAM_CAPTURE_MODE_RELAXED = 2

# Host cost model, in microseconds, from the H200 host's profiles: a kernel launch, a
# cuBLAS product, one copy or the graph launch. A graph pays where the launches it
# replaces cost more than its copies, with MIN_SAVING_US to spare; the copies' device
# time counts too (bytes at COPY_BYTES_PER_US, read + write).
LAUNCH_US, GEMM_US, COPY_US, GRAPH_LAUNCH_US = 10.0, 20.0, 3.0, 8.0
MIN_SAVING_US = 20.0
COPY_BYTES_PER_US = 1.5e6


def _functions():
    lib = cuda_driver._library()
    if not getattr(lib, "_dprog_graph_types", False):
        vp = ctypes.c_void_p
        lib.cuStreamCreate.argtypes = [ctypes.POINTER(vp), ctypes.c_uint]
        lib.cuStreamBeginCapture_v2.argtypes = [vp, ctypes.c_int]
        lib.cuStreamEndCapture.argtypes = [vp, ctypes.POINTER(vp)]
        lib.cuGraphInstantiateWithFlags.argtypes = [ctypes.POINTER(vp), vp, ctypes.c_ulonglong]
        lib.cuGraphLaunch.argtypes = [vp, vp]
        lib.cuGraphDestroy.argtypes = [vp]
        lib.cuGraphExecDestroy.argtypes = [vp]
        lib._dprog_graph_types = True
    return lib


def estimated_saving_us(executable):
    """Host time a replay saves per call (can be negative), by the model above."""
    launches = gemms = 0
    for step in executable.steps:
        for launch in getattr(step, "prepared", None) or ():
            if type(launch) is cuda_driver.Launch:
                launches += 1
            else:
                gemms += 1
    copies = len(executable.in_slots) + len(executable.results)
    copied = sum(executable.slot_info[s][0] * executable.slot_info[s][1].itemsize
                 for s in list(executable.in_slots) + [slot for slot, _, _ in executable.results])
    replaced = LAUNCH_US * launches + GEMM_US * gemms
    return replaced - GRAPH_LAUNCH_US - COPY_US * copies - 2 * copied / COPY_BYTES_PER_US


def capturable(executable):
    """Every step is a prepared kernel/product step (no host step, no control flow)."""
    return bool(executable.steps) and all(type(s) is cs.Step and s.prepared is not None
                                          for s in executable.steps)


class GraphReplay:
    """The captured graph of one executable and the buffers it reads and writes."""

    def __init__(self, executable):
        lib = _functions()
        self.lib = lib
        env = [None] * executable.n_slots
        for slot, buf in executable.consts:
            env[slot] = buf
        owned = []                      # every buffer the graph's addresses point into
        self.inputs = []                # (graph buffer, nbytes) per input slot
        for slot in executable.in_slots:
            size, dtype = executable.slot_info[slot]
            env[slot] = cuda_driver.RawBuffer.allocate(size, dtype)
            owned.append(env[slot])
            self.inputs.append((env[slot].ptr, size * dtype.itemsize))
        free = {}                       # the executable's pool reuse, with private buffers
        for step, release in zip(executable.steps, executable.releases):
            for slot, size, dtype in step.allocs:
                bucket = free.get((size, dtype))
                env[slot] = bucket.pop() if bucket else cuda_driver.RawBuffer.allocate(size, dtype)
                owned.append(env[slot])
            for slot in release:
                free.setdefault(executable.temp[slot], []).append(env[slot])
        self.results = []               # (graph buffer, size, dtype, shape) per result
        for slot, shape, _ in executable.results:
            size, dtype = executable.temp[slot]
            self.results.append((env[slot].ptr, size, dtype, shape))
        self.owned = owned
        cuda_driver.synchronize()       # the graph's buffers exist before it is captured
        self.exec = _capture(lib, executable.steps, env)
        weakref.finalize(self, _destroy, lib, self.exec)
        self.lock = threading.Lock()

    def __call__(self, input_buffers):
        from ..device import DeviceArray
        stream = cuda_driver.stream_handle()
        lib = self.lib
        copy = lib.cuMemcpyDtoDAsync_v2
        outs = []
        with self.lock:
            for (dst, nbytes), src in zip(self.inputs, input_buffers):
                if nbytes:
                    cuda_driver._check(copy(dst, src.ptr, nbytes, stream), "cuMemcpyDtoDAsync")
            cuda_driver._check(lib.cuGraphLaunch(self.exec, stream), "cuGraphLaunch")
            for src, size, dtype, shape in self.results:
                buf = cuda_driver.RawBuffer.allocate(size, dtype)
                if size:
                    cuda_driver._check(copy(buf.ptr, src, size * dtype.itemsize, stream), "cuMemcpyDtoDAsync")
                outs.append(DeviceArray(buf, shape, dtype))
        return outs


def _destroy(lib, graph_exec):
    try:
        cuda_driver.ensure_context()
        lib.cuGraphExecDestroy(graph_exec)
    except Exception:  # interpreter shutdown: the context may be gone already
        pass


_thread = threading.local()
_capture_lock = threading.Lock()


def _capture_stream(lib):
    s = getattr(_thread, "capture_stream", None)
    if s is None:
        s = ctypes.c_void_p()
        cuda_driver._check(lib.cuStreamCreate(ctypes.byref(s), CU_STREAM_NON_BLOCKING), "cuStreamCreate")
        _thread.capture_stream = s
    return s


def _capture(lib, steps, env):
    """Record the steps' launches on this thread's capture stream; the graph, instantiated."""
    from . import cuda_blas
    stream = _capture_stream(lib)
    graph = ctypes.c_void_p()
    # Entered before the capture begins: products_on may first create the thread's
    # cuBLAS handle, which allocates.
    with cuda_driver.launching_on(stream), cuda_blas.products_on(stream):
        cuda_driver._check(lib.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_RELAXED),
                           "cuStreamBeginCapture")
        try:
            for step in steps:
                step.run(env, None)
        finally:  # always end the capture, so that the stream is usable again
            rc = lib.cuStreamEndCapture(stream, ctypes.byref(graph))
    cuda_driver._check(rc, "cuStreamEndCapture")
    try:
        graph_exec = ctypes.c_void_p()
        cuda_driver._check(lib.cuGraphInstantiateWithFlags(ctypes.byref(graph_exec), graph, 0),
                           "cuGraphInstantiate")
    finally:
        lib.cuGraphDestroy(graph)
    return graph_exec


class Replayer:
    """Per executable: counts calls, captures when due, and remembers a failure."""
    __slots__ = ("calls", "graph", "given_up")

    def __init__(self):
        self.calls, self.graph, self.given_up = 0, None, False

    def graph_for(self, executable):
        """The GraphReplay to run this call with, or None for the step-by-step path."""
        if self.graph is not None:
            return self.graph
        if self.given_up or not config.cuda_graphs:
            return None
        with _capture_lock:  # one thread decides and captures
            if self.graph is not None or self.given_up:
                return self.graph
            self.calls += 1
            if self.calls <= WARM_CALLS:
                return None
            self.given_up = True  # decided once: capture now or never
            if not (capturable(executable) and estimated_saving_us(executable) >= MIN_SAVING_US):
                return None
            try:
                graph = GraphReplay(executable)
            except (cuda_driver.DriverError, OSError, AttributeError) as e:
                warnings.warn(f"dprog: a CUDA graph could not be captured ({e}); this function keeps "
                              f"launching its kernels one by one", RuntimeWarning, stacklevel=4)
                return None
            self.graph, self.given_up = graph, False
            return graph
