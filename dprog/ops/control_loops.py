"""Loops whose bodies are traced once: scan and while.

    carry..., ys... = scan(consts..., init..., xs..., body=g, num_consts, num_carry,
                           length, reverse)
        g: (consts..., carry..., x slices...) -> (new carry..., y slices...)
    carry... = while(cond_consts..., body_consts..., init..., cond=gc, body=gb,
                     num_cond_consts, num_body_consts)
        gc: (cond_consts..., carry...) -> bool[];  gb: (body_consts..., carry...) -> carry

Reverse mode through scan: a forward scan stacks the carry entering each step (the only
per-step values the adjoint needs besides consts and xs), then a scan in the opposite
direction recomputes each step's body and applies its VJP, carrying the carry's
cotangent and summing the consts' cotangents. Both are scans, so the derivative of the
derivative is a scan too, and nothing is ever unrolled.
"""
import numpy as np

from ..errors import ShapeError, TransformError, with_location
from ..ir import Aval, Node, Var
from .control_util import (inline_sub, is_float_aval, jvp_sub, needs_ct, reorder_inputs,
                           run_sub, same_avals, scatter, split_list, trace_sub, vjp_sub,
                           zeros_like)
from .control_batch import scan_batch, while_batch
from .record import Kind, Op, register


# ------------------------------------------------------------------------------ scan

def _scan_abstract(*avals, body, num_consts, num_carry, length, reverse):
    consts, carry, xs = split_list(avals, [num_consts, num_carry])
    for x in xs:
        if x.ndim == 0 or x.shape[0] != length:
            raise ShapeError(with_location(f"scan: an xs operand {x} has no leading axis of length {length}"))
    expected = consts + carry + [x.update(shape=x.shape[1:]) for x in xs]
    if not same_avals(body.in_avals, expected):
        raise ShapeError(with_location(
            f"scan: the body takes {[str(a) for a in body.in_avals]} but is given "
            f"{[str(a) for a in expected]}"))
    if not same_avals(body.out_avals[:num_carry], carry):
        raise ShapeError(with_location(
            f"scan: the body returns the carry {[str(a) for a in body.out_avals[:num_carry]]} "
            f"for the carry {[str(a) for a in carry]}"))
    ys = [Aval((length,) + y.shape, y.dtype) for y in body.out_avals[num_carry:]]
    return carry + ys


def _scan_impl(*args, body, num_consts, num_carry, length, reverse):
    consts, carry, xs = split_list(args, [num_consts, num_carry])
    ys = [np.empty((length,) + a.shape, a.dtype) for a in body.out_avals[num_carry:]]
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        outs = run_sub(body, consts + carry + [x[i] for x in xs])
        carry = outs[:num_carry]
        for y, value in zip(ys, outs[num_carry:]):
            y[i] = value
    return list(carry) + ys


def _scan_jvp(primals, tangents, outs, *, body, num_consts, num_carry, length, reverse):
    nk, nc = num_consts, num_carry
    consts, carry, xs = split_list(primals, [nk, nc])
    t_consts, t_carry, t_xs = split_list(tangents, [nk, nc])
    has_k = [t is not None for t in t_consts]
    has_x = [t is not None for t in t_xs]
    # Every float carry gets a tangent: the body may make a zero one nonzero.
    float_c = [is_float_aval(a) for a in body.in_avals[nk:nk + nc]]
    t_carry = [(zeros_like(c) if t is None else t) if f else None
               for c, t, f in zip(carry, t_carry, float_c)]
    nx, nhk, nfc = len(xs), sum(has_k), sum(float_c)
    jb = jvp_sub(body, has_k + float_c + has_x, keep_outs=[True] * nc + [False] * (len(body.outvars) - nc))
    # jb takes (k, c, x, tk, tc, tx); a scan body must take (consts, carry, xs).
    n = nk + nc + nx
    order = (list(range(nk)) + list(range(n, n + nhk)) + list(range(nk, nk + nc))
             + list(range(n + nhk, n + nhk + nfc)) + list(range(nk + nc, n))
             + list(range(n + nhk + nfc, len(jb.invars))))
    jb = reorder_inputs(jb, order)
    res = scan_p(*consts, *[t for t in t_consts if t is not None], *carry,
                 *[t for t in t_carry if t is not None], *xs, *[t for t in t_xs if t is not None],
                 body=jb, num_consts=nk + nhk, num_carry=nc + nfc, length=length, reverse=reverse)
    t_carry_out = res[nc:nc + nfc]
    t_ys = res[nc + nfc:]
    float_y = [is_float_aval(a) for a in body.out_avals[nc:]]
    return scatter(t_carry_out, float_c) + scatter(t_ys, float_y)


