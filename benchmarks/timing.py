"""Interleaved timing: every framework runs once per round, so drift and noise on a shared
machine hit all of them alike; we report medians.

Between two timed calls we pause briefly (untimed): JAX's and PyTorch's worker threads
spin for a while after a call returns, and on 2 cores they would steal the next
framework's second core (the same dprog kernel measured 3.6 ms or 7.2 ms depending on
what ran just before it)."""
import statistics
import time

SETTLE_S = 0.01


def interleaved(fns, rounds=15, min_time=0.0):
    """fns: name -> zero-argument callable that blocks until done. Returns name -> [sec]."""
    for fn in fns.values():  # warm-up (compiles)
        fn()
    samples = {name: [] for name in fns}
    start = time.perf_counter()
    r = 0
    while r < rounds or time.perf_counter() - start < min_time:
        for name, fn in fns.items():
            time.sleep(SETTLE_S)
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
        r += 1
    return samples


def repeat(fn, calls):
    """A callable running fn `calls` times: for timing functions too fast to time once
    (the runner divides by the workload's CALLS)."""
    def run():
        for _ in range(calls):
            fn()
    return run


def median(xs):
    return statistics.median(xs)
