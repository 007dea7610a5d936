"""First-call compile time of the MLP training step in a fresh process: dprog with a cold
and with a warm kernel cache, and JAX (cold; its persistent cache is off by default).

    python -m benchmarks.compile_time [--rounds 3] [--json out.json]

Each framework is imported and its backend started before the clock for the first call
starts: for JAX, `import jax` and the device_put of the parameters (which starts XLA's
CPU client); for dprog, `import dprog` and numba_startup.start() (Numba's import and the
set-up of its CPU target, which dprog otherwise does on its first compile). Those
one-time costs are printed too (import_s, backend_s) so that the totals can be compared.

dprog's own modules are byte-compiled first (compileall), as pip does when it installs a
wheel, and as JAX's installed modules are. An editable install leaves that to Python's
first import, and PYTHONDONTWRITEBYTECODE=1 (set on the development machine) turns that
off, so that every process compiled dprog's source again: 0.15 s more at import and
0.05-0.06 s more in the first call. --no-byte-compile leaves the .pyc files as they are
(to measure that case, remove the __pycache__ folders under dprog/ and kernels/ first).
"""
import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DPROG = r"""
import time, numpy as np
t0 = time.perf_counter()
from benchmarks.workloads import mlp
from dprog.codegen import numba_startup
rng = np.random.default_rng(0)
params = mlp.init_params(rng)
x = rng.standard_normal((mlp.BATCH, mlp.SIZES[0])).astype(np.float32)
y = rng.integers(0, mlp.SIZES[-1], mlp.BATCH)
t1 = time.perf_counter()
numba_startup.start()
t2 = time.perf_counter()
mlp.step_dprog(params, x, y)
t3 = time.perf_counter()
mlp.step_dprog(params, x, y)
t4 = time.perf_counter()
print({"import_s": t1 - t0, "backend_s": t2 - t1, "first_call_s": t3 - t2, "second_call_s": t4 - t3})
"""

JAX = r"""
import os, time, numpy as np
os.environ.setdefault("JAX_PLATFORMS", "cpu")
t0 = time.perf_counter()
import jax, jax.numpy as jnp
from benchmarks.workloads import mlp
t1 = time.perf_counter()
rng = np.random.default_rng(0)
params = jax.device_put(mlp.init_params(rng))
x = jnp.asarray(rng.standard_normal((mlp.BATCH, mlp.SIZES[0])).astype(np.float32))
y = jnp.asarray(rng.integers(0, mlp.SIZES[-1], mlp.BATCH).astype(np.int32))
step = mlp.make_step_jax(jax)
t2 = time.perf_counter()
jax.block_until_ready(step(params, x, y))
t3 = time.perf_counter()
jax.block_until_ready(step(params, x, y))
t4 = time.perf_counter()
print({"import_s": t1 - t0, "backend_s": t2 - t1, "first_call_s": t3 - t2, "second_call_s": t4 - t3})
"""


def run(code, env):
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return eval(out.stdout.strip().splitlines()[-1])


def byte_compile_dprog():
    """Write the .pyc files of dprog's packages (dprog/ and kernels/, which installs as
    dprog.kernels) where they are missing or stale."""
    for folder in ("dprog", "kernels"):
        compileall.compile_dir(os.path.join(ROOT, folder), quiet=1)


def main(rounds, byte_compile=True):
    """`rounds` interleaved rounds (dprog cold, dprog warm, JAX), each dprog round with a
    fresh kernel cache; prints the median of each time and the ratios to JAX."""
    if byte_compile:
        byte_compile_dprog()
    print("dprog's modules byte-compiled first" if byte_compile else
          f"dprog's modules as they are (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})")
    env = dict(os.environ, PYTHONPATH=ROOT)
    samples = {"dprog_cold": [], "dprog_warm": [], "jax_cold": []}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as cache:
            env["DPROG_CACHE_DIR"] = cache
            samples["dprog_cold"].append(run(DPROG, env))
            samples["dprog_warm"].append(run(DPROG, env))
        samples["jax_cold"].append(run(JAX, env))
    results = {}
    for name, runs in samples.items():
        errors = [r["error"] for r in runs if "error" in r]
        if errors:
            results[name] = {"error": errors[0]}
            continue
        results[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    for name, v in results.items():
        print(f"{name:11s} " + ", ".join(f"{a} {b:.3f}" if isinstance(b, float) else f"{a} {b}"
                                        for a, b in v.items()))
    jax = results["jax_cold"].get("first_call_s")
    if jax:
        for name in ("dprog_cold", "dprog_warm"):
            if "first_call_s" in results[name]:
                print(f"{name} first call / JAX first call: {results[name]['first_call_s'] / jax:.2f}")
    print(f"(medians of {rounds} interleaved rounds)")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the medians to this file")
    parser.add_argument("--no-byte-compile", action="store_true",
                        help="do not write .pyc files for dprog's modules first")
    args = parser.parse_args()
    out = main(args.rounds, byte_compile=not args.no_byte_compile)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