def _stacking_body(body, nk, nc):
    """body that also stacks the carry entering each step, after its own ys. It extends
    body, so the pass pipeline merges the primal scan into this one (one forward loop)."""
    from ..passes.merge_extended import register_extension
    stacking = body.replace(outvars=body.outvars + body.invars[nk:nk + nc])
    register_extension(stacking, body)
    return stacking


def _scan_vjp(cts, primals, outs, *, body, num_consts, num_carry, length, reverse):
    nk, nc = num_consts, num_carry
    consts, carry, xs = split_list(primals, [nk, nc])
    ct_carry, ct_ys = cts[:nc], cts[nc:]
    wk = [needs_ct(k) for k in consts]
    wx = [needs_ct(x) for x in xs]
    float_c = [is_float_aval(a) for a in body.in_avals[nk:nk + nc]]
    float_y = [is_float_aval(a) for a in body.out_avals[nc:]]
    if not (any(wk) or any(wx) or any(needs_ct(c) for c in carry)):
        return [None] * len(primals)
    # 1. The carries entering each step: the residuals of the backward scan.
    stacked = scan_p(*consts, *carry, *xs, body=_stacking_body(body, nk, nc), num_consts=nk,
                     num_carry=nc, length=length, reverse=reverse)[len(body.outvars):]
    # 2. One body VJP per step, run in the opposite direction.
    step_vjp = vjp_sub(body, wk + float_c + wx, float_c + float_y)
    nwk, nfc, nx = sum(wk), sum(float_c), len(xs)
    k_avals = body.in_avals[:nk]
    c_avals = body.in_avals[nk:nk + nc]
    x_avals = body.in_avals[nk + nc:]
    fc_avals = [a.strong() for a, f in zip(c_avals, float_c) if f]
    wk_avals = [a.strong() for a, w in zip(k_avals, wk) if w]
    fy_avals = [a.strong() for a, f in zip(body.out_avals[nc:], float_y) if f]

    def backward_step(*args):
        k, ct_c, acc, c, x, ct_y = split_list(args, [nk, nfc, nwk, nc, nx])
        in_cts = inline_sub(step_vjp, k + c + x + ct_c + ct_y)
        ct_k, ct_c_prev, ct_x = split_list(in_cts, [nwk, nfc])
        return ct_c_prev + [a + b for a, b in zip(acc, ct_k)] + ct_x

    bwd = trace_sub(backward_step, k_avals + fc_avals + wk_avals + c_avals + x_avals + fy_avals)
    acc0 = [zeros_like(k) for k, w in zip(consts, wk) if w]
    res = scan_p(*consts, *[c for c, f in zip(ct_carry, float_c) if f], *acc0, *stacked, *xs,
                 *[c for c, f in zip(ct_ys, float_y) if f], body=bwd, num_consts=nk,
                 num_carry=nfc + nwk, length=length, reverse=not reverse)
    ct_init, ct_consts, ct_xs = split_list(res, [nfc, nwk])
    ct_init = [ct if needs_ct(c) else None for c, ct in zip(carry, scatter(ct_init, float_c))]
    return scatter(ct_consts, wk) + ct_init + scatter(ct_xs, wx)


def _scan_dce(node, used):
    """The scan without the stacked ys nobody reads, and without the consts and xs its
    body then no longer reads; None if nothing goes. A reverse-mode scan stacks every
    carry for its backward scan, which may not need them all (a linear update's
    derivative needs no state): those stacks go in two steps, the backward scan's unread
    xs first (DCE walks backwards), then the forward scan's now unread ys. The carry
    stays whole: each step reads the last one."""
    from ..passes.dce import live_nodes
    from ..passes.merge_extended import extension_of, register_extension
    params = node.params
    body, nk, nc = params["body"], params["num_consts"], params["num_carry"]
    keep_y = list(used[nc:])
    original = extension_of(body)
    if original is not None:
        # The primal scan's twin (merge_extended): it stays an extension of the primal
        # body, so the two still merge into one loop. Only its extra ys may go.
        n_primal_ys = len(original.outvars) - nc
        keep_y[:n_primal_ys] = [True] * n_primal_ys
    outvars = body.outvars[:nc] + [v for v, keep in zip(body.outvars[nc:], keep_y) if keep]
    live = {v.id for v in outvars if isinstance(v, Var)}
    nodes = live_nodes(body.nodes, live)
    keep_in = [original is not None or nk <= i < nk + nc or v.id in live
               for i, v in enumerate(body.invars)]
    same_nodes = len(nodes) == len(body.nodes) and all(a is b for a, b in zip(nodes, body.nodes))
    if all(keep_y) and all(keep_in) and same_nodes:
        return None
    consts = [(v, c) for v, c in zip(body.constvars, body.consts) if v.id in live]
    body = body.replace(invars=[v for v, keep in zip(body.invars, keep_in) if keep], nodes=nodes,
                        outvars=outvars, constvars=[v for v, _ in consts], consts=[c for _, c in consts])
    if original is not None:
        register_extension(body, original)
    inputs = [x for x, keep in zip(node.inputs, keep_in) if keep]
    outs = node.outs[:nc] + [v for v, keep in zip(node.outs[nc:], keep_y) if keep]
    return Node(node.op, inputs, dict(params, body=body, num_consts=sum(keep_in[:nk])), outs, node.loc)


