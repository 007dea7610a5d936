"""The reference interpreter: runs any Graph with each op's NumPy implementation.

Every program works through it before kernels exist, and the test suite uses it as the
oracle that compiled kernels must agree with.
"""
import numpy as np

from .ir import Literal


def read(env, atom):
    return atom.value if isinstance(atom, Literal) else env[atom.id]


def input_env(graph, consts, args):
    """The environment mapping a graph's constvars and invars to values."""
    env = {v.id: x for v, x in zip(graph.constvars, consts)}
    env.update((v.id, x) for v, x in zip(graph.invars, args))
    return env


def run_graph(graph, consts, args, on_node=None):
    """Evaluate `graph` on concrete values. `on_node(node, outs)` may inspect each result."""
    env = input_env(graph, consts, args)
    for node in graph.nodes:
        values = [read(env, a) for a in node.inputs]
        out = node.op.impl(*values, **node.params)
        outs = out if node.op.multiple_results else (out,)
        for var, value in zip(node.outs, outs):
            if not (isinstance(value, np.ndarray) and value.dtype == var.aval.dtype):
                value = np.asarray(value, dtype=var.aval.dtype)
            env[var.id] = value
        if on_node is not None:
            on_node(node, [env[v.id] for v in node.outs])
    return [read(env, v) for v in graph.outvars]


def evaluate(graph, *args):
    """Run a closed graph (its own consts) on `args`."""
    return run_graph(graph, graph.consts, args)
