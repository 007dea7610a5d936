"""A loop body as Numba statements: the plan of one closed sub-graph, inlined.

The native loops of cpu_loop.py run a scan or while body once per iteration inside one
compiled function. This module plans the body like any CPU graph (fusion, then one step
per node) and writes its steps as nopython source instead of driver lines: kernel calls
(the kernels go into the same generated module) and NumPy view operations. A lone
reduction, which the driver hands to NumPy, is a kernel here. A body with any other
step (BLAS, gathers, concatenation, nested control flow) is not inlinable.

Values inside the generated code: rank-0 values are scalars (as kernels take them), all
others arrays. Every array that enters the loop is a writable C-contiguous array, and
every kernel output is allocated as one, so those share one Numba type per shape; views
(transpose, slices, broadcasts) have other types, which is why `c_typed` is tracked.
Nothing is ever written in place except a buffer allocated in this iteration or a
pooled temporary that no result can reach, so values never alias wrongly across
iterations.
"""
import numpy as np

from ..ir import Literal
from ..ops import shape as sh
from .cpu_kernel import kernel_source, reduction_arg_shape, self_initialising
from .cpu_plan import plan
from .expressions import typed_constant

# A loop body's kernels are only called from the compiled loop: no Python or C wrappers
# (they were about a third of a small kernel's first compile).
KERNEL_FLAGS = ("cache=True, error_model='numpy', fastmath={'reassoc', 'contract'}, nogil=True, "
                "no_cpython_wrapper=True, no_cfunc_wrapper=True")


class Value:
    """One value in generated code: the text naming it, its rank, and whether its Numba
    type is a writable C-contiguous array (the type of the loop's carries)."""
    __slots__ = ("expr", "ndim", "c_typed")

    def __init__(self, expr, ndim, c_typed):
        self.expr = expr
        self.ndim = ndim
        self.c_typed = c_typed

    def c_array(self):
        """Text of this array as a C-contiguous Numba array (a copy only if it is not)."""
        return self.expr if self.c_typed else f"np.ascontiguousarray({self.expr})"

    def owned(self):
        """Text of a value that can become a loop carry: a scalar, or an array of the
        carries' Numba type."""
        return self.expr if self.ndim == 0 or self.c_typed else f"{self.expr}.copy()"


def literal_value(lit):
    return Value(typed_constant(lit.value, lit.aval.dtype), 0, False)


