"""Bugs the reliability tests found outside the fuzzer, each pinned by the program that
found it (the fuzzer's own finds live in tests/fuzz/regressions/)."""
import numpy as np

import dprog as dp
import dprog.numpy as dnp
from dprog.ir import verify
from dprog.passes import run_pipeline


def scan_loss(s):
    c, ys = dp.scan(lambda c, r: (c + r, c * r), dnp.zeros(3), np.ones((2, 3)) * s)
    return dnp.sum(ys ** 2)


def test_second_order_grad_through_scan():
    """merge_extended dropped a scan whose body extends an extension (grad of grad),
    leaving a use of an undefined variable: KeyError in the CPU planner."""
    graph = run_pipeline(dp.make_graph(dp.grad(dp.grad(scan_loss)))(1.0))
    verify(graph)
    # ys = [0, s] * s-scaled rows: loss = 3 * s**4 -> d2/ds2 = 36 s**2
    np.testing.assert_allclose(dp.grad(dp.grad(scan_loss))(1.0), 36.0)
    np.testing.assert_allclose(dp.jit(dp.grad(dp.grad(scan_loss)))(2.0), 144.0)
