"""Numba CPU source for a row kernel: a fusion node with params["rows"] = k.

    def kernel(lo, hi, n0, n1, out0, in0, in1):
        for i0 in range(lo, hi):           # outer dims (a slice of the first: cpu_threads.py)
            r0 = in1[i0]                   # row inputs, read once per row
            acc0 = np.float32(-np.inf)
            for i1 in range(n1):           # pass 0
                v3 = in0[i0, i1]
                acc0 = sc.maximum(acc0, v3)
            r1 = acc0
            ...                            # row values between passes
            for i1 in range(n1):           # last pass
                ...
                out0[i0, i1] = v9

See passes/fuse_rows.py for what such a group holds. Every value is "full" (one per
element, computed inside a pass) or "row" (one per outer index: a scalar between
passes), except reductions over the outer dims, which each pass adds straight into their
output (`out3[i1] = out3[i1] + v7`; the driver fills it with the identity, or gives each
thread's slice of rows its own partial). A full value needed by a later pass is
recomputed there, or read back from the output it was written to. Arrays are passed
with their own shapes; rank-0 inputs arrive as scalars.
"""
from ..ir import Literal
from ..ops.elementwise import COMPARISONS
from ..ops.misc import iota_p
from ..ops.record import Kind
from ..passes.fuse_rows import is_outer_reduction, keeps_rows, value_level
from .cpu_kernel import OUTER_LOOP, vector_width_lines
from .expressions import calls_vecmath, iota_expr, op_expression, typed_constant, view_index


class _Plan:
    """Where each value of the kernel is computed: full values in a pass, row values in
    the gap before a pass (gap p runs after pass p - 1)."""

    def __init__(self, graph, full, k):
        self.graph, self.full, self.k = graph, full, k
        self.level = {}      # var id -> "full" | "row" | "array" (outer array read via a view)
        self.pass_of = {}    # full var id -> earliest pass that can compute it
        self.ready = {}      # row var id -> gap where it becomes available
        self.producer = {}
        for v in graph.invars:
            lv = value_level(v.aval, full, k)
            self.level[v.id] = lv or "array"
            if lv == "full":
                self.pass_of[v.id] = 0
            else:
                self.ready[v.id] = 0
        for node in graph.nodes:
            for v in node.outs:
                self.producer[v.id] = node
            self._place(node)
        self.n_passes = 1 + max([self.pass_of[n.inputs[0].id] for n in self.reductions()]
                                + [self.pass_of[v.id] for v in graph.outvars
                                   if self.level[v.id] == "full"] + [0])

    def reductions(self):
        return [n for n in self.graph.nodes if n.op.kind is Kind.REDUCTION]

    def row_reductions(self, p):
        """The reductions over the inner dims whose input pass p computes."""
        return [r for r in self.reductions()
                if self.pass_of[r.inputs[0].id] == p and self.level[r.outs[0].id] == "row"]

    def outer_reductions(self, p):
        """The reductions over the outer dims whose input pass p computes."""
        return [r for r in self.reductions()
                if self.pass_of[r.inputs[0].id] == p and self.level[r.outs[0].id] == "outer"]

    def _when(self, x):
        """(pass, gap) constraints an operand puts on its reader."""
        if isinstance(x, Literal):
            return 0, 0
        if self.level[x.id] == "full":
            return self.pass_of[x.id], 0
        return 0, self.ready[x.id]

    def _place(self, node):
        out = node.outs[0]
        if is_outer_reduction(node, self.full, self.k):
            self.level[out.id] = "outer"   # accumulated into its output by every row
            return
        if node.op.kind is Kind.REDUCTION:
            self.level[out.id] = "row"
            self.ready[out.id] = self.pass_of[node.inputs[0].id] + 1
            return
        level = value_level(out.aval, self.full, self.k)
        self.level[out.id] = level
        earliest = max([max(self._when(x)) for x in node.inputs] + [0])
        if node.op.kind is Kind.MOVEMENT and self.level.get(getattr(node.inputs[0], "id", None)) == "array":
            earliest = 0
        if level == "full":
            self.pass_of[out.id] = earliest
        else:
            self.ready[out.id] = earliest

    def row_source(self, x):
        """The literal or row value a value is a broadcast of, or None."""
        while not isinstance(x, Literal) and self.level.get(x.id) == "full":
            node = self.producer.get(x.id)
            if node is None or not self.is_alias(node):
                return None
            x = node.inputs[0]
        return x

    def is_alias(self, node):
        """A view that reuses its source's row scalar."""
        return node.op.kind is Kind.MOVEMENT and keeps_rows(node, self.full, self.k)


