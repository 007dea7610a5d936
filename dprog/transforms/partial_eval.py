"""Split a graph by what its outputs depend on, for vjp and linearize.

split(graph, unknown) with unknown[i] True for inputs known only later (cotangents,
tangents) gives:
  known:   inputs without the unknown ones -> (known outputs..., residuals...)
  unknown: (residuals..., unknown inputs...) -> the outputs that depend on them
so running `known` now and `unknown` later computes the same values, with residuals the
only values carried between the two.
"""
from ..ir import Graph, Var


def split(graph, unknown, unknown_outs_wanted=None):
    unknown_ids = {v.id for v, u in zip(graph.invars, unknown) if u}
    known_nodes, unknown_nodes = [], []
    for node in graph.nodes:
        if any(isinstance(x, Var) and x.id in unknown_ids for x in node.inputs):
            unknown_nodes.append(node)
            unknown_ids.update(v.id for v in node.outs)
        else:
            known_nodes.append(node)
    known_defined = {v.id for v in graph.invars if v.id not in unknown_ids}
    known_defined |= {v.id for v in graph.constvars}
    for node in known_nodes:
        known_defined.update(v.id for v in node.outs)
    # Residuals: known values the unknown part reads (inputs of its nodes or its outputs).
    residuals, seen = [], set()

    def need(x):
        if isinstance(x, Var) and x.id in known_defined and x.id not in seen:
            seen.add(x.id)
            residuals.append(x)
    for node in unknown_nodes:
        for x in node.inputs:
            need(x)
    out_is_unknown = [isinstance(v, Var) and v.id in unknown_ids for v in graph.outvars]
    known_outs = [v for v, u in zip(graph.outvars, out_is_unknown) if not u]
    unknown_outs = [v for v, u in zip(graph.outvars, out_is_unknown) if u]
    known = Graph([v for v, u in zip(graph.invars, unknown) if not u], known_nodes,
                  known_outs + residuals, graph.constvars, graph.consts)
    res_vars = [Var(r.aval) for r in residuals]
    rename = {r.id: nv for r, nv in zip(residuals, res_vars)}
    from ..ir import Node
    renamed = [Node(n.op, [rename.get(x.id, x) if isinstance(x, Var) else x for x in n.inputs],
                    n.params, n.outs, n.loc) for n in unknown_nodes]
    unknown_graph = Graph(res_vars + [v for v, u in zip(graph.invars, unknown) if u], renamed,
                          [rename.get(v.id, v) for v in unknown_outs])
    return known, unknown_graph, out_is_unknown
