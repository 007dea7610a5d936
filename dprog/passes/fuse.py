"""Fusion: group elementwise ops and the reductions they feed into `fusion` nodes.

A group is one loop nest over an iteration shape S. It holds elementwise ops whose output
has shape S (and iotas of shape S) and reductions whose input has shape S. A value leaves
the group (is materialised) only if something outside reads it. Movement ops are not
fused: on the CPU they are NumPy views of materialised buffers (no copy), which the loop
reads through their strides, or indexes itself (absorbed broadcasts, transposes,
gathers and pads, see _absorb_views). Contractions, scans and control flow stay single.

Groups are joined greedily in program order; a node may join a group only if that does
not create a cycle between groups (group A needs B's output while B needs A's).
"""
from ..ir import Graph, Node, Var
from ..ops.fusion import fusion_p
from ..ops.misc import iota_p
from ..ops.record import Kind
from ..ops import shape as sh
from .dce import dce, live_nodes



def is_pointwise(node):
    return node.op.kind is Kind.ELEMENTWISE or node.op is iota_p


def is_fusible_reduction(node):
    # A reduction with an identity (its record's `identity`) can start an accumulator.
    return node.op.kind is Kind.REDUCTION and node.op.identity is not None


class _Group:
    __slots__ = ("index", "nodes", "shape", "reduced", "fusible", "deps", "absorbed")

    def __init__(self, index, node, shape, fusible):
        self.index = index
        self.nodes = [node]
        self.shape = shape
        self.reduced = set()   # var ids produced by reductions (available after the loop)
        self.fusible = fusible
        self.deps = set()      # indices of groups this one reads from
        self.absorbed = set()  # var ids of views this group reads through (_absorb_views)


def _reaches(groups, start, target):
    """Is `target` reachable from group `start` along dependency edges?"""
    stack, seen = [start], set()
    while stack:
        g = stack.pop()
        if g == target:
            return True
        if g in seen:
            continue
        seen.add(g)
        stack.extend(groups[g].deps)
    return False


def _assign_groups(graph):
    groups, producer = [], {}  # producer: var id -> group index

    def operand_groups(node):
        return {producer[x.id] for x in node.inputs if isinstance(x, Var) and x.id in producer}

    def can_join(g, node):
        # A reduction's result exists only after the loop nest: no member may read it.
        if any(isinstance(x, Var) and x.id in g.reduced for x in node.inputs):
            return False
        others = operand_groups(node) - {g.index}
        return not any(_reaches(groups, h, g.index) for h in others)

    for node in graph.nodes:
        target = None
        if is_pointwise(node):
            shape = node.outs[0].aval.shape
            for x in node.inputs:
                if not isinstance(x, Var) or x.id not in producer:
                    continue
                g = groups[producer[x.id]]
                if g.fusible and g.shape == shape and x.id not in g.reduced and can_join(g, node):
                    target = g
                    break
        elif is_fusible_reduction(node):
            x = node.inputs[0]
            if isinstance(x, Var) and x.id in producer:
                g = groups[producer[x.id]]
                if g.fusible and g.shape == x.aval.shape and x.id not in g.reduced and can_join(g, node):
                    target = g
        if target is None:
            fusible = is_pointwise(node) or is_fusible_reduction(node)
            shape = node.inputs[0].aval.shape if is_fusible_reduction(node) else (
                node.outs[0].aval.shape if node.outs else ())
            target = _Group(len(groups), node, shape, fusible)
            groups.append(target)
        else:
            target.nodes.append(node)
        target.deps |= operand_groups(node) - {target.index}
        for v in node.outs:
            producer[v.id] = target.index
        if is_fusible_reduction(node):
            target.reduced.update(v.id for v in node.outs)
    return groups, producer


def _inputs_of(group):
    inner = {v.id for n in group.nodes for v in n.outs}
    return {x.id for n in group.nodes for x in n.inputs if isinstance(x, Var) and x.id not in inner}