def row_kernel_source(graph, full, k, name="kernel"):
    full = tuple(full)
    n = len(full)
    plan = _Plan(graph, full, k)
    idx = [f"i{d}" for d in range(n)]
    in_names = [f"in{j}" for j in range(len(graph.invars))]
    out_names = [f"out{j}" for j in range(len(graph.outvars))]
    out_of = {v.id: o for v, o in zip(graph.outvars, out_names)}
    arrays = {v.id: a for v, a in zip(graph.invars, in_names)}
    lines = [f"def {name}({', '.join(['lo', 'hi'] + [f'n{d}' for d in range(n)] + out_names + in_names)}):"]
    lines += ["    " + line for line in vector_width_lines()]
    depth = [1]

    def emit(text):
        lines.append("    " * depth[0] + text)

    def row_index(rank):
        """Index of the current row in an array of a row value's rank."""
        if rank == 0:
            return "()"
        return ", ".join(idx[:k] + ["0"] * (rank - k))

    full_index = ", ".join(idx)
    position = {v.id: i for i, node in enumerate(graph.nodes) for v in node.outs}
    names = {}  # var id -> name or expression text
    for v, a in zip(graph.invars, in_names):
        if v.aval.ndim == 0:
            names[v.id] = a
        elif plan.level[v.id] == "full":
            names[v.id] = f"{a}[{full_index}]"

    def atom(x):
        if isinstance(x, Literal):
            return typed_constant(x.value, x.aval.dtype)
        return names[x.id]

    # Outer loops; row inputs are read once per row.
    for d in range(k):
        emit(OUTER_LOOP if d == 0 else f"for {idx[d]} in range(n{d}):")
        depth[0] += 1
    for line in _prefetch_next_row(plan, graph, in_names, n, k):
        emit(line)
    for v, a in zip(graph.invars, in_names):
        if plan.level[v.id] == "row" and v.aval.ndim > 0:
            names[v.id] = f"r_{a}"
            emit(f"r_{a} = {a}[{row_index(v.aval.ndim)}]")
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    def emit_row_nodes(gap):
        emit_row_values(plan, gap, names, atom, idx, emit, fresh,
                        lambda node, args: op_expression(node, args, scalar=True))
        for v in graph.outvars:
            if plan.level[v.id] == "row" and plan.ready[v.id] == gap:
                target = f"{out_of[v.id]}[{row_index(v.aval.ndim)}]"
                emit(f"{target} = {atom(v)}")

    # Full values a pass reads from memory instead of computing: outputs an earlier pass
    # wrote, and one value the last pass would recompute, stashed in its output row.
    readback = {}  # var id -> output array name
    stash = _choose_stash(plan)
    for p in range(plan.n_passes):
        emit_row_nodes(p)
        reductions = plan.row_reductions(p)
        outer = plan.outer_reductions(p)
        outputs = [v for v in graph.outvars if plan.level[v.id] == "full" and plan.pass_of[v.id] == p]
        if stash and p == plan.n_passes - 1:
            readback[stash[0].id] = out_of[stash[1].id]
        needed = _full_closure(plan, [r.inputs[0] for r in reductions + outer] + outputs, readback)
        accs = []
        for r in reductions:
            acc = fresh("acc")
            accs.append((r, acc))
            emit(f"{acc} = {typed_constant(r.op.identity(r.outs[0].aval.dtype), r.outs[0].aval.dtype)}")
        narrow = {}  # comparison node id -> argument texts (see _narrow_index_compare)
        for node in graph.nodes:
            if node.outs[0].id in needed and (found := _narrow_index_compare(node, plan)):
                iota_pos, axis, other = found
                # Sizes stay arguments (not baked into the source) even for a literal.
                bound = fresh("rc")
                # (sc's intrinsics: Python's min/max would each compile a helper)
                emit(f"{bound} = np.int32(sc.minimum(sc.maximum(np.int64({atom(other)}), np.int64(-1)), n{axis}))")
                args = [None, None]
                args[iota_pos], args[1 - iota_pos] = f"np.int32({idx[axis]})", bound
                narrow[id(node)] = args
        outer_depth = depth[0]
        for d in range(k, n):
            emit(f"for {idx[d]} in range(n{d}):")
            depth[0] += 1
        for v_id in needed:
            if v_id in readback:
                names[v_id] = f"{readback[v_id]}[{full_index}]"
        for node in graph.nodes:
            out = node.outs[0]
            if out.id not in needed or out.id in readback:
                continue
            if node.op.kind is Kind.MOVEMENT and plan.is_alias(node):
                names[out.id] = atom(node.inputs[0])
                continue
            if node.op.kind is Kind.MOVEMENT:
                expr = f"{arrays[node.inputs[0].id]}[{view_index(node, idx)}]"
            elif node.op is iota_p:
                expr = iota_expr(idx[node.params["axis"]], out.aval.dtype)
            elif id(node) in narrow:
                expr = op_expression(node, narrow[id(node)])
            else:
                expr = op_expression(node, [atom(x) for x in node.inputs])
            name = f"v{position[out.id]}"  # by position: the text must not depend on global ids
            emit(f"{name} = {expr}")
            names[out.id] = name
        for r, acc in accs:
            emit(f"{acc} = " + r.op.expr.format(acc=acc, v=atom(r.inputs[0])))
        for r in outer:
            # The output holds the identity (or this thread's partial) before the first row.
            target = f"{out_of[r.outs[0].id]}[{', '.join(idx[k:])}]"
            emit(f"{target} = " + r.op.expr.format(acc=target, v=atom(r.inputs[0])))
        if stash and p == stash[2]:
            emit(f"{out_of[stash[1].id]}[{full_index}] = {atom(stash[0])}  # stashed for the last pass")
        for v in outputs:
            emit(f"{out_of[v.id]}[{full_index}] = {atom(v)}")
            readback[v.id] = out_of[v.id]
        depth[0] = outer_depth
        for r, acc in accs:
            names[r.outs[0].id] = acc
    emit_row_nodes(plan.n_passes)
    return "\n".join(lines) + "\n"


