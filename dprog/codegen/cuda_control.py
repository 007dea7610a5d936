"""Control flow on the GPU: scan, while and cond run their bodies as CUDA executables of
their own (planned and compiled once per body), called from the host loop; every launch
goes to dprog's stream.

  scan   no host synchronisation: each iteration reads the carry and a view of xs[t]
         (no copy), and its ys are copied into the stacked outputs on the stream;
  while  the condition's bool is read back every iteration (one synchronisation per
         iteration, as XLA's GPU while loop does), then the body runs;
  cond   the branch index is read back (one synchronisation), then one branch runs.

Before, these ops ran on the host (HostStep): every operand was copied to host memory
and the whole loop ran on the CPU.
"""
import numpy as np

from .. import device
from ..ops.control_cond import cond_p
from ..ops.control_loops import scan_p, while_p
from . import cuda_driver
from .cuda_steps import _size

CONTROL_OPS = (scan_p, while_p, cond_p)


def sub_executable(graph):
    """The CUDA executable of a control op's body (made once per body graph)."""
    executable = getattr(graph, "_cuda_executable", None)
    if executable is None:
        from ..passes import run_pipeline
        from ..runtime import make_executable
        optimised = run_pipeline(graph)
        executable = make_executable(optimised, [v.aval for v in optimised.invars], "cuda")
        graph._cuda_executable = executable
    return executable


def view_buffer(buf, offset, size, dtype):
    """`size` elements of `buf` from element `offset`, without a copy."""
    if offset == 0 and size == buf.size:
        return buf
    if isinstance(buf, cuda_driver.RawBuffer):
        return cuda_driver.RawBuffer(buf.ptr + offset * buf.dtype.itemsize, size, dtype, owner=buf)
    return buf[offset:offset + size]  # a Numba device array view (the simulator)


def copy_into(dst, offset, src, size, stream):
    """dst[offset:offset + size] = src[:size], on the stream."""
    if size == 0:
        return
    if isinstance(dst, cuda_driver.RawBuffer):
        itemsize = dst.dtype.itemsize
        cuda_driver.copy_pointers(dst.ptr + offset * itemsize, src.ptr, size * itemsize)
    else:
        dst[offset:offset + size].copy_to_device(src[:size], stream=stream)


class _Operand:
    """A contiguous operand of a control op: its layout and aval."""
    __slots__ = ("slot", "offset", "shape", "dtype", "size")

    def __init__(self, layout, aval):
        self.slot, self.offset = layout.slot, layout.offset
        self.shape, self.dtype = tuple(aval.shape), np.dtype(aval.dtype)
        self.size = _size(aval.shape)

    def array(self, env):
        return device.DeviceArray(view_buffer(env[self.slot], self.offset, self.size, self.dtype),
                                  self.shape, self.dtype)


class ControlStep:
    """Common planning data; `outs` are the layouts of the node's results."""

    def __init__(self, node, ins, outs):
        self.node = node
        self.operands = [_Operand(lay, x.aval) for lay, x in zip(ins, node.inputs)]
        self.outs = outs
        self.allocs, self.fills = [], []

    def reads(self):
        return [op.slot for op in self.operands]

    def _set_results(self, env, arrays, layouts):
        for lay, a in zip(layouts, arrays):
            env[lay.slot] = a.device_buffer()


class ScanStep(ControlStep):
    def __init__(self, node, ins, outs):
        super().__init__(node, ins, outs)
        p = node.params
        self.body = sub_executable(p["body"])
        self.nk, self.nc, self.length, self.reverse = p["num_consts"], p["num_carry"], p["length"], p["reverse"]
        self.y_sizes = [_size(v.aval.shape[1:]) for v in node.outs[self.nc:]]
        for lay, v in zip(outs[self.nc:], node.outs[self.nc:]):
            self.allocs.append((lay.slot, _size(v.aval.shape), np.dtype(v.aval.dtype)))

    def run(self, env, stream):
        ops = self.operands
        consts = [op.array(env) for op in ops[:self.nk]]
        carry = [op.array(env) for op in ops[self.nk:self.nk + self.nc]]
        xs = ops[self.nk + self.nc:]
        x_sizes = [_size(x.shape[1:]) for x in xs]
        ys = [env[lay.slot] for lay in self.outs[self.nc:]]
        steps = range(self.length - 1, -1, -1) if self.reverse else range(self.length)
        for t in steps:
            x_t = [device.DeviceArray(view_buffer(env[x.slot], x.offset + t * n, n, x.dtype), x.shape[1:], x.dtype)
                   for x, n in zip(xs, x_sizes)]
            outs = self.body(consts + carry + x_t)
            carry = outs[:self.nc]
            for y, out, n in zip(ys, outs[self.nc:], self.y_sizes):
                copy_into(y, t * n, out.device_buffer(), n, stream)
        self._set_results(env, carry, self.outs[:self.nc])


class WhileStep(ControlStep):
    def __init__(self, node, ins, outs):
        super().__init__(node, ins, outs)
        p = node.params
        self.cond = sub_executable(p["cond"])
        self.body = sub_executable(p["body"])
        self.nck, self.nbk = p["num_cond_consts"], p["num_body_consts"]

    def run(self, env, stream):
        arrays = [op.array(env) for op in self.operands]
        cond_k, body_k = arrays[:self.nck], arrays[self.nck:self.nck + self.nbk]
        carry = arrays[self.nck + self.nbk:]
        while bool(np.asarray(self.cond(cond_k + carry)[0])):  # reads the flag: waits
            carry = self.body(body_k + carry)
        self._set_results(env, carry, self.outs)


class CondStep(ControlStep):
    def __init__(self, node, ins, outs):
        super().__init__(node, ins, outs)
        self.branches = [sub_executable(g) for g in node.params["branches"]]

    def run(self, env, stream):
        arrays = [op.array(env) for op in self.operands]
        index = int(np.clip(np.asarray(arrays[0]), 0, len(self.branches) - 1))  # waits
        self._set_results(env, self.branches[index](arrays[1:]), self.outs)


def control_step(node, ins, outs):
    return {scan_p: ScanStep, while_p: WhileStep, cond_p: CondStep}[node.op](node, ins, outs)
