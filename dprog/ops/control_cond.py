"""cond: run one of several closed sub-graphs, chosen by an integer index.

    outs = cond(index, *operands, branches=(g0, g1, ...))

The index is clamped to [0, len(branches) - 1] (as JAX's switch); dp.cond passes
int(pred), so branches[0] is the false branch. Every branch takes all operands and
returns the same avals. Derivatives are conds again: the JVP runs each branch's JVP
sub-graph; the VJP runs each branch's VJP sub-graph on the operands, so the taken branch
is recomputed in the backward pass and only the operands are saved for it.
"""
import numpy as np

from .. import dtypes
from ..errors import DtypeError, ShapeError, with_location
from .control_util import (is_float_aval, jvp_sub, needs_ct, run_sub, same_avals, scatter,
                           vjp_sub)
from .control_batch import cond_batch
from .record import Kind, Op, register


def _abstract(index, *operands, branches):
    if index.shape != () or not (dtypes.is_int(index.dtype) or dtypes.is_bool(index.dtype)):
        raise DtypeError(with_location(f"cond: the branch index must be an integer scalar, got {index}"))
    for k, g in enumerate(branches):
        if not same_avals(g.in_avals, operands):
            raise ShapeError(with_location(
                f"cond: branch {k} takes {[str(a) for a in g.in_avals]} but the operands are "
                f"{[str(a) for a in operands]}"))
    first = branches[0].out_avals
    for k, g in enumerate(branches[1:], 1):
        if not same_avals(g.out_avals, first):
            raise ShapeError(with_location(
                f"cond: branch 0 returns {[str(a) for a in first]} but branch {k} returns "
                f"{[str(a) for a in g.out_avals]}"))
    # Weak only where every branch's output is weak.
    return [a.update(weak=all(g.out_avals[i].weak for g in branches))
            for i, a in enumerate(first)]


def _impl(index, *operands, branches):
    k = int(np.clip(np.asarray(index), 0, len(branches) - 1))
    return run_sub(branches[k], operands)


def _jvp(primals, tangents, outs, *, branches):
    index, operands = primals[0], primals[1:]
    op_tangents = tangents[1:]
    has = [t is not None for t in op_tangents]
    new_branches = tuple(jvp_sub(g, has) for g in branches)
    touts = cond_p(index, *operands, *[t for t in op_tangents if t is not None],
                   branches=new_branches)
    return scatter(touts, [is_float_aval(a) for a in branches[0].out_avals])


def _vjp(cts, primals, outs, *, branches):
    index, operands = primals[0], primals[1:]
    wrt = [needs_ct(x) for x in operands]
    if not any(wrt):
        return [None] * len(primals)
    ct_mask = [is_float_aval(a) for a in branches[0].out_avals]
    new_branches = tuple(vjp_sub(g, wrt, ct_mask) for g in branches)
    float_cts = [c for c, m in zip(cts, ct_mask) if m]
    in_cts = cond_p(index, *operands, *float_cts, branches=new_branches)
    return [None] + scatter(in_cts, wrt)


cond_p = register(Op(
    "cond", Kind.CONTROL, _abstract, _impl, jvp=_jvp, vjp=_vjp, multiple_results=True,
    batch=cond_batch,
    doc="branches[clamp(index)](*operands): dp.cond and dp.switch"))
