"""Soak: many calls of a small jitted training step with flat memory and no cache growth,
and the peak memory of reverse mode through a long scan.

    PYTHONPATH=. python -m benchmarks.soak              # 10**5 calls
    PYTHONPATH=. python -m benchmarks.soak --calls 20000

RSS is read from /proc/self/statm (Linux). Peak memory of a call is NumPy's allocations
as tracemalloc sees them (NumPy reports its buffers to tracemalloc), plus the pooled
temporaries the executable keeps between calls.
"""
import argparse
import os
import time
import tracemalloc

import numpy as np

import dprog as dp
import dprog.numpy as dnp


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_step():
    def loss(params, x, y):
        w, b = params
        return dnp.mean((dnp.tanh(x @ w + b) - y) ** 2)

    @dp.jit
    def step(params, x, y):
        value, (gw, gb) = dp.value_and_grad(loss)(params, x, y)
        w, b = params
        return (w - 0.1 * gw, b - 0.1 * gb), value
    return step


def cache_sizes(step):
    from dprog.codegen import cpu_driver, module_cache
    return {"jit entries": step.cache_size(), "kernel modules": len(module_cache._modules),
            "kernels": len(cpu_driver._kernel_cache)}


def soak(calls, warmup=2000, samples=10):
    """Run `calls` training steps; returns RSS samples (bytes) after warm-up, the cache
    sizes before and after, the final loss and the time per call."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 8))
    y = np.tanh(x @ rng.standard_normal((8, 1)))
    params = (np.zeros((8, 1)), np.zeros(1))
    step = make_step()
    for _ in range(warmup):
        params, value = step(params, x, y)
    caches_before = cache_sizes(step)
    rss = [rss_bytes()]
    start = time.perf_counter()
    chunk = max(1, calls // samples)
    for i in range(1, calls + 1):
        params, value = step(params, x, y)
        if i % chunk == 0:
            rss.append(rss_bytes())
    seconds = time.perf_counter() - start
    return {"rss": rss, "caches_before": caches_before, "caches_after": cache_sizes(step),
            "loss": float(value), "us_per_call": seconds / calls * 1e6}


def scan_peak(steps=10_000, width=64):
    """Peak bytes of grad through a `steps`-step scan, flat and as nested scans (chunks
    of 100 steps, the inner scan under dp.checkpoint), and the stacked carries' size."""
    w = np.linspace(-0.5, 0.5, width)
    xs = np.random.default_rng(0).standard_normal((steps, width)) * 0.1

    def body(c, x):
        return dnp.tanh(dnp.sin(c) * w + x) * 0.9 + 0.05 * c, None

    def flat(c0, xs):
        return dnp.sum(dp.scan(body, c0, xs)[0])

    def nested(c0, xs):
        inner = dp.checkpoint(lambda c, chunk: (dp.scan(body, c, chunk)[0], None))
        return dnp.sum(dp.scan(inner, c0, xs.reshape(-1, 100, width))[0])

    def peak(fn):
        g = dp.jit(dp.grad(fn))
        g(w, xs)  # compile outside the measurement
        tracemalloc.start()
        tracemalloc.reset_peak()
        g(w, xs)
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # Pooled temporaries were allocated by the first call and are reused: count them.
        held = sum(getattr(e.executable, "workspace_bytes", lambda: 0)() for e in g._cache.values())
        return p + held
    return {"flat": peak(flat), "nested_checkpointed": peak(nested), "stacked_carries": steps * width * 8}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    r = soak(args.calls)
    mib = [v / 2**20 for v in r["rss"]]
    print(f"{args.calls} calls, {r['us_per_call']:.1f} us/call, final loss {r['loss']:.3e}")
    print("RSS MiB after warm-up, sampled:", " ".join(f"{m:.1f}" for m in mib))
    print(f"RSS drift: {mib[-1] - mib[0]:+.2f} MiB (max - min {max(mib) - min(mib):.2f} MiB)")
    print("caches before:", r["caches_before"], " after:", r["caches_after"])
    s = scan_peak()
    print(f"grad through a 10^4-step scan (carry 64 x f64): peak {s['flat'] / 2**20:.2f} MiB flat, "
          f"{s['nested_checkpointed'] / 2**20:.2f} MiB as checkpointed 100 x 100 nested scans; "
          f"stacked carries {s['stacked_carries'] / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
