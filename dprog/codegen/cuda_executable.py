"""The CUDA executable: plan a fused graph into steps once, then launch them per call.

A call converts its arguments to flat device buffers (CUDA arrays in place, host arrays
copied), runs every step on the dprog stream without waiting, and returns DeviceArrays.
Temporaries come from a pool of device buffers keyed by (size, dtype) and go back to it
right after their last reader is launched: the stream orders every later write after
those reads, so the reuse needs no synchronisation.
"""
import threading
import warnings

import numpy as np

from .. import device
from ..ir import Literal
from ..ops.contract import matmul_p
from ..ops.fusion import fusion_p
from ..ops import shape as sh
from ..ops.misc import cumsum_p
from ..ops.reduce import argmax_p, argmin_p
from ..ops.index import gather_p, scatter_add_p
from . import cuda_control, cuda_driver, cuda_graph
from . import cuda_steps as cs
from .cuda_layout import VIEW_OPS, collapse, fresh, view


class DevicePool:
    """Free device buffers by (size, dtype); thread-safe."""

    def __init__(self):
        self._free = {}
        self._lock = threading.Lock()

    def take(self, size, dtype):
        with self._lock:
            bucket = self._free.get((size, dtype))
            if bucket:
                return bucket.pop()
        if cuda_driver.available():
            return cuda_driver.RawBuffer.allocate(size, dtype)
        return device.cuda_module().device_array(max(size, 1), dtype, stream=device.stream())

    def give(self, buffer, size, dtype):
        with self._lock:
            self._free.setdefault((size, dtype), []).append(buffer)


_pool = DevicePool()


