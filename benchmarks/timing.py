"""Interleaved timing: every framework runs once per round, so drift and noise on a shared
machine hit all of them alike; we report medians.

Between two timed calls we pause briefly (untimed): JAX's and PyTorch's worker threads
spin for a while after a call returns, and on 2 cores they would steal the next
framework's second core (the same dprog kernel measured 3.6 ms or 7.2 ms depending on
what ran just before it)."""
import statistics
import time

SETTLE_S = 0.01
# Warm-up per framework before timing: the first call compiles, and the next ones still
# grow allocator pools and page in result buffers (GMM (10, 25): dprog's first 21 timed
# rounds after a single warm-up call took 3.8 ms, the next 21 took 2.9 ms, with or
# without peers loaded).
WARMUP_CALLS = 3
WARMUP_S = 0.2


def warm_up(fn):
    fn()  # compiles
    start, calls = time.perf_counter(), 1
    while calls < WARMUP_CALLS or (time.perf_counter() - start < WARMUP_S and calls < 200):
        fn()
        calls += 1


def interleaved(fns, rounds=15, min_time=0.0):
    """fns: name -> zero-argument callable that blocks until done. Returns name -> [sec]."""
    for fn in fns.values():
        warm_up(fn)
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
