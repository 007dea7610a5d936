"""Sub-graph helpers shared by the control ops (cond, loops, custom rules, checkpoint).

A control node's sub-graphs are *closed*: every value they read is one of their inputs,
so the node's operands say everything it depends on (DCE, CSE, partial evaluation and
the reference interpreter need nothing special). User bodies are closed by `close`,
which turns captured values into leading inputs. Derived sub-graphs (the JVP or VJP of a
body) are traced with `trace_sub` from closed graphs; they may keep concrete NumPy
constants that a derivative rule created, but never a value of an enclosing trace.

The derivative rules of control ops build their new bodies from `jvp_sub` / `vjp_sub`,
which evaluate a body with the ordinary graph transforms inside a fresh trace. Rules
bind control ops again, so derivatives of derivatives need nothing more.
"""
import threading
from .. import dtypes
from ..ir import Graph, Var, aval_of_value


def aval_of(x):
    from ..trace import Tracer
    return x.aval if isinstance(x, Tracer) else aval_of_value(x)


def is_float_aval(aval):
    return dtypes.is_float(aval.dtype)


def needs_ct(x):
    """Cotangents flow only to traced float values (never to literals or integers)."""
    from ..trace import Tracer
    return isinstance(x, Tracer) and dtypes.is_float(x.aval.dtype)


def same_avals(got, expected):
    """Avals agree up to weak typing (a weak scalar and a strong one of one dtype match)."""
    return len(got) == len(expected) and all(
        a.shape == b.shape and a.dtype == b.dtype for a, b in zip(got, expected))


class _SubgraphMode(threading.local):
    compiled = False  # set while a compiled (CPU) executable runs a control op


subgraph_mode = _SubgraphMode()


def run_sub(graph, args):
    """Run a sub-graph on concrete values: with the reference interpreter, or, when a
    compiled executable runs the control op, as a compiled executable of its own (made
    once per sub-graph), so loop bodies run as fused kernels too."""
    if subgraph_mode.compiled:
        runner = getattr(graph, "_compiled_runner", None)
        if runner is None:
            runner = graph._compiled_runner = _compile_subgraph(graph)
        return runner(args)
    from ..interpreter import run_graph
    return run_graph(graph, graph.consts, list(args))


def _compile_subgraph(graph):
    import numpy as np
    from ..passes import run_pipeline
    from ..runtime import make_executable
    optimised = run_pipeline(graph)
    avals = [v.aval for v in optimised.invars]
    executable = make_executable(optimised, avals)

    def run(args):
        leaves = [x if type(x) is np.ndarray and x.dtype == a.dtype else np.asarray(x, a.dtype)
                  for x, a in zip(args, avals)]
        return executable(leaves)
    return run


def inline_sub(graph, args):
    """Bind a sub-graph's nodes into the active trace (or run them eagerly)."""
    from ..staging import inline
    return inline(graph, graph.consts, list(args))


def close(graph):
    """(graph whose captured values are leading inputs, the captured values)."""
    from ..passes.dce import dce
    graph = dce(graph)
    return Graph(graph.constvars + graph.invars, graph.nodes, graph.outvars), list(graph.consts)


def trace_sub(fun, avals):
    """Trace a derived sub-graph of fun(*tracers) -> list; dead nodes are dropped."""
    from ..passes.dce import dce
    from ..staging import trace_flat
    from ..trace import Tracer
    graph = dce(trace_flat(fun, list(avals)))
    if any(isinstance(c, Tracer) for c in graph.consts):
        raise AssertionError("internal: a derived sub-graph captured a traced value")
    return graph


def reorder_inputs(graph, order):
    """The same graph with its inputs permuted: new input j is old input order[j]."""
    return graph.replace(invars=[graph.invars[i] for i in order])


def insert_unused_inputs(graph, position, avals):
    """The same graph taking extra, ignored inputs of `avals` at `position`."""
    invars = graph.invars
    return graph.replace(invars=invars[:position] + [Var(a) for a in avals] + invars[position:])


def zeros_like(x):
    from .. import numpy as dnp
    return dnp.zeros_like(x)


def jvp_sub(graph, has_tangent, keep_outs=None):
    """Sub-graph (primals..., tangents of inputs marked in has_tangent...) ->
    (primal outputs marked in keep_outs..., tangents of every float output...).

    Zero tangents of float outputs are materialised, so the result's avals are fixed."""
    from ..transforms.jvp import jvp_eval
    n = len(graph.invars)
    keep = [False] * len(graph.outvars) if keep_outs is None else list(keep_outs)
    float_out = [is_float_aval(a) for a in graph.out_avals]

    def fun(*args):
        primals, rest = args[:n], iter(args[n:])
        tangents = [next(rest) if h else None for h in has_tangent]
        outs, touts = jvp_eval(graph, graph.consts, primals, tangents)
        kept = [o for o, k in zip(outs, keep) if k]
        return kept + [zeros_like(o) if t is None else t
                       for o, t, f in zip(outs, touts, float_out) if f]

    avals = graph.in_avals + [a.strong() for a, h in zip(graph.in_avals, has_tangent) if h]
    return trace_sub(fun, avals)


def vjp_sub(graph, wrt, ct_mask):
    """Sub-graph (primals..., cotangents of outputs marked in ct_mask...) ->
    (cotangents of the inputs marked in wrt...), zeros materialised."""
    from ..transforms.vjp import vjp_eval
    n = len(graph.invars)

    def fun(*args):
        primals, rest = args[:n], iter(args[n:])
        cts = [next(rest) if m else None for m in ct_mask]
        _, in_cts = vjp_eval(graph, graph.consts, primals, cts, wrt)
        return in_cts

    avals = graph.in_avals + [a.strong() for a, m in zip(graph.out_avals, ct_mask) if m]
    return trace_sub(fun, avals)


def scatter(values, mask, fill=None):
    """Spread `values` over the True positions of mask; `fill` elsewhere."""
    it = iter(values)
    return [next(it) if m else fill for m in mask]


def split_list(xs, sizes):
    out, start = [], 0
    for s in sizes:
        out.append(list(xs[start:start + s]))
        start += s
    out.append(list(xs[start:]))
    return out
