"""Native loops (codegen/cpu_loop.py) use the persistent kernel cache like kernels: a
second process loads the compiled loop instead of compiling it, and a corrupted entry
recompiles in memory with one warning."""
import json
import os
import subprocess
import sys

import numpy as np

from support import corrupt_numba_cache  # tests/support.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROGRAM = r"""
import json, warnings
import numpy as np
warnings.simplefilter("always")
import dprog as dp, dprog.numpy as dnp
f = dp.jit(lambda c, xs: dp.scan(lambda c, x: (c * 0.5 + x, dnp.sum(c)), c, xs))
c, xs = np.arange(3.0), np.arange(12.0).reshape(4, 3)
with warnings.catch_warnings(record=True) as caught:
    carry, ys = f(c, xs)
(entry,) = f._cache.values()
(loop,) = [s.loop for s in entry.executable.steps if s.kind == "loop"]
stats = loop._module.loop.stats
print(json.dumps({"carry": carry.tolist(), "ys": ys.tolist(),
                  "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()),
                  "warnings": [str(w.message) for w in caught if "dprog" in str(w.message)]}))
"""


def expected():
    c, xs, ys = np.arange(3.0), np.arange(12.0).reshape(4, 3), []
    for x in xs:
        ys.append(c.sum())
        c = c * 0.5 + x
    return c.tolist(), ys


def run(cache_dir):
    env = dict(os.environ, DPROG_CACHE_DIR=cache_dir, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (result["carry"], result["ys"]) == expected()
    return result


def test_second_process_loads_the_compiled_loop(tmp_path):
    first = run(str(tmp_path))
    assert first["misses"] > 0 and first["warnings"] == []
    second = run(str(tmp_path))
    assert second["misses"] == 0 and second["hits"] > 0 and second["warnings"] == []


def test_corrupted_loop_cache_recompiles_with_one_warning(tmp_path):
    run(str(tmp_path))
    entries = corrupt_numba_cache(tmp_path)
    assert entries
    result = run(str(tmp_path))
    assert len(result["warnings"]) == 1 and "corrupt" in result["warnings"][0]
