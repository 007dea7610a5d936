"""Common-subexpression elimination: one node per (op, inputs, params)."""
import numpy as np

from ..ir import Graph, Literal, Node, Var


def _atom_key(atom, rename):
    if isinstance(atom, Literal):
        return ("lit", atom.value, atom.aval)
    return ("var", rename.get(atom.id, atom).id)


def _param_key(value):
    if isinstance(value, (tuple, list)):
        return tuple(_param_key(v) for v in value)
    if isinstance(value, Graph):
        return ("graph", id(value))
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str, value.tobytes())
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


def cse(graph):
    rename = {}  # var id -> the Var that replaces it
    seen = {}
    nodes = []
    for node in graph.nodes:
        inputs = [rename.get(x.id, x) if isinstance(x, Var) else x for x in node.inputs]
        if node.op.effectful:
            nodes.append(Node(node.op, inputs, node.params, node.outs, node.loc))
            continue
        key = (node.op.name, tuple(_atom_key(x, rename) for x in inputs),
               tuple(sorted((k, _param_key(v)) for k, v in node.params.items())))
        previous = seen.get(key)
        if previous is not None:
            for old, new in zip(node.outs, previous.outs):
                rename[old.id] = new
            continue
        new_node = Node(node.op, inputs, node.params, node.outs, node.loc)
        seen[key] = new_node
        nodes.append(new_node)
    if not rename:
        return graph
    outvars = [rename.get(v.id, v) if isinstance(v, Var) else v for v in graph.outvars]
    return graph.replace(nodes=nodes, outvars=outvars)
