"""Plan a fused graph for the CPU: one Step per node, with buffer layouts and reuse.

Runs once per cache entry (shapes are fixed there), so everything decided here costs
nothing per call: which kernel variant (flat 1-D when every operand is C-contiguous,
serial or parallel by size), which buffers are pooled temporaries (reused across nodes
by liveness and across calls), and which results must be copied to be fresh.
"""
import numpy as np

from ..ir import Node, Var
from ..ops.contract import matmul_p
from ..ops.fusion import fusion_p
from ..ops.misc import iota_p
from ..ops import shape as sh
from ..passes.fuse_rows import is_outer_reduction
from .expressions import calls_vecmath

# Splitting a loop across threads costs 40-60 us of hand-over (cpu_threads.split, measured
# on the development machine): a memory-bound loop (x * y + 1, float64) broke even at
# 2**18 elements and won at 2**19 (390 vs 520 us); loops calling vectorised math
# (kernels/vecmath) do several times more work per element.
PARALLEL_MIN_ELEMENTS = 1 << 17          # loops calling vecmath
PARALLEL_MIN_ELEMENTS_CHEAP = 1 << 19    # loops of plain arithmetic


def worth_splitting(size, sub):
    """Is a loop nest of `size` elements running `sub` worth splitting across threads?"""
    heavy = any(calls_vecmath(n) for n in sub.nodes)
    return size >= (PARALLEL_MIN_ELEMENTS if heavy else PARALLEL_MIN_ELEMENTS_CHEAP)

# Movement ops whose NumPy implementation returns a view of its operand.
VIEW_OPS = (sh.broadcast_in_dim_p, sh.transpose_p, sh.slice_p, sh.rev_p, sh.reshape_p)


class Buffer:
    """What the planner knows about one runtime value: its element strides (None when
    NumPy may choose between a view and a copy), and whose memory it is."""
    __slots__ = ("var", "strides", "base", "kind", "slot", "last_use")

    def __init__(self, var, strides, base, kind):
        self.var = var
        self.strides = strides
        self.base = base          # the Buffer owning the memory (self for fresh buffers)
        self.kind = kind          # "input" | "const" | "temp" | "view" | "other"
        self.slot = None          # workspace slot for pooled temps
        self.last_use = -1

    @property
    def contiguous(self):
        return self.strides is not None and _same_layout(self.strides, c_strides(self.var.aval.shape),
                                                        self.var.aval.shape)

    @property
    def blas_ready(self):
        """Can NumPy's matmul hand each matrix of this array to BLAS without a copy?
        (Each matrix must be contiguous in rows or in columns.)"""
        shape, st = self.var.aval.shape, self.strides
        if st is None or len(shape) < 2:
            return False
        m, n = shape[-2:]
        rows_ok = (st[-1] == 1 or n == 1) and st[-2] >= max(n, 1)
        cols_ok = (st[-2] == 1 or m == 1) and st[-1] >= max(m, 1)
        return rows_ok or cols_ok


def c_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _same_layout(a, b, shape):
    return all(x == y for x, y, n in zip(a, b, shape) if n != 1)


def view_strides(node, src):
    """Element strides of a movement op's result, as NumPy will make it."""
    op, params = node.op, node.params
    st, shape = src.strides, src.var.aval.shape
    if st is None:
        return None
    if op is sh.broadcast_in_dim_p:
        out = [0] * len(params["shape"])
        for i, d in enumerate(params["dims"]):
            out[d] = st[i] if shape[i] == params["shape"][d] else 0
        return tuple(out)
    if op is sh.transpose_p:
        return tuple(st[p] for p in params["perm"])
    if op is sh.slice_p:
        return tuple(s * k for s, k in zip(st, params["step"]))
    if op is sh.rev_p:
        return tuple(-s if i in params["axes"] else s for i, s in enumerate(st))
    if op is sh.reshape_p:
        new = params["shape"]
        if src.contiguous:
            return c_strides(new)
        kept_old = [(n, s) for n, s in zip(shape, st) if n != 1]
        kept_new = [n for n in new if n != 1]
        if [n for n, _ in kept_old] == kept_new:  # only size-1 dims added or removed
            it = iter(s for _, s in kept_old)
            return tuple(next(it) if n != 1 else 0 for n in new)
        return None
    return None


