"""Splitting batches over processes and checking that parameters stay in step."""
import hashlib

import numpy as np

from ..errors import DistributedError, with_location
from ..tree import tree_flatten, tree_unflatten
from .buffers import like_input, to_host
from .comm import group


def shard_batch(batch, axis_name="world"):
    """This process's contiguous slice of a global batch (every leaf along axis 0).

    The global batch must split evenly: with unequal shards the average of the
    per-process mean gradients would not be the mean gradient of the global batch."""
    g = group(axis_name)
    leaves, treedef = tree_flatten(batch)
    if not leaves:
        return batch
    sizes = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if None in sizes or len(sizes) != 1:
        raise DistributedError(with_location(
            "shard_batch: every leaf of the batch needs the same leading (batch) axis; got "
            f"shapes {[np.shape(x) for x in leaves]}"))
    (n,) = sizes
    if n % g.size:
        raise DistributedError(with_location(
            f"shard_batch: a global batch of {n} rows does not split evenly over {g.size} "
            f"processes; use a batch size divisible by {g.size} (or drop the ragged tail)"))
    per = n // g.size
    lo = g.rank * per
    return tree_unflatten(treedef, [x[lo:lo + per] for x in leaves])


def broadcast(tree, root=0, axis_name="world"):
    """Every leaf as process `root` has it (Horovod's broadcast_parameters): makes the
    starting parameters and optimizer state identical everywhere."""
    g = group(axis_name)
    if g.size == 1:
        return tree
    leaves, treedef = tree_flatten(tree)
    out = []
    for x in leaves:
        host, on_device = to_host(x)
        host = np.array(host, copy=True)
        g.comm.Bcast(host, root=root)
        out.append(like_input(host, on_device))
    return tree_unflatten(treedef, out)


def checksum(tree):
    """SHA-256 (hex) of every leaf's dtype, shape and bytes: equal on two processes
    exactly when their parameters are bitwise equal."""
    h = hashlib.sha256()
    for x in tree_flatten(tree)[0]:
        host, _ = to_host(x)
        h.update(f"{host.dtype.str}{host.shape}".encode())
        h.update(host.tobytes())
    return h.hexdigest()


def assert_synchronized(tree, axis_name="world"):
    """Raise DistributedError on every process if any two processes' trees differ;
    returns the common checksum."""
    g = group(axis_name)
    mine = checksum(tree)
    if g.size == 1:
        return mine
    everyone = g.comm.allgather(mine)
    if len(set(everyone)) != 1:
        differing = [r for r, c in enumerate(everyone) if c != everyone[0]]
        raise DistributedError(with_location(
            f"parameters differ across processes: ranks {differing} disagree with rank 0 "
            f"(checksums {[c[:12] for c in everyone]}); start from dp.distributed.broadcast"
            f"(params) and average every gradient (dp.distributed.data_parallel)"))
    return mine
