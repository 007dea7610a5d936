"""Golden text of small graphs (printer and Graphviz), and verify() on malformed graphs."""
import textwrap

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.ir import Aval, Graph, IRError, Literal, Node, Var, verify
from dprog.ops import REGISTRY
from dprog.passes import run_pipeline

f32_23 = np.ones((2, 3), np.float32)
f32_3 = np.ones(3, np.float32)


def golden(text):
    return textwrap.dedent(text).strip("\n")


def small(x, y):
    return dnp.sum(dnp.tanh(x * 2.0) + y, axis=0)


def test_small_graph_prints_as_golden_text():
    assert str(dp.make_graph(small)(f32_23, f32_3)) == golden("""
        { lambda  ; a:f32[2,3], b:f32[3]. let
            c:f32[2,3] = mul a 2.0:f32[]
            d:f32[2,3] = tanh c
            e:f32[2,3] = broadcast_in_dim[dims=(1,), shape=(2, 3)] b
            f:f32[2,3] = add d e
            g:f32[3] = reduce_sum[axes=(0,)] f
          in (g,) }""")


def test_constants_params_and_several_outputs():
    def f(x):
        return x[::-1, 1] @ np.eye(3)[:, :2], x.astype(np.int32) > 0

    assert str(dp.make_graph(f)(np.ones((3, 2)))) == golden("""
        { lambda a:f64[3,2] ; b:f64[3,2]. let
            c:f64[3,1] = slice[limit=(3, 2), start=(0, 1), step=(1, 1)] b
            d:f64[3,1] = rev[axes=(0,)] c
            e:f64[3] = reshape[shape=(3,)] d
            f:f64[1,3] = reshape[shape=(1, 3)] e
            g:f64[1,2] = matmul f a
            h:f64[2] = reshape[shape=(2,)] g
            i:i32[3,2] = convert_element_type[dtype=int32, weak=False] b
            j:bool[3,2] = gt i 0:i32[]
          in (h, j) }""")


def test_gradient_graph_golden():
    graph = dp.make_graph(lambda x: dp.grad(lambda y: dnp.sum(dnp.sin(y)))(x))(np.ones(2))
    assert str(run_pipeline(graph)) == golden("""
        { lambda  ; a:f64[2]. let
            b:f64[2] = cos a
          in (b,) }""")


def test_pipeline_removes_dead_and_common_nodes():
    def f(x):
        dnp.cos(x)  # dead
        return dnp.sin(x) + dnp.sin(x)

    graph = dp.make_graph(f)(f32_3)
    assert len(graph.nodes) == 4
    assert str(run_pipeline(graph)) == golden("""
        { lambda  ; a:f32[3]. let
            b:f32[3] = sin a
            c:f32[3] = add b b
          in (c,) }""")


def test_weak_literal_prints_without_dtype():
    graph = dp.make_graph(lambda x: x * 2.0)(3.0)
    assert str(graph) == golden("""
        { lambda  ; a:~f64[]. let
            b:~f64[] = mul a 2.0
          in (b,) }""")


def test_to_dot_golden():
    assert dp.make_graph(small)(f32_23, f32_3).to_dot() == golden(r"""
        digraph dprog {
          rankdir=TB;
          node [fontname="monospace"];
          "a" [shape=ellipse, label="a: f32[2,3]"];
          "b" [shape=ellipse, label="b: f32[3]"];
          "n0" [shape=box, label="mul\nc:f32[2,3]"];
          "a" -> "n0";
          "n1" [shape=box, label="tanh\nd:f32[2,3]"];
          "n0" -> "n1";
          "n2" [shape=box, label="broadcast_in_dim\ne:f32[2,3]"];
          "b" -> "n2";
          "n3" [shape=box, label="add\nf:f32[2,3]"];
          "n1" -> "n3";
          "n2" -> "n3";
          "n4" [shape=box, label="reduce_sum\ng:f32[3]"];
          "n3" -> "n4";
          "out0" [shape=doublecircle, label="out0"];
          "n4" -> "out0";
        }""")


# ------------------------------------------------------------------------------ verify

F = Aval((3,), np.float32)
sin, add = REGISTRY["sin"], REGISTRY["add"]


def _graph():
    x, y, z = Var(F), Var(F), Var(F)
    return x, y, z, Graph([x], [Node(sin, [x], {}, [y]), Node(add, [y, x], {}, [z])], [z])


def test_verify_accepts_traced_graphs():
    x, y, z, g = _graph()
    assert verify(g) is g
    verify(dp.make_graph(small)(f32_23, f32_3))


def test_verify_use_before_definition():
    x, y, z, g = _graph()
    g.nodes.reverse()
    with pytest.raises(IRError, match="before it is defined"):
        verify(g)


def test_verify_double_assignment():
    x, y, z, g = _graph()
    g.nodes[1].outs = [y]
    g.outvars = [y]
    with pytest.raises(IRError, match="assigned twice"):
        verify(g)


def test_verify_wrong_output_aval():
    x, y, z, g = _graph()
    g.nodes[0].outs = [Var(Aval((3,), np.float64))]
    with pytest.raises(IRError, match="rule gives"):
        verify(g)


def test_verify_undefined_output_and_inputs():
    x, y, z, g = _graph()
    with pytest.raises(IRError, match="never defined"):
        verify(g.replace(outvars=[Var(F)]))
    with pytest.raises(IRError, match="bound twice"):
        verify(g.replace(invars=[x, x]))
    with pytest.raises(IRError, match="consts"):
        verify(g.replace(constvars=[Var(F)], consts=[]))


def test_verify_checks_literal_operands_through_the_rule():
    x, y = Var(F), Var(F)
    bad = Graph([x], [Node(add, [x, Literal(1.0, Aval((), np.float64))], {}, [y])], [y])
    with pytest.raises(Exception, match="dtypes"):
        verify(bad)
