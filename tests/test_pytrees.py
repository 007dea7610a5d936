"""Pytrees: round trips through tree_flatten/unflatten/map, and through dp.jit and dp.grad
with tuple, list, dict, None, namedtuple and registered classes."""
import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.errors import PytreeError

Point = namedtuple("Point", "x y")


@dp.register_dataclass
@dataclasses.dataclass
class Params:
    w: np.ndarray
    b: np.ndarray
    name: str = dataclasses.field(default="lin", metadata={"static": True})


class Box:
    def __init__(self, value, tag):
        self.value, self.tag = value, tag


dp.register_pytree_node(Box, lambda b: ([b.value], b.tag), lambda tag, children: Box(children[0], tag))

a, b = np.arange(3.0), np.ones((2, 2), np.float32)
TREES = [
    (a, b), [a, (b, None)], {"z": a, "a": [b, b]}, None, Point(a, b), {"p": Point(a, None)},
    Params(a, b), Box(a, "t"), [Box(Params(a, b), 1), {"k": (a,)}], (), {}, 3.0,
]


def _same(t1, t2):
    l1, s1 = dp.tree_flatten(t1)
    l2, s2 = dp.tree_flatten(t2)
    assert s1 == s2
    for x, y in zip(l1, l2):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("tree", TREES, ids=lambda t: type(t).__name__)
def test_flatten_unflatten_round_trip(tree):
    leaves, treedef = dp.tree_flatten(tree)
    rebuilt = dp.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(tree)
    _same(rebuilt, tree)
    assert dp.tree_structure(tree) == treedef and len(dp.tree_leaves(tree)) == len(leaves)


def test_none_is_an_empty_node_and_dict_keys_are_sorted():
    leaves, _ = dp.tree_flatten({"b": 2, "a": None, "c": 1})
    assert leaves == [2, 1]


def test_tree_map_over_several_trees_and_structure_errors():
    out = dp.tree_map(lambda x, y: x + y, {"a": a, "b": (b,)}, {"a": a, "b": (b,)})
    np.testing.assert_array_equal(out["a"], 2 * a)
    assert isinstance(out["b"], tuple)
    with pytest.raises(PytreeError):
        dp.tree_map(lambda x, y: x, {"a": a}, {"b": a})


def test_dataclass_meta_fields_are_static():
    p = Params(a, b, name="other")
    leaves, treedef = dp.tree_flatten(p)
    assert len(leaves) == 2
    assert dp.tree_unflatten(treedef, leaves).name == "other"
    assert dp.tree_structure(Params(a, b)) != treedef


@pytest.mark.parametrize("tree", TREES, ids=lambda t: type(t).__name__)
def test_jit_returns_the_same_structure(tree):
    out = dp.jit(lambda t: dp.tree_map(lambda x: x * 2, t))(tree)
    _same(out, dp.tree_map(lambda x: np.asarray(x) * 2, tree))


def test_grad_of_pytree_parameters():
    def loss(params, batch):
        pts = batch["points"]
        pred = pts.x @ params.w + params.b
        return dnp.sum((pred - pts.y) ** 2)

    params = Params(np.ones((3, 2)), np.zeros(2))
    batch = {"points": Point(np.arange(12.0).reshape(4, 3) / 10, np.ones((4, 2)))}
    g = dp.grad(loss)(params, batch)
    assert isinstance(g, Params) and g.name == "lin"
    resid = batch["points"].x @ params.w + params.b - 1
    np.testing.assert_allclose(g.w, 2 * batch["points"].x.T @ resid)
    np.testing.assert_allclose(g.b, 2 * resid.sum(0))


def test_jit_keyword_arguments_and_nested_outputs():
    f = dp.jit(lambda x, *, scale: {"out": [x * scale, (None, x)]})
    out = f(a, scale=np.float64(2))
    assert out["out"][1][0] is None
    np.testing.assert_array_equal(out["out"][0], 2 * a)
