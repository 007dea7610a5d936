"""dp.distributed.data_parallel: every process trains on its shard, gradients are averaged.

The design choice: the user's function computes gradients (it is `dp.jit`ted, usually
`dp.value_and_grad(loss)`), and data_parallel owns the step around it:

    grad_fn = dp.jit(dp.value_and_grad(loss))
    step = dp.distributed.data_parallel(grad_fn, has_value=True, optimizer=opt)
    params, opt_state, loss = step(params, opt_state, x_shard, y_shard)

Between the compiled gradient and the compiled optimizer update sits the bucketed,
non-blocking Allreduce (buckets.py). Keeping it outside the compiled graph is what lets
the exchange be bucketed and overlapped today; the price is that the step is two
executables instead of one. (A step written entirely inside dp.jit can call
`dp.pmean(grads)` instead: correct, but one blocking Allreduce per leaf.)

Parameters stay identical everywhere because (1) the first call broadcasts rank 0's
parameters and optimizer state, (2) every process receives the same averaged gradients
(an Allreduce gives every rank the same bits) and (3) applies the same update.
`dp.distributed.assert_synchronized(params)` checks it.
"""
import time

from ..errors import DistributedError, with_location
from ..runtime import Jitted, jit
from ..tree import tree_flatten, tree_unflatten
from .buckets import BucketedMean
from .comm import group
from .data import broadcast

DEFAULT_BUCKET_BYTES = 4 << 20  # larger buckets: fewer latencies; smaller: earlier starts


class DataParallel:
    """The callable data_parallel returns; `stats` holds the last call's timings."""

    def __init__(self, fn, has_value, optimizer, axis_name, bucket_bytes):
        self.fn = fn
        self.has_value = has_value
        self.optimizer = optimizer
        self.axis_name = axis_name
        self.group = group(axis_name)
        self.reducer = BucketedMean(self.group, bucket_bytes) if self.group.size > 1 else None
        self.update = None
        if optimizer is not None:
            device = getattr(fn, "device", "cpu")
            self.update = jit(lambda g, s, p: optimizer.update(g, s, p), device=device)
        self._synced = False
        self.stats = {}

    def average(self, tree):
        """Bucketed mean over the processes of a pytree of float arrays."""
        if self.reducer is None:
            return tree
        leaves, treedef = tree_flatten(tree)
        return tree_unflatten(treedef, self.reducer.mean(leaves))

    def __call__(self, *args):
        if self.optimizer is None:
            return self._grads(args)
        if len(args) < 2:
            raise DistributedError(with_location(
                "a data_parallel step with an optimizer is called as "
                "step(params, opt_state, *batch)"))
        params, opt_state, *batch = args
        if not self._synced:  # start every process from rank 0's parameters
            params, opt_state = broadcast((params, opt_state), axis_name=self.axis_name)
            self._synced = True
        out = self._grads((params, *batch))
        value, grads = out if self.has_value else (None, out)
        start = time.perf_counter()
        params, opt_state = self.update(grads, opt_state, params)
        self.stats["update_s"] = time.perf_counter() - start
        return (params, opt_state, value) if self.has_value else (params, opt_state)

    def _grads(self, args):
        start = time.perf_counter()
        out = self.fn(*args)
        if self.has_value and not (isinstance(out, tuple) and len(out) == 2):
            raise DistributedError(with_location(
                "data_parallel(has_value=True) expects the function to return "
                "(value, grads), as dp.value_and_grad does"))
        middle = time.perf_counter()
        out = self.average(out)
        end = time.perf_counter()
        self.stats.update(compute_s=middle - start, allreduce_s=end - middle,
                          buckets=self.reducer.last.get("buckets", 0) if self.reducer else 0,
                          bytes=self.reducer.last.get("bytes", 0) if self.reducer else 0)
        return out


def data_parallel(fn, *, has_value=False, optimizer=None, axis_name="world",
                  bucket_bytes=DEFAULT_BUCKET_BYTES):
    """Wrap a gradient function for data-parallel training over `axis_name`.

    fn(params, *batch) returns grads, or (value, grads) with has_value=True (as
    dp.value_and_grad); value is averaged with the gradients, so every process sees
    the global loss. A function that is not yet `dp.jit`ted is jitted here.

    Without an optimizer the result has fn's signature and returns the averaged
    gradients. With a dp.optim optimizer it is a whole step:
    step(params, opt_state, *batch) -> (params, opt_state[, value]); its first call
    broadcasts rank 0's params and opt_state so all processes start alike.
    """
    if not callable(fn):
        raise DistributedError(with_location(
            f"data_parallel expects a function that computes gradients, got {type(fn).__name__}"))
    if optimizer is not None and not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise DistributedError(with_location(
            "data_parallel(optimizer=...) expects a dp.optim optimizer (with init and update)"))
    if not isinstance(fn, Jitted):
        fn = jit(fn)
    return DataParallel(fn, has_value, optimizer, axis_name, bucket_bytes)