def _merge_siblings(groups):
    """Merge fusible groups over the same iteration shape when one feeds the other or both
    read a common input, unless that would create a cycle or make a loop read its own
    reduction. Greedy joining in program order splits chains like tanh(x) * exp(-x*x)
    + log1p(x*x) into several loops; merged, every intermediate stays in registers."""
    changed = True
    while changed:
        changed = False
        alive = [g for g in groups if g.fusible and g.nodes]
        for first in alive:
            for second in alive:
                if first is second or not first.nodes or not second.nodes:
                    continue
                if _try_merge(groups, first, second):
                    changed = True
    return groups  # merged-away groups are left empty, so indices stay valid


def _try_merge(groups, producer, consumer):
    """Merge `consumer` into `producer` if that is safe; True if it was done."""
    if producer.shape != consumer.shape:
        return False
    if consumer.index in producer.deps:
        return False  # the other order is tried too
    direct = producer.index in consumer.deps
    consumer_inputs = _inputs_of(consumer)
    if not direct and (producer.index > consumer.index or not (_inputs_of(producer) & consumer_inputs)):
        return False  # unrelated siblings gain nothing; related ones merge in one order
    if consumer_inputs & producer.reduced:
        return False  # a loop cannot read its own reduction
    # The consumer may depend on the producer directly, but not through a third group,
    # and siblings must not reach each other at all.
    others = consumer.deps - {producer.index}
    if any(_reaches(groups, d, producer.index) for d in others):
        return False
    if any(_reaches(groups, d, consumer.index) for d in producer.deps):
        return False
    producer.nodes += consumer.nodes
    producer.reduced |= consumer.reduced
    producer.deps |= others
    consumer.nodes = []
    for g in groups:
        if consumer.index in g.deps:
            g.deps.discard(consumer.index)
            if g is not producer:
                g.deps.add(producer.index)
    return True


def _topological(groups):
    order, state = [], {}

    def visit(i):
        if state.get(i) == 2:
            return
        state[i] = 1
        for d in sorted(groups[i].deps):
            visit(d)
        state[i] = 2
        order.append(groups[i])
    for g in groups:
        visit(g.index)
    return [g for g in order if g.nodes]


def _fusion_node(group, used_outside):
    """Replace a group by one fusion node over a closed sub-graph."""
    return fusion_node_of(group.nodes, group.shape, used_outside, group.nodes[0].loc)


def fusion_node_of(nodes, shape, used_outside, loc, **extra_params):
    """One fusion node running `nodes` (in order) as a loop nest over `shape`. Its
    sub-graph is closed: values read from outside become its inputs; values in
    `used_outside` (var ids) become its outputs. The sub-graph's nodes keep their output
    Vars, so the fusion node's outputs are the very Vars its consumers read."""
    # A value whose readers now recompute it (_recompute_cheap_inputs) would otherwise
    # still be computed here, and every dead line is compile time spent in Numba.
    nodes = live_nodes(nodes, set(used_outside))
    inner_ids = {v.id for n in nodes for v in n.outs}
    ext_vars, seen = [], set()
    for n in nodes:
        for x in n.inputs:
            if isinstance(x, Var) and x.id not in inner_ids and x.id not in seen:
                seen.add(x.id)
                ext_vars.append(x)
    outs = [v for n in nodes for v in n.outs if v.id in used_outside]
    sub_in = [Var(v.aval) for v in ext_vars]
    rename = {v.id: nv for v, nv in zip(ext_vars, sub_in)}
    sub_nodes = [Node(n.op, [rename.get(x.id, x) if isinstance(x, Var) else x for x in n.inputs],
                      n.params, n.outs, n.loc) for n in nodes]
    sub = Graph(sub_in, sub_nodes, outs)
    return Node(fusion_p, ext_vars, {"graph": sub, "shape": tuple(shape), **extra_params}, outs, loc)


RECOMPUTE_MAX_NODES = 8  # a chain this short is cheaper to recompute than to store and reload


