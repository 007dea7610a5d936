"""CUDA steps: one launch (or a few) per node of a fused graph, decided when planning.

Each step knows its kernel, launch configuration and argument list; at run time it only
looks up buffers in the environment (a list of flat device arrays, one per slot) and
launches on the dprog stream. Nothing here waits for the device, except HostStep (the
fallback for ops without a CUDA kernel), which must copy through host memory.
"""
import numpy as np

from ..ir import Graph, Node, Var
from ..ops.elementwise import copy_p
from . import cuda_driver, cuda_launch
from .cuda_kernel import atomics_supported, kernel_kind, kernel_source, split_by_axes, use_warp_rows
from .cuda_layout import contiguous_strides


class Slot:
    """A buffer argument: replaced by env[index] at launch time."""
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _bind(args, env):
    return [env[a.index] if type(a) is Slot else a for a in args]


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


class Step:
    """allocs: (slot, size, dtype) buffers the executable takes from the pool first;
    fills: (slot, size, typed value) initialisations launched before the kernel.

    On a GPU, `prepare` turns fills and launches into cuda_driver.Launch objects with
    their parameter blocks built, and `run` only writes addresses and launches."""

    def __init__(self):
        self.allocs, self.fills, self.launches = [], [], []  # launches: (kernel, grid, block, args)
        self.prepared = None

    def reads(self):
        return [a.index for _, _, _, args in self.launches for a in args if type(a) is Slot]

    def prepare(self, slot_info):
        """slot_info: slot -> (size, dtype) of every buffer the executable holds."""
        from dprog.kernels.cuda_index import fill_kernel
        block, _, _, _ = cuda_launch.config()
        prepared = []
        for slot, size, value in self.fills:
            args = [Slot(slot), value, size]
            prepared.append(_Plain(fill_kernel).prepare(_params(args, slot_info),
                                                        cuda_launch.grid_for(size, block), block))
        for kernel, grid, block_shape, args in self.launches:
            prepared.append(kernel.prepare(_params(args, slot_info), grid, block_shape))
        self.prepared = prepared

    def run(self, env, stream):
        if self.prepared is not None:
            handle = cuda_driver.stream_handle()
            for launch in self.prepared:
                launch.run(env, handle)
            return
        for slot, size, value in self.fills:
            launch_fill(env[slot], value, size, stream)
        for kernel, grid, block, args in self.launches:
            kernel.launch(grid, block, stream, _bind(args, env))


def _params(args, slot_info):
    params = []
    for a in args:
        if type(a) is Slot:
            size, dtype = slot_info[a.index]
            params.append(cuda_driver.Param(slot=a.index, size=max(int(size), 1), dtype=dtype))
        else:
            params.append(cuda_driver.scalar_param(a))
    return params


def launch_fill(buffer, value, size, stream):
    from dprog.kernels.cuda_index import fill_kernel
    block, _, _, _ = cuda_launch.config()
    fill_kernel[cuda_launch.grid_for(size, block), block, stream](buffer, value, size)


def fusion_step(sub, shape, in_layouts, out_slots):
    """A fusion group: inputs are Layouts of the group's external values."""
    if kernel_kind(sub) != "split":
        return _group_step(sub, shape, in_layouts, out_slots)
    step = Step()
    slot_of = {v.id: s for v, s in zip(sub.outvars, out_slots)}
    for part in split_by_axes(sub):
        piece = _group_step(part, shape, in_layouts, [slot_of[v.id] for v in part.outvars])
        step.allocs += piece.allocs
        step.fills += piece.fills
        step.launches += piece.launches
    return step


