"""Prepared check for a machine with an NVIDIA GPU (no network needed):

    PYTHONPATH=. python benchmarks/gpu_check.py [OUT_DIR]      # default: $OUT or .

1. correctness: the CUDA program table (tests/cuda/cuda_programs.py) on the real GPU
   against the CPU reference, then the tests/cuda_sim suite run on the GPU;
2. timings (median of interleaved rounds, each call synchronised) of the benchmark
   workloads on the GPU for dprog, JAX and PyTorch: elementwise grad 4M, softmax CE grad
   4096x1000, MLP train step, per-call dispatch; and device-to-device copy bandwidth.

Every section runs in try/except and reports its error in the summary; a global budget
(BUDGET_S) skips what would not fit. Writes gpu_check.json and gpu_check.md to OUT_DIR.
"""
import json
import os
import subprocess
import sys
import time
import traceback

import numpy as np

BUDGET_S = 270
START = time.perf_counter()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "cuda"))


def left():
    return BUDGET_S - (time.perf_counter() - START)


def section(summary, name, fn, need_s=20):
    if left() < need_s:
        summary[name] = {"skipped": f"time budget ({left():.0f} s left)"}
        return
    t0 = time.perf_counter()
    try:
        summary[name] = fn()
    except Exception as e:  # report, keep going
        summary[name] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}
    if isinstance(summary[name], dict):
        summary[name]["seconds"] = round(time.perf_counter() - t0, 2)
    print(f"[{time.perf_counter() - START:6.1f} s] {name}: done", flush=True)


