"""The CPU executable: compiled kernels plus one straight-line Python driver per plan.

The driver is generated source with one line per step (allocate, call kernel, make a
view, call BLAS), so a call costs a handful of attribute loads and kernel dispatches, not
an interpreter loop over nodes. Pooled temporaries live in a workspace that is checked
out per call, so concurrent calls from several threads never share memory.
"""
from collections import Counter

import numpy as np

from ..ir import Literal
from ..kernels.cpu_index import scatter_add_blocks
from ..ops import shape as sh
from ..ops.index import scatter_add_p
from . import cpu_blas, cpu_precompile, cpu_threads, module_cache, numba_startup
from .cpu_kernel import HEADER, kernel_axes, kernel_source, reduction_arg_shape, self_initialising
from .cpu_row_kernel import row_kernel_source
from .expressions import typed_constant
from .cpu_plan import plan

_kernel_cache = {}
# No C wrapper: kernels are called from Python and from native loops, never as C
# callbacks, and building the wrapper was a fifth of a small kernel's first compile.
KERNEL_DECORATOR = ("@njit(cache=True, error_model='numpy', fastmath={'reassoc', 'contract'}, "
                    "nogil=True, no_cfunc_wrapper=True)\n")


def kernel_body(node, ndim):
    """Source of a fusion node's kernel function (`def kernel(lo, hi, ...)`)."""
    sub = node.params["graph"]
    if node.params.get("rows") is not None:
        return row_kernel_source(sub, node.params["shape"], node.params["rows"])
    return kernel_source(sub, ndim)


def _kernel_module(node, ndim):
    """The generated module of a fusion node's kernel, shared by every plan. The same
    compiled kernel serves serial and parallel steps (cpu_threads.split)."""
    body = kernel_body(node, ndim)
    module = _kernel_cache.get(body)
    if module is None:
        numba_startup.prepare()
        module = module_cache.load_module(HEADER + "\n\n" + KERNEL_DECORATOR + body)
        _kernel_cache[body] = module
    return module


class _FirstCall:
    """Stands in the driver's namespace until a kernel's first call, which may load it
    from the disk cache (and recover from a corrupt entry); then it puts the kernel
    itself there, so later calls pay nothing extra."""
    compiled = False  # cpu_threads.split runs a first call on one thread, whole

    def __init__(self, module, namespace, name):
        self.module, self.namespace, self.name = module, namespace, name

    def __call__(self, *args):
        result, fn = module_cache.call_guarded(self.module, "kernel", args)
        self.namespace[self.name] = fn
        return result

    def precompile_view(self):
        """What cpu_precompile compiles for it: (dispatcher, source, leaves function)."""
        return self.module.kernel, self.module.__dprog_source__, None


