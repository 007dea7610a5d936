"""Debugging aids: dp.config.debug_nans, dp.config.disable_jit, DPROG_LOG_COMPILES."""
import contextlib
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.errors import NaNError
from dprog.runtime import CacheEntry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@contextlib.contextmanager
def option(name, value):
    old = getattr(dp.config, name)
    setattr(dp.config, name, value)
    try:
        yield
    finally:
        setattr(dp.config, name, old)


def _line_of(fn, text):
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


# ------------------------------------------------------------------ debug_nans

def log_of_shifted(x):
    y = x * 2.0
    z = dnp.log(y - 1.0)  # NaN where y < 1
    return dnp.sum(z * 3.0)


def nan_in_loop(x):
    return dp.fori_loop(0, 3, lambda i, c: dnp.sqrt(c - 2.0), x)  # NaN on step 2


@pytest.mark.parametrize("backend", ["", "reference"])
def test_debug_nans_names_op_and_line(backend):
    x = np.array([1.0, 2.0, 0.2])
    with option("backend", backend):
        f = dp.jit(log_of_shifted)
        assert np.isnan(f(x))  # off: NaN comes back, no error
        with option("debug_nans", True):
            with pytest.raises(NaNError) as info:
                f(x)
            assert isinstance(info.value, FloatingPointError)
            msg = str(info.value)
            assert "log produced a NaN" in msg
            assert f'line {_line_of(log_of_shifted, "dnp.log")}' in msg and __file__ in msg
            # NaN-free results and NaN that came in with the inputs raise nothing
            assert np.isfinite(f(np.array([1.0, 2.0])))
            assert np.isnan(f(np.array([np.nan, 2.0])))
        assert np.isnan(f(x))  # off again: the same cache entry, no check


def test_debug_nans_in_control_flow_and_grad():
    with option("debug_nans", True):
        with pytest.raises(NaNError, match=f"line {_line_of(nan_in_loop, 'fori_loop')}"):
            dp.jit(nan_in_loop)(np.array([3.0]))
        # grad: the backward pass of sqrt at a negative number
        with pytest.raises(NaNError, match="sqrt|div|mul"):
            dp.grad(lambda x: dnp.sum(dnp.sqrt(x - 1.0)))(np.array([0.5, 2.0]))
        # vjp's one-off executables check as well
        out, vjp_fn = dp.vjp(lambda x: dnp.sqrt(x), np.array([4.0]))
        with pytest.raises(NaNError):
            dp.vjp(lambda x: dnp.log(x), np.array([-1.0]))


def test_debug_nans_costs_nothing_when_off():
    assert CacheEntry.run is CacheEntry.run_fast
    with option("debug_nans", True):
        assert CacheEntry.run is CacheEntry.run_checking_nans
    assert CacheEntry.run is CacheEntry.run_fast


def test_debug_nans_from_environment():
    code = ("import dprog as dp, dprog.numpy as dnp, numpy as np\n"
            "try:\n    dp.jit(lambda x: dnp.log(x))(np.array([-1.0]))\n"
            "except dp.DprogError as e:\n    print(type(e).__name__)\n")
    env = dict(os.environ, DPROG_DEBUG_NANS="1", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "NaNError", out.stderr


# ------------------------------------------------------------------ disable_jit

def model(w, x):
    h = dp.fori_loop(0, 3, lambda i, c: dnp.tanh(c @ w), x)
    c, ys = dp.scan(lambda c, r: (c + r, c * r), dnp.zeros(3), h)
    return dnp.sum(dp.cond(dnp.sum(c) > 0, lambda a: a * 2.0, lambda a: -a, ys) ** 2)


def test_disable_jit_runs_eagerly_and_transforms_still_work():
    w = np.array([[0.5, 0.1, 0.0], [0.2, -0.3, 0.4], [0.0, 0.6, 0.5]])
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    xs = np.stack([x, 2 * x, -x])
    expected = (dp.jit(model)(w, x), dp.grad(model)(w, x), dp.vmap(model, in_axes=(None, 0))(w, xs),
                dp.grad(dp.grad(lambda s: model(w * s, x)))(1.0))
    seen = []

    def spy(w, x):
        seen.append(type(w).__name__)
        return model(w, x)
    with option("disable_jit", True):
        f = dp.jit(spy)
        value = f(w, x)
        assert seen == ["ndarray"] and f.cache_size() == 0  # ran as Python, nothing compiled
        got = (value, dp.grad(model)(w, x), dp.vmap(model, in_axes=(None, 0))(w, xs),
               dp.grad(dp.grad(lambda s: model(w * s, x)))(1.0))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10)
    _, vjp_fn = dp.vjp(model, w, x)
    np.testing.assert_allclose(vjp_fn(1.0)[0], expected[1], rtol=1e-10)


def test_disable_jit_python_control_flow_works():
    @dp.jit
    def f(x):
        return x * 2 if float(np.sum(x)) > 0 else -x  # concrete values: plain Python works
    with option("disable_jit", True):
        assert f(np.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(dp.TracerConversionError):
        f(np.ones(2))


# ------------------------------------------------------------------ log_compiles

def test_log_compiles_says_what_why_and_how_long():
    code = ("import dprog as dp, dprog.numpy as dnp, numpy as np\n"
            "def step(x, y):\n    return dnp.sum(x * y)\n"
            "f = dp.jit(step)\n"
            "f(np.ones(3), np.ones(3)); f(np.ones(3), np.ones(3))\n"  # the second call hits
            "f(np.ones(4), np.ones(4))\n"
            "f(np.ones(4, np.float32), np.ones(4))\n")
    env = dict(os.environ, DPROG_LOG_COMPILES="1", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("dprog: compiled")]
    assert len(lines) == 3, out.stderr  # the repeated call compiled nothing
    assert "step(f64[3], f64[3]) on cpu" in lines[0] and "first call" in lines[0]
    assert "leaf 0: f64[3] -> f64[4]; leaf 1: f64[3] -> f64[4]" in lines[1]
    assert "leaf 0: f64[4] -> f32[4]" in lines[2]
    for line in lines:
        assert " ms: " in line and float(line.split(" in ")[1].split(" ms")[0]) > 0
    env.pop("DPROG_LOG_COMPILES")
    quiet = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "dprog: compiled" not in quiet.stderr
