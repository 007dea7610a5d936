"""Bucketed, non-blocking gradient averaging.

One Allreduce per gradient leaf pays MPI's fixed latency (tens of microseconds) once per
tensor; one per parameter tensor of a deep net is hundreds of messages. So leaves are
packed into a few flat buffers ("buckets", ~`bucket_bytes` each, one dtype each) and each
bucket travels as one message. Buckets are filled from the last leaf backwards, the
order in which a backward pass produces gradients, and each bucket's `Iallreduce`
starts as soon as it is packed: packing bucket k+1 overlaps bucket k's exchange, and
unpacking bucket k overlaps the exchanges of the buckets after it.

The layout (which leaf goes where) depends only on shapes and dtypes, so it is planned
once and its buffers are reused on every call.
"""
import time

import numpy as np

from ..errors import DistributedError, with_location
from .buffers import like_input, to_host


class _Bucket:
    __slots__ = ("dtype", "entries", "buffer")

    def __init__(self, dtype):
        self.dtype = dtype
        self.entries = []  # (leaf index, offset, size, shape)
        self.buffer = None


def plan_buckets(shapes, dtypes, bucket_bytes):
    """Buckets for leaves of these shapes/dtypes, filled from the last leaf backwards."""
    open_buckets, done = {}, []
    for i in reversed(range(len(shapes))):
        dt = np.dtype(dtypes[i])
        n = int(np.prod(shapes[i], dtype=np.int64))
        b = open_buckets.get(dt)
        if b is None:
            b = open_buckets[dt] = _Bucket(dt)
        offset = b.entries[-1][1] + b.entries[-1][2] if b.entries else 0
        b.entries.append((i, offset, n, tuple(shapes[i])))
        if (offset + n) * dt.itemsize >= bucket_bytes:
            done.append(open_buckets.pop(dt))
    done.extend(open_buckets.values())
    for b in done:
        total = b.entries[-1][1] + b.entries[-1][2]
        b.buffer = np.empty(total, b.dtype)
    return done


class BucketedMean:
    """mean(leaves) -> leaves averaged over the group's processes, bucket by bucket."""

    def __init__(self, group, bucket_bytes):
        if bucket_bytes <= 0:
            raise DistributedError(with_location(
                f"bucket_bytes must be positive, got {bucket_bytes}"))
        self.group = group
        self.bucket_bytes = int(bucket_bytes)
        self._plans = {}
        self.last = {}  # timings and sizes of the last call, for overhead reports

    def mean(self, leaves):
        start = time.perf_counter()
        hosts, on_device = [], []
        for x in leaves:
            h, d = to_host(x)
            if h.dtype.kind != "f":
                raise DistributedError(with_location(
                    f"data_parallel averages floating-point gradients; got a {h.dtype} "
                    f"leaf of shape {h.shape} (return integer values outside the gradients)"))
            hosts.append(h)
            on_device.append(d)
        key = tuple((h.shape, h.dtype.str) for h in hosts)
        buckets = self._plans.get(key)
        if buckets is None:
            buckets = self._plans[key] = plan_buckets(
                [h.shape for h in hosts], [h.dtype for h in hosts], self.bucket_bytes)
        from mpi4py import MPI
        comm, scale = self.group.comm, 1.0 / self.group.size
        requests = []
        for b in buckets:
            buf = b.buffer
            for i, off, n, _ in b.entries:
                buf[off:off + n] = hosts[i].reshape(-1)
            requests.append(comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM))
            MPI.Request.Testall(requests)  # let MPI progress what is in flight
        outs = [None] * len(hosts)
        for b, req in zip(buckets, requests):
            req.Wait()
            for i, off, n, shape in b.entries:
                out = np.empty(shape, b.dtype)
                np.multiply(b.buffer[off:off + n], b.dtype.type(scale), out=out.reshape(-1))
                outs[i] = like_input(out, on_device[i])
            MPI.Request.Testall(requests)
        self.last = {"seconds": time.perf_counter() - start, "buckets": len(buckets),
                     "bytes": sum(b.buffer.nbytes for b in buckets)}
        return outs