class CudaExecutable:
    """Runs a fused graph on the GPU: call with flat leaves, get DeviceArrays."""

    def __init__(self, graph, in_avals):
        cuda = device.check_available()
        self.graph, self.in_avals = graph, in_avals
        self.n_slots = 0
        self.layouts = {}
        self.steps = []
        self.temp = {}                       # slot -> (size, dtype) of pooled temporaries
        self.slot_info = {}                  # slot -> (size, dtype) of every buffer
        self.in_slots = [self._new_layout(v).slot for v in graph.invars]
        self.consts = []                     # (slot, device buffer), uploaded once
        for v, c in zip(graph.constvars, graph.consts):
            self.consts.append((self._new_layout(v).slot, _upload(cuda, c, v.aval.dtype)))
        for node in graph.nodes:
            self._plan(node)
        self.results = self._plan_results()
        self._plan_releases()
        self.replayer = None
        if cuda_driver.available():  # a real GPU: launch through the driver
            for step in self.steps:
                if isinstance(step, cs.Step):
                    step.prepare(self.slot_info)
            self.replayer = cuda_graph.Replayer()

    # ------------------------------------------------------------------ planning

    def _slot(self):
        self.n_slots += 1
        return self.n_slots - 1

    def _new_layout(self, var):
        lay = self.layouts[var.id] = self._fresh(var.aval)
        return lay

    def _fresh(self, aval):
        slot = self._slot()
        self.slot_info[slot] = (int(np.prod(aval.shape, dtype=np.int64)), np.dtype(aval.dtype))
        return fresh(slot, aval.shape)

    def _layout(self, x):
        if isinstance(x, Literal):  # a constant operand of a non-fused node
            lay = self._fresh(x.aval)
            self.consts.append((lay.slot, _upload(device.cuda_module(), x.value, x.aval.dtype)))
            return lay
        return self.layouts[x.id]

    def _add(self, step, node_outs):
        self.steps.append(step)
        for slot, size, dtype in step.allocs:
            self.temp[slot] = (size, dtype)

    def _contiguous(self, x):
        """x's layout, copied to a fresh buffer first if it is not contiguous."""
        lay = self._layout(x)
        return lay if lay.is_contiguous() else self._copy(lay, x.aval)

    def _copy(self, lay, aval):
        out = self._fresh(aval)
        self._add(cs.copy_step(lay, aval, out.slot), None)
        return out

    def _plan(self, node):
        op = node.op
        if op is fusion_p:
            outs = [self._new_layout(v) for v in node.outs]
            ins = [self._layout(x) for x in node.inputs]
            sub, shape, out_slots = node.params["graph"], tuple(node.params["shape"]), [o.slot for o in outs]
            if node.params.get("rows") is not None:  # a row kernel (passes/fuse_rows.py)
                self._add(cs.row_fusion_step(sub, shape, node.params["rows"], ins, out_slots), node.outs)
            else:
                self._add(cs.fusion_step(sub, shape, ins, out_slots), node.outs)
        elif op in VIEW_OPS:
            src = self._layout(node.inputs[0])
            lay = view(node, src)
            if lay is None:  # reshape of a strided view: copy, then view
                lay = view(node, self._copy(src, node.inputs[0].aval))
            self.layouts[node.outs[0].id] = lay
        elif op is matmul_p:
            a, b = (self._operand_for_matmul(x) for x in node.inputs)
            out = self._new_layout(node.outs[0])
            self._add(cs.matmul_step(a[0], b[0], a[1], b[1], node.outs[0].aval, out.slot), node.outs)
        elif op is gather_p:
            x, idx = (self._contiguous(v) for v in node.inputs)
            out = self._new_layout(node.outs[0])
            self._add(cs.gather_step(x, idx, node.params["axis"], node.outs[0].aval, out.slot), node.outs)
        elif op is scatter_add_p:
            upd, idx = (self._contiguous(v) for v in node.inputs)
            out = self._new_layout(node.outs[0])
            self._add(cs.scatter_add_step(upd, idx, node.params["axis"], node.params["size"],
                                          node.outs[0].aval, out.slot), node.outs)
        elif op is sh.pad_p and node.outs[0].aval.ndim > 0:
            x, v = (self._layout(x) for x in node.inputs)
            out = self._new_layout(node.outs[0])
            self._add(cs.pad_step(x, v, node.params, node.outs[0].aval, out.slot), node.outs)
        elif op is sh.concatenate_p:
            ins = [self._layout(x) for x in node.inputs]
            out = self._new_layout(node.outs[0])
            self._add(cs.concatenate_step(ins, node.params["axis"], node.outs[0].aval, out.slot), node.outs)
        elif op in (argmax_p, argmin_p) and node.inputs[0].aval.size > 0:
            x = self._contiguous(node.inputs[0])
            out = self._new_layout(node.outs[0])
            self._add(cs.arg_extreme_step(x, node.params["axis"], op is argmax_p, node.outs[0].aval,
                                          out.slot), node.outs)
        elif op is cumsum_p and node.inputs[0].aval.dtype.kind in "iuf":
            x = self._contiguous(node.inputs[0])
            out = self._new_layout(node.outs[0])
            self._add(cs.cumsum_step(x, node.params["axis"], node.params["reverse"], node.outs[0].aval,
                                     out.slot), node.outs)
        elif op in cuda_control.CONTROL_OPS:  # scan, while, cond: bodies run on the GPU
            ins = [self._contiguous(x) for x in node.inputs]
            outs = [self._new_layout(v) for v in node.outs]
            self._add(cuda_control.control_step(node, ins, outs), node.outs)
        else:
            ins = [self._layout(x) for x in node.inputs]
            outs = [self._new_layout(v) for v in node.outs]
            self.steps.append(HostStep(node, ins, outs))

    def _operand_for_matmul(self, x):
        lay = self._layout(x)
        batch = collapse(lay, range(len(lay.shape) - 2))
        if batch is None:
            lay = self._copy(lay, x.aval)
            batch = collapse(lay, range(len(lay.shape) - 2))
        return lay, batch

    def _plan_results(self):
        """(slot, shape, dtype) per output; outputs that are views, inputs, constants or
        repeats of another output are copied, so every result owns its buffer."""
        results, owned = [], set()
        for v in self.graph.outvars:
            lay = self._layout(v)
            if (lay.slot not in self.temp or lay.slot in owned or lay.offset != 0
                    or not lay.is_contiguous() or self.temp[lay.slot][0] != lay.size):
                lay = self._copy(lay, v.aval)
            owned.add(lay.slot)
            results.append((lay.slot, v.aval.shape, v.aval.dtype))
        return results

    def _plan_releases(self):
        """Give each pooled temporary back after the last step that reads it."""
        returned = {slot for slot, _, _ in self.results}
        last = {}
        for i, step in enumerate(self.steps):
            for slot in step.reads():
                last[slot] = i
            for slot, _, _ in step.allocs:
                last.setdefault(slot, i)
        self.releases = [[] for _ in self.steps]
        for slot, i in last.items():
            if slot in self.temp and slot not in returned:
                self.releases[i].append(slot)

    # ------------------------------------------------------------------ running

    def __call__(self, leaves):
        stream = device.stream()
        graph = self.replayer.graph_for(self) if self.replayer is not None else None
        if graph is not None:  # the steps replayed as one CUDA graph (codegen/cuda_graph.py)
            return graph([_flat_input(leaf, aval, stream) for leaf, aval in zip(leaves, self.in_avals)])
        env = [None] * self.n_slots
        for slot, buf in self.consts:
            env[slot] = buf
        for slot, leaf, aval in zip(self.in_slots, leaves, self.in_avals):
            env[slot] = _flat_input(leaf, aval, stream)
        for step, release in zip(self.steps, self.releases):
            for slot, size, dtype in step.allocs:
                env[slot] = _pool.take(size, dtype)
            step.run(env, stream)
            for slot in release:
                _pool.give(env[slot], *self.temp[slot])
        return [device.DeviceArray(env[slot], shape, dtype) for slot, shape, dtype in self.results]


