"""Batching (vmap): evaluate a graph on inputs that carry an extra batch axis.

Every value is tracked with its batch axis (None: the same for every batch member). A
node whose inputs are all unbatched is re-bound as it is; otherwise its op's batching
rule (`Op.batch`, see dprog/ops/batching.py) re-emits it for the whole batch at once.
Ops without a rule fall back on their kind (elementwise ops share one rule) or, last, on
a loop over batch members, which is correct for any op but unrolls B copies of it.
"""
from ..errors import TransformError, with_location
from ..interpreter import read
from ..ir import Aval, Var
from ..ops.batching import aval, bdim_to_front, elementwise_rule, moveaxis
from ..ops.record import Kind
from ..staging import trace_flat
from .vjp import traced_const


def batch_rule(op):
    """The batching rule of `op`: its own, the shared one of its kind, or a loop."""
    if op.batch is not None:
        return op.batch
    if op.kind is Kind.ELEMENTWISE:
        op.batch = elementwise_rule(op)
        return op.batch
    return _loop_rule(op)


def _loop_rule(op):
    def rule(axis_size, args, dims, /, **params):
        from ..ops.shape import concatenate_p, reshape_p, slice_p
        per_member = []
        for b in range(axis_size):
            member_args = [x if d is None else _member(x, d, b, slice_p, reshape_p)
                           for x, d in zip(args, dims)]
            out = op(*member_args, **params)
            per_member.append(list(out) if op.multiple_results else [out])
        outs = []
        for results in zip(*per_member):
            shape = aval(results[0]).shape
            rows = [reshape_p(r, shape=(1,) + shape) for r in results]
            outs.append(concatenate_p(*rows, axis=0) if len(rows) > 1 else rows[0])
        if op.multiple_results:
            return outs, [0] * len(outs)
        return outs[0], 0
    return rule


def _member(x, d, b, slice_p, reshape_p):
    """Batch member b of x (batch axis d), without its batch axis."""
    shape = aval(x).shape
    start = [0] * len(shape)
    start[d] = b
    limit = list(shape)
    limit[d] = b + 1
    piece = slice_p(x, start=tuple(start), limit=tuple(limit), step=(1,) * len(shape))
    return reshape_p(piece, shape=shape[:d] + shape[d + 1:])


def apply_rule(node_op, axis_size, args, dims, params, loc=None):
    """Batch one op application; returns (outs, out_dims) as lists."""
    outs, out_dims = batch_rule(node_op)(axis_size, list(args), list(dims), **params)
    if not node_op.multiple_results:
        outs, out_dims = [outs], [out_dims]
    for out, d in zip(outs, out_dims):
        if d is not None and aval(out).shape[d] != axis_size:
            raise TransformError(with_location(
                f"internal: the vmap rule of {node_op.name} returned shape {aval(out).shape} "
                f"with batch axis {d}, not of size {axis_size}", loc))
    return list(outs), list(out_dims)


def batch_eval(graph, consts, args, dims, axis_size):
    """Evaluate `graph` where args[i] carries a batch axis dims[i] (or None), binding into
    the active trace. Returns (outs, out_dims) with out_dims[i] None for unbatched outs."""
    env, denv = {}, {}
    for v, x in zip(graph.constvars, consts):
        env[v.id] = traced_const(x)
    for v, x, d in zip(graph.invars, args, dims):
        env[v.id] = x
        if d is not None:
            denv[v.id] = d
    for node in graph.nodes:
        ins = [read(env, a) for a in node.inputs]
        in_dims = [denv.get(a.id) if isinstance(a, Var) else None for a in node.inputs]
        if all(d is None for d in in_dims):
            out = node.op(*ins, **node.params)
            outs = list(out) if node.op.multiple_results else [out]
            out_dims = [None] * len(outs)
        else:
            outs, out_dims = apply_rule(node.op, axis_size, ins, in_dims, node.params, node.loc)
        for var, value, d in zip(node.outs, outs, out_dims):
            env[var.id] = value
            if d is not None:
                denv[var.id] = d
    outs = [read(env, v) for v in graph.outvars]
    out_dims = [denv.get(v.id) if isinstance(v, Var) else None for v in graph.outvars]
    return outs, out_dims


def move_batch_axis(x, d, dst, axis_size):
    """x with its batch axis at `dst` (an unbatched x is broadcast along a new axis)."""
    if d is None:
        x = bdim_to_front(x, None, axis_size)
        d = 0
    return moveaxis(x, d, dst)


def batched_aval(a, d, axis_size):
    if d is None:
        return a
    return Aval(a.shape[:d] + (axis_size,) + a.shape[d:], a.dtype, a.weak)


def vmap_graph(graph, dims, axis_size, out_dims=None):
    """Graph -> Graph: inputs gain a batch axis at dims[i] (None: unbatched); every output
    gets its batch axis at out_dims[i] (default 0), unbatched outputs being broadcast."""
    out_dims = [0] * len(graph.outvars) if out_dims is None else list(out_dims)

    def fun(*args):
        outs, got = batch_eval(graph, graph.consts, args, dims, axis_size)
        return [move_batch_axis(x, d, dst, axis_size) for x, d, dst in zip(outs, got, out_dims)]

    return trace_flat(fun, [batched_aval(v.aval, d, axis_size)
                            for v, d in zip(graph.invars, dims)])
