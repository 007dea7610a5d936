"""Merge a control node into a twin whose sub-graph extends its own.

A derivative rule sometimes needs more outputs from a node that is already in the graph:
reverse mode through scan re-runs the primal scan with a body that also stacks the
carries the backward pass reads. The rule registers the new body as an *extension* of
the old one (`register_extension`), promising that a node using it, with the same op,
inputs and other params, yields the original node's outputs first and extra ones after.
This pass then keeps one node: the extended one, moved to the original's place (its
inputs are the same, so they are already defined there), and the original's outputs are
renamed to its leading outputs. Without it the forward loop would run twice.
"""
import weakref

from ..ir import Graph, Node, Var
from .cse import _atom_key, _param_key

_EXTENDS = weakref.WeakKeyDictionary()  # extended sub-graph -> the sub-graph it extends


def register_extension(extended, original):
    _EXTENDS[extended] = original


def extension_of(graph):
    """The sub-graph that `graph` extends, or None."""
    return _EXTENDS.get(graph)


def _key(node, params):
    return (node.op.name, tuple(_atom_key(x, {}) for x in node.inputs),
            tuple(sorted((k, _param_key(v)) for k, v in params.items())))


def _as_original(node):
    """node's params with each extended sub-graph replaced by its original, or None."""
    changed, params = False, {}
    for k, v in node.params.items():
        if isinstance(v, Graph) and v in _EXTENDS:
            v, changed = _EXTENDS[v], True
        params[k] = v
    return params if changed else None


def merge_extended(graph):
    # An extension may extend an extension (second-order reverse mode through scan):
    # each round merges one link of such chains, so repeat until nothing changes.
    while True:
        merged = _merge_once(graph)
        if merged is graph:
            return graph
        graph = merged


def _merge_once(graph):
    position = {}  # key of a node's own params -> its index
    for i, node in enumerate(graph.nodes):
        if not node.op.effectful:
            position.setdefault(_key(node, node.params), i)
    replace = {}  # index of an original node -> the extended node that takes its place
    moving = set()  # indices of the nodes that move
    for j, node in enumerate(graph.nodes):
        params = _as_original(node)
        if params is None:
            continue
        i = position.get(_key(node, params))
        # Only move a node up: uses of its outputs then stay after their definition.
        # A node that moves away this round cannot be replaced in the same round.
        if i is not None and i < j and i not in replace and i not in moving:
            replace[i] = node
            moving.add(j)
    if not replace:
        return graph
    moved = {id(n) for n in replace.values()}
    rename, nodes = {}, []
    for i, node in enumerate(graph.nodes):
        if id(node) in moved:
            continue
        if i in replace:
            ext = replace[i]
            rename.update({old.id: new for old, new in zip(node.outs, ext.outs)})
            node = ext
        inputs = [rename.get(x.id, x) if isinstance(x, Var) else x for x in node.inputs]
        nodes.append(Node(node.op, inputs, node.params, node.outs, node.loc))
    outvars = [rename.get(v.id, v) if isinstance(v, Var) else v for v in graph.outvars]
    return graph.replace(nodes=nodes, outvars=outvars)
