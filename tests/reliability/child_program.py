"""A child process for tests/reliability/test_processes.py: optionally waits for a
barrier file, runs a few jitted programs (fresh kernels: elementwise, reductions, scan,
grad) and prints their results and the Numba disk-cache statistics as one JSON line."""
import json
import os
import sys
import time
import warnings

import numpy as np


def programs():
    import dprog as dp
    import dprog.numpy as dnp

    def mlp(w, x):
        return dnp.mean(dnp.tanh(x @ w) ** 2 + dnp.sin(x @ w))

    def rnn(h, xs):
        return dp.scan(lambda c, x: (dnp.tanh(0.5 * c + x), c * x), h, xs)

    x = np.linspace(-1, 1, 12).reshape(4, 3)
    w = np.linspace(0.5, -0.5, 6).reshape(3, 2)
    carry, ys = dp.jit(rnn)(np.zeros(3), x)
    return {
        "loss": float(dp.jit(mlp)(w, x)),
        "grad": dp.grad(mlp)(w, x).tolist(),
        "carry": carry.tolist(), "ys": ys.tolist(),
        "softmax": dp.jit(lambda z: dnp.exp(z) / dnp.sum(dnp.exp(z), axis=1, keepdims=True))(x).tolist(),
    }


def expected():
    """The same values in plain NumPy."""
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    w = np.linspace(0.5, -0.5, 6).reshape(3, 2)
    z = x @ w
    n = z.size
    dz = (2 * np.tanh(z) * (1 - np.tanh(z) ** 2) + np.cos(z)) / n
    c, ys = np.zeros(3), []
    for row in x:
        ys.append(c * row)
        c = np.tanh(0.5 * c + row)
    e = np.exp(x)
    return {"loss": float(np.mean(np.tanh(z) ** 2 + np.sin(z))), "grad": (x.T @ dz).tolist(),
            "carry": c.tolist(), "ys": np.array(ys).tolist(), "softmax": (e / e.sum(1, keepdims=True)).tolist()}


def main():
    barrier = sys.argv[1] if len(sys.argv) > 1 else ""
    if barrier:
        open(barrier + f".ready{os.getpid()}", "w").close()
        deadline = time.time() + 120
        while not os.path.exists(barrier) and time.time() < deadline:
            time.sleep(0.001)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = programs()
    from dprog.codegen import cpu_driver
    kernels = [m.kernel for m in cpu_driver._kernel_cache.values()]
    results["hits"] = sum(sum(k.stats.cache_hits.values()) for k in kernels if hasattr(k, "stats"))
    results["misses"] = sum(sum(k.stats.cache_misses.values()) for k in kernels if hasattr(k, "stats"))
    results["warnings"] = [str(w.message) for w in caught if "dprog" in str(w.message)]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
