"""dp.psum / dp.pmean / dp.pmax / dp.all_gather: collectives on pytrees.

Each works eagerly, under dp.jit and under every transformation (one collective node
per leaf; dp.distributed.data_parallel is the bucketed path for gradients). Every
process must call the same collectives in the same order, as with MPI itself.
"""
from .. import numpy as dnp
from ..ops.collective import all_gather_p, pmax_p, psum_p
from ..tree import tree_flatten, tree_unflatten
from .comm import group


def tree_map(f, tree):
    """Map over leaves in a plain loop: errors raised by f then point at the user's
    line, not at a frame inside optree's C++ map."""
    leaves, treedef = tree_flatten(tree)
    return tree_unflatten(treedef, [f(leaf) for leaf in leaves])


def psum(x, axis_name="world"):
    """Elementwise sum of x over the processes of `axis_name`, on every process."""
    return tree_map(lambda leaf: psum_p(leaf, axis_name=axis_name), x)


def pmean(x, axis_name="world"):
    """Elementwise mean over the processes (integers give floats, as np.mean does)."""
    n = group(axis_name).size
    return tree_map(lambda leaf: dnp.true_divide(psum_p(leaf, axis_name=axis_name), n), x)


def pmax(x, axis_name="world"):
    """Elementwise maximum over the processes; its derivative goes to the process(es)
    holding the maximum, split equally among ties."""
    return tree_map(lambda leaf: pmax_p(leaf, axis_name=axis_name), x)


def all_gather(x, axis_name="world", axis=0, tiled=False):
    """Every process's x, in rank order, stacked along a new `axis` (or concatenated
    along an existing one with tiled=True)."""
    return tree_map(lambda leaf: all_gather_p(leaf, axis_name=axis_name, axis=axis,
                                              tiled=tiled), x)
