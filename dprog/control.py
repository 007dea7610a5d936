"""Structured control flow: dp.cond, dp.switch, dp.scan, dp.fori_loop, dp.while_loop.

Each body is traced once, on abstract values, into a closed sub-graph (values it closes
over become explicit operands of the control node), so a 10,000-step loop costs one
trace of its body. Outside any trace the same node runs eagerly through the reference
implementation. Operands, carries and results are pytrees.

Python scalars are weak (NEP 50): a branch returning 1.0 where another returns a float32
array, or an init of 0.0 for a float32 carry, takes the strong dtype instead of failing.
"""
import numpy as np

from . import dtypes
from .errors import DtypeError, PytreeError, ShapeError, with_location
from .ops.control_cond import cond_p
from .ops.control_loops import scan_p, while_p
from .ops.control_util import close, insert_unused_inputs
from .staging import check_output_leaves, leaf_aval, trace_flat
from .trace import Tracer
from .tree import tree_flatten, tree_structure, tree_unflatten


# ------------------------------------------------------------------------- helpers

def _path(prefix, path):
    return prefix + "".join(f"[{p!r}]" for p in path)


def _cast(x, dtype):
    from .numpy._core import cast
    return x if dtype is None or leaf_aval(x).dtype == dtype else cast(x, dtype)


def _trace(fun, in_tree, in_avals, what, split=None, cast_to=None):
    """Trace fun(*unflatten(in_tree)) once into a closed graph.

    Returns (graph, consts, out_trees). `split(out)` may cut the result into parts (as
    scan's (carry, y)); each part is flattened and its treedef returned. `cast_to` gives
    a dtype (or None) for each of the first output leaves, to adopt a weak output into a
    strong dtype."""
    box = []

    def flat(*tracers):
        out = fun(*tree_unflatten(in_tree, list(tracers)))
        parts = split(out) if split is not None else (out,)
        leaves, trees = [], []
        for part in parts:
            part_leaves, part_tree = tree_flatten(part)
            check_output_leaves(part_leaves, what)
            leaves += part_leaves
            trees.append(part_tree)
        box.append(trees)
        if cast_to is not None:
            leaves = [_cast(x, dt) for x, dt in zip(leaves, cast_to)] + leaves[len(cast_to):]
        return leaves

    graph, consts = close(trace_flat(flat, in_avals))
    return graph, consts, box[0]


def _joined(avals):
    """The dtype several avals of one leaf agree on (weak ones adopt a strong one), or None."""
    if len({a.shape for a in avals}) > 1:
        return None
    strong = {a.dtype for a in avals if not a.weak}
    if len(strong) > 1:
        return None
    return strong.pop() if strong else np.result_type(*[a.dtype for a in avals])


def _concrete_int(x):
    if isinstance(x, (bool, np.bool_)) or isinstance(x, Tracer):
        return False
    return isinstance(x, (int, np.integer)) or (isinstance(x, np.ndarray) and x.ndim == 0
                                                 and x.dtype.kind in "iu")


def _scalar_aval(x, what, name):
    aval = leaf_aval(x)
    if aval.shape != ():
        raise ShapeError(with_location(f"{what}: the {name} must be a scalar, got {aval}"))
    return aval


# ------------------------------------------------------------------------ cond/switch

def cond(pred, true_fn, false_fn, *operands):
    """true_fn(*operands) if pred else false_fn(*operands); both are traced, one runs."""
    aval = _scalar_aval(pred, "dp.cond", "predicate")
    if not (dtypes.is_bool(aval.dtype) or dtypes.is_int(aval.dtype)):
        raise DtypeError(with_location(
            f"dp.cond: the predicate must be a bool or integer scalar, got {aval}; compare "
            f"explicitly (e.g. x > 0) to make a bool"))
    if isinstance(pred, Tracer):
        index = (pred != 0).astype(np.int32)
    else:
        index = np.int32(bool(np.asarray(pred)))
    return _switch(index, [false_fn, true_fn], operands, "dp.cond", ["false_fn", "true_fn"])


def switch(index, branches, *operands):
    """branches[clamp(index, 0, len(branches) - 1)](*operands)."""
    branches = list(branches) if isinstance(branches, (list, tuple)) else None
    if not branches or not all(callable(b) for b in branches):
        raise PytreeError(with_location("dp.switch: branches must be a non-empty sequence of functions"))
    aval = _scalar_aval(index, "dp.switch", "index")
    if not (dtypes.is_int(aval.dtype) or dtypes.is_bool(aval.dtype)):
        raise DtypeError(with_location(
            f"dp.switch: the index must be an integer scalar, got {aval}; convert it with "
            f".astype(np.int32)"))
    return _switch(index, branches, operands, "dp.switch",
                   [f"branch {k}" for k in range(len(branches))])