def _upload(cuda, value, dtype):
    host = np.ascontiguousarray(np.asarray(value, dtype=dtype)).reshape(-1)
    if cuda_driver.available():
        return cuda_driver.upload(host)
    return cuda.to_device(host if host.size else np.zeros(1, dtype), stream=device.stream())


def _flat_input(leaf, aval, stream):
    """A flat device buffer with leaf's elements in C order (no copy for contiguous
    CUDA arrays; host arrays are copied, as documented in dprog/device.py)."""
    if isinstance(leaf, device.DeviceArray):
        return leaf.device_buffer()
    cuda = device.cuda_module()
    driver = cuda_driver.available()
    if hasattr(type(leaf), "__cuda_array_interface__"):
        typestr = np.dtype(leaf.__cuda_array_interface__["typestr"])
        if typestr != aval.dtype:
            from ..errors import DtypeError, with_location
            raise DtypeError(with_location(
                f"a CUDA argument has dtype {typestr}; dprog supports "
                f"float32/float64/int32/int64/bool: convert it on the device first"))
        if driver:
            buf = cuda_driver.borrow(leaf, aval.dtype)
            if buf is not None:
                return buf
        arr = cuda.as_cuda_array(leaf)
        if arr.is_c_contiguous():
            return arr.reshape(-1) if arr.ndim != 1 else arr
        host = arr.copy_to_host(stream=stream)  # strided foreign view: rare, copy
        return _upload(cuda, host, aval.dtype)
    return _upload(cuda, leaf, aval.dtype)


_warned = set()


class HostStep:
    """Fallback for ops with no CUDA kernel (control flow, sort, cumsum, ...): copies
    operands to the host, runs the CPU implementation, copies results back. This waits
    for the stream: the one place a CUDA call synchronises. Warns once per op."""

    def __init__(self, node, ins, outs):
        self.node, self.ins, self.outs = node, ins, outs
        self.allocs, self.fills = [], []
        from .cpu_driver import _bound_impl
        self.impl = _bound_impl(node)
        if node.op.name not in _warned:
            _warned.add(node.op.name)
            warnings.warn(f"dprog: '{node.op.name}' has no CUDA kernel yet; it runs on the host "
                          f"(copies and a stream synchronisation per call)", RuntimeWarning, stacklevel=2)

    def reads(self):
        return [lay.slot for lay in self.ins]

    def run(self, env, stream):
        cuda = device.cuda_module()
        args = [_host_view(env[lay.slot], lay, stream) for lay in self.ins]
        outs = self.impl(*args)
        outs = outs if self.node.op.multiple_results else [outs]
        for lay, v, value in zip(self.outs, self.node.outs, outs):
            env[lay.slot] = _upload(cuda, value, v.aval.dtype)


def _host_view(buffer, lay, stream):
    if isinstance(buffer, cuda_driver.RawBuffer):
        flat = buffer.copy_to_host()
    else:
        flat = np.asarray(buffer.copy_to_host(stream=stream))
        stream.synchronize()
    if not lay.shape:
        return flat[lay.offset].copy()
    index = lay.offset + sum(np.arange(n).reshape((-1,) + (1,) * (len(lay.shape) - d - 1)) * s
                             for d, (n, s) in enumerate(zip(lay.shape, lay.strides)))
    return flat[index]

