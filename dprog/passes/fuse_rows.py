"""Row fusion: merge loops that meet at a reduction into one kernel of several passes.

After `fuse`, a softmax is still several kernels, because a loop cannot read its own
reduction: one takes each row's max, one sums exp(x - max), one writes the result, with
small kernels between them for per-row values (1 / sum, clamped labels). All of them
iterate over the same rows. This pass merges them into one fusion node with
params["rows"] = k: the kernel loops over the first k dims ("outer", in parallel) and,
for each outer index, makes several passes over the remaining dims ("inner"), with
per-row values computed between passes as scalars:

    for i0 in range(lo, hi):      # (threads take slices of i0: codegen/cpu_threads.py)
        m = -inf
        for i1 in range(n1): m = max(m, x[i0, i1])        # pass 0
        s = 0
        for i1 in range(n1): s += exp(x[i0, i1] - m)      # pass 1
        r = 1 / s                                          # between passes
        for i1 in range(n1): out[i0, i1] = exp(x[i0, i1] - m) * r   # pass 2

A row (k outer dims, 4 KB for a 1000-float row) stays in the L1 cache between passes,
so the logits are read from memory once instead of three times, and the small kernels
and their launches disappear. Values of an earlier pass are recomputed by later ones
(exp above), as XLA does, unless they are kernel outputs (then read back).

Values in a merged kernel over iteration shape F are either "full" (shape F) or "row"
(shape F[:k] + (1,)*(n-k), or F[:k]): reductions map full to row values over exactly the
inner dims; broadcasts map row to full values; reshapes map row to row values. A
reduction over exactly the outer dims (a bias gradient, shape F[k:]) may be a kernel
output that nothing inside reads: every row adds to it as its pass goes.

Groups grow from their last kernel backwards through producers, and forwards through
readers that compute only row values (the log of a softmax's sum after its last pass).
"""
import numpy as np

from ..ir import Node, Var
from ..ops.fusion import fusion_p
from ..ops.record import Kind
from ..ops import shape as sh
from .fuse import RECOMPUTE_MAX_NODES, fusion_node_of

# A single outer index (k = 0) runs serially: merging would cost a parallel loop its
# threads, so it is only done for kernels too small to be parallel anyway.
SERIAL_MAX_ELEMENTS = 1 << 17


def is_row_shape(shape, full, k):
    return tuple(shape) == full[:k] or tuple(shape) == full[:k] + (1,) * (len(full) - k)


def value_level(aval, full, k):
    """'full', 'row' or None for a value of a kernel over `full` split after k dims."""
    if aval.ndim == 0:
        return "row"
    if tuple(aval.shape) == full:
        return "full"
    if is_row_shape(aval.shape, full, k):
        return "row"
    return None


def _inner_reduction_ok(node, full, k):
    return tuple(sorted(node.params["axes"])) == tuple(range(k, len(full)))


def is_outer_reduction(node, full, k):
    """A reduction of a full value over the outer dims (a bias gradient: the sum over the
    rows of each column). Each row adds its contribution to the kernel's output as the
    pass goes; nothing in the kernel may read the result, which is only complete once
    every row is done."""
    return (node.op.kind is Kind.REDUCTION and k > 0
            and tuple(sorted(node.params["axes"])) == tuple(range(k))
            and tuple(node.inputs[0].aval.shape) == full
            and tuple(node.outs[0].aval.shape) == full[k:])


def keeps_rows(node, full, k):
    """Does this broadcast/reshape map a row value to a row or full value *along the
    rows* (so the kernel reuses the row's scalar)? A (4,) vector broadcast over the
    columns of a 4x4 kernel has a row's shape but varies along the inner dims."""
    src, out = node.inputs[0].aval, node.outs[0].aval
    if src.ndim == 0:
        return True
    if value_level(src, full, k) != "row":
        return False
    if node.op is sh.reshape_p:
        return value_level(out, full, k) == "row"
    if node.op is sh.broadcast_in_dim_p:
        return tuple(node.params["dims"]) == tuple(range(src.ndim)) and value_level(out, full, k) is not None
    return False


