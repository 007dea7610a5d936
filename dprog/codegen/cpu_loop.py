"""Scan and while loops as one compiled Numba function each ("native loops").

A control op run as an impl step loops in Python and runs its body as a compiled
executable per iteration: one driver call, its kernel dispatches and allocations, about
15 us, which dominates a loop over small arrays (the particles benchmark's 200-step scan
and its backward scan spent 5 of their 7 ms there). When every step of the body can be
written in nopython code (kernels and views: cpu_loop_body.py), the planner gives the
node a NativeLoop instead: a generated module holding the body's kernels and one
function with the whole loop, which fills result buffers the driver allocates (so
stacked ys that the program only reads are pooled across calls like any temporary):

    def loop(a0, a1, a2, r0, r1):      # consts, initial carries, xs, (body consts,) results
        c0 = a1
        for i in range(200):           # range(199, -1, -1) for reverse=True
            x0 = a2[i]
            ... kernel calls ...
            (copy v4 into r1[i])       # ys before the carries move on
            n0 = v3
            c0 = n0
        (copy c0 into r0)

This is decided once per plan; bodies with anything else keep the Python loop (op impl).
"""
import warnings

import numpy as np

from ..ops.control_loops import scan_p, while_p
from . import module_cache
from .cpu_kernel import HEADER, vector_width_lines
from .cpu_loop_body import InlineGraph, Value

LOOP_FLAGS = "cache=True, error_model='numpy', nogil=True, no_cfunc_wrapper=True"


def native_loop(node):
    """A NativeLoop running this scan or while node, or None where the Python loop must
    run it (a body step without a Numba form, or not a loop at all)."""
    if node.op is scan_p:
        return _native_scan(node)
    if node.op is while_p:
        return _native_while(node)
    return None


def _inline(graph, prefix):
    from ..passes import run_pipeline
    inlined = InlineGraph(run_pipeline(graph), prefix)
    return inlined if inlined.supported else None


def _const_args(inlined, first):
    """Argument names and values for an inlined graph's own constants (values a
    derivative rule captured), passed after the node's operands."""
    names = [f"a{first + k}" for k in range(len(inlined.graph.constvars))]
    values = [_operand(c, v.aval) for c, v in zip(inlined.graph.consts, inlined.graph.constvars)]
    return names, values


def _values(names, avals):
    return [Value(n, a.ndim, True) for n, a in zip(names, avals)]


# ------------------------------------------------------------------------------ scan

def _native_scan(node):
    p = node.params
    body = _inline(p["body"], "b")
    if body is None:
        return None
    nk, nc, length = p["num_consts"], p["num_carry"], p["length"]
    avals = [x.aval for x in node.inputs]
    args = [f"a{j}" for j in range(len(avals))]
    k_args, c_args, x_args = args[:nk], args[nk:nk + nc], args[nk + nc:]
    g_args, g_values = _const_args(body, len(args))
    c_avals = avals[nk:nk + nc]
    carries = [f"c{j}" for j in range(nc)]
    y_avals = [v.aval for v in body.graph.outvars[nc:]]

    results = [f"r{j}" for j in range(nc + len(y_avals))]
    ys = results[nc:]
    lines = [f"{c} = {a}" for c, a in zip(carries, c_args)]
    lines += body.setup_lines()
    order = f"range({length - 1}, -1, -1)" if p["reverse"] else f"range({length})"
    lines.append(f"for i in {order}:")
    inner = [f"x{j} = {a}[i]" for j, a in enumerate(x_args)]
    x_values = [Value(f"x{j}", avals[nk + nc + j].ndim - 1, True) for j in range(len(x_args))]
    body_lines, outs = body.body_lines(_values(k_args, avals) + _values(carries, c_avals) + x_values,
                                       _values(g_args, [v.aval for v in body.graph.constvars]))
    inner += body_lines
    # ys first: a y may name a carry that the update below rebinds.
    for j, (y, out) in enumerate(zip(ys, outs[nc:])):
        inner += _store_lines(f"{y}[i]", out, y_avals[j].shape, f"j{j}_")
    inner += _carry_update(carries, outs[:nc])
    lines += ["    " + line for line in inner]
    lines += _store_carries(results[:nc], carries, c_avals)
    source = _module_source(body.kernel_source(), args + g_args + results, lines)
    return NativeLoop(node, source, avals, g_values)


def _store_lines(target, value, shape, prefix):
    """Lines copying `value` into the array view `target` of `shape`. An explicit loop:
    Numba's slice assignment (y[i] = v) checks for overlap and copies generically, about
    2.5 us per 8 KB row, which cost the particles forward scan 1 ms of its 1.5."""
    if value.ndim == 0:
        return [f"{target} = {value.expr}"]
    if value.c_typed:  # both C-contiguous: one flat loop
        size = int(np.prod(shape, dtype=np.int64))
        return [f"{prefix}d = {target}.reshape({size})",
                f"{prefix}s = {value.expr}.reshape({size})",
                f"for {prefix}k in range({size}):",
                f"    {prefix}d[{prefix}k] = {prefix}s[{prefix}k]"]
    lines = [f"{prefix}d = {target}"]
    idx = [f"{prefix}{d}" for d in range(len(shape))]
    for d, n in enumerate(shape):
        lines.append("    " * d + f"for {idx[d]} in range({n}):")
    index = ", ".join(idx)
    lines.append("    " * len(shape) + f"{prefix}d[{index}] = {value.expr}[{index}]")
    return lines


