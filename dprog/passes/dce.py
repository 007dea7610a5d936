"""Dead-code elimination: drop nodes whose outputs nobody reads (effectful ops stay), and
shrink ops with sub-graphs whose outputs are read in part (Op.dce)."""
from ..ir import Var


def live_nodes(nodes, live):
    """The nodes (in order) whose results are read, given the ids of the values read from
    outside (`live`, a set it extends with what the kept nodes read); effectful ops stay."""
    kept = []
    for node in reversed(nodes):
        used = [v.id in live for v in node.outs]
        if node.op.effectful or any(used):
            if node.op.dce is not None and not node.op.effectful and not all(used):
                node = node.op.dce(node, used) or node
            kept.append(node)
            live.update(x.id for x in node.inputs if isinstance(x, Var))
    kept.reverse()
    return kept


def dce(graph):
    live = {v.id for v in graph.outvars if isinstance(v, Var)}
    kept = live_nodes(graph.nodes, live)
    pairs = [(v, c) for v, c in zip(graph.constvars, graph.consts) if v.id in live]
    unchanged = len(kept) == len(graph.nodes) and all(a is b for a, b in zip(kept, graph.nodes))
    if unchanged and len(pairs) == len(graph.constvars):
        return graph
    # Unused constvars go too, so captured arrays are not kept alive for nothing.
    return graph.replace(nodes=kept, constvars=[v for v, _ in pairs], consts=[c for _, c in pairs])
