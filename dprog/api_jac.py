"""Dense Jacobians and Hessians: dp.jacfwd, dp.jacrev, dp.hessian.

Each is ONE batched pass, not one pass per basis vector: the JVP (or VJP) graph of the
function is evaluated by vmap (dprog/transforms/vmap.py) over the rows of an identity
matrix built in the graph with iota. jacfwd pushes all N input directions at once
(cheap when inputs are few); jacrev pulls all M output directions (cheap when outputs
are few). A pytree function gives a pytree-of-pytrees Jacobian as JAX does: the output
structure outside, the input structure inside, leaves of shape out.shape + in.shape.
"""
import functools

import numpy as np

from . import dtypes
from .api import _argnums_tuple, _check_float_inputs, _flat_wrt, staged
from .errors import TransformError, with_location
from .ops.batching import aval
from .ops.elementwise import add_p, convert_element_type_p, eq_p
from .ops.misc import iota_p
from .ops.shape import reshape_p, slice_p
from .staging import check_output_leaves, leaf_aval, trace_flat
from .transforms import jvp as jvp_t
from .transforms import vjp as vjp_t
from .transforms.vmap import batch_eval, move_batch_axis
from .tree import tree_flatten, tree_unflatten


def _sizes(avals):
    sizes = [a.size for a in avals]
    return sizes, [sum(sizes[:i]) for i in range(len(sizes))], sum(sizes)


def _basis(avals):
    """Rows of the n x n identity, split into one (n, *shape) block per aval."""
    sizes, offsets, n = _sizes(avals)
    blocks = []
    for a, size, off in zip(avals, sizes, offsets):
        rows = iota_p(shape=(n, size), dtype=dtypes.int64, axis=0)
        cols = iota_p(shape=(n, size), dtype=dtypes.int64, axis=1)
        hot = eq_p(rows, add_p(cols, np.int64(off))) if off else eq_p(rows, cols)
        blocks.append(reshape_p(convert_element_type_p(hot, dtype=a.dtype), shape=(n,) + a.shape))
    return blocks, n


def _rows(x, start, stop, axis):
    """x[..., start:stop, ...] along `axis`."""
    shape = aval(x).shape
    lo = [0] * len(shape)
    hi = list(shape)
    lo[axis], hi[axis] = start, stop
    return slice_p(x, start=tuple(lo), limit=tuple(hi), step=(1,) * len(shape))


def _trace_outputs(call, leaves, has_aux, what):
    """Trace call(*leaves): graph whose outputs are the value's leaves then aux leaves."""
    trees = []

    def flat(*xs):
        out = call(*xs)
        aux_leaves, aux_tree = [], None
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TransformError(with_location(
                    f"{what}: has_aux=True needs the function to return a pair (value, aux)"))
            out, aux = out
            aux_leaves, aux_tree = tree_flatten(aux)
            check_output_leaves(aux_leaves, "function's aux output")
        out_leaves, out_tree = tree_flatten(out)
        check_output_leaves(out_leaves)
        trees.append((out_tree, len(out_leaves), aux_tree))
        return list(out_leaves) + list(aux_leaves)

    graph = trace_flat(flat, [leaf_aval(x) for x in leaves])
    return (graph,) + trees[0]


def _assemble(blocks, out_tree, in_tree, single, aux_outs, aux_tree):
    """blocks[k][j]: d out_k / d in_j -> pytree of pytrees (output outside)."""
    inner = [tree_unflatten(in_tree, row) for row in blocks]
    jac = tree_unflatten(out_tree, [r[0] if single else r for r in inner])
    if aux_tree is not None:
        return jac, tree_unflatten(aux_tree, aux_outs)
    return jac


def _jacobian(fun, argnums, has_aux, mode):
    what = "jacfwd" if mode == "fwd" else "jacrev"

    def body(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args))
        f = functools.partial(fun, **kwargs) if kwargs else fun
        leaves, in_tree, call = _flat_wrt(f, args, nums)
        _check_float_inputs(leaves, what)
        graph, out_tree, n_out, aux_tree = _trace_outputs(call, leaves, has_aux, what)
        in_avals = [leaf_aval(x).strong() for x in leaves]
        out_avals = [v.aval.strong() for v in graph.outvars[:n_out]]
        run = _forward if mode == "fwd" else _reverse
        blocks, aux_outs = run(graph, leaves, in_avals, out_avals, n_out)
        return _assemble(blocks, out_tree, in_tree, single, aux_outs, aux_tree)

    return staged(body)


def _forward(graph, leaves, in_avals, out_avals, n_out):
    n_in = len(leaves)
    tangents, n = _basis(in_avals)
    jg = jvp_t.jvp_graph(graph)
    outs, dims = batch_eval(jg, jg.consts, list(leaves) + tangents, [None] * n_in + [0] * n_in, n)
    n_all = len(graph.outvars)
    sizes, offsets, _ = _sizes(in_avals)
    blocks = []
    for t, d, oa in zip(outs[n_all:n_all + n_out], dims[n_all:n_all + n_out], out_avals):
        t = move_batch_axis(t, d, oa.ndim, n)  # out.shape + (n,)
        blocks.append([reshape_p(_rows(t, off, off + size, oa.ndim), shape=oa.shape + ia.shape)
                       for ia, size, off in zip(in_avals, sizes, offsets)])
    return blocks, outs[n_out:n_all]


def _reverse(graph, leaves, in_avals, out_avals, n_out):
    n_in = len(leaves)
    cts, m = _basis(out_avals)
    aux_cts = [np.zeros(v.aval.shape, v.aval.dtype) for v in graph.outvars[n_out:]]
    vg = vjp_t.vjp_graph(graph)
    dims = [None] * n_in + [0] * n_out + [None] * len(aux_cts)
    outs, got = batch_eval(vg, vg.consts, list(leaves) + cts + aux_cts, dims, m)
    n_all = len(graph.outvars)
    in_cts = [move_batch_axis(c, d, 0, m) for c, d in zip(outs[n_all:], got[n_all:])]
    sizes, offsets, _ = _sizes(out_avals)
    blocks = [[reshape_p(_rows(c, off, off + size, 0), shape=oa.shape + ia.shape)
               for c, ia in zip(in_cts, in_avals)]
              for oa, size, off in zip(out_avals, sizes, offsets)]
    return blocks, outs[n_out:n_all]


def jacfwd(fun, argnums=0, has_aux=False):
    """The Jacobian of `fun` by forward mode: one batched JVP over all input directions."""
    return functools.wraps(fun)(_jacobian(fun, argnums, has_aux, "fwd"))


def jacrev(fun, argnums=0, has_aux=False):
    """The Jacobian of `fun` by reverse mode: one batched VJP over all output directions."""
    return functools.wraps(fun)(_jacobian(fun, argnums, has_aux, "rev"))


def hessian(fun, argnums=0):
    """The Hessian of a scalar function: jacfwd of jacrev (forward over reverse)."""
    return jacfwd(jacrev(fun, argnums), argnums)
