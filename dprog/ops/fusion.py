"""The `fusion` op: a group of elementwise ops and the reductions they feed, made by the
fusion pass and run as one loop nest by the code generators.

Its params hold the group as a sub-graph; its reference implementation interprets that
sub-graph, so a fused graph still runs (and is tested) without any code generator.
"""
from .record import Kind, Op, register


def _abstract(*avals, graph, shape, rows=None):
    return graph.out_avals


def _impl(*args, graph, shape, rows=None):
    from ..interpreter import run_graph
    return run_graph(graph, graph.consts, args)


fusion_p = register(Op("fusion", Kind.FUSED, _abstract, _impl, multiple_results=True,
                       differentiable=False, domain="internal",
                       doc="a fused loop nest over `shape` (made by passes/fuse.py); with `rows`=k, several passes over the dims after the first k for each outer index (passes/fuse_rows.py)"))
