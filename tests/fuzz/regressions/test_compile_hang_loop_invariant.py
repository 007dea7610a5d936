"""Fuzzer find (long profile, backends check), fixed: a fused group over rank 0 (only
0-d inputs; the result broadcast afterwards) was planned as a flat loop of one element,
and LLVM's loop vectorizer never finished on that loop-invariant pow -> tanh -> cosh body
(seen > 20 minutes in llvm::VPBlock traversal). Rank-0 groups now compile as straight-line
code. Run in a child process so a hang cannot stall CI."""
import os
import subprocess
import sys


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PROGRAM = """
import numpy as np, dprog as dp, dprog.numpy as dnp
f = dp.jit(lambda a, b: dnp.broadcast_to(dnp.cosh(dnp.tanh(dnp.power(dnp.square(a) + 0.5, b))), (3,)))
print(f(0.3, 1.5).tolist())
"""


def test_loop_invariant_kernel_compiles(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, DPROG_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    v = float(__import__("numpy").cosh(__import__("numpy").tanh((0.3 ** 2 + 0.5) ** 1.5)))
    assert [round(x, 12) for x in eval(out.stdout)] == [round(v, 12)] * 3
