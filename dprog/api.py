"""The transformations users call: grad, value_and_grad, jvp, vjp, linearize, make_graph.

Each transformation traces the user's function into a Graph and evaluates the
transformed graph with `bind`, so inside an enclosing trace it records nodes there (and
nests to any depth: grad(grad(f)), jvp of vjp, jit outside or inside). Called on concrete
values, the transformed function is itself staged and compiled through dp.jit and cached.
"""
import functools

import numpy as np

from . import dtypes
from .config import config
from .errors import TransformError, with_location
from .gc_scope import new_objects_only
from .passes import run_pipeline
from .runtime import Jitted
from .staging import check_output_leaves, inline, leaf_aval, trace_flat, trace_pytree
from .trace import Tracer, is_tracing
from .transforms import jvp as jvp_t
from .transforms import vjp as vjp_t
from .transforms.partial_eval import split
from .tree import tree_flatten, tree_unflatten


# --------------------------------------------------------------------------- staging

def _static_pattern(args):
    """Positions of Python int/bool arguments: kept concrete (static) when a transformed
    function is called outside jit, as they would be in eager JAX."""
    return tuple(i for i, a in enumerate(args)
                 if isinstance(a, (int, bool, np.integer)) and not isinstance(a, np.ndarray))


def staged(body):
    """Run `body` traced and compiled (cached) when called on concrete values."""
    jitted = {}

    @functools.wraps(body)
    def wrapper(*args, **kwargs):
        leaves, _ = tree_flatten((args, kwargs))
        if is_tracing() or any(isinstance(x, Tracer) for x in leaves):
            return body(*args, **kwargs)
        pattern = _static_pattern(args)
        fn = jitted.get(pattern)
        if fn is None:
            fn = jitted[pattern] = Jitted(body, static_argnums=pattern)
        if config.disable_jit:  # body must still be traced: derivative rules need Tracers
            return fn.interpret(*args, **kwargs)
        return fn(*args, **kwargs)
    wrapper.__wrapped_body__ = body
    return wrapper


# ------------------------------------------------------------------------- utilities

def _argnums_tuple(argnums, nargs):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise TransformError(with_location(
                f"argnums={argnums} but the function was called with {nargs} positional arguments"))
    return single, tuple(n % nargs for n in nums)


def _flat_wrt(fun, args, nums):
    """Flatten the differentiated arguments; returns (leaves, treedef, flat_fun) where
    flat_fun(*leaves) calls fun with them substituted."""
    wrt = tuple(args[i] for i in nums)
    leaves, tree = tree_flatten(wrt)

    def call(*new_leaves):
        new_wrt = tree_unflatten(tree, list(new_leaves))
        full = list(args)
        for i, v in zip(nums, new_wrt):
            full[i] = v
        return fun(*full)
    return leaves, tree, call


def _check_float_inputs(leaves, what):
    for x in leaves:
        dt = leaf_aval(x).dtype
        if not dtypes.is_float(dt):
            raise TransformError(with_location(
                f"{what} requires float inputs, but an argument leaf has dtype {dt}; cast it "
                f"with .astype(np.float32) or leave it out of argnums"))


def _ones_like(x):
    from . import numpy as dnp
    return dnp.ones_like(x)


# --------------------------------------------------------------------- value_and_grad

def value_and_grad(fun, argnums=0, has_aux=False):
    """(f(x), df/dx) for a scalar-valued f; argnums int or tuple; has_aux -> ((v, aux), g)."""

    def body(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args))
        f = functools.partial(fun, **kwargs) if kwargs else fun
        leaves, tree, call = _flat_wrt(f, args, nums)
        _check_float_inputs(leaves, "grad")
        aux_box = []

        def flat(*xs):
            out = call(*xs)
            if has_aux:
                if not (isinstance(out, (tuple, list)) and len(out) == 2):
                    raise TransformError(with_location(
                        "has_aux=True needs the function to return a pair (value, aux)"))
                out, aux = out
                aux_leaves, aux_tree = tree_flatten(aux)
                check_output_leaves(aux_leaves, "function's aux output")
                aux_box.append(aux_tree)
                return [out] + list(aux_leaves)
            return [out]

        graph = trace_flat(flat, [leaf_aval(x) for x in leaves])
        out_aval = graph.outvars[0].aval
        if out_aval.shape != () or not dtypes.is_float(out_aval.dtype):
            raise TransformError(with_location(
                f"grad needs a function that returns a float scalar, got {out_aval}; use "
                f"dp.vjp or dp.jacrev for other outputs, or sum the result"))
        cts = [None] * len(graph.outvars)
        outs, _ = vjp_t.forward_pass(graph, graph.consts, leaves), None
        value = vjp_t.read(outs, graph.outvars[0])
        cts[0] = _ones_like(value)
        ct_env = vjp_t.backward_pass(graph, outs, cts, [True] * len(leaves))
        grads = []
        for v, x in zip(graph.invars, leaves):
            ct = ct_env.get(v.id)
            grads.append(vjp_t._zeros_like(x) if ct is None else ct)
        g = tree_unflatten(tree, grads)
        g = g[0] if single else g
        if has_aux:
            aux = tree_unflatten(aux_box[0], [vjp_t.read(outs, v) for v in graph.outvars[1:]])
            return (value, aux), g
        return value, g

    return staged(body)