def emit_row_values(plan, gap, names, atom, idx, emit, fresh, spell):
    """Emit the row values that become available at `gap` (in the gap before pass
    `gap`), one scalar per row, and record their names; views of row values reuse their
    source's name. `spell(node, args)` is the backend's expression for an op. (Shared by
    the CPU and CUDA row kernels.)"""
    k = plan.k
    for node in plan.graph.nodes:
        out = node.outs[0]
        if plan.level[out.id] != "row" or node.op.kind is Kind.REDUCTION or plan.ready[out.id] != gap:
            continue
        if node.op.kind is Kind.MOVEMENT:
            names[out.id] = atom(node.inputs[0])
            continue
        if node.op is iota_p:
            axis = node.params["axis"]
            expr = iota_expr(idx[axis] if axis < k else "0", out.aval.dtype)
        else:
            expr = spell(node, [atom(x) for x in node.inputs])
        name = fresh("r")
        emit(f"{name} = {expr}")
        names[out.id] = name


CACHE_LINE = 64
# Whether multi-pass row kernels prefetch their next row (a switch for A/B measurements),
# and from what row length: shorter rows are a few cache lines that the hardware
# prefetcher keeps up with, and the loop costs ~30 ms of compile time (the MLP's 10-class
# cross-entropy kernel).
PREFETCH_NEXT_ROW = True
PREFETCH_MIN_ROW_BYTES = 1024


def _prefetch_next_row(plan, graph, in_names, n, k):
    """Lines that start loading the next row of each full-size input, one prefetch per
    cache line (kernels/scalar.py prefetch), for a kernel over rows of a 2-D iteration
    space that makes more than one pass over each row. Only the first pass reads the row
    from memory; the later ones find it in the L1 cache, and the hardware prefetcher
    does not run ahead while they compute. Measured on the 4096x1000 float32
    cross-entropy gradient (3 passes, 2 threads, after a 10 ms idle gap): 3.06 -> 2.79,
    2.80 -> 2.55 and 3.30 -> 3.12 ms (benchmarks/RESULTS.md)."""
    if not PREFETCH_NEXT_ROW or (n, k) != (2, 1) or plan.n_passes < 2:
        return []
    rows = [(a, v.aval.dtype.itemsize) for v, a in zip(graph.invars, in_names)
            if v.aval.ndim == 2 and plan.level[v.id] == "full"
            and plan.full[1] * v.aval.dtype.itemsize >= PREFETCH_MIN_ROW_BYTES]
    if not rows:
        return []
    lines = ["if i0 + np.uint64(1) < np.uint64(hi):"]
    for a, itemsize in rows:
        lines += [f"    for pf in range(0, n1, {max(1, CACHE_LINE // itemsize)}):",
                  f"        sc.prefetch({a}, i0 + np.uint64(1), pf)"]
    return lines