class CpuExecutable:
    """Runs a fused graph: call with flat argument leaves, get fresh NumPy results."""

    def __init__(self, graph, in_avals):
        self.graph = graph
        self.in_avals = in_avals
        self.steps, self.buffers = plan(graph)
        self.n_slots = 1 + max((b.slot for b in self.buffers.values() if b.slot is not None), default=-1)
        self._pool = []
        self._step_names, self._op_avals = [], {}
        self.source, namespace = self._generate()
        self._namespace = namespace
        exec(compile(self.source, f"<dprog driver {id(self)}>", "exec"), namespace)
        self._driver = namespace["driver"]
        self._first_call = True
        self.compile_processes = 0  # how many processes compiled its kernels side by side

    def __call__(self, leaves):
        if self._first_call:
            self._first_call = False
            self.compile_processes = cpu_precompile.precompile(
                self.source, self._namespace, self._pending_steps(), self._op_avals,
                self.n_slots, leaves)
        # Arguments arrive with their planned dtypes (the cache key guarantees it). Any
        # layout works: kernels specialise on it and flat views copy strided data.
        if not self.n_slots:
            return self._driver(None, *leaves)
        pool = self._pool
        ws = pool.pop() if pool else [None] * self.n_slots
        try:
            return self._driver(ws, *leaves)
        finally:
            pool.append(ws)

    def _pending_steps(self):
        """The kernels and native loops by driver name: what each still to be compiled
        would compile (precompile_view), None for those already compiled (the namespace
        then holds the kernel itself)."""
        steps = {}
        for name in self._step_names:
            view = getattr(self._namespace[name], "precompile_view", None)
            steps[name] = view() if view is not None else None
        return steps

    def workspace_bytes(self):
        """Bytes of pooled temporaries held between calls (a native loop's stacked ys
        among them): memory a call uses that its own allocations no longer show."""
        return sum(a.nbytes for ws in self._pool for a in ws if a is not None)

    # ------------------------------------------------------------------ generation

    def _generate(self):
        graph = self.graph
        ns = {"np": np, "blas_matmul": cpu_blas.matmul, "split": cpu_threads.split,
              "split_partials": cpu_threads.split_partials}
        names = {}
        lines = []

        def name_of(atom):
            if isinstance(atom, Literal):
                ref = f"lit{len(ns)}"
                ns[ref] = np.asarray(atom.value, atom.aval.dtype)
                return ref
            return names[atom.id]

        args = [f"a{i}" for i in range(len(graph.invars))]
        for v, a in zip(graph.invars, args):
            names[v.id] = a
        for k, (v, c) in enumerate(zip(graph.constvars, graph.consts)):
            names[v.id] = f"c{k}"
            ns[f"c{k}"] = np.ascontiguousarray(c)
        counter = [0]

        def fresh(prefix="t"):
            counter[0] += 1
            return f"{prefix}{counter[0]}"

        for step in self.steps:
            node = step.node
            ins = [name_of(x) for x in node.inputs]
            outs = [fresh() for _ in node.outs]
            for v, o in zip(node.outs, outs):
                names[v.id] = o
            if step.kind == "kernel":
                lines += self._kernel_lines(step, ins, outs, ns)
            elif step.kind == "matmul":
                # NumPy falls back to a slow loop for matrices that are strided in both
                # dims: give BLAS a contiguous copy of those.
                for k, x in enumerate(node.inputs):
                    if not self.buffers[x.id].blas_ready:
                        lines.append(f"{ins[k]}c = np.ascontiguousarray({ins[k]})")
                        ins[k] = f"{ins[k]}c"
                out_b = step.outs[0]
                lines += _allocate(outs[0], out_b)
                lines.append(f"blas_matmul({ins[0]}, {ins[1]}, {outs[0]})")
            elif step.kind == "loop":
                # One compiled function runs the whole loop (cpu_loop.py), writing its
                # results into the buffers given.
                fn = f"loop{step.index}"
                ns[fn] = step.loop
                self._step_names.append(fn)
                for o, b in zip(outs, step.outs):
                    lines += _allocate(o, b)
                lines.append(f"{fn}({', '.join(ins + outs)})")
            elif step.kind == "view" and _inline_view(node, ins[0]) is not None:
                lines.append(f"{outs[0]} = {_inline_view(node, ins[0])}")
            else:
                fn = f"op{step.index}"
                ns[fn] = _bound_impl(node)
                self._op_avals[fn] = ([v.aval for v in node.outs], bool(node.op.multiple_results))
                if node.op.multiple_results:
                    lines.append(f"{', '.join(outs)}, = {fn}({', '.join(ins)})")
                else:
                    lines.append(f"{outs[0]} = {fn}({', '.join(ins)})")
                if step.kind == "impl":
                    for v, o in zip(node.outs, outs):
                        dt = v.aval.dtype
                        lines.append(f"if {o}.dtype != np.{dt.name}: {o} = {o}.astype(np.{dt.name})")
        results = []
        inputs_and_consts = {v.id for v in graph.invars} | {v.id for v in graph.constvars}
        base_uses = Counter(self.buffers[v.id].base.var.id for v in graph.outvars
                            if v.id in self.buffers and self.buffers[v.id].base is not None)
        for v in graph.outvars:
            name = name_of(v)
            b = self.buffers.get(v.id)
            needs_copy = b is None or b.base.var.id in inputs_and_consts or b.kind in ("view", "other", "input", "const")
            if needs_copy and _reshape_of_fresh_result(b) and base_uses[b.base.var.id] == 1:
                needs_copy = False  # e.g. a matmul's (1, 3) output returned as (3,)
            results.append(f"np.array({name})" if needs_copy else name)
        body = "\n".join("    " + line for line in lines)
        source = f"def driver(ws, {', '.join(args)}):\n{body}\n    return [{', '.join(results)}]\n"
        return source, ns

    def _kernel_lines(self, step, ins, outs, ns):
        node = step.node
        sub = node.params["graph"]
        shape = tuple(node.params["shape"])
        ndim = 1 if step.flat else len(shape)
        kname = f"k{step.index}"
        ns[kname] = _FirstCall(_kernel_module(node, ndim), ns, kname)
        self._step_names.append(kname)
        rows = node.params.get("rows") is not None
        sizes = [str(n) for n in shape] if rows else sizes_of(step, shape)
        lines, out_args = [], []
        self_init = set() if rows else self_initialising(sub, ndim)
        stacks = _PartialStacks(step, ns)
        for v, o, b in zip(node.outs, outs, step.outs):
            if v.id not in step.reduce_inits:
                lines += _allocate(o, b)
                # Row kernels take every array in its own shape and index it themselves.
                out_args.append(f"{o}.reshape(-1)" if not rows and step.flat and len(shape) != 1 else o)
                continue
            red = next(n for n in sub.nodes if n.outs[0] is v)
            # A row kernel's reductions with an initial value are over its outer dims
            # (cpu_plan), so over the split loop; a loop nest's may be over other dims.
            kshape = v.aval.shape if rows else reduction_arg_shape(sub, v, shape, step.flat)
            init = typed_constant(step.reduce_inits[v.id], v.aval.dtype)
            if step.partials and (rows or 0 in kernel_axes(red, ndim)):
                # One accumulator per slice of the split loop, combined after it.
                lines += _allocate(o, b)
                lines.append(stacks.add(o, v, red, kshape, init, len(sizes) + len(out_args)))
                out_args.append(f"{o}p")
            else:
                lines += _allocate(o, b, fill=None if v.id in self_init else init)
                out_args.append(o if kshape == v.aval.shape else f"{o}.reshape({kshape})")
        in_args = []
        for x, name in zip(node.inputs, ins):
            if x.aval.ndim == 0:
                in_args.append(f"{name}[()]")
            elif not rows and step.flat and len(shape) != 1:
                in_args.append(f"{name}.reshape(-1)")
            else:
                in_args.append(name)
        if stacks.positions:
            return lines + stacks.call_lines(kname, _by_element(step, shape), sizes, out_args + in_args)
        lines.append(_call_line(kname, step, sizes, out_args + in_args, shape))
        return lines


