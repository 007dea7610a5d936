"""Reverse mode: vjp_graph(graph) -> graph of (primals, output cotangents) ->
(outs, input cotangents).

The forward nodes are re-emitted, then nodes are visited in reverse order and each op's
VJP rule maps output cotangents to input cotangents, summed where a value has several
uses. Cotangents are never dense Jacobians; a zero cotangent is None and costs nothing.
"""
from .. import dtypes
from ..errors import TransformError, node_location, with_location
from ..interpreter import read
from ..ir import Var
from ..staging import trace_flat


def _zeros_like(x):
    from .. import numpy as dnp
    return dnp.zeros_like(x)


def _accumulate(ct_env, var, ct):
    if ct is None or not isinstance(var, Var) or not dtypes.is_float(var.aval.dtype):
        return
    if ct.shape != var.aval.shape:
        raise TransformError(f"internal: cotangent {ct.shape} for {var}")
    prev = ct_env.get(var.id)
    ct_env[var.id] = ct if prev is None else prev + ct


def _depending_on(graph, wrt):
    """Ids of the values that depend on the inputs we differentiate for."""
    live = {v.id for v, w in zip(graph.invars, wrt) if w}
    for node in graph.nodes:
        if any(isinstance(x, Var) and x.id in live for x in node.inputs):
            live.update(v.id for v in node.outs)
    return live


def backward_pass(graph, env, out_cts, wrt=None):
    """Propagate cotangents through graph's nodes (already evaluated into env). With
    `wrt`, only paths that lead to those inputs are visited, so the reverse graph holds
    no cotangents that nobody asked for."""
    relevant = None if wrt is None else _depending_on(graph, wrt)
    ct_env = {}
    for v, ct in zip(graph.outvars, out_cts):
        _accumulate(ct_env, v, ct)
    for node in reversed(graph.nodes):
        if relevant is not None and not any(v.id in relevant for v in node.outs):
            continue
        cts = [ct_env.pop(v.id, None) for v in node.outs]
        if all(c is None for c in cts) or not node.op.differentiable:
            continue
        if not any(isinstance(a, Var) and dtypes.is_float(a.aval.dtype) for a in node.inputs):
            continue  # only literals or integers in: nothing to propagate to
        if node.op.vjp is None:
            raise TransformError(with_location(f"op {node.op.name} has no reverse-mode (VJP) rule", node.loc))
        # Rules read .aval of their cotangent: a concrete one (a 0-d zeros/ones) joins the trace.
        if node.op.multiple_results:
            cts = [_zeros_like(read(env, v)) if c is None else c for v, c in zip(node.outs, cts)]
            ct_arg = [traced_const(c) for c in cts]
        else:
            ct_arg = traced_const(cts[0])
        primals = [read(env, a) for a in node.inputs]
        outs = [read(env, v) for v in node.outs]
        with node_location(node.loc):
            in_cts = node.op.vjp(ct_arg, primals, outs, **node.params)
        for atom, ct in zip(node.inputs, in_cts):
            if relevant is None or (isinstance(atom, Var) and atom.id in relevant):
                _accumulate(ct_env, atom, ct)
    return ct_env


def traced_const(value):
    """A captured constant as a Tracer of the active trace, so rules can read .aval."""
    from ..trace import Tracer, current_builder
    builder = current_builder()
    if builder is None or isinstance(value, Tracer):
        return value
    return Tracer(builder, builder.atom(value))


def forward_pass(graph, consts, primals):
    env = {}
    for v, x in zip(graph.constvars, consts):
        env[v.id] = traced_const(x)
    for v, x in zip(graph.invars, primals):
        env[v.id] = x
    for node in graph.nodes:
        out = node.op(*[read(env, a) for a in node.inputs], **node.params)
        outs = out if node.op.multiple_results else (out,)
        for var, value in zip(node.outs, outs):
            env[var.id] = value
    return env


def vjp_eval(graph, consts, primals, out_cts, wrt):
    """(outs, cotangents of the inputs marked in wrt), binding into the active trace."""
    env = forward_pass(graph, consts, primals)
    outs = [read(env, v) for v in graph.outvars]
    ct_env = backward_pass(graph, env, out_cts, wrt)
    in_cts = []
    for v, x, w in zip(graph.invars, primals, wrt):
        if w:
            ct = ct_env.get(v.id)
            in_cts.append(_zeros_like(x) if ct is None else ct)
    return outs, in_cts


def vjp_graph(graph, wrt=None):
    """Graph (primals..., out cotangents...) -> (outs..., input cotangents for wrt...)."""
    n = len(graph.invars)
    wrt = [True] * n if wrt is None else list(wrt)

    def fun(*args):
        primals, cts = args[:n], args[n:]
        outs, in_cts = vjp_eval(graph, graph.consts, primals, cts, wrt)
        return list(outs) + list(in_cts)

    ct_avals = [v.aval.strong() for v in graph.outvars]
    return trace_flat(fun, [v.aval for v in graph.invars] + ct_avals)
