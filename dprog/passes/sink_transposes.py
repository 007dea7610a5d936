"""Compute elementwise values in the axis order their readers want.

Reverse mode often computes a value in one axis order and then hands a transpose of it
to a matmul (GMM's gradient: 2 * ct[n, k] * Lxc[n, k, :] is computed over (n, k, d) and
multiplied as (k, n, d)). The kernel then writes in one order and BLAS reads in another,
and the value's own input was itself a transpose of a BLAS result (k, n, d): twice across
memory. When every reader of an elementwise value reads it through a transpose (or reduces it),
this pass computes the value over the shape of the most wanted transpose P instead:

    transpose(f(a, b), P)  ->  f(transpose(a, P), transpose(b, P))

It only does so when that adds no strided read: each input must be a broadcast (free in
any order), a transpose that P undoes, a scalar, or another elementwise value that sinks
with it. Simplify then folds the new transposes into those broadcasts and transposes.
Reductions of the value reduce the new one over the permuted axes (then transpose their
small result back if its axis order changed).
"""
from ..ir import Node, Var, emit
from ..ops import shape as sh
from ..ops.record import Kind
from ..ops.shape import compose_perms, inverse_perm
from .fuse import is_fusible_reduction


def _is_elementwise(node):
    return node.op.kind is Kind.ELEMENTWISE and len(node.outs) == 1 and not node.subgraphs()


class _Graph:
    def __init__(self, graph):
        self.producer = {v.id: n for n in graph.nodes for v in n.outs}
        self.consumers = {}
        for n in graph.nodes:
            for x in n.inputs:
                if isinstance(x, Var):
                    self.consumers.setdefault(x.id, []).append(n)
        self.outputs = {v.id for v in graph.outvars if isinstance(v, Var)}


def _root_perm(g, node):
    """The order P to compute node's value in, when every reader transposes it
    (reductions may read it too), at least one does, and it is not a graph output; else
    None. Readers that transpose it differently (GMM's x - mu, read as (k, n, d) by one
    matmul and as (k, d, n) by another) then read a transpose of the new value: P is the
    order most of them want, the first one's on a tie."""
    out = node.outs[0]
    if out.id in g.outputs or out.aval.ndim < 2:
        return None
    perms = []
    for c in g.consumers.get(out.id, ()):
        if c.op is sh.transpose_p:
            perms.append(tuple(c.params["perm"]))
        elif not is_fusible_reduction(c):  # (sum, max, min: reductions over `axes`)
            return None
    if not perms:
        return None
    return max(perms, key=lambda p: (perms.count(p), -perms.index(p)))


def _collect(g, root, perm):
    """The elementwise nodes that sink with `root` (root first, producers after), or None
    if sinking would read some materialised input across memory."""
    members, order, stack = {id(root)}, [root], [root]
    while stack:
        node = stack.pop()
        for x in node.inputs:
            if not isinstance(x, Var) or x.aval.ndim == 0:
                continue
            p = g.producer.get(x.id)
            if p is None:
                return None  # an argument or constant: its transpose is a strided read
            if p.op is sh.broadcast_in_dim_p:
                continue
            if p.op is sh.transpose_p and compose_perms(p.params["perm"], perm) == tuple(range(len(perm))):
                continue
            if id(p) in members:
                continue
            readers = g.consumers.get(x.id, ())
            if (_is_elementwise(p) and x.id not in g.outputs and x.aval.shape == node.outs[0].aval.shape
                    and all(id(r) in members for r in readers)):
                members.add(id(p))
                order.append(p)
                stack.append(p)
                continue
            return None
    return order


def sink_transposes(graph):
    g = _Graph(graph)
    plans = {}  # id(node) -> perm, for every node that sinks
    for node in reversed(graph.nodes):
        if id(node) in plans or not _is_elementwise(node):
            continue
        perm = _root_perm(g, node)
        if perm is None:
            continue
        members = _collect(g, node, perm)
        if members is None or any(id(m) in plans for m in members):
            continue
        for m in members:
            plans[id(m)] = perm
    if not plans:
        return graph
    rename, nodes = {}, []   # old var id -> the value that replaces it
    sunk = {}                # old var id -> its value computed in the transposed order

    for node in graph.nodes:
        inputs = [rename.get(x.id, x) if isinstance(x, Var) else x for x in node.inputs]
        perm = plans.get(id(node))
        if perm is not None:
            new_inputs = []
            for x, orig in zip(inputs, node.inputs):
                if isinstance(orig, Var) and orig.id in sunk:
                    new_inputs.append(sunk[orig.id])
                elif isinstance(x, Var) and x.aval.ndim:
                    new_inputs.append(emit(nodes, sh.transpose_p, [x], {"perm": perm}, node.loc))
                else:
                    new_inputs.append(x)
            sunk[node.outs[0].id] = emit(nodes, node.op, new_inputs, dict(node.params), node.loc)
            continue
        src = node.inputs[0] if node.inputs else None
        if isinstance(src, Var) and src.id in sunk:
            value, perm = sunk[src.id], plans[id(g.producer[src.id])]
            if node.op is sh.transpose_p:
                rest = compose_perms(inverse_perm(perm), tuple(node.params["perm"]))
                if rest == tuple(range(len(rest))):  # the reader this pass serves: the value itself
                    rename[node.outs[0].id] = value
                else:
                    rename[node.outs[0].id] = emit(nodes, sh.transpose_p, [value], {"perm": rest}, node.loc)
                continue
            if is_fusible_reduction(node):
                rename[node.outs[0].id] = _reduce_permuted(nodes, node, value, perm)
                continue
        nodes.append(Node(node.op, inputs, node.params, node.outs, node.loc))
    outvars = [rename.get(v.id, v) if isinstance(v, Var) else v for v in graph.outvars]
    return graph.replace(nodes=nodes, outvars=outvars)


def _reduce_permuted(nodes, node, value, perm):
    """node (a reduction of the old value) as a reduction of `value` = transpose(old, perm)."""
    inv = inverse_perm(perm)
    axes = node.params["axes"]
    new_axes = tuple(sorted(inv[a] for a in axes))
    y = emit(nodes, node.op, [value], {**node.params, "axes": new_axes}, node.loc)
    # The kept axes come out in the new order; put them back in the old one.
    kept_old = [a for a in range(len(perm)) if a not in axes]         # old axes, old order
    kept_new = [perm[j] for j in range(len(perm)) if j not in new_axes]  # old axes, new order
    order = tuple(kept_new.index(a) for a in kept_old)
    if order != tuple(range(len(order))):
        y = emit(nodes, sh.transpose_p, [y], {"perm": order}, node.loc)
    return y
