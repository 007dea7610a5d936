"""dp.vmap: map a function over a batch axis of its arguments, in one batched program.

    per_example = dp.vmap(dp.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)

The function is traced once on one batch member's shapes; the graph is then evaluated
with the batching rules (dprog/transforms/vmap.py), inside an enclosing trace if there is
one, or staged and compiled through dp.jit when called on concrete values.
"""
import functools

import numpy as np
import optree

from .api import staged
from .errors import TransformError, with_location
from .ir import Aval
from .staging import leaf_aval, trace_pytree
from .transforms.vmap import batch_eval, move_batch_axis
from .tree import NAMESPACE, tree_flatten, tree_unflatten


def _is_axis(spec):
    return spec is None or (isinstance(spec, (int, np.integer)) and not isinstance(spec, bool))


def broadcast_axes(spec, tree, what):
    """One axis (int or None) per leaf of `tree`, from `spec`: an axis, or a pytree
    prefix of `tree` whose leaves are axes (None inside it means "not mapped")."""
    if _is_axis(spec):
        return [spec] * len(tree_flatten(tree)[0])
    spec_leaves, spec_def = optree.tree_flatten(spec, none_is_leaf=True, namespace=NAMESPACE)
    bad = [s for s in spec_leaves if not _is_axis(s)]
    if bad:
        raise TransformError(with_location(
            f"vmap: {what} must contain ints or None, got {bad[0]!r}"))
    try:
        subtrees = spec_def.flatten_up_to(tree)
    except ValueError as e:
        raise TransformError(with_location(
            f"vmap: {what}={spec!r} does not match the structure of the values it "
            f"describes ({e}); give one axis per argument or a pytree prefix of them")) from None
    out = []
    for s, sub in zip(spec_leaves, subtrees):
        out.extend([s] * len(tree_flatten(sub)[0]))
    return out


def _normalize(axis, ndim, what):
    if axis is None:
        return None
    if not -ndim <= axis < max(ndim, 0) or ndim == 0:
        raise TransformError(with_location(
            f"vmap: {what} axis {axis} is out of range for a value of rank {ndim}"
            + ("; pass None for arguments that are not mapped" if ndim == 0 else "")))
    return int(axis) % ndim


def _axis_size(leaves, axes, axis_size):
    sizes = {}
    for i, (x, a) in enumerate(zip(leaves, axes)):
        if a is not None:
            sizes.setdefault(leaf_aval(x).shape[a], []).append((i, a))
    if axis_size is not None:
        sizes.setdefault(int(axis_size), []).append(("axis_size", None))
    if len(sizes) > 1:
        detail = "; ".join(f"size {n} for " + ", ".join(
            "axis_size" if i == "axis_size" else f"leaf {i} (axis {a})" for i, a in who)
            for n, who in sizes.items())
        raise TransformError(with_location(
            f"vmap: the mapped axes have inconsistent sizes: {detail}. All mapped axes "
            f"must have one size"))
    if not sizes:
        raise TransformError(with_location(
            "vmap: no argument is mapped (all in_axes are None); pass axis_size= to say how "
            "many copies to make"))
    return next(iter(sizes))


def vmap(fun, in_axes=0, out_axes=0, axis_size=None):
    """Vectorise `fun` over axis in_axes of its arguments; results get the batch axis at
    out_axes. in_axes/out_axes: an int, None (not mapped), or a pytree prefix of them
    (in_axes: a tuple with one entry per positional argument). Keyword arguments are
    mapped over axis 0."""
    if not (_is_axis(in_axes) or isinstance(in_axes, (tuple, list))):
        raise TransformError(with_location(
            f"vmap: in_axes must be an int, None or a tuple with one entry per positional "
            f"argument, got {type(in_axes).__name__}"))

    def body(*args, **kwargs):
        if isinstance(in_axes, (tuple, list)) and len(in_axes) != len(args):
            raise TransformError(with_location(
                f"vmap: in_axes has {len(in_axes)} entries but the function was called with "
                f"{len(args)} positional arguments"))
        leaves, in_tree = tree_flatten((args, kwargs))
        spec = in_axes if _is_axis(in_axes) else tuple(in_axes)
        axes = broadcast_axes(spec, args, "in_axes") + [0] * (len(leaves) - len(tree_flatten(args)[0]))
        avals = [leaf_aval(x) for x in leaves]
        axes = [_normalize(a, av.ndim, "in_axes") for a, av in zip(axes, avals)]
        size = _axis_size(leaves, axes, axis_size)
        member_avals = [av if a is None else Aval(av.shape[:a] + av.shape[a + 1:], av.dtype, av.weak)
                        for av, a in zip(avals, axes)]
        graph, out_tree = trace_pytree(fun, in_tree, member_avals)
        outs, dims = batch_eval(graph, graph.consts, leaves, axes, size)
        out_struct = tree_unflatten(out_tree, list(range(len(outs))))
        dsts = broadcast_axes(out_axes, out_struct, "out_axes")
        results = []
        for x, d, dst, v in zip(outs, dims, dsts, graph.outvars):
            if dst is None:
                if d is not None:
                    raise TransformError(with_location(
                        f"vmap: out_axes is None for an output that depends on the mapped "
                        f"inputs (shape {v.aval.shape} per member); give it an axis"))
                results.append(x)
                continue
            dst = _normalize(dst, v.aval.ndim + 1, "out_axes")
            results.append(move_batch_axis(x, d, dst, size))
        return tree_unflatten(out_tree, results)

    return functools.wraps(fun)(staged(body))
