"""Constant folding: evaluate nodes whose inputs are all known at compile time.

Known values are literals and captured constants. Results of rank 0 become literals; small
arrays become captured constants. Large broadcasts are left alone: a stride-0 view costs
nothing at run time, while a folded copy would cost memory.
"""
import numpy as np

from ..ir import Literal, Node, Var
from ..ops.record import Kind
from ..ops.shape import broadcast_in_dim_p

MAX_FOLDED_ELEMENTS = 1 << 16


def fold(graph):
    known = {v.id: c for v, c in zip(graph.constvars, graph.consts) if isinstance(c, np.ndarray)}
    constvars, consts = list(graph.constvars), list(graph.consts)
    rename, nodes = {}, []
    # Equal folded arrays share one constvar, so CSE sees the nodes that read them as
    # equal (e.g. one zero carry broadcast for two scans that merge_extended must join).
    by_value = {}
    for node in graph.nodes:
        inputs = [rename.get(x.id, x) if isinstance(x, Var) else x for x in node.inputs]
        foldable = (not node.op.effectful and node.op.kind not in (Kind.CONTROL, Kind.FUSED, Kind.COLLECTIVE)
                    and node.op is not broadcast_in_dim_p  # a view of a scalar: free already
                    and node.op.kind is not Kind.CREATION  # an iota costs nothing in a kernel
                    and all(isinstance(x, Literal) or x.id in known for x in inputs)
                    and all(v.aval.size <= MAX_FOLDED_ELEMENTS for v in node.outs))
        if not foldable:
            nodes.append(Node(node.op, inputs, node.params, node.outs, node.loc))
            continue
        values = [x.value if isinstance(x, Literal) else known[x.id] for x in inputs]
        out = node.op.impl(*values, **node.params)
        outs = out if node.op.multiple_results else [out]
        for var, value in zip(node.outs, outs):
            value = np.asarray(value, dtype=var.aval.dtype)
            if var.aval.ndim == 0:
                rename[var.id] = Literal(var.aval.dtype.type(value), var.aval)
            else:
                value = np.ascontiguousarray(value)
                key = (value.shape, value.dtype.str, value.tobytes())
                if key in by_value:
                    rename[var.id] = by_value[key]
                    continue
                by_value[key] = var
                known[var.id] = value
                constvars.append(var)
                consts.append(value)
    if not rename and len(nodes) == len(graph.nodes):
        return graph
    outvars = [rename.get(v.id, v) if isinstance(v, Var) else v for v in graph.outvars]
    from .simplify import _materialise_outputs
    outvars = _materialise_outputs(outvars, nodes, graph)
    return graph.replace(nodes=nodes, outvars=outvars, constvars=constvars, consts=consts)
