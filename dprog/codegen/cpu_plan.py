"""Plan a fused graph for the CPU: one Step per node, with buffer layouts and reuse.

Runs once per cache entry (shapes are fixed there), so everything decided here costs
nothing per call: which kernel variant (flat 1-D when every operand is C-contiguous,
serial or parallel by size), which buffers are pooled temporaries (reused across nodes
by liveness and across calls), and which results must be copied to be fresh.
"""
import numpy as np

from ..ir import Var
from ..ops.contract import matmul_p
from ..ops.fusion import fusion_p
from ..ops.misc import iota_p
from ..ops import shape as sh
from .expressions import REDUCE_INIT

PARALLEL_MIN_ELEMENTS = 1 << 17

# Movement ops whose NumPy implementation returns a view of its operand.
VIEW_OPS = (sh.broadcast_in_dim_p, sh.transpose_p, sh.slice_p, sh.rev_p, sh.reshape_p)


class Buffer:
    """What the planner knows about one runtime value."""
    __slots__ = ("var", "contiguous", "base", "kind", "slot", "last_use")

    def __init__(self, var, contiguous, base, kind):
        self.var = var
        self.contiguous = contiguous
        self.base = base          # the Buffer owning the memory (self for fresh buffers)
        self.kind = kind          # "input" | "const" | "temp" | "other"
        self.slot = None          # workspace slot for pooled temps
        self.last_use = -1


class Step:
    __slots__ = ("node", "kind", "outs", "flat", "parallel", "reduce_inits", "index")

    def __init__(self, node, kind, index):
        self.node = node
        self.kind = kind          # "kernel" | "matmul" | "view" | "impl"
        self.index = index
        self.outs = []
        self.flat = False
        self.parallel = False
        self.reduce_inits = {}


def _view_contiguous(node, src):
    op, out = node.op, node.outs[0].aval
    if not src.contiguous:
        # Strided data may reshape to a view or to a copy (NumPy decides): assume the
        # worst for both layout (strided) and lifetime (aliases its source).
        return False
    if op is sh.reshape_p:
        return True
    if op is sh.broadcast_in_dim_p:
        return out.size == src.var.aval.size
    if op is sh.transpose_p:
        moved = [p for p in node.params["perm"] if src.var.aval.shape[p] != 1]
        return moved == sorted(moved)
    if op is sh.slice_p:
        return out.shape == src.var.aval.shape
    return out.size <= 1


def plan(graph):
    buffers = {}
    for v in graph.invars:
        buffers[v.id] = b = Buffer(v, True, None, "input")
        b.base = b
    for v in graph.constvars:
        buffers[v.id] = b = Buffer(v, True, None, "const")
        b.base = b
    steps = []
    for i, node in enumerate(graph.nodes):
        ins = [buffers[x.id] for x in node.inputs if isinstance(x, Var)]
        for b in ins:
            b.base.last_use = i
            b.last_use = i
        if node.op is fusion_p:
            step = Step(node, "kernel", i)
            sub = node.params["graph"]
            has_iota = any(n.op is iota_p for n in sub.nodes)
            has_reduce = any(n.op.kind.value == "reduction" for n in sub.nodes)
            step.flat = (not has_iota and not has_reduce and len(node.params["shape"]) != 1
                         and all(b.contiguous for b in ins if b.var.aval.ndim))
            # The parallel variant splits the outermost loop, which must not be reduced.
            outer_reduced = any(0 in n.params["axes"] for n in sub.nodes if n.op.kind.value == "reduction")
            step.parallel = (int(np.prod(node.params["shape"], dtype=np.int64)) >= PARALLEL_MIN_ELEMENTS
                             and len(node.params["shape"]) > 0 and not outer_reduced)
            reduce_nodes = {n.outs[0].id: n for n in sub.nodes if n.op.kind.value == "reduction"}
            for v in node.outs:
                if v.id in reduce_nodes:
                    step.reduce_inits[v.id] = REDUCE_INIT[reduce_nodes[v.id].op.name](v.aval.dtype)
            kind = "temp"
        elif node.op is matmul_p:
            step, kind = Step(node, "matmul", i), "temp"
        elif node.op in VIEW_OPS:
            step, kind = Step(node, "view", i), "view"
        else:
            step, kind = Step(node, "impl", i), "other"
        for v in node.outs:
            if kind == "view":
                src = buffers[node.inputs[0].id] if isinstance(node.inputs[0], Var) else None
                if src is None:
                    b = Buffer(v, False, None, "other")
                    b.base = b
                else:
                    b = Buffer(v, _view_contiguous(node, src), src.base, "view")
            else:
                b = Buffer(v, kind == "temp", None, kind)
                b.base = b
            buffers[v.id] = b
            step.outs.append(b)
        steps.append(step)
    _assign_slots(graph, steps, buffers)
    return steps, buffers


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