class Limits:
    """What a backend's row kernels can do: CUDA runs one block per row, so a row must be
    short enough for one block (max_row_elements), and it has no combine of reductions
    over the outer dims (outer_reductions=False). The CPU has no such limits."""
    __slots__ = ("max_row_elements", "outer_reductions")

    def __init__(self, max_row_elements=None, outer_reductions=True):
        self.max_row_elements, self.outer_reductions = max_row_elements, outer_reductions


CPU_LIMITS = Limits()


def _unit_splits(node, full, limits=CPU_LIMITS):
    """The splits k at which an outer node can be part of a row kernel over `full`."""
    n = len(full)
    ok = set()
    for k in range(n):
        row = int(np.prod(full[k:], dtype=np.int64))
        if row <= 1 or (limits.max_row_elements is not None and row > limits.max_row_elements):
            continue
        if node.op is fusion_p:
            if node.params.get("rows") is None and all(
                    _inner_node_ok(inner, full, k, limits) for inner in node.params["graph"].nodes):
                ok.add(k)
        elif node.op in (sh.reshape_p, sh.broadcast_in_dim_p) and keeps_rows(node, full, k):
            ok.add(k)
    return ok


def _inner_node_ok(node, full, k, limits=CPU_LIMITS):
    if node.op.kind is Kind.INDEX or node.op is sh.pad_p:
        return False  # an absorbed gather or pad: row kernels read arrays through views only
    if node.op.kind is Kind.REDUCTION:
        return ((_inner_reduction_ok(node, full, k) and tuple(node.inputs[0].aval.shape) == full)
                or (limits.outer_reductions and is_outer_reduction(node, full, k)))
    if node.op.kind is Kind.MOVEMENT:
        # An absorbed view reads an outer array: into a full value through its index
        # (any view), into a row value only along the rows.
        out_level = value_level(node.outs[0].aval, full, k)
        return out_level == "full" or (out_level == "row" and keeps_rows(node, full, k))
    return all(value_level(v.aval, full, k) is not None for v in node.outs)


def _valid_merge(flat, full, k):
    """Once merged, a view whose source is now computed inside the kernel must be one the
    kernel can follow without memory: a row value spread along the rows. And nothing may
    read a reduction over the outer dims, which is complete only after the last row."""
    inside = {v.id for n in flat for v in n.outs}
    outer = {n.outs[0].id for n in flat if is_outer_reduction(n, full, k)}
    for n in flat:
        if any(getattr(x, "id", None) in outer for x in n.inputs):
            return False
        if n.op.kind is Kind.MOVEMENT and getattr(n.inputs[0], "id", None) in inside:
            if not keeps_rows(n, full, k):
                return False
    return True


class _RowGroup:
    __slots__ = ("nodes", "full", "splits", "limits")

    def __init__(self, node, full, splits, limits):
        self.nodes = [node]
        self.full = full
        self.splits = splits
        self.limits = limits


def _seeds(graph):
    """Fusion nodes that can anchor a row kernel, last first (consumers absorb producers)."""
    for node in reversed(graph.nodes):
        if node.op is fusion_p and len(node.params["shape"]) >= 1:
            yield node


def _reaches_any(start_nodes, targets, consumers):
    """Does any path from start_nodes (through consumer edges) reach a node in targets?"""
    stack, seen = list(start_nodes), set()
    while stack:
        n = stack.pop()
        if id(n) in targets:
            return True
        if id(n) in seen:
            continue
        seen.add(id(n))
        for v in n.outs:
            stack.extend(consumers.get(v.id, ()))
    return False


