"""Soak: 2*10**4 calls of a small training step keep RSS flat and the compile caches
unchanged; reverse mode through a 10**4-step scan stays within its documented memory.
benchmarks/soak.py runs the long version (10**5 calls) and prints the figures."""
import os
import sys
import tracemalloc

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from benchmarks.soak import scan_peak, soak  # noqa: E402

RSS_TOLERANCE = 2 * 2**20  # bytes: allocator noise; a leak of even 100 bytes/call is 2 MB here


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS is read from /proc (Linux)")
def test_training_step_memory_is_flat_and_caches_do_not_grow():
    r = soak(20_000)
    assert max(r["rss"]) - r["rss"][0] <= RSS_TOLERANCE, [v / 2**20 for v in r["rss"]]
    assert r["caches_after"] == r["caches_before"]
    assert r["caches_after"]["jit entries"] == 1
    assert r["loss"] < 1e-3  # and it trained: the step computes real gradients


def test_reverse_mode_through_a_long_scan_keeps_only_stacked_carries():
    """Documented bound: a scan's VJP saves the stacked carries (steps x carry) and
    recomputes each step's body in the backward pass; the one other array of that size
    is the stacked per-step cotangent of xs. Nested scans under dp.checkpoint keep the
    outer carries plus one inner chunk at a time."""
    s = scan_peak()
    assert s["flat"] <= 2.2 * s["stacked_carries"], s
    assert s["nested_checkpointed"] <= 0.6 * s["flat"], s


def _chain(x, checkpointed):
    def block(y):
        for _ in range(10):
            y = dnp.sin(y) * 1.01
        return y
    b = dp.checkpoint(block) if checkpointed else block
    for _ in range(5):
        x = b(x)
    return dnp.sum(x)


def _peak(fn, x):
    fn(x)
    tracemalloc.start()
    tracemalloc.reset_peak()
    out = fn(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, out


def test_checkpoint_gives_the_same_gradient():
    x = np.linspace(0, 1, 1000)
    _, plain = _peak(dp.jit(dp.grad(lambda a: _chain(a, False))), x)
    _, ckpt = _peak(dp.jit(dp.grad(lambda a: _chain(a, True))), x)
    np.testing.assert_allclose(ckpt, plain, rtol=1e-12)


def test_checkpoint_does_not_raise_peak_memory_of_a_fused_chain():
    x = np.linspace(0, 1, 200_000)
    plain, _ = _peak(dp.jit(dp.grad(lambda a: _chain(a, False))), x)
    ckpt, _ = _peak(dp.jit(dp.grad(lambda a: _chain(a, True))), x)
    assert ckpt <= 1.5 * plain, (ckpt, plain)
