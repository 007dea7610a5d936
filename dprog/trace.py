"""Tracing: run a Python function on Tracers and record each op as a Node of a Graph.

Every traced operation goes through `bind(op, args, params)`. With no trace active it
runs the op's NumPy reference right away (eager mode). Inside a trace it appends a Node
to the innermost active Builder. A value from an enclosing trace (a closure over an outer
Tracer) or a captured array becomes a *constvar* of the inner graph, so every graph is
closed and can be transformed on its own; transforms re-emit the result into the outer
trace by evaluating it with `bind`.
"""
import threading

import numpy as np

from . import dtypes
from .errors import LeakedTracerError, PytreeError, with_location, user_location
from .ir import Aval, Graph, Literal, Node, Var, aval_of_value


_LEAKED = ("a traced value escaped the function that was traced (stored in a global, a "
           "closure or an attribute) and is used after that trace ended; return it from "
           "the function instead")


class _State(threading.local):
    def __init__(self):
        self.builders = []


_state = _State()


class Builder:
    """Collects the nodes of one graph while a function is traced."""

    def __init__(self):
        self.nodes = []
        self.constvars = []
        self.consts = []
        self._captured = {}  # id(value) -> Var, so a value captured twice is one constvar
        self._keepalive = []  # values whose id() keys _captured
        self.active = False
        self.level = -1

    def __enter__(self):
        self.level = len(_state.builders)
        _state.builders.append(self)
        self.active = True
        return self

    def __exit__(self, *exc):
        popped = _state.builders.pop()
        assert popped is self, "tracing stack corrupted"
        self.active = False

    def new_arg(self, aval):
        return Tracer(self, Var(aval))

    def atom(self, x):
        """Turn an operand into a Var or Literal of this graph."""
        if isinstance(x, Tracer):
            if x.builder is self:
                return x.graph_var
            if not x.builder.active:
                raise LeakedTracerError(with_location(_LEAKED))
            if x.builder.level > self.level:
                raise LeakedTracerError(with_location(
                    "a value from an inner transformation is used in an outer one; "
                    "return it from the inner function instead"))
            return self._capture(x, x.aval)
        weak_dtype = dtypes.python_scalar_dtype(x)
        if weak_dtype is not None:
            return Literal(x, Aval((), weak_dtype, weak=True))
        if isinstance(x, np.generic) or (isinstance(x, np.ndarray) and x.ndim == 0):
            # Strong scalars keep their NumPy type, so re-binding a literal keeps its dtype.
            aval = aval_of_value(x)
            return Literal(aval.dtype.type(x), aval)
        if isinstance(x, np.ndarray):
            return self._capture(x, aval_of_value(x))
        if hasattr(x, "__array__") or isinstance(x, (list, tuple)):
            arr = np.asarray(x)
            return self.atom(arr if arr.ndim else arr[()])
        raise PytreeError(with_location(
            f"cannot use a value of type {type(x).__name__} as an array in a traced function"))

    def _capture(self, value, aval):
        var = self._captured.get(id(value))
        if var is None:
            var = Var(aval)
            self._captured[id(value)] = var
            self._keepalive.append(value)
            self.constvars.append(var)
            self.consts.append(value)
        return var

    def add(self, op, atoms, params, out_avals, loc):
        outs = [Var(a) for a in out_avals]
        self.nodes.append(Node(op, atoms, params, outs, loc))
        return [Tracer(self, v) for v in outs]

    def build(self, in_tracers, outs):
        """Close the graph: inputs are `in_tracers`, outputs are `outs` (any operands)."""
        outvars = []
        for x in outs:
            a = self.atom(x)
            if isinstance(a, Literal):
                # Outputs must be Vars: materialise the literal with a 0-d copy.
                from .ops import elementwise
                a = self.atom(elementwise.copy_p(x))
            outvars.append(a)
        return Graph([t.graph_var for t in in_tracers], self.nodes, outvars,
                     self.constvars, self.consts)


def current_builder():
    return _state.builders[-1] if _state.builders else None


def is_tracing():
    return bool(_state.builders)


def bind(op, args, params):
    """Apply primitive `op`: eagerly with NumPy, or by recording a Node."""
    builder = _state.builders[-1] if _state.builders else None
    if builder is None:
        for a in args:
            if isinstance(a, Tracer):  # its trace has ended (atom() would accept it)
                raise LeakedTracerError(with_location(_LEAKED))
        return eager_apply(op, args, params)
    atoms = [builder.atom(a) for a in args]
    out_avals = op.abstract_eval([a.aval for a in atoms], params)
    loc = user_location()
    outs = builder.add(op, atoms, params, out_avals, loc)
    return outs if op.multiple_results else outs[0]


def eager_apply(op, args, params):
    """Run an op's reference implementation on concrete values."""
    values = [a if dtypes.python_scalar_dtype(a) is not None else np.asarray(a) for a in args]
    avals = [aval_of_value(v) for v in values]
    out_avals = op.abstract_eval(avals, params)
    out = op.impl(*values, **params)
    outs = out if op.multiple_results else [out]
    outs = [np.asarray(o, dtype=a.dtype) for o, a in zip(outs, out_avals)]
    return outs if op.multiple_results else outs[0]


class Tracer:
    """A traced array: what user code sees in place of a NumPy array while tracing."""
    __slots__ = ("builder", "graph_var", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, builder, var):
        self.builder = builder
        self.graph_var = var

    @property
    def aval(self):
        return self.graph_var.aval

    def __repr__(self):
        return f"Tracer<{self.aval}>"

    # Array attributes, Python operators, indexing and NumPy dispatch are attached in
    # dprog/tracer_methods.py, next to the functions they call.
