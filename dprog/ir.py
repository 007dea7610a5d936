"""The graph IR: abstract values, variables, nodes, graphs, verifier, printer, dot.

A Graph is a flat single-assignment list of Nodes. Each Node applies one primitive Op
(dprog.ops) to input atoms (Vars or Literals) with static params and defines output Vars.
Graph inputs are `invars`; `constvars` are inputs whose values are captured when the
graph was traced (arrays closed over, or values of an enclosing trace) and travel with
the graph in `consts`. Control-flow nodes hold sub-graphs in their params.
"""
import itertools

import numpy as np

from . import dtypes


class Aval:
    """Abstract value: shape, dtype and the weak-type flag of a Python scalar."""
    __slots__ = ("shape", "dtype", "weak", "_hash")

    def __init__(self, shape, dtype, weak=False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak = bool(weak)
        self._hash = hash((self.shape, self.dtype, self.weak))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def strong(self):
        return Aval(self.shape, self.dtype, False) if self.weak else self

    def update(self, shape=None, dtype=None, weak=None):
        return Aval(self.shape if shape is None else shape,
                    self.dtype if dtype is None else dtype,
                    self.weak if weak is None else weak)

    def __eq__(self, other):
        return (isinstance(other, Aval) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak == other.weak)

    def __hash__(self):
        return self._hash

    def str_short(self):
        dims = ",".join(str(d) for d in self.shape)
        return f"{'~' if self.weak else ''}{dtypes.SHORT_NAMES.get(self.dtype, str(self.dtype))}[{dims}]"

    __str__ = str_short

    def __repr__(self):
        return f"Aval({self.str_short()})"


def aval_of_value(x):
    """The Aval of a concrete value (NumPy array, NumPy scalar or Python scalar)."""
    weak_dtype = dtypes.python_scalar_dtype(x)
    if weak_dtype is not None:
        return Aval((), weak_dtype, weak=True)
    return Aval(np.shape(x), dtypes.canonical(np.result_type(x)))


_var_ids = itertools.count()


class Var:
    """A single-assignment variable of a graph."""
    __slots__ = ("aval", "id")

    def __init__(self, aval):
        self.aval = aval
        self.id = next(_var_ids)

    def __repr__(self):
        return f"Var#{self.id}:{self.aval}"


class Literal:
    """A scalar constant written inline in the graph."""
    __slots__ = ("value", "aval")

    def __init__(self, value, aval):
        self.value = value
        self.aval = aval

    def __repr__(self):
        return f"Literal({self.value!r}:{self.aval})"


class Node:
    """One primitive application: outs = op(*inputs, **params)."""
    __slots__ = ("op", "inputs", "params", "outs", "loc")

    def __init__(self, op, inputs, params, outs, loc=None):
        self.op = op
        self.inputs = list(inputs)
        self.params = dict(params)
        self.outs = list(outs)
        self.loc = loc  # (filename, lineno) of the user's code that made this node

    def subgraphs(self):
        return [v for v in _iter_param_values(self.params) if isinstance(v, Graph)]


def _iter_param_values(params):
    for v in params.values():
        if isinstance(v, (tuple, list)):
            yield from v
        else:
            yield v


def emit(nodes, op, inputs, params, loc=None):
    """Append the node op(*inputs, **params) to `nodes`; returns its output Var (its aval
    from the op's shape rule). For passes that build a few nodes in place of one."""
    out = Var(op.abstract_eval([x.aval for x in inputs], params)[0])
    nodes.append(Node(op, inputs, params, [out], loc))
    return out


class Graph:
    """invars/constvars -> nodes -> outvars. `consts` are the values of `constvars`."""

    def __init__(self, invars, nodes, outvars, constvars=(), consts=()):
        self.invars = list(invars)
        self.constvars = list(constvars)
        self.consts = list(consts)
        self.nodes = list(nodes)
        self.outvars = list(outvars)

    @property
    def in_avals(self):
        return [v.aval for v in self.invars]

    @property
    def out_avals(self):
        return [v.aval for v in self.outvars]

    def replace(self, **changes):
        fields = dict(invars=self.invars, nodes=self.nodes, outvars=self.outvars,
                      constvars=self.constvars, consts=self.consts)
        fields.update(changes)
        return Graph(**fields)

    def __str__(self):
        return format_graph(self)

    __repr__ = __str__

    def to_dot(self):
        return graph_to_dot(self)


class IRError(Exception):
    """A malformed graph: a bug in dprog (a pass or transform), never a user mistake."""


def verify(graph):
    """Check single assignment, def-before-use and output avals against each op's rule."""
    defined = set()
    for v in list(graph.invars) + list(graph.constvars):
        if v.id in defined:
            raise IRError(f"{v} is bound twice as a graph input")
        defined.add(v.id)
    if len(graph.consts) != len(graph.constvars):
        raise IRError(f"{len(graph.constvars)} constvars but {len(graph.consts)} consts")
    for node in graph.nodes:
        for x in node.inputs:
            if isinstance(x, Var) and x.id not in defined:
                raise IRError(f"{node.op.name} uses {x} before it is defined")
        expected = node.op.abstract_eval([x.aval for x in node.inputs], node.params)
        got = [v.aval for v in node.outs]
        if [a.strong() for a in expected] != [a.strong() for a in got]:
            raise IRError(f"{node.op.name}: outputs {got} but its rule gives {expected}")
        for v in node.outs:
            if v.id in defined:
                raise IRError(f"{v} is assigned twice")
            defined.add(v.id)
        for sub in node.subgraphs():
            verify(sub)
    for v in graph.outvars:
        if isinstance(v, Var) and v.id not in defined:
            raise IRError(f"output {v} is never defined")
    return graph


# ----------------------------------------------------------------------------- printer

def _names():
    letters = "abcdefghijklmnopqrstuvwxyz"
    for length in itertools.count(1):
        for combo in itertools.product(letters, repeat=length):
            yield "".join(combo)


class _Namer:
    def __init__(self):
        self.names = {}
        self.fresh = _names()

    def __call__(self, v):
        if isinstance(v, Literal):
            return _format_literal(v)
        if v.id not in self.names:
            self.names[v.id] = next(self.fresh)
        return self.names[v.id]


def _format_literal(lit):
    value = lit.value
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if lit.aval.dtype.kind == "f":
        return repr(float(value)) + ("" if lit.aval.weak else f":{lit.aval}")
    return str(int(value)) + ("" if lit.aval.weak else f":{lit.aval}")


def _format_param(value, indent):
    if isinstance(value, Graph):
        body = format_graph(value, indent + 4)
        return "\n" + " " * (indent + 4) + body
    if isinstance(value, (tuple, list)) and any(isinstance(v, Graph) for v in value):
        return "(" + ", ".join(_format_param(v, indent) for v in value) + ")"
    if isinstance(value, np.dtype):
        return str(value)
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value)