def _recompute_cheap_inputs(groups, graph):
    """A loop that reads a value another loop over the same space computed (like exp(x -
    max) in a softmax gradient) recomputes it from that loop's inputs instead, when the
    chain is short and has no reduction: the producer then need not write it to memory."""
    producer_group, producer_node = {}, {}
    for g in groups:
        for n in g.nodes:
            for v in n.outs:
                producer_group[v.id] = g
                producer_node[v.id] = n
    outputs = {v.id for v in graph.outvars if isinstance(v, Var)}
    for g in groups:
        if not g.fusible or not g.nodes:
            continue
        inner = {v.id for n in g.nodes for v in n.outs}
        clones = []
        rename = {}
        for x in list(_inputs_of(g)):
            p = producer_group.get(x)
            if p is None or p is g or not p.fusible or p.shape != g.shape or x in outputs:
                continue
            chain = _chain(producer_node[x], p, producer_node)
            if chain is None or len(chain) > RECOMPUTE_MAX_NODES:
                continue
            for n in chain:
                outs = [Var(v.aval) for v in n.outs]
                for old, new in zip(n.outs, outs):
                    rename[old.id] = new
                clones.append(Node(n.op, [rename.get(i.id, i) if isinstance(i, Var) else i
                                          for i in n.inputs], n.params, outs, n.loc))
        if not clones:
            continue
        # Reads of the recomputed values now refer to the clones.
        g.nodes = clones + [Node(n.op, [rename.get(i.id, i) if isinstance(i, Var) and i.id not in inner
                                        else i for i in n.inputs], n.params, n.outs, n.loc)
                            for n in g.nodes]
        for n in g.nodes:
            for v in n.outs:
                producer_group[v.id] = g
                producer_node[v.id] = n
    _recompute_deps(groups)


def _chain(node, group, producer_node):
    """The nodes of `group` that compute `node` from the group's inputs (in order), or
    None if that needs a reduction or a view of an in-group value."""
    members = {id(n) for n in group.nodes}
    needed, stack = [], [node]
    seen = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if not is_pointwise(n) and n.op.name not in ABSORBABLE_VIEWS:
            return None
        needed.append(n)
        for x in n.inputs:
            p = producer_node.get(getattr(x, "id", None))
            if p is not None and id(p) in members:
                stack.append(p)
    order = {id(n): i for i, n in enumerate(group.nodes)}
    return sorted(needed, key=lambda n: order[id(n)])


def _recompute_deps(groups):
    producer = {v.id: g.index for g in groups for n in g.nodes for v in n.outs}
    for g in groups:
        g.deps = {producer[x] for x in _inputs_of(g) if x in producer} - {g.index}


# Movement ops a loop nest can apply to an input by indexing it differently.
ABSORBABLE_VIEWS = ("broadcast_in_dim", "transpose")
# Ops a loop nest can read by computing where to load, so that the gathered or padded
# array is never materialised: through an index array (x[idx[i]],
# codegen/expressions.gather_read) or with a bounds test (a pad, expressions.pad_read).
# Besides these, any op whose record has a read_index (a broadcast, transpose, strided
# slice or reversal: where an output position lies in the source) is read from its
# source by index (expressions.view_index). (A slice handed to a kernel as a NumPy view
# has runtime strides: Numba indexes it in bytes, LLVM cannot prove unit stride, and the
# loop stays scalar. Reading x[:, 3:503] through tanh took 8.1 ms on 4096x1000 float32
# against 0.9 ms for a contiguous copy.)
ABSORBABLE_READS = ("gather", "pad")


def _absorbable(view, x, inner, shape):
    """Can a group over `shape` read `x` (made by node `view`) from view's source?"""
    if view is None or x.id in inner or x.aval.shape != shape:
        return False
    src = view.inputs[0]
    if not isinstance(src, Var) or src.aval.ndim == 0:
        return False
    if view.op.read_index is not None:  # the record says where its source is read
        return True
    if view.op.name not in ABSORBABLE_READS:
        return False
    if view.op.name == "pad":  # the padding value is any scalar
        return True
    # A gather also needs its index as an array (or a scalar) made outside the group.
    return isinstance(view.inputs[1], Var)


