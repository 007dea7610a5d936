"""Algebraic simplification: small named rewrite rules applied in one forward sweep.

Each rule looks at one node (with its inputs already rewritten) and returns a
replacement atom for its single output, or None to keep the node. Rules branch on op
records' kinds and on a few structural ops (reshape, transpose, broadcast); they never
change what a program computes, only how many nodes compute it (one exception: pow's
rewrite by products may round differently from pow, within the bounds its record states).
"""
from ..ir import Literal, Node, Var
from ..ops import elementwise as ew
from ..ops import shape as sh
from ..ops.record import Kind
from .sum_of_matmul import sum_of_matmul


def _same_aval(atom, var):
    return atom.aval.shape == var.aval.shape and atom.aval.dtype == var.aval.dtype


def _is_literal(atom, value):
    return isinstance(atom, Literal) and atom.value == value


def identity_arithmetic(node, producers):
    """x * 1, 1 * x, x + 0, 0 + x, x - 0, x / 1 -> x (when x already has the output's shape)."""
    op, ins, out = node.op, node.inputs, node.outs[0]
    if not out.aval.dtype.kind == "f" and op not in (ew.add_p, ew.mul_p, ew.sub_p):
        return None
    pairs = {ew.mul_p: ((0, 1, 1), (1, 0, 1)), ew.add_p: ((0, 1, 0), (1, 0, 0)),
             ew.sub_p: ((0, 1, 0),), ew.div_p: ((0, 1, 1),)}
    for keep, other, neutral in pairs.get(op, ()):
        if _is_literal(ins[other], neutral) and _same_aval(ins[keep], out):
            return ins[keep]
    return None


def double_negation(node, producers):
    if node.op is ew.neg_p:
        inner = producers.get(getattr(node.inputs[0], "id", None))
        if inner is not None and inner.op is ew.neg_p:
            return inner.inputs[0]
    return None


def op_rewrite(node, producers):
    """The op's own algebra (Op.rewrite): pow by a literal exponent, select on a literal
    condition. New nodes go before the node they replace; a rank-0 result is broadcast
    to the node's shape; a result of another dtype or shape leaves the node as it is."""
    if node.op.rewrite is None:
        return None
    new_nodes = []

    def emit(op, *inputs, **params):
        var = Var(op.abstract_eval([a.aval for a in inputs], params)[0])
        new_nodes.append(Node(op, list(inputs), params, [var], node.loc))
        return var
    out = node.outs[0]
    value = node.op.rewrite(node, emit)
    if value is None or value.aval.dtype != out.aval.dtype:
        return None
    if value.aval.shape != out.aval.shape:
        if value.aval.ndim:
            return None
        broadcast = Var(out.aval)
        new_nodes.append(Node(sh.broadcast_in_dim_p, [value], {"shape": out.aval.shape, "dims": ()},
                              [broadcast], node.loc))
        value = broadcast
    return (new_nodes, value) if new_nodes else value


def reshape_of_scalar_broadcast(node, producers):
    """reshape(broadcast(s)) of a rank-0 s -> broadcast(s) to the new shape."""
    if node.op is not sh.reshape_p:
        return None
    p = producers.get(getattr(node.inputs[0], "id", None))
    if p is not None and p.op is sh.broadcast_in_dim_p and p.inputs[0].aval.ndim == 0:
        node.op = sh.broadcast_in_dim_p
        node.inputs = [p.inputs[0]]
        node.params = {"shape": node.outs[0].aval.shape, "dims": ()}
    return None


def trivial_movement(node, producers):
    """reshape/broadcast to the same shape, identity transpose, same-dtype casts."""
    x, out = node.inputs[0] if node.inputs else None, node.outs[0] if node.outs else None
    if node.op in (sh.reshape_p, sh.broadcast_in_dim_p) and x is not None and _same_aval(x, out):
        return x
    if node.op is sh.transpose_p and tuple(node.params["perm"]) == tuple(range(out.aval.ndim)):
        return x
    if node.op is ew.convert_element_type_p and _same_aval(x, out) and x.aval.weak == out.aval.weak:
        return x
    return None


def compose_movement(node, producers):
    """reshape(reshape(x)) -> reshape(x); transpose(transpose(x)) -> one transpose;
    broadcast_in_dim(broadcast_in_dim(x)) -> one broadcast. Rewrites the node in place."""
    x = node.inputs[0] if node.inputs else None
    inner = producers.get(getattr(x, "id", None))
    if inner is None or inner.op is not node.op:
        return None
    if node.op is sh.reshape_p:
        node.inputs = [inner.inputs[0]]
    elif node.op is sh.transpose_p:
        node.params = {"perm": sh.compose_perms(inner.params["perm"], node.params["perm"])}
        node.inputs = [inner.inputs[0]]
    elif node.op is sh.broadcast_in_dim_p:
        d_in, d_out = inner.params["dims"], node.params["dims"]
        node.params = {"shape": node.params["shape"], "dims": tuple(d_out[d] for d in d_in)}
        node.inputs = [inner.inputs[0]]
    return None