def _recompute_cost(flat, full, k):
    """Full values a later pass would recompute: the longest such chain, in nodes
    (`flat`: the group's primitive nodes, see _flatten). Only reductions the kernel reads
    again start a later pass; one that is only an output (a picked logit, a bias
    gradient) costs nothing more than its own pass."""
    producer = {v.id: n for n in flat for v in n.outs}
    read = {x.id for n in flat for x in n.inputs if isinstance(x, Var)}
    longest = 0
    for n in flat:
        if n.op.kind is Kind.REDUCTION and n.outs[0].id in read:
            chain, stack, seen = 0, [n.inputs[0]], set()
            while stack:
                x = stack.pop()
                p = producer.get(getattr(x, "id", None))
                if p is None or id(p) in seen or value_level(p.outs[0].aval, full, k) != "full":
                    continue
                seen.add(id(p))
                chain += 1
                stack.extend(p.inputs)
            longest = max(longest, chain)
    return longest


def _flatten(nodes):
    """The primitive nodes of outer nodes, with fusion sub-graph inputs renamed to the
    outer values they stand for (fusion sub-graphs keep their nodes' output Vars)."""
    flat, defined = [], set()
    for node in nodes:
        if node.op is not fusion_p:
            flat.append(node)
            defined.update(v.id for v in node.outs)
            continue
        sub = node.params["graph"]
        rename = {v.id: x for v, x in zip(sub.invars, node.inputs)}
        for inner in sub.nodes:
            if any(v.id in defined for v in inner.outs):
                continue  # a view absorbed by two merged loops (fuse._absorb_views)
            defined.update(v.id for v in inner.outs)
            flat.append(Node(inner.op, [rename.get(x.id, x) if isinstance(x, Var) else x
                                        for x in inner.inputs], inner.params, inner.outs, inner.loc))
    return flat


def _share_duplicates(flat, keep):
    """Drop nodes that repeat an earlier node (same op, params and operands), as the
    loops fuse merged recompute the same exp(x - max): the row kernel then knows it is
    one value, and decides itself where to compute it again. Nodes whose value leaves
    the kernel (ids in `keep`) stay."""
    seen, rename, out = {}, {}, []
    for node in flat:
        inputs = [rename.get(x.id, x) if isinstance(x, Var) else x for x in node.inputs]
        key = (node.op.name, repr(sorted(node.params.items())),
               tuple(("v", x.id) if isinstance(x, Var) else ("l", repr(x.value), str(x.aval)) for x in inputs))
        first = seen.get(key)
        if first is not None and len(node.outs) == 1 and node.outs[0].id not in keep:
            rename[node.outs[0].id] = first.outs[0]
            continue
        node = Node(node.op, inputs, node.params, node.outs, node.loc)
        seen.setdefault(key, node)
        out.append(node)
    return out


def _try_merge(group, node, graph_pos, consumers):
    if node.op is not fusion_p and node.op not in (sh.reshape_p, sh.broadcast_in_dim_p):
        return False
    splits = group.splits & _unit_splits(node, group.full, group.limits)
    if not splits:
        return False
    members = {id(n) for n in group.nodes}
    # Another path from `node` into the group (through a node left outside) would make
    # the merged kernel depend on itself.
    outside = [c for v in node.outs for c in consumers.get(v.id, ()) if id(c) not in members]
    if _reaches_any(outside, members, consumers):
        return False
    k = max(splits)
    candidate = sorted(group.nodes + [node], key=lambda n: graph_pos[id(n)])
    flat = _flatten(candidate)
    if not _valid_merge(flat, group.full, k):
        return False
    if _recompute_cost(flat, group.full, k) > RECOMPUTE_MAX_NODES:
        return False
    group.nodes = candidate
    group.splits = splits
    return True


def _row_consumers(group, consumers, taken):
    """Nodes outside the group that read its results and compute only row values (the
    log of a softmax's sum, its reciprocal, the views between them): merged, they run
    once per row after the last pass instead of as a kernel of their own."""
    found, seen = [], set()
    for c in _outside_readers(group, consumers):
        if id(c) in taken or id(c) in seen:
            continue
        seen.add(id(c))
        if c.op is fusion_p and c.params.get("rows") is not None:
            continue
        shape = tuple(c.params["shape"] if c.op is fusion_p else c.outs[0].aval.shape)
        if shape == () or is_row_shape(shape, group.full, max(group.splits)):
            found.append(c)
    return found


