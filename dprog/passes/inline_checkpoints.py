"""Inline dp.checkpoint bodies once the pass pipeline is done, so fusion sees through them.

A checkpoint node exists so that reverse mode recomputes its body in the backward pass
instead of saving the body's intermediates; the transforms have done that by the time a
backend compiles the graph (the backward pass holds its own checkpoint node that reads
only the block's inputs). Run as a separate executable, though, each body is cut off
from fusion: a chain of checkpointed elementwise blocks materialised every block
boundary and every result, 10x the peak memory of the same gradient without checkpoints.

Inlined here, after CSE, the recomputation stays: the backward copy of the body consists
of its own nodes (with fresh Vars), and no later pass merges it with the forward copy,
so the forward's intermediates still die where the forward block ends. Fusion then
puts the recomputation in the same loop as the backward computation that reads it.
"""
from ..ir import Literal, Node, Var
from ..ops.control_custom import checkpoint_p


def inline_checkpoints(graph):
    if not any(n.op is checkpoint_p for n in graph.nodes):
        return graph
    rename = {}
    nodes, constvars, consts = [], list(graph.constvars), list(graph.consts)

    def atom(x):
        return rename.get(x.id, x) if isinstance(x, Var) else x

    for node in graph.nodes:
        inputs = [atom(x) for x in node.inputs]
        if node.op is not checkpoint_p:
            nodes.append(Node(node.op, inputs, node.params, node.outs, node.loc))
            continue
        body = inline_checkpoints(node.params["body"])
        # One body may serve several checkpoint nodes: every copy gets fresh Vars.
        local = {v.id: x for v, x in zip(body.invars, inputs)}
        for v, c in zip(body.constvars, body.consts):
            fresh = Var(v.aval)
            constvars.append(fresh)
            consts.append(c)
            local[v.id] = fresh
        for inner in body.nodes:
            outs = [Var(v.aval) for v in inner.outs]
            ins = [local.get(x.id, x) if isinstance(x, Var) else x for x in inner.inputs]
            nodes.append(Node(inner.op, ins, inner.params, outs, inner.loc or node.loc))
            local.update({v.id: o for v, o in zip(inner.outs, outs)})
        for out, result in zip(node.outs, body.outvars):
            rename[out.id] = local.get(result.id, result) if isinstance(result, Var) else result
    outvars = [atom(v) for v in graph.outvars]
    if any(isinstance(v, Literal) for v in outvars) and not any(isinstance(v, Literal) for v in graph.outvars):
        # A body that returns a constant: keep the graph's outputs Vars, as backends expect.
        return graph
    return graph.replace(nodes=nodes, outvars=outvars, constvars=constvars, consts=consts)
