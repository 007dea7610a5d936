"""Pytrees: nested tuple/list/dict/None/namedtuple and registered classes, via optree.

optree (the C++ pytree library PyTorch uses) keeps flatten/unflatten off the per-call
critical path. dprog registers its own classes in the "dprog" namespace.
"""
import dataclasses

import optree

from .errors import PytreeError, with_location

NAMESPACE = "dprog"


def tree_flatten(tree, is_leaf=None):
    """(leaves, treedef). None is an empty node, not a leaf (as JAX)."""
    return optree.tree_flatten(tree, is_leaf=is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def tree_unflatten(treedef, leaves):
    return optree.tree_unflatten(treedef, leaves)


def tree_leaves(tree, is_leaf=None):
    return optree.tree_leaves(tree, is_leaf=is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def tree_structure(tree, is_leaf=None):
    return optree.tree_structure(tree, is_leaf=is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def tree_map(f, tree, *rest, is_leaf=None):
    try:
        return optree.tree_map(f, tree, *rest, is_leaf=is_leaf, none_is_leaf=False,
                               namespace=NAMESPACE)
    except ValueError as e:
        raise PytreeError(with_location(f"tree_map: the trees do not have the same structure ({e})")) from None


def register_pytree_node(cls, flatten, unflatten):
    """Register a class as a pytree node.

    flatten(obj) -> (children, aux_data);  unflatten(aux_data, children) -> obj.
    """
    optree.register_pytree_node(cls, flatten, unflatten, namespace=NAMESPACE)
    return cls


def register_dataclass(cls=None, *, data_fields=None, meta_fields=None):
    """Register a dataclass as a pytree: data fields are children, meta fields are static.

    Usable as a decorator (@dp.register_dataclass) or a call with explicit field lists.
    By default every field is data unless declared with field(metadata={"static": True}).
    """
    def register(cls):
        if not dataclasses.is_dataclass(cls):
            raise PytreeError(with_location(f"{cls.__name__} is not a dataclass"))
        fields = dataclasses.fields(cls)
        data = data_fields if data_fields is not None else [
            f.name for f in fields if not f.metadata.get("static", False)]
        meta = meta_fields if meta_fields is not None else [
            f.name for f in fields if f.metadata.get("static", False)]

        def flatten(obj):
            return ([getattr(obj, n) for n in data], tuple(getattr(obj, n) for n in meta))

        def unflatten(aux, children):
            return cls(**dict(zip(data, children)), **dict(zip(meta, aux)))
        return register_pytree_node(cls, flatten, unflatten)
    return register if cls is None else register(cls)