scan_p = register(Op(
    "scan", Kind.CONTROL, _scan_abstract, _scan_impl, jvp=_scan_jvp, vjp=_scan_vjp,
    multiple_results=True, batch=scan_batch, dce=_scan_dce,
    doc="loop a closed body over the leading axis of xs, threading a carry"))


# ----------------------------------------------------------------------------- while

def _while_abstract(*avals, cond, body, num_cond_consts, num_body_consts):
    cond_k, body_k, carry = split_list(avals, [num_cond_consts, num_body_consts])
    if not same_avals(cond.in_avals, cond_k + carry):
        raise ShapeError(with_location("while: the condition's inputs do not match its operands"))
    out = cond.out_avals
    if len(out) != 1 or out[0].shape != () or out[0].dtype.kind != "b":
        raise ShapeError(with_location(f"while: the condition must return one bool scalar, got {out}"))
    if not same_avals(body.in_avals, body_k + carry) or not same_avals(body.out_avals, carry):
        raise ShapeError(with_location(
            f"while: the body maps {[str(a) for a in body.in_avals]} to "
            f"{[str(a) for a in body.out_avals]} for the carry {[str(a) for a in carry]}"))
    return carry


def _while_impl(*args, cond, body, num_cond_consts, num_body_consts):
    cond_k, body_k, carry = split_list(args, [num_cond_consts, num_body_consts])
    while bool(run_sub(cond, cond_k + carry)[0]):
        carry = run_sub(body, body_k + carry)
    return list(carry)


def _while_jvp(primals, tangents, outs, *, cond, body, num_cond_consts, num_body_consts):
    nck, nbk = num_cond_consts, num_body_consts
    cond_k, body_k, carry = split_list(primals, [nck, nbk])
    _, t_body_k, t_carry = split_list(tangents, [nck, nbk])
    has_k = [t is not None for t in t_body_k]
    float_c = [is_float_aval(a) for a in body.out_avals]
    t_carry = [(zeros_like(c) if t is None else t) if f else None
               for c, t, f in zip(carry, t_carry, float_c)]
    nc, nhk, nfc = len(carry), sum(has_k), sum(float_c)
    jb = jvp_sub(body, has_k + float_c, keep_outs=[True] * nc)
    # jb takes (k, c, tk, tc); the loop passes (k, tk, c, tc).
    n = nbk + nc
    jb = reorder_inputs(jb, list(range(nbk)) + list(range(n, n + nhk)) + list(range(nbk, n))
                        + list(range(n + nhk, n + nhk + nfc)))
    fc_avals = [a.strong() for a, f in zip(body.out_avals, float_c) if f]
    jc = cond.replace(invars=cond.invars + [Var(a) for a in fc_avals])  # ignores tangents
    res = while_p(*cond_k, *body_k, *[t for t in t_body_k if t is not None], *carry,
                  *[t for t in t_carry if t is not None], cond=jc, body=jb,
                  num_cond_consts=nck, num_body_consts=nbk + nhk)
    return scatter(res[nc:], float_c)


def _while_vjp(cts, primals, outs, **params):
    raise TransformError(with_location(
        "reverse-mode differentiation (grad, vjp) through dp.while_loop is not supported: "
        "its trip count is only known when it runs, so the values the backward pass needs "
        "cannot be planned. Use dp.fori_loop with Python int bounds or dp.scan with a fixed "
        "length instead (forward mode, dp.jvp, does work through while_loop)"))


while_p = register(Op(
    "while", Kind.CONTROL, _while_abstract, _while_impl, jvp=_while_jvp, vjp=_while_vjp,
    multiple_results=True, batch=while_batch,
    doc="repeat a closed body while a closed condition holds"))