def _full_closure(plan, targets, readback):
    """Ids of the full values a pass computes to produce `targets` (stopping at row
    values, kernel inputs and values read back from memory)."""
    needed, stack = set(), [t for t in targets if not isinstance(t, Literal)]
    while stack:
        v = stack.pop()
        if v.id in needed or plan.level.get(v.id) != "full":
            continue
        needed.add(v.id)
        if v.id in readback:
            continue
        node = plan.producer.get(v.id)
        if node is not None:
            stack.extend(x for x in node.inputs if not isinstance(x, Literal))
    return needed


def _pass_targets(plan, p):
    return ([r.inputs[0] for r in plan.reductions() if plan.pass_of[r.inputs[0].id] == p]
            + [v for v in plan.graph.outvars if plan.level[v.id] == "full" and plan.pass_of[v.id] == p])


def _cost(node):
    return 8 if calls_vecmath(node) else 1


STASH_MIN_COST = 4


def _choose_stash(plan):
    """(value, output, pass): the costliest full value that an earlier pass computes and
    the last pass would compute again, with an output of its dtype that only the last
    pass writes. The earlier pass writes the value into that output's element and the
    last pass reads it back before overwriting it (the row is still in the L1 cache):
    in a softmax gradient this saves one exp per element. None if nothing pays."""
    last = plan.n_passes - 1
    outvars = [v for v in plan.graph.outvars if plan.level[v.id] == "full"]
    finals = [v for v in outvars if plan.pass_of[v.id] == last]
    if last == 0 or not finals:
        return None
    early_outputs = {v.id: None for v in outvars if plan.pass_of[v.id] < last}
    in_last = _full_closure(plan, _pass_targets(plan, last), early_outputs)
    output_ids = {v.id for v in plan.graph.outvars}
    best = None
    for p in range(last):
        in_p = _full_closure(plan, _pass_targets(plan, p),
                             {v: None for v in early_outputs if plan.pass_of[v] < p})
        for vid in sorted(in_p & in_last):
            node = plan.producer.get(vid)
            if node is None or vid in output_ids or vid in early_outputs or node.op.kind is Kind.MOVEMENT:
                continue
            chain = _full_closure(plan, node.outs, {}) & in_p
            cost = sum(_cost(plan.producer[c]) for c in chain if c in plan.producer)
            if cost >= STASH_MIN_COST and (best is None or cost > best[0]):
                target = next((o for o in finals if o.aval.dtype == node.outs[0].aval.dtype), None)
                if target is not None:
                    best = (cost, node.outs[0], target, p)
    return best[1:] if best else None


INT32_MAX = 2 ** 31 - 1


def _narrow_index_compare(node, plan):
    """A comparison of an inner-dim iota with a per-row integer (a one-hot mask, as in
    cross-entropy and take_along_axis): (position of the iota operand, its axis, the
    other operand), or None. The kernel compares in int32, with the row value clamped to
    [-1, extent] first, which keeps every comparison's result: LLVM picks the vector
    width from the widest type in a loop, so one int64 compare makes it run the loop's
    float32 math (exp above all) on half-width vectors (measured: 4.5 -> 3.4 ms for the
    4096x1000 cross-entropy gradient)."""
    if node.op not in COMPARISONS:
        return None
    for pos in (0, 1):
        x, other = node.inputs[pos], node.inputs[1 - pos]
        source = plan.producer.get(getattr(x, "id", None))
        if source is None or source.op is not iota_p:
            continue
        axis = source.params["axis"]
        if axis < plan.k or plan.full[axis] >= INT32_MAX or x.aval.dtype.kind != "i":
            continue
        if other.aval.dtype.kind != "i":
            continue
        if not isinstance(other, Literal):
            other = plan.row_source(other)
        if other is not None:
            return pos, axis, other
    return None