class Step:
    __slots__ = ("node", "kind", "outs", "flat", "parallel", "partials", "reduce_inits", "index", "loop")

    def __init__(self, node, kind, index):
        self.node = node
        self.kind = kind          # "kernel" | "matmul" | "view" | "loop" | "impl"
        self.index = index
        self.outs = []
        self.flat = False
        self.parallel = False
        self.partials = False     # parallel, reducing over the split dim (cpu_threads.split_partials)
        self.reduce_inits = {}
        self.loop = None          # "loop" steps: the NativeLoop (codegen/cpu_loop.py) running the node


def _lone_reduction(node):
    """The reduction a fusion node consists of, as a plain node over the fusion's inputs,
    when the group is that one reduction of one of its inputs; else None."""
    sub = node.params["graph"]
    if len(sub.nodes) != 1 or sub.nodes[0].op.kind.value != "reduction":
        return None
    inner = sub.nodes[0]
    if inner.inputs[0] is not sub.invars[0] or len(sub.invars) != 1:
        return None
    return Node(inner.op, list(node.inputs), inner.params, list(node.outs), node.loc)


def plan(graph, numpy_reductions=True, native_loops=True):
    """Steps and buffers of `graph`. numpy_reductions: run a lone reduction of a
    materialised array with NumPy (off where the plan is inlined into Numba code).
    native_loops: run scans and while loops whose bodies are simple enough as one
    compiled loop (see cpu_loop.py) instead of one driver call per iteration."""
    buffers = {}
    # Inputs are planned as C-contiguous (what callers pass nearly always); anything
    # else still runs correctly, as flat views and BLAS calls copy strided data.
    for v in graph.invars:
        buffers[v.id] = b = Buffer(v, c_strides(v.aval.shape), None, "input")
        b.base = b
    for v in graph.constvars:
        buffers[v.id] = b = Buffer(v, c_strides(v.aval.shape), None, "const")
        b.base = b
    steps = []
    for i, node in enumerate(graph.nodes):
        ins = [buffers[x.id] for x in node.inputs if isinstance(x, Var)]
        for b in ins:
            b.base.last_use = i
            b.last_use = i
        if numpy_reductions and node.op is fusion_p and _lone_reduction(node) is not None:
            # A reduction of a materialised array and nothing else: NumPy's own loops
            # (pairwise sums, SIMD max/min with NaN propagation) beat a scalar loop nest.
            node = _lone_reduction(node)
            step, kind = Step(node, "impl", i), "other"
        elif node.op is fusion_p and node.params.get("rows") is not None:
            # A row kernel (passes/fuse_rows.py): parallel over its outer dims; its
            # reductions over the inner dims finish inside the kernel. Those over the
            # outer dims (a bias gradient) accumulate into outputs pre-filled with the
            # identity: one partial per slice when the rows are split across threads.
            step = Step(node, "kernel", i)
            # (several passes per row: as much work per element as a vecmath loop)
            step.parallel = (node.params["rows"] > 0 and int(np.prod(node.params["shape"], dtype=np.int64))
                             >= PARALLEL_MIN_ELEMENTS)
            full, k = tuple(node.params["shape"]), node.params["rows"]
            for n in node.params["graph"].nodes:
                if is_outer_reduction(n, full, k) and any(n.outs[0] is v for v in node.outs):
                    step.reduce_inits[n.outs[0].id] = n.op.identity(n.outs[0].aval.dtype)
            step.partials = step.parallel and bool(step.reduce_inits)
            kind = "temp"
        elif node.op is fusion_p:
            step = Step(node, "kernel", i)
            sub = node.params["graph"]
            has_iota = any(n.op is iota_p for n in sub.nodes)
            # (absorbed views and gathers read their sources by a multi-dim index)
            has_views = any(n.op.kind.value in ("movement", "index") for n in sub.nodes)
            # A flat loop can reduce too, when every reduction is over all axes.
            partial_reduce = any(tuple(sorted(n.params["axes"])) != tuple(range(n.inputs[0].aval.ndim))
                                 for n in sub.nodes if n.op.kind.value == "reduction")
            step.flat = (not has_iota and not partial_reduce and not has_views
                         and len(node.params["shape"]) > 1  # rank 0: no loop at all; rank 1: flat already
                         and all(b.contiguous for b in ins if b.var.aval.ndim))
            # A parallel step splits the outermost loop across threads; reductions over
            # it then accumulate one partial result per slice (step.partials).
            outer_reduced = any(0 in n.params["axes"] or step.flat
                                for n in sub.nodes if n.op.kind.value == "reduction")
            step.parallel = (worth_splitting(int(np.prod(node.params["shape"], dtype=np.int64)), sub)
                             and len(node.params["shape"]) > 0)
            step.partials = step.parallel and outer_reduced
            reduce_nodes = {n.outs[0].id: n for n in sub.nodes if n.op.kind.value == "reduction"}
            for v in node.outs:
                if v.id in reduce_nodes:
                    step.reduce_inits[v.id] = reduce_nodes[v.id].op.identity(v.aval.dtype)
            kind = "temp"
        elif node.op is matmul_p:
            step, kind = Step(node, "matmul", i), "temp"
        elif node.op in VIEW_OPS:
            step, kind = Step(node, "view", i), "view"
        elif native_loops and (loop := _native_loop(node)) is not None:
            # It writes its results into buffers the driver allocates, like a kernel:
            # those not returned are pooled (a scan's stacked ys are reused across calls).
            step, kind = Step(node, "loop", i), "temp"
            step.loop = loop
        else:
            step, kind = Step(node, "impl", i), "other"
        for v in node.outs:
            if kind == "view":
                src = buffers[node.inputs[0].id] if isinstance(node.inputs[0], Var) else None
                if src is None:
                    b = Buffer(v, None, None, "other")
                    b.base = b
                else:
                    b = Buffer(v, view_strides(node, src), src.base, "view")
            else:
                b = Buffer(v, c_strides(v.aval.shape) if kind == "temp" else None, None, kind)
                b.base = b
            buffers[v.id] = b
            step.outs.append(b)
        steps.append(step)
    _assign_slots(graph, steps, buffers)
    return steps, buffers


