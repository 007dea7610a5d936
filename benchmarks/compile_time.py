"""First-call compile time of the MLP training step in a fresh process: dprog with a cold
and with a warm kernel cache, and JAX (cold; its persistent cache is off by default).

    python -m benchmarks.compile_time
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DPROG = r"""
import time, numpy as np
t0 = time.perf_counter()
from benchmarks.workloads import mlp
rng = np.random.default_rng(0)
params = mlp.init_params(rng)
x = rng.standard_normal((mlp.BATCH, mlp.SIZES[0])).astype(np.float32)
y = rng.integers(0, mlp.SIZES[-1], mlp.BATCH)
t1 = time.perf_counter()
mlp.step_dprog(params, x, y)
t2 = time.perf_counter()
mlp.step_dprog(params, x, y)
t3 = time.perf_counter()
print({"import_s": t1 - t0, "first_call_s": t2 - t1, "second_call_s": t3 - t2})
"""

JAX = r"""
import os, time, numpy as np
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax, jax.numpy as jnp
from benchmarks.workloads import mlp
rng = np.random.default_rng(0)
params = jax.device_put(mlp.init_params(rng))
x = jnp.asarray(rng.standard_normal((mlp.BATCH, mlp.SIZES[0])).astype(np.float32))
y = jnp.asarray(rng.integers(0, mlp.SIZES[-1], mlp.BATCH).astype(np.int32))
step = mlp.make_step_jax(jax)
t1 = time.perf_counter()
jax.block_until_ready(step(params, x, y))
t2 = time.perf_counter()
jax.block_until_ready(step(params, x, y))
t3 = time.perf_counter()
print({"first_call_s": t2 - t1, "second_call_s": t3 - t2})
"""


def run(code, env):
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return eval(out.stdout.strip().splitlines()[-1])


def main():
    env = dict(os.environ, PYTHONPATH=ROOT)
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        env["DPROG_CACHE_DIR"] = cache
        results["dprog_cold"] = run(DPROG, env)
        results["dprog_warm"] = run(DPROG, env)
    results["jax_cold"] = run(JAX, env)
    for k, v in results.items():
        print(f"{k:11s} " + ", ".join(f"{a} {b:.3f}" if isinstance(b, float) else f"{a} {b}" for a, b in v.items()))
    return results


if __name__ == "__main__":
    json.dump(main(), sys.stdout if len(sys.argv) < 2 else open(sys.argv[1], "w"), indent=1)