def _outside_readers(group, consumers):
    """The nodes outside the group that read its results (once per value read)."""
    members = {id(n) for n in group.nodes}
    return [c for m in group.nodes for v in m.outs for c in consumers.get(v.id, ())
            if id(c) not in members]


def _try_merge_consumer(group, node, graph_pos, consumers, producer):
    """Merge a reader of the group's results, unless one of its other inputs is itself
    computed from the group's results outside it (merging would then need its own output
    before running)."""
    members = {id(n) for n in group.nodes}
    leaving = [c for c in _outside_readers(group, consumers) if c is not node]
    for x in node.inputs:
        p = producer.get(getattr(x, "id", None))
        if p is not None and id(p) not in members and _reaches_any(leaving, {id(p)}, consumers):
            return False
    return _try_merge(group, node, graph_pos, consumers)


def fuse_rows(graph, limits=CPU_LIMITS):
    """Merge fusion nodes (and the row-level reshapes between them) that share rows."""
    graph_pos = {id(n): i for i, n in enumerate(graph.nodes)}
    producer = {v.id: n for n in graph.nodes for v in n.outs}
    consumers = {}
    for n in graph.nodes:
        for x in n.inputs:
            if isinstance(x, Var):
                consumers.setdefault(x.id, []).append(n)
    taken = set()
    groups = []
    for seed in _seeds(graph):
        if id(seed) in taken:
            continue
        full = tuple(seed.params["shape"])
        splits = _unit_splits(seed, full, limits)
        if not splits:
            continue
        group = _RowGroup(seed, full, splits, limits)
        changed = True
        while changed:
            changed = False
            for member in list(group.nodes):
                for x in member.inputs:
                    p = producer.get(getattr(x, "id", None))
                    if p is None or id(p) in taken or any(p is m for m in group.nodes):
                        continue
                    if _try_merge(group, p, graph_pos, consumers):
                        changed = True
            for c in _row_consumers(group, consumers, taken):
                if _try_merge_consumer(group, c, graph_pos, consumers, producer):
                    changed = True
        if len(group.nodes) > 1 and _small_enough_if_serial(group):
            groups.append(group)
            taken.update(id(n) for n in group.nodes)
    if not groups:
        return graph
    return _rebuild(graph, groups)


def _small_enough_if_serial(group):
    """With no outer dims (k = 0) the merged kernel runs on one thread: only merge loops
    too small to be parallel anyway."""
    return max(group.splits) > 0 or int(np.prod(group.full, dtype=np.int64)) < SERIAL_MAX_ELEMENTS


def _rebuild(graph, groups):
    member_of = {id(n): gi for gi, g in enumerate(groups) for n in g.nodes}
    graph_outs = {v.id for v in graph.outvars if isinstance(v, Var)}
    merged = {}
    for gi, g in enumerate(groups):
        produced = {v.id for n in g.nodes for v in n.outs}
        read_outside = {x.id for n in graph.nodes if member_of.get(id(n)) != gi
                        for x in n.inputs if isinstance(x, Var) and x.id in produced}
        keep = read_outside | (graph_outs & produced)
        merged[gi] = fusion_node_of(_share_duplicates(_flatten(g.nodes), keep), g.full, keep,
                                    g.nodes[-1].loc, rows=max(g.splits))
    nodes, emitted = [], set()
    for n in graph.nodes:
        gi = member_of.get(id(n))
        if gi is None:
            nodes.append(n)
        elif gi not in emitted:
            emitted.add(gi)
            nodes.append(merged[gi])
    return graph.replace(nodes=_topological(nodes))


def _topological(nodes):
    """Stable topological order (a merged node takes its first member's place, which can
    precede the producers of its later members' inputs)."""
    producer = {v.id: n for n in nodes for v in n.outs}
    order, state = [], {}

    def visit(n):
        if state.get(id(n)) == 2:
            return
        state[id(n)] = 1
        for x in n.inputs:
            p = producer.get(getattr(x, "id", None))
            if p is not None and p is not n:
                visit(p)
        state[id(n)] = 2
        order.append(n)
    for n in nodes:
        visit(n)
    return order
