"""vmap rules of the control ops: cond, scan, while, custom_vjp/custom_jvp, checkpoint.

Each rule batches the node's sub-graphs with `batch_sub` (batch_eval inside a fresh
trace) and binds the same op on the batched operands, so the batched program keeps one
loop (or one cond) instead of a loop over batch members. Inside sub-graphs every batched
value carries its batch axis first; the stacked xs and ys of a scan carry it second
(the loop runs over axis 0). Loop carries are batched when their initial value or the
body makes them so; that is a fixpoint, found in at most one pass per carry.
A batched predicate cannot pick one branch or stop the loop for every member at once:
cond then evaluates every branch and selects per member, and while keeps looping while
any member is active, freezing the finished ones with select (as JAX does).
"""
import weakref

import numpy as np

from .batching import aval, bdim_to_front, moveaxis
from .control_util import split_list, trace_sub

# Batched sub-graphs, per original and per batching pattern: a scan body that extends
# another (reverse mode's stacking body) must batch to an extension of the batched
# original, so that merge_extended still leaves one forward loop under vmap(grad(...)).
_BATCHED = weakref.WeakKeyDictionary()


def _front(x, d, axis_size, want):
    """x with its batch axis first when `want` (an unbatched x is broadcast), else x."""
    if not want:
        return x
    return bdim_to_front(x, d, axis_size)


def _batched_aval(a, batched, axis_size):
    return a.update(shape=(axis_size,) + a.shape, weak=False) if batched else a


def batch_sub(graph, in_batched, axis_size, force_out=None):
    """(sub-graph taking inputs batched at axis 0 where in_batched, out_batched): an output
    is batched (axis 0) when the inputs make it so or force_out says it must be."""
    from ..transforms.vmap import batch_eval
    force = [False] * len(graph.outvars) if force_out is None else list(force_out)
    key = (tuple(in_batched), tuple(force), axis_size)
    cached = _BATCHED.setdefault(graph, {}).get(key)
    if cached is not None:
        return cached
    box = []

    def fun(*args):
        outs, dims = batch_eval(graph, graph.consts, args, [0 if b else None for b in in_batched],
                                axis_size)
        box.append([d is not None or f for d, f in zip(dims, force)])
        return [_front(x, d, axis_size, d is not None or f) for x, d, f in zip(outs, dims, force)]

    avals = [_batched_aval(a, b, axis_size) for a, b in zip(graph.in_avals, in_batched)]
    result = (trace_sub(fun, avals), box[0])
    _BATCHED[graph][key] = result
    _register_batched_extension(graph, key, result[0])
    return result


def _register_batched_extension(graph, key, batched):
    from ..passes.merge_extended import _EXTENDS, register_extension
    original = _EXTENDS.get(graph)
    if original is None:
        return
    n = len(original.outvars)
    twin = _BATCHED.get(original, {}).get((key[0], key[1][:n], key[2]))
    if twin is not None and twin[0].out_avals == batched.out_avals[:n]:
        register_extension(batched, twin[0])


def _out_dims(batched, dim=0):
    return [dim if b else None for b in batched]


def _select(pred, on_true, on_false):
    """Per member: on_true where pred (shape (B,)), else on_false; both batched first."""
    from .elementwise import select_p
    from .shape import broadcast_in_dim_p
    shape = aval(on_true).shape
    if len(shape) > 1:
        pred = broadcast_in_dim_p(pred, shape=shape, dims=(0,))
    return select_p(pred, on_true, on_false)


# ------------------------------------------------------------------------------ cond

def cond_batch(axis_size, args, dims, /, *, branches):
    from .control_cond import cond_p
    from .elementwise import convert_element_type_p, ge_p
    index, operands, op_dims = args[0], args[1:], dims[1:]
    in_b = [d is not None for d in op_dims]
    operands = [_front(x, d, axis_size, b) for x, d, b in zip(operands, op_dims, in_b)]
    if dims[0] is None:
        # One branch for the whole batch: each branch is batched alike.
        out_b = [False] * len(branches[0].outvars)
        for g in branches:
            out_b = [a or b for a, b in zip(out_b, batch_sub(g, in_b, axis_size)[1])]
        new = tuple(batch_sub(g, in_b, axis_size, out_b)[0] for g in branches)
        return cond_p(index, *operands, branches=new), _out_dims(out_b)
    # A batched index: run every branch, then pick per member. Clamping the index to
    # [0, n - 1] is built in: member m takes branch k for the largest k <= index[m].
    from ..transforms.vmap import batch_eval
    index = convert_element_type_p(bdim_to_front(index, dims[0]), dtype=np.dtype(np.int32))
    n_out = len(branches[0].outvars)
    result = None
    for k, g in enumerate(branches):
        outs, got = batch_eval(g, g.consts, operands, [0 if b else None for b in in_b], axis_size)
        outs = [bdim_to_front(x, d, axis_size) for x, d in zip(outs, got)]
        if result is None:
            result = outs
        else:
            take = ge_p(index, np.int32(k))
            result = [_select(take, o, r) for o, r in zip(outs, result)]
    return result, [0] * n_out