def _absorb_views(groups, producer_node):
    """Pull broadcasts and transposes of materialised values into the groups that read
    them: the kernel then indexes the source array directly (x[i0] for a row vector
    broadcast over i1), so loads stay contiguous and loop-invariant ones are hoisted.
    Gathers (x[h, idx[j], t]) and pads (a bounds test around the load) likewise, and a
    view of a view as one composed view. The standalone node stays for other readers;
    DCE drops it if it has none."""
    for g in groups:
        if not g.fusible:
            continue
        inner = {v.id for n in g.nodes for v in n.outs}
        absorbed = []
        for n in g.nodes:
            for x in n.inputs:
                view = producer_node.get(getattr(x, "id", None))
                composed = _composed_view(view, producer_node)
                if composed is not None and _absorbable(composed, x, inner, g.shape):
                    view = composed
                if _absorbable(view, x, inner, g.shape):
                    absorbed.append(view)
                    inner.add(x.id)
                    g.absorbed.add(x.id)
        g.nodes = absorbed + g.nodes


def _axis_map(view):
    """For a broadcast or transpose: the output axis each source axis lands on."""
    if view.op is sh.broadcast_in_dim_p:
        return list(view.params["dims"])
    return list(sh.inverse_perm(view.params["perm"]))


def _composed_view(view, producer_node):
    """A view of a view of a materialised array (transpose(broadcast(x)), as reverse
    mode and sink_transposes make them) as one broadcast of x, so a kernel can read x
    itself. Its dims may be out of order: only a kernel's index expression reads it
    (expressions.view_index), never NumPy. None if the chain is not of that form."""
    if view is None or view.op.name not in ABSORBABLE_VIEWS:
        return None
    inner = producer_node.get(getattr(view.inputs[0], "id", None))
    if inner is None or inner.op.name not in ABSORBABLE_VIEWS:
        return None
    x = inner.inputs[0]
    if not isinstance(x, Var) or x.aval.ndim == 0:
        return None
    outer_map = _axis_map(view)
    dims = tuple(outer_map[d] for d in _axis_map(inner))
    return Node(sh.broadcast_in_dim_p, [x], {"shape": view.outs[0].aval.shape, "dims": dims},
                view.outs, view.loc)


def fuse(graph, absorb_views=False):
    """Group the graph's nodes into fusion nodes. absorb_views: let kernels read
    broadcast/transposed inputs through their index expressions (the CPU code generator
    supports this; the CUDA one takes strided views instead)."""
    groups, _ = _assign_groups(graph)
    groups = _merge_siblings(groups)
    if absorb_views:  # CPU: the same code generator that reads views can recompute chains
        _recompute_cheap_inputs(groups, graph)
    if absorb_views:
        _absorb_views(groups, {v.id: n for n in graph.nodes for v in n.outs})
    # Values read outside their group (by another group or as graph outputs).
    used_outside = {v.id for v in graph.outvars if isinstance(v, Var)}
    for g in groups:
        inner = {v.id for n in g.nodes for v in n.outs}
        for n in g.nodes:
            used_outside.update(x.id for x in n.inputs if isinstance(x, Var) and x.id not in inner)
    nodes = []
    for g in _topological(groups):
        if g.fusible:
            # A view the group reads through is not one of its results: other readers
            # keep reading the standalone view node. (Exported, it would make them depend
            # on this group: a cycle where this group runs after them, as a gradient's
            # loop absorbing the slice its forward pass reads.)
            nodes.append(_fusion_node(g, used_outside - g.absorbed))
        else:
            nodes.extend(g.nodes)
    fused = graph.replace(nodes=nodes)
    if absorb_views:
        fused = dce(fused)
    return fused