def _switch(index, branches, operands, what, names):
    leaves, in_tree = tree_flatten(tuple(operands))
    avals = [leaf_aval(x) for x in leaves]
    traced = [_trace(b, in_tree, avals, f"{what} {n}") for b, n in zip(branches, names)]
    out_tree = traced[0][2][0]
    for (_, _, (tree,)), name in zip(traced[1:], names[1:]):
        if tree != out_tree:
            raise PytreeError(with_location(
                f"{what}: {names[0]} returns the structure {out_tree} but {name} returns "
                f"{tree}; every branch must return the same pytree structure"))
    per_leaf = list(zip(*[g.out_avals for g, _, _ in traced]))
    targets = []
    for i, avals_i in enumerate(per_leaf):
        dt = _joined(avals_i)
        if dt is None:
            first = (avals_i[0].shape, avals_i[0].dtype)
            j = next(j for j, a in enumerate(avals_i) if (a.shape, a.dtype) != first)
            raise ShapeError(with_location(
                f"{what}: {names[0]} returns {avals_i[0]} but {names[j]} returns {avals_i[j]} "
                f"for the output {_path('out', out_tree.paths()[i])}; every branch must "
                f"return the same shapes and dtypes (cast with .astype(...))"))
        targets.append(dt)
    for k, (g, _, _) in enumerate(traced):
        if any(a.dtype != dt for a, dt in zip(g.out_avals, targets)):
            traced[k] = _trace(branches[k], in_tree, avals, f"{what} {names[k]}", cast_to=targets)
    # Every branch takes all branches' captured values, then the operands.
    const_avals = [[v.aval for v in g.invars[:len(c)]] for g, c, _ in traced]
    graphs = []
    for k, (g, c, _) in enumerate(traced):
        after = [a for avs in const_avals[k + 1:] for a in avs]
        before = [a for avs in const_avals[:k] for a in avs]
        graphs.append(insert_unused_inputs(insert_unused_inputs(g, len(c), after), 0, before))
    consts = [x for _, c, _ in traced for x in c]
    outs = cond_p(index, *consts, *leaves, branches=tuple(graphs))
    return tree_unflatten(out_tree, outs)


# ----------------------------------------------------------------------------- loops

def _carry_targets(init_tree, in_avals, out_avals, what):
    """Per carry leaf, the dtype init and body output agree on; raise naming both."""
    targets = []
    for path, a, b in zip(init_tree.paths(), in_avals, out_avals):
        dt = _joined([a, b])
        if dt is None:
            raise ShapeError(with_location(
                f"{what}: the body returns {b} for the carry {_path('carry', path)}, which "
                f"enters as {a}; the carry must keep its shape and dtype from step to step "
                f"(cast with .astype(...) or change the initial value)"))
        targets.append(dt)
    return targets


def _check_carry_tree(init_tree, out_tree, what):
    if out_tree != init_tree:
        raise PytreeError(with_location(
            f"{what}: the body returns a carry of structure {out_tree} but the initial carry "
            f"has structure {init_tree}; the carry must keep its structure"))


def _trace_carry_body(trace_once, init_leaves, init_tree, what):
    """Trace a loop body until its carry avals are stable (weak inits adopt the body's
    dtype, weak outputs the carry's); returns (graph, consts, trees, init_leaves)."""
    cast_to = None
    for _ in range(3):
        in_avals = [leaf_aval(x) for x in init_leaves]
        graph, consts, trees = trace_once(in_avals, cast_to)
        _check_carry_tree(init_tree, trees[0], what)
        out_avals = graph.out_avals[:len(in_avals)]
        targets = _carry_targets(init_tree, in_avals, out_avals, what)
        if all(a.dtype == t for a, t in zip(in_avals, targets)) and \
                all(a.dtype == t for a, t in zip(out_avals, targets)):
            return graph, consts, trees, init_leaves
        init_leaves = [_cast(x, t) for x, t in zip(init_leaves, targets)]
        cast_to = targets
    raise AssertionError("internal: loop carry dtypes did not settle")


def _scan_split(what):
    def split(out):
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise PytreeError(with_location(
                f"{what}: the body must return a pair (new_carry, y), got {type(out).__name__}"))
        return out
    return split