def _group_step(sub, shape, in_layouts, out_slots):
    block, max_blocks, _, shuffles = cuda_launch.config()
    kinds, args_in = [], []
    full = contiguous_strides(shape)
    for v, lay in zip(sub.invars, in_layouts):
        if v.aval.ndim == 0:
            kinds.append("scalar")
            args_in += [Slot(lay.slot), lay.offset]
            continue
        assert tuple(lay.shape) == tuple(shape), (lay.shape, shape)
        if lay.strides_match(full):
            kinds.append("flat")
            args_in += [Slot(lay.slot), lay.offset]
        else:
            kinds.append("strided")
            args_in += [Slot(lay.slot), lay.offset] + [int(s) for s in lay.strides]
    reduce_of = {n.outs[0].id: n for n in sub.nodes if n.op.kind.value == "reduction"}
    warp_rows = False
    if reduce_of:
        axes = next(iter(reduce_of.values())).params["axes"]
        rows = _size([n for d, n in enumerate(shape) if d not in axes])
        cols = _size([n for d, n in enumerate(shape) if d in axes])
        warp_rows = use_warp_rows(sub, cols, shuffles)
    source = kernel_source(sub, shape, kinds, block, shuffles, warp_rows=warp_rows)
    kernel = cuda_launch.generated_kernel(source)
    step = Step()
    for v, slot in zip(sub.outvars, out_slots):
        step.allocs.append((slot, _size(v.aval.shape), v.aval.dtype))
    sizes = [int(n) for n in shape]
    outs = [Slot(s) for s in out_slots]
    if warp_rows:  # one warp per row, one chunk
        grid = max(1, min(-(-rows // (block // 32)), max_blocks))
        lead = [rows, cols, 1]
    elif reduce_of:
        chunks = 1
        if all(atomics_supported(n.outs[0].aval.dtype, n.op.name) for n in reduce_of.values()):
            chunks = max(1, min(-(-cols // block), max_blocks // max(rows, 1)))
        grid = max(1, min(rows * chunks, max_blocks))
        lead = [rows, cols, chunks]
        if chunks > 1:  # blocks combine atomically into outputs holding the initial value
            for v, slot in zip(sub.outvars, out_slots):
                node = reduce_of.get(v.id)
                if node is not None:
                    init = np.dtype(v.aval.dtype).type(node.op.identity(v.aval.dtype))
                    step.fills.append((slot, _size(v.aval.shape), init))
    else:
        lead = [_size(shape)]
        grid = cuda_launch.grid_for(_size(shape), block)
    step.launches.append((kernel, grid, block, lead + sizes + outs + args_in))
    return step


def row_fusion_step(sub, shape, k, in_layouts, out_slots):
    """A row kernel (fusion node with params["rows"] = k): a block per row, see
    cuda_row_kernel.py. Inputs are full-shaped layouts, per-row values or scalars."""
    from . import cuda_row_kernel as rk
    from .. import device
    _, max_blocks, _, shuffles = cuda_launch.config()
    full = contiguous_strides(shape)
    kinds = rk.input_kinds(sub, shape, k, [lay.strides_match(full) for lay in in_layouts])
    args_in = []
    for v, lay, kind in zip(sub.invars, in_layouts, kinds):
        args_in += [Slot(lay.slot), lay.offset]
        if kind == "strided":
            args_in += [int(s) for s in lay.strides]
        elif kind == "row":
            args_in += [int(s) for s in lay.strides]
    rows = _size(shape[:k])
    cols = _size(shape[k:])
    block = rk.row_block(cols, device.simulating(), cuda_launch.SIM_BLOCK)
    source = rk.row_kernel_source(sub, shape, k, kinds, block, shuffles)
    kernel = cuda_launch.generated_kernel(source)
    step = Step()
    for v, slot in zip(sub.outvars, out_slots):
        step.allocs.append((slot, _size(v.aval.shape), v.aval.dtype))
    grid = max(1, min(rows, max_blocks))
    lead = [rows, cols] + [int(n) for n in shape]
    step.launches.append((kernel, grid, block, lead + [Slot(s) for s in out_slots] + args_in))
    return step


def pad_step(x, v, params, out_aval, out_slot):
    """pad(x, v) into a fresh buffer (x: any layout; v: the rank-0 padding value)."""
    from . import cuda_movement
    block, _, _, _ = cuda_launch.config()
    shape = [int(n) for n in out_aval.shape]
    total = _size(shape)
    kernel = cuda_launch.generated_kernel(cuda_movement.pad_source(len(shape)))
    args = [total] + shape + [Slot(out_slot), Slot(x.slot), x.offset, Slot(v.slot), v.offset]
    for d in range(len(shape)):
        args += [int(params["lo"][d]), int(params["interior"][d]) + 1, int(x.shape[d]), int(x.strides[d])]
    step = Step()
    step.allocs.append((out_slot, total, out_aval.dtype))
    step.launches.append((kernel, cuda_launch.grid_for(total, block), block, args))
    return step


def concatenate_step(layouts, axis, out_aval, out_slot):
    """concatenate along `axis` into a fresh buffer (operands: any layouts)."""
    from . import cuda_movement
    block, _, _, _ = cuda_launch.config()
    shape = [int(n) for n in out_aval.shape]
    total = _size(shape)
    kernel = cuda_launch.generated_kernel(cuda_movement.concatenate_source(len(shape), axis, len(layouts)))
    args = [total] + shape + [Slot(out_slot)]
    starts, at = [], 0
    for lay in layouts:
        args += [Slot(lay.slot), lay.offset] + [int(s) for s in lay.strides]
        starts.append(at)
        at += int(lay.shape[axis])
    step = Step()
    step.allocs.append((out_slot, total, out_aval.dtype))
    step.launches.append((kernel, cuda_launch.grid_for(total, block), block, args + starts[1:]))
    return step


def _lines(shape, axis):
    """(outer, n, inner) of a contiguous array seen along `axis`."""
    return _size(shape[:axis]), int(shape[axis]), _size(shape[axis + 1:])


def arg_extreme_step(x, axis, want_max, out_aval, out_slot):
    """argmax / argmin along `axis` of a contiguous layout, one thread per result."""
    from dprog.kernels.cuda_index import arg_extreme_kernel
    block, _, _, _ = cuda_launch.config()
    outer, n, inner = _lines(x.shape, axis)
    total = outer * inner
    step = Step()
    step.allocs.append((out_slot, total, out_aval.dtype))
    args = [Slot(out_slot), Slot(x.slot), x.offset, total, n, inner, bool(want_max)]
    step.launches.append((_Plain(arg_extreme_kernel), cuda_launch.grid_for(total, block), block, args))
    return step


def cumsum_step(x, axis, reverse, out_aval, out_slot):
    """cumsum along `axis` of a contiguous layout, one thread per line."""
    from dprog.kernels.cuda_index import cumulative_sum_kernel
    block, _, _, _ = cuda_launch.config()
    outer, n, inner = _lines(x.shape, axis)
    step = Step()
    step.allocs.append((out_slot, _size(x.shape), out_aval.dtype))
    zero = np.dtype(out_aval.dtype).type(0)
    args = [Slot(out_slot), Slot(x.slot), x.offset, outer * inner, n, inner, bool(reverse), zero]
    step.launches.append((_Plain(cumulative_sum_kernel), cuda_launch.grid_for(outer * inner, block), block, args))
    return step


def copy_graph(aval):
    """A one-node sub-graph that copies its input: materialises a strided view."""
    x, y = Var(aval), Var(aval)
    return Graph([x], [Node(copy_p, [x], {}, [y])], [y])


def copy_step(layout, aval, out_slot):
    return fusion_step(copy_graph(aval), aval.shape, [layout], [out_slot])


def matmul_step(a, b, a_bs, b_bs, out_aval, out_slot):
    """a, b: Layouts; a_bs, b_bs: their batch strides (collapsed)."""
    from dprog.kernels.cuda_matmul import matmul_kernel
    _, max_blocks, tile, _ = cuda_launch.config()
    m, k = a.shape[-2:]
    n = b.shape[-1]
    batch = _size(out_aval.shape[:-2])
    kernel, _ = matmul_kernel(tile, np.dtype(out_aval.dtype).name)
    tasks = batch * (-(-m // tile)) * (-(-n // tile))
    grid = max(1, min(tasks, max_blocks))
    step = Step()
    step.allocs.append((out_slot, _size(out_aval.shape), out_aval.dtype))
    args = [Slot(out_slot), Slot(a.slot), a.offset, a_bs, a.strides[-2], a.strides[-1],
            Slot(b.slot), b.offset, b_bs, b.strides[-2], b.strides[-1], batch, m, n, k]
    step.launches.append((_Matmul(kernel), grid, (tile, tile), args))
    return step


def gather_step(x, idx, axis, out_aval, out_slot):
    from dprog.kernels.cuda_index import gather_kernel
    block, _, _, _ = cuda_launch.config()
    total = _size(out_aval.shape)
    step = Step()
    step.allocs.append((out_slot, total, out_aval.dtype))
    args = [Slot(out_slot), Slot(x.slot), x.offset, Slot(idx.slot), idx.offset, total,
            x.shape[axis], idx.size, _size(x.shape[axis + 1:])]
    step.launches.append((_Plain(gather_kernel), cuda_launch.grid_for(total, block), block, args))
    return step


def scatter_add_step(upd, idx, axis, size, out_aval, out_slot):
    from dprog.kernels.cuda_index import scatter_add_kernel, scatter_or_kernel
    kernel = scatter_or_kernel if np.dtype(out_aval.dtype) == np.bool_ else scatter_add_kernel
    block, _, _, _ = cuda_launch.config()
    total = upd.size
    step = Step()
    step.allocs.append((out_slot, _size(out_aval.shape), out_aval.dtype))
    step.fills.append((out_slot, _size(out_aval.shape), np.dtype(out_aval.dtype).type(0)))
    tail = _size(out_aval.shape[axis + 1:])
    args = [Slot(out_slot), Slot(upd.slot), upd.offset, Slot(idx.slot), idx.offset, total,
            size, idx.size, tail]
    step.launches.append((_Plain(kernel), cuda_launch.grid_for(total, block), block, args))
    return step


class _Plain:
    """A hand-written kernel with the launch interface of generated ones."""
    __slots__ = ("kernel",)

    def __init__(self, kernel):
        self.kernel = kernel

    def launch(self, grid, block, stream, args):
        self.kernel[grid, block, stream](*args)

    def prepare(self, params, grid, block):
        return cuda_driver.Launch(self.kernel, params, grid, block)


class _Matmul(_Plain):
    """The tiled matmul kernel, replaced by cuBLAS on a GPU where cuBLAS can do it."""
    __slots__ = ()

    def prepare(self, params, grid, block):
        from . import cuda_blas
        gemm = cuda_blas.gemm_launch(params)
        return gemm if gemm is not None else super().prepare(params, grid, block)