# ------------------------------------------------------------------------------ scan

def scan_batch(axis_size, args, dims, /, *, body, num_consts, num_carry, length, reverse):
    from .control_loops import scan_p
    nk, nc = num_consts, num_carry
    k_b = [d is not None for d in dims[:nk]]
    c_b = [d is not None for d in dims[nk:nk + nc]]
    x_b = [d is not None for d in dims[nk + nc:]]
    while True:  # the carry's batching pattern grows until the body keeps it
        out_b = batch_sub(body, k_b + c_b + x_b, axis_size)[1]
        grown = [a or b for a, b in zip(c_b, out_b[:nc])]
        if grown == c_b:
            break
        c_b = grown
    new_body, out_b = batch_sub(body, k_b + c_b + x_b, axis_size, c_b + [False] * (len(out_b) - nc))
    consts, carry, xs = split_list(args, [nk, nc])
    k_d, c_d, x_d = split_list(dims, [nk, nc])
    consts = [_front(x, d, axis_size, b) for x, d, b in zip(consts, k_d, k_b)]
    carry = [_front(x, d, axis_size, b) for x, d, b in zip(carry, c_d, c_b)]
    xs = [x if d is None else moveaxis(x, d, 1) for x, d in zip(xs, x_d)]  # loop axis stays 0
    outs = scan_p(*consts, *carry, *xs, body=new_body, num_consts=nk, num_carry=nc,
                  length=length, reverse=reverse)
    return outs, _out_dims(c_b) + _out_dims(out_b[nc:], 1)


# ----------------------------------------------------------------------------- while

def while_batch(axis_size, args, dims, /, *, cond, body, num_cond_consts, num_body_consts):
    from .control_loops import while_p
    nck, nbk = num_cond_consts, num_body_consts
    ck_b = [d is not None for d in dims[:nck]]
    bk_b = [d is not None for d in dims[nck:nck + nbk]]
    c_b = [d is not None for d in dims[nck + nbk:]]
    while True:
        grown = [a or b for a, b in zip(c_b, batch_sub(body, bk_b + c_b, axis_size)[1])]
        if grown == c_b:
            break
        c_b = grown
    pred_b = batch_sub(cond, ck_b + c_b, axis_size)[1][0]
    if pred_b:
        c_b = [True] * len(c_b)  # finished members are frozen per member: all carries split
    cond_k, body_k, carry = split_list(args, [nck, nbk])
    ck_d, bk_d, c_d = split_list(dims, [nck, nbk])
    cond_k = [_front(x, d, axis_size, b) for x, d, b in zip(cond_k, ck_d, ck_b)]
    body_k = [_front(x, d, axis_size, b) for x, d, b in zip(body_k, bk_d, bk_b)]
    carry = [_front(x, d, axis_size, b) for x, d, b in zip(carry, c_d, c_b)]
    b_cond = batch_sub(cond, ck_b + c_b, axis_size)[0]
    b_body = batch_sub(body, bk_b + c_b, axis_size, c_b)[0]
    if not pred_b:
        outs = while_p(*cond_k, *body_k, *carry, cond=b_cond, body=b_body,
                       num_cond_consts=nck, num_body_consts=nbk)
        return outs, _out_dims(c_b)
    outs = while_p(*cond_k, *cond_k, *body_k, *carry, cond=_any_cond(b_cond),
                   body=_frozen_body(b_cond, b_body, nck, nbk), num_cond_consts=nck,
                   num_body_consts=nck + nbk)
    return outs, [0] * len(outs)


def _any_cond(b_cond):
    """Keep looping while any member's predicate holds."""
    from .. import numpy as dnp
    from .control_util import inline_sub

    def fun(*args):
        return [dnp.any(inline_sub(b_cond, args)[0])]
    return trace_sub(fun, b_cond.in_avals)


def _frozen_body(b_cond, b_body, nck, nbk):
    """(cond_consts, body_consts, carry) -> carry stepped only where the predicate holds."""
    from .control_util import inline_sub

    def fun(*args):
        ck, bk, carry = split_list(args, [nck, nbk])
        active = inline_sub(b_cond, ck + carry)[0]
        stepped = inline_sub(b_body, bk + carry)
        return [_select(active, new, old) for new, old in zip(stepped, carry)]
    return trace_sub(fun, b_cond.in_avals[:nck] + b_body.in_avals)
