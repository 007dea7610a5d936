"""vmap rules of custom_vjp_call, custom_jvp_call and checkpoint.

The batched node keeps the user's rules: its fun, fwd/bwd or jvp sub-graphs are the
batched versions of the originals, so grad(vmap(f)) and jvp(vmap(f)) still use the custom
rule. (Under vmap(grad(f)) the rule has already been applied by grad before vmap sees
the graph.) Every output of fun is batched, so the cotangents and tangents that later
reach bwd/jvp are batched too; bwd's cotangent for an unbatched argument is then the
sum over members, as the argument is shared by all of them.
"""
from .control_batch import _front, _out_dims, _batched_aval, batch_sub
from .control_util import split_list, trace_sub


def custom_vjp_batch(axis_size, args, dims, /, *, fun, fwd, bwd, num_consts):
    from .control_custom import custom_vjp_call_p
    nf, nw, nb = num_consts
    b = [d is not None for d in dims]
    fk_b, wk_b, bk_b, x_b = split_list(b, [nf, nw, nb])
    n_out = len(fun.outvars)
    new_fun = batch_sub(fun, fk_b + x_b, axis_size, [True] * n_out)[0]
    res_b = batch_sub(fwd, wk_b + x_b, axis_size)[1][n_out:]
    new_fwd = batch_sub(fwd, wk_b + x_b, axis_size, [True] * n_out + res_b)[0]
    new_bwd = _batch_bwd(bwd, bk_b + res_b + [True] * n_out, x_b, axis_size)
    args = [_front(x, d, axis_size, bb) for x, d, bb in zip(args, dims, b)]
    outs = custom_vjp_call_p(*args, fun=new_fun, fwd=new_fwd, bwd=new_bwd, num_consts=num_consts)
    return outs, [0] * n_out


def _batch_bwd(bwd, in_b, x_b, axis_size):
    """bwd batched: one cotangent per argument, batched exactly where the argument is."""
    from .. import numpy as dnp
    from ..transforms.vmap import batch_eval

    def fun(*args):
        cts, got = batch_eval(bwd, bwd.consts, args, [0 if b else None for b in in_b], axis_size)
        out = []
        for ct, d, want in zip(cts, got, x_b):
            if want:
                out.append(_front(ct, d, axis_size, True))
            else:
                out.append(ct if d is None else dnp.sum(ct, axis=d))
        return out

    return trace_sub(fun, [_batched_aval(a, b, axis_size) for a, b in zip(bwd.in_avals, in_b)])


def custom_jvp_batch(axis_size, args, dims, /, *, fun, jvp, num_consts):
    from .control_custom import custom_jvp_call_p
    nf, nj = num_consts
    b = [d is not None for d in dims]
    fk_b, jk_b, x_b = split_list(b, [nf, nj])
    n_out = len(fun.outvars)
    new_fun = batch_sub(fun, fk_b + x_b, axis_size, [True] * n_out)[0]
    # A tangent is batched where its primal is (the JVP passes tangents of the op's inputs).
    new_jvp = batch_sub(jvp, jk_b + x_b + x_b, axis_size, [True] * (2 * n_out))[0]
    args = [_front(x, d, axis_size, bb) for x, d, bb in zip(args, dims, b)]
    return custom_jvp_call_p(*args, fun=new_fun, jvp=new_jvp, num_consts=num_consts), [0] * n_out


def checkpoint_batch(axis_size, args, dims, /, *, body):
    from .control_custom import checkpoint_p
    b = [d is not None for d in dims]
    new_body, out_b = batch_sub(body, b, axis_size)
    args = [_front(x, d, axis_size, bb) for x, d, bb in zip(args, dims, b)]
    return checkpoint_p(*args, body=new_body), _out_dims(out_b)