def scan(f, init, xs=None, length=None, reverse=False):
    """Loop f(carry, x) -> (carry, y) over the leading axis of xs; returns (carry, ys)."""
    return _scan(f, init, xs, length, reverse, "dp.scan")


def _scan(f, init, xs, length, reverse, what):
    init_leaves, init_tree = tree_flatten(init)
    xs_leaves, _ = tree_flatten(xs)
    x_avals = [leaf_aval(x) for x in xs_leaves]
    if any(a.ndim == 0 for a in x_avals):
        raise ShapeError(with_location(f"{what}: every leaf of xs needs a leading axis to loop over"))
    lengths = {a.shape[0] for a in x_avals}
    if length is not None:
        if not _concrete_int(length):
            raise ShapeError(with_location(
                f"{what}: length must be a Python int (the loop's trip count is part of the "
                f"program's structure), got {type(length).__name__}"))
        lengths.add(int(length))
    if len(lengths) != 1:
        raise ShapeError(with_location(
            f"{what}: " + (f"xs leaves and length= disagree on the loop length: {sorted(lengths)}"
                           if lengths else "give xs with a leading axis, or length= when xs is None")))
    length = lengths.pop()
    slice_avals = [a.update(shape=a.shape[1:]) for a in x_avals]

    def trace_once(carry_avals, cast_to):
        in_tree = tree_structure((init, xs))
        return _trace(f, in_tree, carry_avals + slice_avals, f"{what} body",
                      split=_scan_split(what), cast_to=cast_to)

    graph, consts, (c_tree, y_tree), init_leaves = _trace_carry_body(
        trace_once, init_leaves, init_tree, what)
    n = len(init_leaves)
    outs = scan_p(*consts, *init_leaves, *xs_leaves, body=graph, num_consts=len(consts),
                  num_carry=n, length=length, reverse=bool(reverse))
    return tree_unflatten(c_tree, outs[:n]), tree_unflatten(y_tree, outs[n:])


def while_loop(cond_fun, body_fun, init_val):
    """Repeat carry = body_fun(carry) while cond_fun(carry); returns the final carry.

    Forward mode (jvp) works through it; reverse mode does not (use fori_loop with Python
    int bounds or scan), since its trip count is unknown until it runs."""
    init_leaves, init_tree = tree_flatten(init_val)
    in_tree = tree_structure((init_val,))

    def trace_body(carry_avals, cast_to):
        return _trace(body_fun, in_tree, carry_avals, "dp.while_loop body", cast_to=cast_to)

    body, body_consts, _, init_leaves = _trace_carry_body(
        trace_body, init_leaves, init_tree, "dp.while_loop")
    carry_avals = [leaf_aval(x) for x in init_leaves]
    cond, cond_consts, (c_tree,) = _trace(cond_fun, in_tree, carry_avals, "dp.while_loop cond_fun")
    out = cond.out_avals
    if c_tree.num_leaves != 1 or out[0].shape != () or not dtypes.is_bool(out[0].dtype):
        raise DtypeError(with_location(
            f"dp.while_loop: cond_fun must return a bool scalar, got "
            f"{[str(a) for a in out]}; compare explicitly (e.g. i < n)"))
    outs = while_p(*cond_consts, *body_consts, *init_leaves, cond=cond, body=body,
                   num_cond_consts=len(cond_consts), num_body_consts=len(body_consts))
    return tree_unflatten(init_tree, outs)


def fori_loop(lower, upper, body_fun, init_val):
    """for i in range(lower, upper): val = body_fun(i, val); returns val.

    With Python int bounds it is a scan of static length (reverse-differentiable);
    with traced bounds it is a while_loop (forward mode only)."""
    if _concrete_int(lower) and _concrete_int(upper):
        def step(carry, _):
            i, val = carry
            return (i + 1, body_fun(i, val)), None
        length = max(0, int(upper) - int(lower))
        (_, out), _ = _scan(step, (lower, init_val), None, length, False, "dp.fori_loop")
        return out
    for name, v in (("lower", lower), ("upper", upper)):
        aval = _scalar_aval(v, "dp.fori_loop", f"{name} bound")
        if not dtypes.is_int(aval.dtype):
            raise DtypeError(with_location(f"dp.fori_loop: the {name} bound must be an integer, got {aval}"))
    (_, _, out) = while_loop(lambda c: c[0] < c[1],
                             lambda c: (c[0] + 1, c[1], body_fun(c[0], c[2])),
                             (lower, upper, init_val))
    return out