class _PartialStacks:
    """The outputs of reductions over a split loop, one accumulator per slice
    (cpu_threads.split_partials): the line making each stack, the argument positions
    that take them, and the lines combining them after the call."""

    def __init__(self, step, ns):
        self.step, self.ns = step, ns
        self.positions, self.combine = [], []

    def add(self, out, v, red, kshape, init, position):
        name = f"combine{self.step.index}_{len(self.combine)}"
        self.ns[name] = _combiner(red.op, v.aval.shape)
        self.positions.append(position)
        self.combine.append(f"{out}[...] = {name}({out}p)")
        return f"{out}p = np.full({(cpu_threads.threads(),) + tuple(kshape)}, {init}, np.{v.aval.dtype.name})"

    def call_lines(self, kname, by_element, sizes, args):
        return ([f"split_partials({kname}, {sizes[0]}, {by_element}, {tuple(self.positions)}, "
                 f"{', '.join(sizes + args)})"] + self.combine)


def sizes_of(step, shape):
    """The loop sizes a kernel is called with (one for a flat kernel)."""
    return [str(int(np.prod(shape, dtype=np.int64)))] if step.flat else [str(n) for n in shape]


def _combiner(op, shape):
    """Combines a reduction's per-slice partial results (stacked on axis 0) with the
    op's own NumPy implementation."""
    impl = op.impl

    def combine(partials):
        return impl(partials, axes=(0,)).reshape(shape)
    return combine


