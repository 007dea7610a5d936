"""Turning Python functions into Graphs and Graphs back into values.

trace_flat(fun, avals)           -> Graph of fun on fresh Tracers of those avals
trace_pytree(fun, args, kwargs)  -> (Graph, out_tree): pytree arguments and results
inline(graph, consts, args)      -> outputs, by re-binding every node (into the active
                                    trace if there is one, else eagerly with NumPy)
"""
import numpy as np

from . import dtypes
from .errors import PytreeError, with_location
from .interpreter import input_env, read
from .ir import Aval, Literal, aval_of_value
from .trace import Builder, Tracer
from .tree import tree_flatten, tree_unflatten


def leaf_aval(x):
    """The abstract value of an argument leaf, or a PytreeError naming what it is."""
    if isinstance(x, Tracer):
        return x.aval
    if isinstance(x, np.ndarray):
        if x.dtype not in dtypes.SUPPORTED:
            from .numpy._core import asarray
            return aval_of_value(asarray(x))
        return Aval(x.shape, x.dtype)
    if dtypes.python_scalar_dtype(x) is not None or isinstance(x, np.generic):
        return aval_of_value(x)
    if hasattr(type(x), "__cuda_array_interface__"):  # read shape and dtype, copy nothing
        iface = x.__cuda_array_interface__
        dt = np.dtype(iface["typestr"])
        if dt not in dtypes.SUPPORTED:
            raise PytreeError(with_location(
                f"a CUDA array argument has dtype {dt}; supported: float32, float64, int32, "
                f"int64, bool (convert it on the device first)"))
        return Aval(tuple(iface["shape"]), dt)
    if hasattr(x, "__array__"):
        return aval_of_value(np.asarray(x))
    raise PytreeError(with_location(
        f"an argument leaf of type {type(x).__name__} is not an array or a scalar; pass "
        f"arrays, scalars or pytrees (tuple/list/dict/dataclass) of them, or mark the "
        f"argument static with static_argnums"))


def trace_flat(fun, in_avals):
    """Trace fun(*tracers) -> list of outputs into a closed Graph."""
    with Builder() as builder:
        ins = [builder.new_arg(a) for a in in_avals]
        outs = fun(*ins)
        return builder.build(ins, outs)


def check_output_leaves(leaves, what="function"):
    for x in leaves:
        if not (isinstance(x, (Tracer, np.ndarray, np.generic)) or dtypes.python_scalar_dtype(x) is not None):
            raise PytreeError(with_location(
                f"the traced {what} returned a leaf of type {type(x).__name__}; results must "
                f"be arrays or scalars (or pytrees of them)"))


def trace_pytree(fun, in_tree, in_avals):
    """Trace fun(*args, **kwargs) where (args, kwargs) = unflatten(in_tree, leaves)."""
    out_tree_box = []

    def flat_fun(*tracers):
        args, kwargs = tree_unflatten(in_tree, list(tracers))
        out = fun(*args, **kwargs)
        leaves, out_tree = tree_flatten(out)
        check_output_leaves(leaves)
        out_tree_box.append(out_tree)
        return leaves

    graph = trace_flat(flat_fun, in_avals)
    return graph, out_tree_box[0]


def inline(graph, consts, args):
    """Evaluate a graph by binding its nodes: records into the active trace, if any."""
    env = input_env(graph, consts, args)
    for node in graph.nodes:
        values = [read(env, a) for a in node.inputs]
        out = node.op(*values, **node.params)
        outs = out if node.op.multiple_results else (out,)
        for var, value in zip(node.outs, outs):
            env[var.id] = value
    return [read(env, v) for v in graph.outvars]


