"""@cuda.jit source for a row kernel: a fusion node with params["rows"] = k
(passes/fuse_rows.py), the CUDA form of codegen/cpu_row_kernel.py.

A block takes a row (the k outer dims; blocks stride over rows) and makes the passes over
it that the CPU form makes, its threads striding over the row's columns:

    for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        acc = -inf
        for col in range(tid, cols, BLOCK):        # pass 0
            acc = max(acc, x[row, col])
        m = <block reduction of acc>              # every thread gets the row's value
        acc = 0
        for col in range(tid, cols, BLOCK):        # pass 1
            acc += exp(x[row, col] - m)
        s = <block reduction of acc>
        r = 1 / s                                   # row values, computed by every thread
        for col in range(tid, cols, BLOCK):        # pass 2
            out[row, col] = exp(x[row, col] - m) * r

A row is read from memory once: the later passes find it in the L1/L2 cache. The block
reduction is a shared-memory tree (warp shuffles for the last 32 values on hardware)
whose result goes back to every thread through shared memory. Full values an earlier
pass wrote to an output are read back; all others are recomputed (no stash: arithmetic
is cheap on a GPU). Rows are at most MAX_ROW_ELEMENTS long (a block per row); reductions
over the outer dims are not merged on CUDA (fuse_rows Limits).
"""
from ..ir import Literal
from ..ops.misc import iota_p
from ..ops.record import Kind
from .cpu_row_kernel import _Plan, _full_closure, emit_row_values
from .cuda_kernel import (_decode, _Writer, combine_expr, cuda_expression, numba_type, tree_to_warp,
                          warp_combine)
from .expressions import iota_expr, typed_constant

MAX_ROW_ELEMENTS = 8192
MAX_BLOCK = 256


COLUMNS_PER_THREAD = 8


def row_block(cols, simulating, sim_block):
    """Threads per block: enough for about COLUMNS_PER_THREAD columns each, a warp at
    least. On the H200 the softmax CE gradient at 32768 x 1000 took 264 us with 128
    threads (8 columns each), 347 us with 256 (4 each), 364 us with 64 and 465 us with
    512 (benchmarks/gpu_check.py row_block_sweep, fourteenth session): a block makes
    every pass and reduction of its row in sequence, so fewer threads per row let more
    rows be in flight on each multiprocessor, until each thread's serial loads dominate."""
    if simulating:
        return sim_block
    block = 32
    while block < MAX_BLOCK and block * COLUMNS_PER_THREAD < cols:
        block *= 2
    return block


def input_kinds(graph, full, k, flat_ok):
    """Per sub-graph input: "scalar" (rank 0), "row" (one value per row), "flat" (full,
    contiguous; `flat_ok[j]`) or "strided" (full)."""
    plan = _Plan(graph, tuple(full), k)
    kinds = []
    for j, v in enumerate(graph.invars):
        if v.aval.ndim == 0:
            kinds.append("scalar")
        elif plan.level[v.id] == "row":
            kinds.append("row")
        elif plan.level[v.id] == "full":
            kinds.append("flat" if flat_ok[j] else "strided")
        else:
            raise NotImplementedError(f"a row kernel input of shape {v.aval.shape} over {tuple(full)}")
    return kinds


def row_kernel_params(graph, full, kinds):
    """Argument names: rows, cols, sizes, outputs, then per input buffer, offset and its
    strides ("strided": one per dim of the iteration space; "row": one per dim of its own)."""
    params = ["rows", "cols"] + [f"n{d}" for d in range(len(full))]
    params += [f"out{j}" for j in range(len(graph.outvars))]
    for j, (v, kind) in enumerate(zip(graph.invars, kinds)):
        params += [f"in{j}", f"off{j}"]
        if kind == "strided":
            params += [f"s{j}_{d}" for d in range(len(full))]
        elif kind == "row":
            params += [f"s{j}_{d}" for d in range(v.aval.ndim)]
    return params


