"""The persistent kernel cache: a second process loads kernels instead of compiling them,
and a corrupted or read-only cache recompiles in memory with one warning, never a crash
or a stale kernel."""
import glob
import json
import os
import stat
import subprocess
import sys

import pytest

from support import corrupt_numba_cache  # tests/support.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROGRAM = r"""
import json, warnings
import numpy as np
warnings.simplefilter("always")
import dprog as dp, dprog.numpy as dnp
from dprog.codegen import cpu_driver
f = dp.jit(lambda x, y: dnp.sum(x * y + 1.0, axis=1))
x = np.arange(12.0).reshape(3, 4)
with warnings.catch_warnings(record=True) as caught:
    out = f(x, 2 * x)
kernels = [m.kernel for m in cpu_driver._kernel_cache.values()]
hits = sum(sum(k.stats.cache_hits.values()) for k in kernels if hasattr(k, "stats"))
misses = sum(sum(k.stats.cache_misses.values()) for k in kernels if hasattr(k, "stats"))
print(json.dumps({"out": out.tolist(), "hits": hits, "misses": misses,
                  "warnings": [str(w.message) for w in caught if "dprog" in str(w.message)]}))
"""
EXPECTED = [sum(v * 2 * v + 1.0 for v in range(r * 4, r * 4 + 4)) for r in range(3)]


def run(cache_dir):
    env = dict(os.environ, DPROG_CACHE_DIR=cache_dir, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_second_process_loads_compiled_kernels(tmp_path):
    first = run(str(tmp_path))
    assert first["out"] == EXPECTED and first["misses"] > 0
    second = run(str(tmp_path))
    assert second["out"] == EXPECTED
    assert second["misses"] == 0 and second["hits"] > 0
    assert second["warnings"] == []


def test_corrupted_cache_recompiles_with_one_warning(tmp_path):
    run(str(tmp_path))
    entries = corrupt_numba_cache(tmp_path)
    assert entries
    result = run(str(tmp_path))
    assert result["out"] == EXPECTED
    assert len(result["warnings"]) == 1 and "corrupt" in result["warnings"][0]


def test_truncated_module_file_is_rewritten(tmp_path):
    run(str(tmp_path))
    for path in glob.glob(str(tmp_path / "dprog_gen_*.py")):
        with open(path, "w") as f:
            f.write("def kernel(:\n")  # a killed writer's half file
    assert run(str(tmp_path))["out"] == EXPECTED


@pytest.mark.skipif(os.geteuid() == 0 and sys.platform != "darwin",
                    reason="root ignores directory permissions; see test_unwritable_cache_dir")
def test_read_only_cache_dir(tmp_path):
    os.chmod(tmp_path, stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = run(str(tmp_path))
    finally:
        os.chmod(tmp_path, stat.S_IRWXU)
    assert result["out"] == EXPECTED and len(result["warnings"]) == 1


def test_unwritable_cache_dir(tmp_path):
    # A path under a regular file can never be created, even by root.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(str(blocker / "cache"))
    assert result["out"] == EXPECTED
    assert len(result["warnings"]) == 1 and "not usable" in result["warnings"][0]