def environment():
    from numba import cuda
    import numba
    dev = cuda.get_current_device()
    name = getattr(dev, "name", "unknown")
    info = {"gpu": name.decode() if isinstance(name, bytes) else str(name),
            "compute_capability": list(getattr(dev, "compute_capability", ())),
            "sms": getattr(dev, "MULTIPROCESSOR_COUNT", None), "numba": numba.__version__, "numpy": np.__version__}
    for mod in ("numba_cuda", "jax", "torch"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception as e:
            info[mod] = f"unavailable ({type(e).__name__})"
    return info


def correctness():
    import dprog as dp
    from cuda_programs import PROGRAMS
    results = {}
    for name, fn, make in PROGRAMS:
        try:
            args = make()
            dp.config.backend = "reference"
            try:
                expected = dp.tree_leaves(dp.jit(fn)(*args))
            finally:
                dp.config.backend = ""
            got = [np.asarray(g) for g in dp.tree_leaves(dp.jit(fn, device="cuda")(*args))]
            err = max(float(np.max(np.abs(g.astype(np.float64) - np.asarray(e, np.float64)), initial=0))
                      for g, e in zip(got, expected))
            tol = 1e-4 if any(np.asarray(e).dtype == np.float32 for e in expected) else 1e-9
            scale = max(1.0, max(float(np.max(np.abs(e), initial=0)) for e in expected))
            results[name] = {"ok": err <= tol * scale, "max_abs_err": err}
        except Exception as e:
            results[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    return {"programs": results, "passed": sum(r["ok"] for r in results.values()), "total": len(results)}


def pytest_on_gpu():
    env = dict(os.environ, DPROG_CUDA_TESTS_ON_GPU="1", PYTHONPATH=ROOT)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/cuda_sim", "-o", "addopts=", "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=max(30, left() - 150))
    return {"returncode": proc.returncode, "tail": (proc.stdout + proc.stderr)[-3000:]}


def timed(fns, rounds=10):
    from benchmarks.timing import interleaved, median
    samples = interleaved(fns, rounds=rounds)
    return {name: median(s) for name, s in samples.items()}


def _peers():
    peers = {}
    try:
        import jax
        if any(d.platform == "gpu" for d in jax.devices()):
            peers["jax"] = jax
    except Exception:
        pass
    try:
        import torch
        if torch.cuda.is_available():
            peers["torch"] = torch
    except Exception:
        pass
    return peers


def _sync_torch(torch):
    return lambda out: (torch.cuda.synchronize(), out)[1]


def bench_elementwise(peers):
    import dprog as dp
    from benchmarks.workloads import elementwise as w
    x = np.random.default_rng(0).standard_normal(w.N).astype(np.float32)
    xd = dp.device_put(x)
    g = dp.jit(dp.grad(w.f_dprog), device="cuda")
    np.testing.assert_allclose(np.asarray(g(xd)), w.grad_numpy(x), rtol=1e-3, atol=1e-5)
    fns = {"dprog": lambda: dp.block_until_ready(g(xd))}
    if "jax" in peers:
        jax, jnp = peers["jax"], peers["jax"].numpy
        jg = jax.jit(jax.grad(lambda x: jnp.sum(jnp.tanh(x) * jnp.exp(-x * x) + jnp.log1p(x * x))))
        xj = jax.device_put(x)
        fns["jax"] = lambda: jg(xj).block_until_ready()
    if "torch" in peers:
        torch = peers["torch"]
        xt = torch.from_numpy(x).cuda()

        def tg():
            xr = xt.detach().requires_grad_(True)
            y = (torch.tanh(xr) * torch.exp(-xr * xr) + torch.log1p(xr * xr)).sum()
            out = torch.autograd.grad(y, xr)[0]
            torch.cuda.synchronize()
            return out
        fns["torch"] = tg
    return {"median_s": timed(fns), "bytes": w.bytes_moved()}


def bench_softmax_ce(peers):
    import dprog as dp
    from benchmarks.workloads import softmax_ce as w
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((w.B, w.C)).astype(np.float32)
    labels = rng.integers(0, w.C, w.B)
    ld, yd = dp.device_put(logits), dp.device_put(labels)
    g = dp.jit(dp.grad(w.loss_dprog), device="cuda")
    np.testing.assert_allclose(np.asarray(g(ld, yd)), w.grad_numpy(logits, labels), rtol=1e-3, atol=1e-7)
    fns = {"dprog": lambda: dp.block_until_ready(g(ld, yd))}
    if "jax" in peers:
        jax, jnp = peers["jax"], peers["jax"].numpy
        jg = jax.jit(jax.grad(lambda z, y: jnp.mean(jax.nn.logsumexp(z, axis=1)
                                                     - jnp.take_along_axis(z, y[:, None], axis=1)[:, 0])))
        zj, yj = jax.device_put(logits), jax.device_put(labels.astype(np.int32))
        fns["jax"] = lambda: jg(zj, yj).block_until_ready()
    if "torch" in peers:
        torch = peers["torch"]
        zt, yt = torch.from_numpy(logits).cuda(), torch.from_numpy(labels).cuda()

        def tg():
            zr = zt.detach().requires_grad_(True)
            out = torch.autograd.grad(torch.nn.functional.cross_entropy(zr, yt), zr)[0]
            torch.cuda.synchronize()
            return out
        fns["torch"] = tg
    return {"median_s": timed(fns), "bytes": w.bytes_moved()}


def bench_mlp(peers):
    import dprog as dp
    from benchmarks.workloads import mlp as w
    rng = np.random.default_rng(0)
    params = w.init_params(rng)
    x = rng.standard_normal((w.BATCH, w.SIZES[0])).astype(np.float32)
    y = rng.integers(0, w.SIZES[-1], w.BATCH)
    pd, xd, yd = dp.device_put(params), dp.device_put(x), dp.device_put(y)
    fns = {"dprog": lambda: dp.block_until_ready(w.step_dprog(pd, xd, yd))}  # placed by argument
    if "torch" in peers:
        fns["torch"] = w.make_step_torch(peers["torch"], params, x, y, device="cuda")
    return {"median_s": timed(fns, rounds=8)}


def bench_dispatch(peers):
    import dprog as dp
    calls = 500
    a, b, c = (dp.device_put(np.full(8, v, np.float32)) for v in (1.0, 2.0, 3.0))
    f = dp.jit(lambda a, b, c: a * b + c)

    def many():
        for _ in range(calls):
            out = f(a, b, c)
        dp.block_until_ready(out)
    fns = {"dprog": many}
    if "jax" in peers:
        jax = peers["jax"]
        jf = jax.jit(lambda a, b, c: a * b + c)
        aj, bj, cj = (jax.device_put(np.full(8, v, np.float32)) for v in (1.0, 2.0, 3.0))

        def jmany():
            for _ in range(calls):
                out = jf(aj, bj, cj)
            out.block_until_ready()
        fns["jax"] = jmany
    if "torch" in peers:
        torch = peers["torch"]
        at, bt, ct = (torch.full((8,), v, device="cuda") for v in (1.0, 2.0, 3.0))

        def tmany():
            for _ in range(calls):
                at * bt + ct
            torch.cuda.synchronize()
        fns["torch"] = tmany
    return {"per_call_s": {k: v / calls for k, v in timed(fns, rounds=5).items()}}


def d2d_bandwidth():
    from numba import cuda
    n = 64 * 1024 * 1024
    src, dst = cuda.device_array(n, np.float32), cuda.device_array(n, np.float32)
    dst.copy_to_device(src)
    cuda.synchronize()
    t0 = time.perf_counter()
    reps = 20
    for _ in range(reps):
        dst.copy_to_device(src)
    cuda.synchronize()
    seconds = (time.perf_counter() - t0) / reps
    return {"GB_per_s": 2 * n * 4 / seconds / 1e9, "note": "read + write bytes per second"}


def markdown(summary):
    lines = ["# dprog GPU check", "", "```", json.dumps(summary.get("environment"), indent=1), "```", ""]
    corr = summary.get("correctness", {})
    lines.append(f"Correctness: {corr.get('passed')}/{corr.get('total')} programs match the CPU reference.")
    for name, r in (corr.get("programs") or {}).items():
        if not r.get("ok"):
            lines.append(f"- FAIL {name}: {r}")
    pt = summary.get("pytest_on_gpu", {})
    lines += ["", f"tests/cuda_sim on the GPU: returncode {pt.get('returncode')}", ""]
    lines += ["| workload | dprog | jax | torch |", "|---|---|---|---|"]
    for key in ("elementwise_grad_4M", "softmax_ce_grad", "mlp_step", "dispatch"):
        r = summary.get(key, {})
        times = r.get("median_s") or r.get("per_call_s") or {}
        cells = [f"{times[k] * 1e3:.3f} ms" if k in times else "-" for k in ("dprog", "jax", "torch")]
        if "error" in r or "skipped" in r:
            cells = [r.get("error", r.get("skipped"))[:80], "", ""]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines.append(f"\nD2D copy: {summary.get('d2d_copy')}")
    return "\n".join(lines) + "\n"


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", ".")
    os.makedirs(out_dir, exist_ok=True)
    summary = {}
    peers = {}
    section(summary, "environment", environment, need_s=0)
    section(summary, "correctness", correctness, need_s=30)
    section(summary, "pytest_on_gpu", pytest_on_gpu, need_s=180)
    try:
        peers = _peers()
    except Exception:
        pass
    section(summary, "elementwise_grad_4M", lambda: bench_elementwise(peers))
    section(summary, "softmax_ce_grad", lambda: bench_softmax_ce(peers))
    section(summary, "mlp_step", lambda: bench_mlp(peers), need_s=30)
    section(summary, "dispatch", lambda: bench_dispatch(peers))
    section(summary, "d2d_copy", d2d_bandwidth, need_s=5)
    summary["total_seconds"] = round(time.perf_counter() - START, 1)
    with open(os.path.join(out_dir, "gpu_check.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    with open(os.path.join(out_dir, "gpu_check.md"), "w") as f:
        f.write(markdown(summary))
    print(markdown(summary))


if __name__ == "__main__":
    main()