def format_graph(graph, indent=0):
    name = _Namer()
    pad = " " * (indent + 2)

    def decl(v):
        return f"{name(v)}:{v.aval}"

    consts = ", ".join(decl(v) for v in graph.constvars)
    ins = ", ".join(decl(v) for v in graph.invars)
    lines = [f"{{ lambda {consts} ; {ins}. let"]
    for node in graph.nodes:
        outs = " ".join(decl(v) for v in node.outs)
        params = ""
        if node.params:
            items = ", ".join(f"{k}={_format_param(v, indent + 2)}" for k, v in sorted(node.params.items()))
            params = f"[{items}]"
        args = " ".join(name(x) for x in node.inputs)
        lines.append(f"{pad}  {outs} = {node.op.name}{params} {args}".rstrip())
    outs = ", ".join(name(v) for v in graph.outvars)
    lines.append(f"{pad}in ({outs}{',' if len(graph.outvars) == 1 else ''}) }}")
    return "\n".join(lines)


def graph_to_dot(graph):
    """Graphviz text: one box per node, one ellipse per graph input, edges by data flow."""
    name = _Namer()
    lines = ["digraph dprog {", "  rankdir=TB;", '  node [fontname="monospace"];']
    producer = {}
    for v in graph.constvars + graph.invars:
        lines.append(f'  "{name(v)}" [shape=ellipse, label="{name(v)}: {v.aval}"];')
        producer[v.id] = name(v)
    for i, node in enumerate(graph.nodes):
        node_id = f"n{i}"
        outs = ", ".join(f"{name(v)}:{v.aval}" for v in node.outs)
        lines.append(f'  "{node_id}" [shape=box, label="{node.op.name}\\n{outs}"];')
        for x in node.inputs:
            if isinstance(x, Var) and x.id in producer:
                lines.append(f'  "{producer[x.id]}" -> "{node_id}";')
        for v in node.outs:
            producer[v.id] = node_id
    for k, v in enumerate(graph.outvars):
        lines.append(f'  "out{k}" [shape=doublecircle, label="out{k}"];')
        if isinstance(v, Var) and v.id in producer:
            lines.append(f'  "{producer[v.id]}" -> "out{k}";')
    lines.append("}")
    return "\n".join(lines)
