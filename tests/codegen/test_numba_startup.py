"""codegen/numba_startup.py lets Numba's BLAS check find SciPy without importing it: in a
fresh process that ran dprog kernels first, the user's own @njit code calling np.dot must
still compile and run (Numba imports SciPy's BLAS when it lowers the call)."""
import os
import subprocess
import sys

import pytest

CHILD = r"""
import sys
import numpy as np
import dprog as dp
import dprog.numpy as dnp
from numba import njit

print(float(dp.jit(lambda x: dnp.sum(dnp.tanh(x)))(np.ones(4))))
assert "scipy.linalg" not in sys.modules, "dprog's first kernel imported scipy.linalg"

@njit
def user_dot(a, b):
    return np.dot(a, b)

a = np.arange(6.0).reshape(2, 3)
np.testing.assert_allclose(user_dot(a, a.T), a @ a.T)
print("ok")
"""


def test_user_njit_blas_works_after_dprog_started_numba(tmp_path):
    pytest.importorskip("scipy")  # Numba's np.dot needs SciPy's BLAS
    env = dict(os.environ, DPROG_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "ok"