def _by_element(step, shape):
    """Does the split loop run over single elements (slices then aligned to cache lines)?"""
    return step.flat or len(shape) == 1


def _call_line(kname, step, sizes, arrays, shape):
    """The driver line calling a kernel: its whole outermost loop, or (parallel steps)
    that loop split across threads."""
    extent = sizes[0] if sizes else "1"
    rest = ", ".join(sizes + arrays)
    if step.parallel:
        return f"split({kname}, {extent}, {_by_element(step, shape)}, {rest})"
    return f"{kname}(0, {extent}, {rest})"


def _allocate(name, buffer, fill=None):
    """Driver lines giving `name` its output array: the pooled temporary of its slot
    (made on first use) or a fresh array; `fill` initialises a reduction's output."""
    shape, dt = buffer.var.aval.shape, f"np.{buffer.var.aval.dtype.name}"
    if buffer.slot is None:
        return [f"{name} = np.empty({shape}, {dt})" if fill is None else
                f"{name} = np.full({shape}, {fill}, {dt})"]
    lines = [f"{name} = ws[{buffer.slot}]",
             f"if {name} is None: {name} = ws[{buffer.slot}] = np.empty({shape}, {dt})"]
    return lines + ([f"{name}.fill({fill})"] if fill is not None else [])


def _reshape_of_fresh_result(b):
    """Is this result a contiguous view of all of a fresh (unpooled) temporary? Then it
    can be returned as it is: nothing else writes to or returns that memory (the caller
    checks that no other result shares it), so it is as fresh as a copy would be. Other
    views are copied: a slice would keep its whole base alive, a transpose would hand
    back unusual strides."""
    if b is None or b.kind != "view" or b.base is None:
        return False
    base = b.base
    return (base.kind == "temp" and base.slot is None and b.contiguous
            and b.var.aval.size == base.var.aval.size)


def _inline_view(node, src):
    """A view step as a NumPy method call or index written into the driver, or None.
    Same result as the op's impl, without a Python call around it: between kernels that
    evict the interpreter's caches, each such call cost 15-30 us (GMM's profile)."""
    op, params = node.op, node.params
    if op is sh.transpose_p:
        return f"{src}.transpose({tuple(params['perm'])})"
    if op is sh.reshape_p:
        return f"{src}.reshape({tuple(params['shape'])})"
    if op is sh.slice_p and node.inputs[0].aval.ndim:
        parts = ", ".join(f"{s}:{l}:{k}" for s, l, k in zip(params["start"], params["limit"], params["step"]))
        return f"{src}[{parts}]"
    return None


def _scatter_add(upd, idx, *, axis, size):
    return scatter_add_blocks(upd, idx, axis, size)


# Ops whose reference implementation (the op record's NumPy impl) has a faster
# hand-written kernel on the CPU, for the dtype kinds it takes (kernels/cpu_index.py:
# np.add.at is 5-30x slower).
CPU_IMPLS = {scatter_add_p: (_scatter_add, "fiu")}


def _bound_impl(node):
    impl, params = node.op.impl, node.params
    fast, kinds = CPU_IMPLS.get(node.op, (None, ""))
    if fast is not None and node.inputs[0].aval.dtype.kind in kinds:
        impl = fast
    if node.subgraphs():
        return lambda *args: _run_with_compiled_subgraphs(impl, args, params)
    if not params:
        return impl
    return lambda *args: impl(*args, **params)


def _run_with_compiled_subgraphs(impl, args, params):
    """Control ops (scan, cond, while, custom rules) run their bodies as compiled
    executables rather than through the reference interpreter."""
    from ..ops.control_util import subgraph_mode
    previous = subgraph_mode.compiled
    subgraph_mode.compiled = True
    try:
        return impl(*args, **params)
    finally:
        subgraph_mode.compiled = previous