def _carry_update(carries, outs):
    """Lines giving the carries their new values: all read first, then all written, so a
    body that swaps or repeats carries sees the old values."""
    news = [f"n{j}" for j in range(len(carries))]
    return ([f"{n} = {out.owned()}" for n, out in zip(news, outs)]
            + [f"{c} = {n}" for c, n in zip(carries, news)])


def _store_carries(results, carries, avals):
    """Lines copying the final carries into their result buffers (a carry may still be
    an operand, a slice of xs, or the same array as another carry: results never alias)."""
    lines = []
    for j, (r, c, a) in enumerate(zip(results, carries, avals)):
        if a.ndim == 0:
            lines.append(f"{r}[()] = {c}")
        else:
            lines += _store_lines(r, Value(c, a.ndim, True), a.shape, f"e{j}_")
    return lines


# ----------------------------------------------------------------------------- while

def _native_while(node):
    p = node.params
    cond = _inline(p["cond"], "p")
    body = _inline(p["body"], "b") if cond is not None else None
    if body is None:
        return None
    nck, nbk = p["num_cond_consts"], p["num_body_consts"]
    avals = [x.aval for x in node.inputs]
    args = [f"a{j}" for j in range(len(avals))]
    ck_args, bk_args, c_args = args[:nck], args[nck:nck + nbk], args[nck + nbk:]
    pg_args, pg_values = _const_args(cond, len(args))
    bg_args, bg_values = _const_args(body, len(args) + len(pg_args))
    c_avals = avals[nck + nbk:]
    carries = [f"c{j}" for j in range(len(c_args))]

    lines = [f"{c} = {a}" for c, a in zip(carries, c_args)]
    lines += cond.setup_lines() + body.setup_lines()
    lines.append("while True:")
    cond_lines, (pred,) = cond.body_lines(_values(ck_args, avals) + _values(carries, c_avals),
                                          _values(pg_args, [v.aval for v in cond.graph.constvars]))
    body_lines, outs = body.body_lines(_values(bk_args, avals[nck:]) + _values(carries, c_avals),
                                       _values(bg_args, [v.aval for v in body.graph.constvars]))
    inner = cond_lines + [f"if not {pred.expr}:", "    break"] + body_lines + _carry_update(carries, outs)
    lines += ["    " + line for line in inner]
    results = [f"r{j}" for j in range(len(carries))]
    lines += _store_carries(results, carries, c_avals)
    source = _module_source(cond.kernel_source() + "\n\n" + body.kernel_source(),
                            args + pg_args + bg_args + results, lines)
    return NativeLoop(node, source, avals, pg_values + bg_values)


# ------------------------------------------------------------------------ the module

def _module_source(kernels, args, lines):
    # The body's kernels may be inlined into the loop: it asks for their vector width too.
    body = "\n".join("    " + line for line in vector_width_lines() + lines)
    return (f"{HEADER}\n\n{kernels}\n\n\n@njit({LOOP_FLAGS})\n"
            f"def loop({', '.join(args)}):\n{body}\n")


def _operand(x, aval):
    """An operand as the loop function takes it: rank 0 as a NumPy scalar of its dtype,
    anything else as a writable C-contiguous array of its dtype (one Numba type per
    shape, so one compiled signature; copied only when it is not already that)."""
    if aval.ndim == 0:
        return np.asarray(x, aval.dtype)[()]
    if type(x) is np.ndarray and x.dtype == aval.dtype and x.flags.c_contiguous and x.flags.writeable:
        return x
    return np.array(x, aval.dtype, order="C")


class NativeLoop:
    """Runs one loop node: called with the node's operands and then one buffer per
    result (C-contiguous, of the result's dtype, rank 0 included), which it fills. The
    first call loads (or compiles) the module; if Numba cannot compile it, the node's
    Python loop runs instead from then on, with one warning."""

    def __init__(self, node, source, operand_avals, const_values):
        self.node = node
        self.source = source
        self.operand_avals = operand_avals
        self.const_values = const_values
        self._module = module_cache.load_module(source)
        self._fn = None
        self._failed = False

    def __call__(self, *args):
        if not self._failed:
            leaves = self.leaves(args)
            if self._fn is not None:
                return self._fn(*leaves)
            if self._first_call(leaves):
                return None
            self._failed = True
        n = len(self.operand_avals)
        self._fallback(args[:n], args[n:])

    def leaves(self, args):
        """The loop function's arguments for a call with these operands and results."""
        n = len(self.operand_avals)
        leaves = [_operand(x, a) for x, a in zip(args[:n], self.operand_avals)]
        return [*leaves, *self.const_values, *args[n:]]

    def precompile_view(self):
        """What cpu_precompile compiles for it, (dispatcher, source, leaves function), or
        None once it is compiled (or loaded) or given up on."""
        if self._fn is not None or self._failed:
            return None
        return self._module.loop, self.source, self.leaves

    def _first_call(self, leaves):
        from numba.core.errors import NumbaError
        try:
            _, self._fn = module_cache.call_guarded(self._module, "loop", leaves)
        except NumbaError as e:
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
            warnings.warn(f"dprog: the compiled loop of a {self.node.op.name} did not compile "
                          f"({type(e).__name__}: {first_line}); running it step by step instead",
                          RuntimeWarning)
            return False
        return True

    def _fallback(self, operands, results):
        from .cpu_driver import _bound_impl
        outs = _bound_impl(self.node)(*operands)
        for buffer, value in zip(results, outs):
            buffer[...] = value