def grad(fun, argnums=0, has_aux=False):
    """The gradient of a scalar-valued function (reverse mode)."""
    vg = value_and_grad(fun, argnums, has_aux)

    @functools.wraps(fun)
    def grad_fun(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return grad_fun


# ------------------------------------------------------------------------------- jvp

def jvp(fun, primals, tangents):
    """(f(primals), df(primals)[tangents]) in forward mode."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TransformError(with_location("jvp(f, primals, tangents): primals and tangents must be tuples"))
    if len(primals) != len(tangents):
        raise TransformError(with_location(
            f"jvp: {len(primals)} primals but {len(tangents)} tangents"))
    return _jvp_staged(fun)(tuple(primals), tuple(tangents))


def _jvp_staged(fun):
    def body(primals, tangents):
        p_leaves, p_tree = tree_flatten(primals)
        t_leaves, t_tree = tree_flatten(tangents)
        if p_tree != t_tree:
            raise TransformError(with_location(
                f"jvp: primals and tangents have different structures: {p_tree} vs {t_tree}"))
        for p, t in zip(p_leaves, t_leaves):
            pa, ta = leaf_aval(p), leaf_aval(t)
            if pa.shape != ta.shape:
                raise TransformError(with_location(
                    f"jvp: a tangent of shape {ta.shape} for a primal of shape {pa.shape}"))
        graph, out_tree = trace_pytree(lambda *a: fun(*a), tree_flatten((primals, {}))[1],
                                       [leaf_aval(x) for x in p_leaves])
        tangents_in = [t if dtypes.is_float(leaf_aval(p).dtype) else None
                       for p, t in zip(p_leaves, t_leaves)]
        outs, touts = jvp_t.jvp_eval(graph, graph.consts, p_leaves, tangents_in)
        touts = [jvp_t._zeros_like(o) if t is None else t for o, t in zip(outs, touts)]
        return tree_unflatten(out_tree, outs), tree_unflatten(out_tree, touts)
    return staged(body)


# ------------------------------------------------------------------ vjp and linearize

def _run(graph, leaves):
    """Evaluate a closed graph: inline under a trace, else compile and run it."""
    if is_tracing() or any(isinstance(x, Tracer) for x in leaves):
        return inline(graph, graph.consts, leaves)
    graph = run_pipeline(graph)
    from .runtime import make_executable
    avals = [v.aval for v in graph.invars]
    leaves = [x if type(x) is np.ndarray and x.dtype == a.dtype else np.asarray(x, a.dtype)
              for x, a in zip(leaves, avals)]
    with new_objects_only():    # a compile (dprog/gc_scope.py)
        outs = make_executable(graph, avals)(leaves)
    if config.debug_nans:  # once per vjp/linearize call, which compiles anyway
        from . import debug_nans
        debug_nans.check(graph, graph.consts, leaves, outs)
    return outs


def vjp(fun, *primals, has_aux=False):
    """(f(primals), vjp_fn) where vjp_fn(cotangent) -> cotangents of each primal.

    The forward pass runs now; vjp_fn runs only the backward pass on the saved residuals.
    """
    leaves, in_tree = tree_flatten((primals, {}))
    aux_box = []

    def f(*args):
        out = fun(*args)
        if has_aux:
            out, aux = out
            aux_box.append(aux)
        return out

    graph, out_tree = trace_pytree(_strip_aux(f, aux_box) if has_aux else f, in_tree,
                                   [leaf_aval(x) for x in leaves])
    n_out = len(graph.outvars) - (1 if has_aux else 0)
    if has_aux:
        out_tree, aux_tree = out_tree.children()[0], out_tree.children()[1]
    wrt = [dtypes.is_float(leaf_aval(x).dtype) for x in leaves]
    joint = vjp_t.vjp_graph(graph, wrt)
    # The joint graph's inputs: primals, then one cotangent per output (aux ones unused).
    unknown = [False] * len(leaves) + [True] * len(graph.outvars)
    known, unknown_graph, out_unknown = split(joint, unknown)
    known_vals = _run(known, leaves)
    n_known_outs = len(known.outvars) - (len(unknown_graph.invars) - len(graph.outvars))
    known_outs, residuals = known_vals[:n_known_outs], known_vals[n_known_outs:]
    outs_iter, known_iter = iter(known_outs), None
    all_outs = [next(outs_iter) for _ in range(len(graph.outvars))]
    out = tree_unflatten(out_tree, all_outs[:n_out])
    # Known outputs beyond the primal outs are input cotangents that need no cotangent
    # (zeros); keep them to fill in.
    known_cts = list(outs_iter)

    def vjp_fn(ct):
        ct_leaves, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise TransformError(with_location(
                f"vjp_fn: the cotangent's structure {ct_tree} differs from the output's {out_tree}"))
        for c, o in zip(ct_leaves, all_outs):
            if leaf_aval(c).shape != leaf_aval(o).shape:
                raise TransformError(with_location(
                    f"vjp_fn: a cotangent of shape {leaf_aval(c).shape} for an output of shape "
                    f"{leaf_aval(o).shape}"))
        ct_leaves = [np.asarray(c, leaf_aval(o).dtype) if not isinstance(c, Tracer) else c
                     for c, o in zip(ct_leaves, all_outs)]
        if has_aux:
            ct_leaves = ct_leaves + [np.zeros(leaf_aval(o).shape, leaf_aval(o).dtype)
                                     for o in all_outs[n_out:]]
        unknown_vals = iter(_run(unknown_graph, list(residuals) + ct_leaves))
        known_iter = iter(known_cts)
        cts = []
        for is_unknown in out_unknown[len(graph.outvars):]:
            cts.append(next(unknown_vals) if is_unknown else next(known_iter))
        full, it = [], iter(cts)
        for x, w in zip(leaves, wrt):
            full.append(next(it) if w else np.zeros(leaf_aval(x).shape, leaf_aval(x).dtype))
        return tree_unflatten(in_tree, full)[0]

    if has_aux:
        aux = tree_unflatten(aux_tree, all_outs[n_out:])
        return out, vjp_fn, aux
    return out, vjp_fn


def _strip_aux(f, aux_box):
    def wrapped(*args):
        out = f(*args)
        return (out, aux_box[-1])
    return wrapped


def linearize(fun, *primals):
    """(f(primals), f_jvp) where f_jvp(*tangents) evaluates only the linear part."""
    leaves, in_tree = tree_flatten((primals, {}))
    graph, out_tree = trace_pytree(fun, in_tree, [leaf_aval(x) for x in leaves])
    has_tangent = [dtypes.is_float(leaf_aval(x).dtype) for x in leaves]
    joint = jvp_t.jvp_graph(graph, has_tangent)
    n_t = sum(has_tangent)
    unknown = [False] * len(leaves) + [True] * n_t
    known, lin, out_unknown = split(joint, unknown)
    n_out = len(graph.outvars)
    known_vals = _run(known, leaves)
    n_known_outs = sum(1 for u in out_unknown if not u)
    known_outs, residuals = known_vals[:n_known_outs], known_vals[n_known_outs:]
    k = iter(known_outs)
    resolved = [None if u else next(k) for u in out_unknown]
    out = tree_unflatten(out_tree, resolved[:n_out])

    def f_jvp(*tangents):
        t_leaves, t_tree = tree_flatten((tangents, {}))
        if t_tree != in_tree:
            raise TransformError(with_location(
                f"linearize: tangents' structure {t_tree} differs from the primals' {in_tree}"))
        t_leaves = [t for t, h in zip(t_leaves, has_tangent) if h]
        lin_vals = iter(_run(lin, list(residuals) + t_leaves))
        touts = [next(lin_vals) if u else r for u, r in zip(out_unknown, resolved)][n_out:]
        return tree_unflatten(out_tree, touts)
    return out, f_jvp


# ------------------------------------------------------------------------ make_graph

def make_graph(fun, static_argnums=()):
    """make_graph(f)(*args) -> the Graph that tracing f on args records (before passes)."""
    jitted = Jitted(fun, static_argnums=static_argnums)

    @functools.wraps(fun)
    def trace(*args, **kwargs):
        statics, dyn_args, dyn_kwargs = jitted._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        graph, _ = trace_pytree(jitted._bind_statics(statics), in_tree,
                                [leaf_aval(x) for x in leaves])
        return graph
    return trace


def stop_gradient(x):
    """x with its derivative set to zero (applies to every leaf of a pytree)."""
    from .ops.elementwise import stop_gradient_p
    from .tree import tree_map
    return tree_map(lambda leaf: stop_gradient_p(leaf) if isinstance(leaf, Tracer) else leaf, x)