def row_kernel_source(graph, full, k, kinds, block, shuffles, name="kernel"):
    full = tuple(full)
    n = len(full)
    plan = _Plan(graph, full, k)
    idx = [f"i{d}" for d in range(n)]
    out_of = {v.id: f"out{j}" for j, v in enumerate(graph.outvars)}
    position = {v.id: i for i, node in enumerate(graph.nodes) for v in node.outs}
    w = _Writer()
    w(f"@cuda.jit(cache=True)\ndef {name}({', '.join(row_kernel_params(graph, full, kinds))}):")
    w.depth = 1
    reductions = [r for r in plan.reductions() if plan.level[r.outs[0].id] == "row"]
    if len(reductions) != len(plan.reductions()):
        raise NotImplementedError("CUDA row kernels do not combine reductions over the outer dims")
    shared = {}
    for j, r in enumerate(reductions):
        shared[r.outs[0].id] = f"shr{j}"
        w(f"shr{j} = cuda.shared.array({block}, {numba_type(r.outs[0].aval.dtype)})")
    w("tid = cuda.threadIdx.x")
    w("for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):")
    w.depth += 1
    sizes = [f"n{d}" for d in range(n)]
    _decode(w, "row", list(range(k)), sizes)

    names = {}
    for j, (v, kind) in enumerate(zip(graph.invars, kinds)):
        if kind == "scalar":
            names[v.id] = f"in{j}[off{j}]"
        elif kind == "row":
            terms = "".join(f" + {idx[d]} * s{j}_{d}" for d in range(min(k, v.aval.ndim)))
            w(f"r_in{j} = in{j}[off{j}{terms}]")
            names[v.id] = f"r_in{j}"
    full_inputs = {}  # var id -> load expression (emitted in each pass that reads it)
    for j, (v, kind) in enumerate(zip(graph.invars, kinds)):
        if kind == "flat":
            full_inputs[v.id] = (f"a{j}", f"in{j}[off{j} + flat]")
        elif kind == "strided":
            terms = "".join(f" + {idx[d]} * s{j}_{d}" for d in range(n))
            full_inputs[v.id] = (f"a{j}", f"in{j}[off{j}{terms}]")

    def atom(x):
        if isinstance(x, Literal):
            return typed_constant(x.value, x.aval.dtype)
        return names[x.id]

    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    def emit_row_nodes(gap):
        emit_row_values(plan, gap, names, atom, idx, w, fresh, lambda node, args: _spell(w, node, args))
        stores = [v for v in graph.outvars if plan.level[v.id] == "row" and plan.ready[v.id] == gap]
        if stores:
            w("if tid == 0:")
            for v in stores:
                w(f"    {out_of[v.id]}[row] = {atom(v)}")

    readback = {}  # full var id -> output name an earlier pass wrote it to
    for p in range(plan.n_passes):
        emit_row_nodes(p)
        reds = plan.row_reductions(p)
        outputs = [v for v in graph.outvars if plan.level[v.id] == "full" and plan.pass_of[v.id] == p]
        needed = _full_closure(plan, [r.inputs[0] for r in reds] + outputs, readback)
        accs = []
        for r in reds:
            acc = fresh("acc")
            accs.append((r, acc))
            w(f"{acc} = {typed_constant(r.op.identity(r.outs[0].aval.dtype), r.outs[0].aval.dtype)}")
        w(f"for col in range(tid, cols, {block}):")
        w.depth += 1
        _decode(w, "col", list(range(k, n)), sizes)
        w("flat = row * cols + col")
        for v in graph.invars:
            if v.id in needed and v.id in full_inputs:
                local, load = full_inputs[v.id]
                w(f"{local} = {load}")
                names[v.id] = local
        for node in graph.nodes:
            out = node.outs[0]
            if out.id not in needed:
                continue
            if out.id in readback:
                names[out.id] = f"{readback[out.id]}[flat]"
                continue
            if node.op.kind is Kind.MOVEMENT:
                if not plan.is_alias(node):
                    raise NotImplementedError(f"{node.op.name} inside a CUDA row kernel")
                names[out.id] = atom(node.inputs[0])
                continue
            if node.op is iota_p:
                expr = iota_expr(idx[node.params["axis"]], out.aval.dtype)
            else:
                expr = _spell(w, node, [atom(x) for x in node.inputs])
            name = f"v{position[out.id]}"  # by position: the text must not depend on global ids
            w(f"{name} = {expr}")
            names[out.id] = name
        for r, acc in accs:
            w(f"{acc} = " + combine_expr(r.op.name, acc, atom(r.inputs[0]), r.outs[0].aval.dtype))
        for v in outputs:
            w(f"{out_of[v.id]}[flat] = {atom(v)}")
            readback[v.id] = out_of[v.id]
        w.depth -= 1
        if accs:
            _block_reduce(w, [(r, acc, shared[r.outs[0].id]) for r, acc in accs], block, shuffles)
            for r, acc in accs:
                names[r.outs[0].id] = acc
    emit_row_nodes(plan.n_passes)
    return "\n".join(w.lines) + "\n"


def _spell(w, node, args):
    """The op's CUDA expression, after emitting any statements it needs first."""
    expr = cuda_expression(node, args)
    if isinstance(expr, tuple):
        statements, expr = expr
        for line in statements:
            w(line)
    return expr


def _block_reduce(w, items, block, shuffles):
    """Combine each thread's `acc` over the block and give the result to every thread (in
    `acc`): cuda_kernel's shared-memory tree and warp shuffles, then the result read
    back from shared memory."""
    warp = tree_to_warp(w, [(r.op.name, r.outs[0].aval.dtype, sh, acc) for r, acc, sh in items],
                        block, shuffles)
    if warp == 32:
        w("if tid < 32:")
        w.depth += 1
        for r, acc, sh in items:
            w(f"{acc} = {sh}[tid]")
            warp_combine(w, r.op.name, r.outs[0].aval.dtype, acc, "o")
            w("if tid == 0:")
            w(f"    {sh}[0] = {acc}")
        w.depth -= 1
        w("cuda.syncthreads()")
    for _, acc, sh in items:
        w(f"{acc} = {sh}[0]")
    w("cuda.syncthreads()  # every thread has read the results before shared memory is reused")


def row_kernel_signature(graph, full, kinds):
    """Numba argument types of row_kernel_source (for compile_ptx without a GPU)."""
    import numba
    i64 = numba.int64
    sig = [i64] * (2 + len(full))
    sig += [numba.from_dtype(v.aval.dtype)[::1] for v in graph.outvars]
    for v, kind in zip(graph.invars, kinds):
        sig += [numba.from_dtype(v.aval.dtype)[::1], i64]
        if kind == "strided":
            sig += [i64] * len(full)
        elif kind == "row":
            sig += [i64] * v.aval.ndim
    return tuple(sig)