def _native_loop(node):
    """The compiled loop running a scan or while node, or None where it cannot."""
    from . import cpu_loop  # here: cpu_loop plans loop bodies with this module
    return cpu_loop.native_loop(node)


def _assign_slots(graph, steps, buffers):
    """Pool temporaries: a temp not reachable from the results gets a workspace slot,
    shared with earlier temps of the same shape and dtype that are dead by then."""
    returned = {buffers[v.id].base.var.id for v in graph.outvars if isinstance(v, Var)}
    # An impl step (control ops above all) may hand back an operand itself, as a scan of
    # length 0 returns its carry: that memory must outlive the step, so it is not pooled.
    returned |= {buffers[x.id].base.var.id for s in steps if s.kind == "impl"
                 for x in s.node.inputs if isinstance(x, Var)}
    free = {}      # (shape, dtype) -> [slot]
    n_slots = 0
    releases = {}  # step index -> buffers whose memory is free after it
    for b in buffers.values():
        if b.base is b and b.kind == "temp" and b.var.id not in returned:
            releases.setdefault(max(b.last_use, _defined_at(steps, b)), []).append(b)
    for step in steps:
        for b in step.outs:
            if b.base is b and b.kind == "temp" and b.var.id not in returned:
                key = (b.var.aval.shape, b.var.aval.dtype)
                if free.get(key):
                    b.slot = free[key].pop()
                else:
                    b.slot = n_slots
                    n_slots += 1
        for b in releases.get(step.index, ()):
            free.setdefault((b.var.aval.shape, b.var.aval.dtype), []).append(b.slot)
    return n_slots


def _defined_at(steps, buffer):
    for step in steps:
        if buffer in step.outs:
            return step.index
    return -1


