"""Shared checks for the control-flow tests: finite differences and graph sizes."""
import numpy as np


def central_diff(f, x, eps=1e-6):
    """df/dx of a scalar f at a float64 scalar or array x, by central differences."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def count_nodes(graph):
    """Nodes of a graph, its sub-graphs' nodes included."""
    return sum(1 + sum(count_nodes(g) for g in n.subgraphs()) for n in graph.nodes)
