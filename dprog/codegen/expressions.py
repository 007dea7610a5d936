"""Scalar expressions for one fused group, shared by the CPU and CUDA generators.

Walks a fusion sub-graph and produces straight-line statements `v3 = vm.vexp(v2)` from
each op record's `expr` template, with typed constants so float32 never widens to
float64 (a Python float literal would).
"""
import numpy as np

from ..ir import Literal
from ..ops.misc import iota_p
from ..ops.elementwise import convert_element_type_p
from ..ops.index import gather_p
from ..ops.shape import pad_p

def typed_constant(value, dtype):
    """Source text for a constant of `dtype` (never a bare Python float)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return "True" if bool(value) else "False"
    if dtype.kind == "f":
        v = float(value)
        if np.isnan(v):
            text = "np.nan"
        elif np.isinf(v):
            text = "np.inf" if v > 0 else "-np.inf"
        else:
            text = repr(v)
        return f"np.{dtype.name}({text})"
    return f"np.{dtype.name}({int(value)})"


def cast_expr(src, from_dtype, to_dtype):
    from_dtype, to_dtype = np.dtype(from_dtype), np.dtype(to_dtype)
    if from_dtype == to_dtype:
        return src
    if to_dtype.kind == "b":
        return f"({src} != 0)"
    return f"np.{to_dtype.name}({src})"


def iota_expr(index_name, dtype):
    """A loop index as a value of `dtype`, through int64 (the CPU kernels' outermost
    index is unsigned, and Numba turns uint64-int64 arithmetic into float64)."""
    return cast_expr(f"np.int64({index_name})", np.int64, dtype)


def op_template(node, scalar=False):
    """The op record's `expr` template for this node's operand dtype kind (its
    `scalar_expr`, where it has one, for a value computed once outside the loops)."""
    if scalar and node.op.scalar_expr is not None:
        return node.op.scalar_expr
    template = node.op.expr
    if isinstance(template, dict):
        kind = node.inputs[-1].aval.dtype.kind
        template = template.get(kind) or template.get("f")
    if template is None:
        raise NotImplementedError(f"op {node.op.name} has no codegen expression")
    return template


def fast_form(node):
    """The op record's (expr, guard) templates of a cheaper form for this node's operand
    dtype kind (Op.fast), or None."""
    fast = node.op.fast
    if isinstance(fast, dict):
        fast = fast.get(node.inputs[-1].aval.dtype.kind)
    return fast


def calls_vecmath(node):
    """Does this node's kernel expression call kernels/vecmath (vm.*)? Those functions
    cost tens of instructions per element, plain arithmetic one or two: the planner and
    the row-kernel generator weigh loops by it."""
    if node.op.expr is None:
        return False
    return "vm." in op_template(node)


def op_expression(node, args, scalar=False):
    """The expression computing node's output from argument expressions; scalar: the
    value is computed once per row, not in a vectorised loop."""
    op = node.op
    if op is convert_element_type_p:
        return cast_expr(args[0], node.inputs[0].aval.dtype, node.outs[0].aval.dtype)
    if op is iota_p:
        raise AssertionError("iota is generated from loop indices")
    template = op_template(node, scalar)
    return template.format(*args, dt=node.inputs[-1].aval.dtype.name if node.inputs else "")


def view_index(node, index_names):
    """Index text reading a view's source (a broadcast, transpose, slice or reversal
    absorbed by passes/fuse.py) at the loop's position: the op record's read_index."""
    if node.op.read_index is None:
        raise AssertionError(f"cannot index through {node.op.name}")
    return ", ".join(node.op.read_index(node.inputs[0].aval.shape, index_names, **node.params))


def gather_read(node, x_array, index_names, idx_value, name):
    """(lines, expr) reading gather(x, idx, axis) at the loop's position straight from x:
    the index is normalised as dprog.ops.index does (negative from the end, clamped),
    with compare-and-select steps that keep the loop vectorisable."""
    axis = node.params["axis"]
    r = node.inputs[1].aval.ndim
    n = f"np.int64({x_array}.shape[{axis}])"
    lines = [f"{name} = np.int64({idx_value})",
             f"{name} = {name} + ({n} if {name} < 0 else np.int64(0))",
             f"{name} = sc.minimum(sc.maximum({name}, np.int64(0)), {n} - np.int64(1))"]
    parts = list(index_names[:axis]) + [name] + list(index_names[axis + r:])
    return lines, f"{x_array}[{', '.join(parts)}]"


def pad_read(node, x_array, index_names, value):
    """Expression reading pad(x, value) at the loop's position: x where the position
    falls on one of its elements, else the padding value. The load sits in the taken
    branch only, so it never reads outside x.

    With interior padding (step = interior + 1, a strided slice's gradient), position i
    holds x[(i - lo) / step] when i - lo is a multiple of step. That test runs in
    unsigned arithmetic: a position before lo wraps to a huge value, which the bound test
    rejects, and the constant step makes % and // multiplications."""
    inside, parts = [], []
    for d, low in enumerate(node.params["lo"]):
        i = f"np.int64({index_names[d]})"
        step = node.params["interior"][d] + 1
        if low == 0 and node.params["hi"][d] == 0 and step == 1:
            parts.append(index_names[d])
            continue
        shifted = f"({i} - np.int64({low}))" if low else i
        if step > 1:
            u = f"np.uint64({shifted})"
            q = f"({u} // np.uint64({step}))"
            inside.append(f"({u} % np.uint64({step}) == np.uint64(0))")
            inside.append(f"({q} < np.uint64({x_array}.shape[{d}]))")
            parts.append(q)
            continue
        if low:
            inside.append(f"({i} >= np.int64({low}))")
        inside.append(f"({shifted} < np.int64({x_array}.shape[{d}]))")
        parts.append(shifted)
    if not inside:
        return f"{x_array}[{', '.join(parts)}]"
    return f"({x_array}[{', '.join(parts)}] if {' & '.join(inside)} else {value})"


class GroupBody:
    """Statements for one element of a fusion group: per-element lines, reductions."""

    def __init__(self, graph, index_names, input_exprs, expression=op_expression,
                 array_names=None):
        # `expression(node, args)` spells one op: the CUDA generator passes its own.
        # `array_names` (CPU): invar id -> array argument, for inputs read through an
        # absorbed broadcast/transpose (see passes/fuse.py) with their own index.
        self.lines = []
        self.names = {}
        self.reductions = []  # (node, value name)
        for v, expr in zip(graph.invars, input_exprs):
            self.names[v.id] = expr
        arrays = array_names or {}
        counter = 0
        for node in graph.nodes:
            out = node.outs[0]
            if node.op.kind.value == "reduction":
                self.reductions.append((node, self._atom(node.inputs[0])))
                continue
            name = f"v{counter}"
            counter += 1
            src = node.inputs[0] if node.inputs else None
            if node.op is pad_p and getattr(src, "id", None) in arrays:
                # An absorbed pad (passes/fuse.py): x inside, the padding value around it.
                expr = pad_read(node, arrays[src.id], index_names, self._atom(node.inputs[1]))
            elif node.op.kind.value == "movement" and getattr(src, "id", None) in arrays:
                expr = f"{arrays[src.id]}[{view_index(node, index_names)}]"
            elif node.op is gather_p and getattr(src, "id", None) in arrays:
                # An absorbed gather (passes/fuse.py): x is read at the picked index.
                idx = node.inputs[1]
                r, axis = idx.aval.ndim, node.params["axis"]
                idx_value = (f"{arrays[idx.id]}[{', '.join(index_names[axis:axis + r])}]"
                             if r else self._atom(idx))
                lines, expr = gather_read(node, arrays[src.id], index_names, idx_value, f"g{counter}")
                self.lines += lines
            elif node.op is iota_p:
                expr = iota_expr(index_names[node.params["axis"]], out.aval.dtype)
            else:
                expr = expression(node, [self._atom(x) for x in node.inputs])
                if isinstance(expr, tuple):  # (statements, expression): see kernels/cuda_scalar.py
                    statements, expr = expr
                    self.lines += statements
            self.lines.append(f"{name} = {expr}")
            self.names[out.id] = name

    def _atom(self, x):
        if isinstance(x, Literal):
            return typed_constant(x.value, x.aval.dtype)
        return self.names[x.id]

    def value_of(self, var):
        return self._atom(var)


