"""Forward mode: jvp_graph(graph) -> graph of (primals, tangents) -> (outs, tangent outs).

Each node's tangent comes from its op's JVP rule, written with traced operations and so
recorded into the new graph. A zero tangent is None (a symbolic zero) until it must be
materialised, so integer inputs and constants cost nothing.
"""
from .. import dtypes
from ..errors import TransformError, with_location
from ..interpreter import read
from ..staging import trace_flat


def _zeros_like(x):
    from .. import numpy as dnp
    return dnp.zeros_like(x)


def jvp_rule_outputs(node, primals, tangents, outs):
    """Apply node.op's JVP rule; returns one tangent (or None) per output."""
    op = node.op
    if all(t is None for t in tangents) or not op.differentiable:
        return [None] * len(outs)
    if op.jvp is None:
        raise TransformError(with_location(f"op {op.name} has no forward-mode (JVP) rule", node.loc))
    result = op.jvp(primals, tangents, outs, **node.params)
    result = list(result) if op.multiple_results else [result]
    return [t if (t is not None and dtypes.is_float(o.aval.dtype)) else None
            for t, o in zip(result, outs)]


def jvp_graph(graph, has_tangent=None):
    """Graph with inputs (primals..., tangents for inputs marked in has_tangent...)."""
    n = len(graph.invars)
    has_tangent = [True] * n if has_tangent is None else list(has_tangent)
    tangent_avals = [v.aval.strong() for v, h in zip(graph.invars, has_tangent) if h]

    def fun(*args):
        primals, tangent_args = args[:n], list(args[n:])
        tangents = [tangent_args.pop(0) if h else None for h in has_tangent]
        outs, touts = jvp_eval(graph, graph.consts, primals, tangents)
        return list(outs) + [(_zeros_like(o) if t is None else t) for o, t in zip(outs, touts)]

    return trace_flat(fun, [v.aval for v in graph.invars] + tangent_avals)


def jvp_eval(graph, consts, primals, tangents):
    """Evaluate graph's primal and tangent together, binding into the active trace."""
    from .vjp import traced_const
    env, tenv = {}, {}
    for v, x in zip(graph.constvars, consts):
        env[v.id] = traced_const(x)
    for v, x, t in zip(graph.invars, primals, tangents):
        env[v.id] = x
        if t is not None and dtypes.is_float(v.aval.dtype):
            tenv[v.id] = t
    for node in graph.nodes:
        ins = [read(env, a) for a in node.inputs]
        tins = [tenv.get(a.id) if hasattr(a, "id") else None for a in node.inputs]
        out = node.op(*ins, **node.params)
        outs = list(out) if node.op.multiple_results else [out]
        for var, value in zip(node.outs, outs):
            env[var.id] = value
        touts = jvp_rule_outputs(node, ins, tins, outs)
        for var, t in zip(node.outs, touts):
            if t is not None:
                tenv[var.id] = t
    outs = [read(env, v) for v in graph.outvars]
    touts = [tenv.get(v.id) if hasattr(v, "id") else None for v in graph.outvars]
    return outs, touts