def transpose_of_broadcast(node, producers):
    """transpose(broadcast_in_dim(x)) -> broadcast_in_dim(x) with the dims permuted, when
    x's axes stay in order (NumPy's broadcast needs them so). Rewrites the node in place.
    Otherwise both stay: a CPU kernel reads the pair from x anyway (fuse._composed_view)."""
    if node.op is not sh.transpose_p:
        return None
    inner = producers.get(getattr(node.inputs[0], "id", None))
    if inner is None or inner.op is not sh.broadcast_in_dim_p:
        return None
    position = sh.inverse_perm(node.params["perm"])     # broadcast axis -> output axis
    dims = [position[d] for d in inner.params["dims"]]  # x's axes -> output axes
    x = inner.inputs[0]
    order = sorted(range(len(dims)), key=lambda i: dims[i])
    if order != list(range(len(dims))):
        return None  # x itself would need a transpose: leave both as they are
    node.op = sh.broadcast_in_dim_p
    node.inputs = [x]
    node.params = {"shape": node.outs[0].aval.shape, "dims": tuple(dims)}
    return None


def scalar_broadcast_operands(node, producers):
    """Elementwise ops accept rank-0 operands: use the scalar instead of its broadcast,
    so fused kernels read a scalar rather than a stride-0 array."""
    if node.op.kind is not Kind.ELEMENTWISE:
        return None
    shape = node.outs[0].aval.shape
    new = list(node.inputs)
    for i, x in enumerate(node.inputs):
        p = producers.get(getattr(x, "id", None))
        if p is not None and p.op is sh.broadcast_in_dim_p and p.inputs[0].aval.ndim == 0:
            new[i] = p.inputs[0]
    if new != node.inputs and any(a.aval.shape == shape for a in new):
        node.inputs = new
    return None


def broadcast_of_unit_reshape(node, producers):
    """broadcast_in_dim(reshape(x)) where the reshape only adds or drops size-1 dims (as
    keepdims does) -> one broadcast of x. Rewrites the node in place."""
    if node.op is not sh.broadcast_in_dim_p:
        return None
    inner = producers.get(getattr(node.inputs[0], "id", None))
    if inner is None or inner.op is not sh.reshape_p:
        return None
    x = inner.inputs[0]
    mid = inner.outs[0].aval.shape
    kept_src = [i for i, n in enumerate(x.aval.shape) if n != 1]
    kept_mid = [i for i, n in enumerate(mid) if n != 1]
    if [x.aval.shape[i] for i in kept_src] != [mid[i] for i in kept_mid]:
        return None
    dims_mid = node.params["dims"]
    # Source dim i (size != 1) is mid dim kept_mid[k]; size-1 source dims map anywhere
    # free of size-1 expansion: give them the next output dim of a size-1 mid dim.
    mapping = dict(zip(kept_src, (dims_mid[j] for j in kept_mid)))
    spare = [dims_mid[j] for j, n in enumerate(mid) if n == 1]
    dims = []
    for i in range(x.aval.ndim):
        if i in mapping:
            dims.append(mapping[i])
        elif spare:
            dims.append(spare.pop(0))
        else:
            return None
    if sorted(dims) != dims or len(set(dims)) != len(dims):
        return None
    node.inputs = [x]
    node.params = {"shape": node.params["shape"], "dims": tuple(dims)}
    return None


def elementwise_of_scalar_broadcasts(node, producers):
    """f(broadcast(a), broadcast(b)) with rank-0 a and b -> broadcast(f(a, b)): compute
    once on scalars (constant folding then often finishes the job)."""
    if node.op.kind is not Kind.ELEMENTWISE or not node.outs[0].aval.ndim:
        return None
    scalars = []
    for x in node.inputs:
        if isinstance(x, Literal) or x.aval.ndim == 0:
            scalars.append(x)
            continue
        p = producers.get(x.id)
        if p is None or p.op is not sh.broadcast_in_dim_p or p.inputs[0].aval.ndim != 0:
            return None
        scalars.append(p.inputs[0])
    out = node.outs[0]
    scalar_var = Var(out.aval.update(shape=()))
    broadcast_var = Var(out.aval)
    return ([Node(node.op, scalars, node.params, [scalar_var], node.loc),
             Node(sh.broadcast_in_dim_p, [scalar_var], {"shape": out.aval.shape, "dims": ()},
                  [broadcast_var], node.loc)], broadcast_var)


RULES = [elementwise_of_scalar_broadcasts, reshape_of_scalar_broadcast, compose_movement, transpose_of_broadcast,
         broadcast_of_unit_reshape, scalar_broadcast_operands, trivial_movement, identity_arithmetic,
         double_negation, op_rewrite, sum_of_matmul]


def simplify(graph):
    rename, producers, nodes = {}, {}, []
    for node in graph.nodes:
        node = Node(node.op, [rename.get(x.id, x) if isinstance(x, Var) else x for x in node.inputs],
                    dict(node.params), node.outs, node.loc)
        replacement = None
        if len(node.outs) == 1 and not node.subgraphs():
            for rule in RULES:
                replacement = rule(node, producers)
                if replacement is not None:
                    break
        if isinstance(replacement, tuple):  # new nodes, then the value they compute
            new_nodes, replacement = replacement
            for n in new_nodes:
                nodes.append(n)
                for v in n.outs:
                    producers[v.id] = n
        if replacement is not None:
            rename[node.outs[0].id] = replacement
            continue
        nodes.append(node)
        for v in node.outs:
            producers[v.id] = node
    outvars = [rename.get(v.id, v) if isinstance(v, Var) else v for v in graph.outvars]
    # An output that became a literal or an input needs a node of its own.
    return graph.replace(nodes=nodes, outvars=_materialise_outputs(outvars, nodes, graph))


def _materialise_outputs(outvars, nodes, graph):
    from ..ir import Node
    result = []
    for v in outvars:
        if isinstance(v, Literal):
            var = Var(v.aval)
            nodes.append(Node(ew.copy_p, [v], {}, [var]))
            v = var
        result.append(v)
    return result
