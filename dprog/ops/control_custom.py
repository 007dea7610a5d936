"""User-defined derivative rules and rematerialisation, as ops holding sub-graphs.

    outs = custom_vjp_call(fun_consts..., fwd_consts..., bwd_consts..., args...,
                           fun=, fwd=, bwd=, num_consts=(nf, nw, nb))
        fun: (fun_consts, args) -> outs;  fwd: (fwd_consts, args) -> (outs, residuals)
        bwd: (bwd_consts, residuals, out cotangents) -> one cotangent per arg
    outs = custom_jvp_call(fun_consts..., jvp_consts..., args..., fun=, jvp=, num_consts=(nf, nj))
        jvp: (jvp_consts, args, arg tangents) -> (outs, out tangents)
    outs = checkpoint(args..., body=)

Because the user's functions are traced into the node's params when the decorated
function is called, the rules travel with the graph: through jit, inlining and nesting.
Cotangents (and custom_jvp tangents) reach only the explicit arguments; values the user's
functions close over are treated as constants, as their rules say nothing about them.
"""
from ..errors import ShapeError, with_location
from .control_util import (inline_sub, is_float_aval, jvp_sub, needs_ct, run_sub, same_avals,
                           scatter, split_list, vjp_sub, zeros_like)
from .control_batch_custom import checkpoint_batch, custom_jvp_batch, custom_vjp_batch
from .record import Kind, Op, register


def _check_inputs(name, graph, avals):
    if not same_avals(graph.in_avals, avals):
        raise ShapeError(with_location(
            f"{name}: the function takes {[str(a) for a in graph.in_avals]} but is given "
            f"{[str(a) for a in avals]}"))


# ------------------------------------------------------------------------ custom_vjp

def _cvjp_abstract(*avals, fun, fwd, bwd, num_consts):
    nf, nw, nb = num_consts
    fun_k, _, _, args = split_list(avals, [nf, nw, nb])
    _check_inputs("custom_vjp", fun, fun_k + args)
    return fun.out_avals


def _cvjp_impl(*args, fun, fwd, bwd, num_consts):
    nf, nw, nb = num_consts
    fun_k, _, _, xs = split_list(args, [nf, nw, nb])
    return run_sub(fun, fun_k + xs)


def _cvjp_jvp(primals, tangents, outs, *, fun, fwd, bwd, num_consts):
    # No custom forward rule was given: differentiate the function itself.
    from ..transforms.jvp import jvp_eval
    nf, nw, nb = num_consts
    fun_k, _, _, xs = split_list(primals, [nf, nw, nb])
    t_fun_k, _, _, t_xs = split_list(tangents, [nf, nw, nb])
    _, touts = jvp_eval(fun, fun.consts, fun_k + xs, t_fun_k + t_xs)
    return touts


def _cvjp_vjp(cts, primals, outs, *, fun, fwd, bwd, num_consts):
    nf, nw, nb = num_consts
    _, fwd_k, bwd_k, xs = split_list(primals, [nf, nw, nb])
    residuals = inline_sub(fwd, fwd_k + xs)[len(fun.outvars):]
    in_cts = inline_sub(bwd, bwd_k + residuals + list(cts))
    return [None] * (nf + nw + nb) + [ct if needs_ct(x) else None for x, ct in zip(xs, in_cts)]


custom_vjp_call_p = register(Op(
    "custom_vjp_call", Kind.CONTROL, _cvjp_abstract, _cvjp_impl, jvp=_cvjp_jvp, vjp=_cvjp_vjp,
    multiple_results=True, batch=custom_vjp_batch,
    doc="fun(*args) whose reverse-mode derivative is the user's fwd/bwd pair"))


# ------------------------------------------------------------------------ custom_jvp

def _cjvp_abstract(*avals, fun, jvp, num_consts):
    nf, nj = num_consts
    fun_k, _, args = split_list(avals, [nf, nj])
    _check_inputs("custom_jvp", fun, fun_k + args)
    return fun.out_avals


def _cjvp_impl(*args, fun, jvp, num_consts):
    nf, nj = num_consts
    fun_k, _, xs = split_list(args, [nf, nj])
    return run_sub(fun, fun_k + xs)


def _cjvp_jvp(primals, tangents, outs, *, fun, jvp, num_consts):
    nf, nj = num_consts
    _, jvp_k, xs = split_list(primals, [nf, nj])
    _, _, t_xs = split_list(tangents, [nf, nj])
    t_xs = [zeros_like(x) if t is None else t for x, t in zip(xs, t_xs)]
    return inline_sub(jvp, jvp_k + xs + t_xs)[len(fun.outvars):]


def _cjvp_vjp(cts, primals, outs, *, fun, jvp, num_consts):
    # The user's tangent map is linear in the tangents, so its VJP with respect to them
    # (at zero tangents) is its transpose: the reverse-mode rule of the custom JVP.
    from ..transforms.vjp import vjp_eval
    nf, nj = num_consts
    _, jvp_k, xs = split_list(primals, [nf, nj])
    wrt_t = [needs_ct(x) for x in xs]
    if not any(wrt_t):
        return [None] * len(primals)
    n_out = len(fun.outvars)
    out_cts = [None] * n_out + [c if is_float_aval(a) else None for c, a in zip(cts, fun.out_avals)]
    _, in_cts = vjp_eval(jvp, jvp.consts, jvp_k + xs + [_traced_zeros(x) for x in xs], out_cts,
                         [False] * (nj + len(xs)) + wrt_t)
    return [None] * (nf + nj) + scatter(in_cts, wrt_t)


def _traced_zeros(x):
    """Zeros as a value of the active trace (cotangents flow only to traced values)."""
    from ..trace import Tracer
    from .elementwise import copy_p
    z = zeros_like(x)
    return z if isinstance(z, Tracer) else copy_p(z)


custom_jvp_call_p = register(Op(
    "custom_jvp_call", Kind.CONTROL, _cjvp_abstract, _cjvp_impl, jvp=_cjvp_jvp, vjp=_cjvp_vjp,
    multiple_results=True, batch=custom_jvp_batch,
    doc="fun(*args) whose forward-mode derivative is the user's rule"))


# ------------------------------------------------------------------------ checkpoint

def _ckpt_abstract(*avals, body):
    _check_inputs("checkpoint", body, list(avals))
    return body.out_avals


def _ckpt_impl(*args, body):
    return run_sub(body, args)


def _ckpt_jvp(primals, tangents, outs, *, body):
    has = [t is not None for t in tangents]
    touts = checkpoint_p(*primals, *[t for t in tangents if t is not None], body=jvp_sub(body, has))
    return scatter(touts, [is_float_aval(a) for a in body.out_avals])


def _ckpt_vjp(cts, primals, outs, *, body):
    # The backward pass is one more checkpoint node reading only the inputs: the forward
    # intermediates are recomputed inside it instead of being saved as residuals.
    wrt = [needs_ct(x) for x in primals]
    if not any(wrt):
        return [None] * len(primals)
    ct_mask = [is_float_aval(a) for a in body.out_avals]
    in_cts = checkpoint_p(*primals, *[c for c, m in zip(cts, ct_mask) if m],
                          body=vjp_sub(body, wrt, ct_mask))
    return scatter(in_cts, wrt)


checkpoint_p = register(Op(
    "checkpoint", Kind.CONTROL, _ckpt_abstract, _ckpt_impl, jvp=_ckpt_jvp, vjp=_ckpt_vjp,
    multiple_results=True, batch=checkpoint_batch,
    doc="body(*args), recomputed in the backward pass instead of saving its intermediates"))
