"""Concurrency and processes: threads racing on a first call, fork and spawn after
kernels ran, two processes compiling into one empty cache at the same moment, and
processes SIGKILLed while they write the cache; each followed by correct results."""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from child_program import expected, programs  # noqa: E402
from support import run_in_child, run_in_threads  # noqa: E402  (tests/support.py)


def assert_expected(results):
    for k, v in expected().items():
        np.testing.assert_allclose(results[k], v, rtol=1e-9, atol=1e-12, err_msg=k)


def spawn_child(cache_dir, *args):
    env = dict(os.environ, DPROG_CACHE_DIR=str(cache_dir), PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, os.path.join(HERE, "child_program.py"), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------ threads

def test_four_threads_on_a_first_call_trace_once():
    traces = []

    def step(w, x):
        traces.append(threading.get_ident())  # runs once per trace, never per call
        return dnp.sum(dnp.tanh(x @ w) * 2.0, axis=0), dp.fori_loop(0, 3, lambda i, c: c * 0.5 + x, x)

    f = dp.jit(step)
    g = dp.grad(lambda w, x: dnp.sum(step(w, x)[0]))
    rng = np.random.default_rng(0)
    inputs = [(rng.standard_normal((3, 2)), rng.standard_normal((5, 3))) for _ in range(4)]
    results = [None] * 4

    def work(i):
        for _ in range(3):
            results[i] = (f(*inputs[i]), g(*inputs[i]))
    errors, hung = run_in_threads(4, work, timeout=240)
    assert not hung, "a thread hung"
    assert not errors, errors
    assert f.cache_size() == 1
    assert len(traces) == 2  # one trace for f, one for g's body: no duplicate compiles
    for (w, x), ((s, loop), gw) in zip(inputs, results):
        np.testing.assert_allclose(s, np.sum(np.tanh(x @ w) * 2.0, axis=0), rtol=1e-12)
        c = x
        for _ in range(3):
            c = c * 0.5 + x
        np.testing.assert_allclose(loop, c, rtol=1e-12)
        t = np.tanh(x @ w)
        np.testing.assert_allclose(gw, x.T @ (2.0 * (1 - t ** 2)), rtol=1e-10)


# ------------------------------------------------------------------ fork / spawn

def _child(conn):
    try:
        conn.send(programs())
    except BaseException as e:  # noqa: BLE001 - sent to the parent
        conn.send(repr(e))
    conn.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_fork_and_spawn_after_kernels_ran(method):
    assert_expected(programs())  # kernels compiled and run in this process first
    result, exitcode = run_in_child(method, _child)
    assert exitcode == 0 and isinstance(result, dict), result
    assert_expected(result)
    assert_expected(programs())  # and the parent still works


# ------------------------------------------------------------------ shared cache

def test_two_processes_compile_into_one_empty_cache_at_once(tmp_path):
    cache, barrier = tmp_path / "cache", str(tmp_path / "go")
    procs = [spawn_child(cache, barrier) for _ in range(2)]
    deadline = time.time() + 120
    while len([f for f in os.listdir(tmp_path) if f.startswith("go.ready")]) < 2:
        assert time.time() < deadline and all(p.poll() is None for p in procs), "children did not start"
        time.sleep(0.01)
    open(barrier, "w").close()  # both start compiling now
    for p in procs:
        result = finish(p)
        assert_expected(result)
        assert result["warnings"] == []
    fresh = finish(spawn_child(cache))
    assert_expected(fresh)
    assert fresh["misses"] == 0 and fresh["hits"] > 0 and fresh["warnings"] == []


def test_processes_killed_while_writing_the_cache(tmp_path):
    """SIGKILL children at random moments of a cold compile, into one cache directory;
    then a fresh process still gets correct results (recompiling what is missing)."""
    cache = tmp_path / "cache"
    rng = random.Random(7)
    killed = 0
    for _ in range(5):
        proc = spawn_child(cache)
        time.sleep(rng.uniform(0.8, 3.0))  # import ~1 s, then kernels compile and are written
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate(timeout=60)
    assert killed >= 3  # most runs really were cut short
    for _ in range(2):  # the first may repair the cache, the second must find it sound
        result = finish(spawn_child(cache))
        assert_expected(result)
    assert result["misses"] == 0 and result["warnings"] == []