class InlineGraph:
    """One closed sub-graph (already through the pass pipeline), planned for inlining.

    `prefix` keeps the names of several inlined graphs (a while's condition and body)
    apart. After construction, `supported` says whether every step can be inlined."""

    def __init__(self, graph, prefix):
        from ..passes.fuse import fuse
        self.graph = fuse(graph, absorb_views=True)
        self.prefix = prefix
        self.steps, self.buffers = plan(self.graph, numpy_reductions=False, native_loops=False)
        # Kernels and views have Numba forms; BLAS, gathers, nested control flow and
        # the other impl steps do not.
        # A body big enough for parallel kernels stays a Python loop, whose kernel calls
        # are split across threads (cpu_threads.py); inside compiled code they would run
        # on one thread, and the per-step driver call is small next to such a body.
        self.supported = all(s.kind in ("kernel", "view") and not s.parallel for s in self.steps)
        self.kernels = []  # (function name, source) of each kernel step
        self._slots = {}   # workspace slot -> (shape, dtype)
        if not self.supported:
            return
        for step in self.steps:
            if step.kind == "kernel":
                shape = tuple(step.node.params["shape"])
                name = f"{prefix}k{step.index}"
                ndim = 1 if step.flat else len(shape)
                self.kernels.append((name, kernel_source(step.node.params["graph"], ndim, name=name)))
            for b in step.outs:
                if b.slot is not None:
                    self._slots[b.slot] = (b.var.aval.shape, b.var.aval.dtype)

    def kernel_source(self):
        """The module text of this graph's kernels, one njit function each."""
        parts = []
        for name, source in self.kernels:
            parts.append(f"@njit({KERNEL_FLAGS})\n{source}")
        return "\n\n".join(parts)

    def setup_lines(self):
        """Statements before the loop: the pooled temporaries, allocated once. (No
        result reaches them, so reusing them in every iteration is safe.)"""
        return [f"{self.prefix}w{slot} = np.empty({shape}, np.{dtype.name})"
                for slot, (shape, dtype) in sorted(self._slots.items())]

    def body_lines(self, inputs, consts):
        """Statements computing the graph's outputs once. `inputs` and `consts` are the
        Values of its invars and constvars; returns (lines, Values of the outvars)."""
        values = {}
        for v, value in zip(self.graph.invars, inputs):
            values[v.id] = value
        for v, value in zip(self.graph.constvars, consts):
            values[v.id] = value
        lines = []
        counter = [0]

        def fresh():
            counter[0] += 1
            return f"{self.prefix}v{counter[0]}"

        def value_of(atom):
            return literal_value(atom) if isinstance(atom, Literal) else values[atom.id]

        for step in self.steps:
            if step.kind == "kernel":
                lines += self._kernel_lines(step, value_of, values, fresh)
            else:
                out = step.node.outs[0]
                text, ndim, c_typed = _view_expr(step.node, value_of(step.node.inputs[0]))
                name = fresh()
                lines.append(f"{name} = {text}")
                values[out.id] = Value(name, ndim, c_typed)
        return lines, [value_of(v) for v in self.graph.outvars]

    def _kernel_lines(self, step, value_of, values, fresh):
        node = step.node
        sub = node.params["graph"]
        shape = tuple(node.params["shape"])
        size = int(np.prod(shape, dtype=np.int64))
        reshape_flat = step.flat and len(shape) != 1
        lines, out_args, after = [], [], []
        self_init = (set() if node.params.get("rows") is not None
                     else self_initialising(sub, 1 if step.flat else len(shape)))
        for v, b in zip(node.outs, step.outs):
            aval = v.aval
            dt = f"np.{aval.dtype.name}"
            name = fresh()
            if b.slot is not None:
                lines.append(f"{name} = {self.prefix}w{b.slot}")
            else:
                lines.append(f"{name} = np.empty({aval.shape}, {dt})")
            if v.id in step.reduce_inits:
                # Reduction outputs start at the identity and arrive with size-1 dims at
                # the reduced axes (the layout kernel_source expects).
                init = typed_constant(step.reduce_inits[v.id], aval.dtype)
                if v.id not in self_init:  # (else the kernel starts from the identity itself)
                    lines.append(f"{name}.fill({init})" if aval.ndim else f"{name}[()] = {init}")
                kshape = reduction_arg_shape(sub, v, shape, step.flat)
                out_args.append(f"{name}.reshape({kshape})" if kshape != aval.shape else name)
            else:
                out_args.append(f"{name}.reshape({size})" if reshape_flat else name)
            if aval.ndim == 0:
                scalar = fresh()
                after.append(f"{scalar} = {name}[()]")
                values[v.id] = Value(scalar, 0, False)
            else:
                values[v.id] = Value(name, aval.ndim, True)
        in_args = []
        for x in node.inputs:
            value = value_of(x)
            if value.ndim == 0:
                in_args.append(value.expr)
            elif reshape_flat:
                in_args.append(f"{value.c_array()}.reshape({size})")
            else:
                in_args.append(value.expr)
        sizes = [str(size)] if step.flat else [str(n) for n in shape]
        kname = f"{self.prefix}k{step.index}"
        extent = sizes[0] if sizes else "1"
        lines.append(f"{kname}({', '.join(['0', extent] + sizes + out_args + in_args)})")
        return lines + after


def _view_expr(node, src):
    """(text, rank, c_typed) of a movement op's result as Numba source."""
    op, params = node.op, node.params
    aval = node.outs[0].aval
    dt = f"np.{aval.dtype.name}"
    if src.ndim == 0:
        # A scalar moved around: rank 0 stays the scalar, anything else is filled with it.
        if aval.ndim == 0:
            return src.expr, 0, False
        return f"np.full({aval.shape}, {src.expr}, {dt})", aval.ndim, True
    if op is sh.broadcast_in_dim_p:
        expanded = [1] * len(params["shape"])
        src_shape = node.inputs[0].aval.shape
        for i, d in enumerate(params["dims"]):
            expanded[d] = src_shape[i]
        return (f"np.broadcast_to({src.c_array()}.reshape({tuple(expanded)}), {tuple(params['shape'])})",
                aval.ndim, False)
    if op is sh.transpose_p:
        return f"np.transpose({src.expr}, {tuple(params['perm'])})", aval.ndim, False
    if op is sh.slice_p:
        index = ", ".join(f"{s}:{l}:{k}" for s, l, k in zip(params["start"], params["limit"], params["step"]))
        return f"{src.expr}[{index}]", aval.ndim, False
    if op is sh.rev_p:
        index = ", ".join("::-1" if d in params["axes"] else ":" for d in range(src.ndim))
        return f"{src.expr}[{index}]", aval.ndim, False
    if op is sh.reshape_p:
        if aval.ndim == 0:
            return f"{src.c_array()}.reshape(1)[0]", 0, False
        # Numba reshapes C-contiguous arrays only: copy a strided source first (as
        # NumPy's reshape would).
        return f"{src.c_array()}.reshape({tuple(params['shape'])})", aval.ndim, src.c_typed
    raise AssertionError(f"not a view op: {op.name}")
