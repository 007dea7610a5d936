"""dp.jit: decorator forms, the cache (hits never retrace), static arguments,
DPROG_LOG_COMPILES, and results that never alias inputs."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp

x3 = np.arange(3.0)


def counting(fn):
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)
    wrapped.__name__ = wrapped.__qualname__ = fn.__name__
    return wrapped, calls


def test_decorator_forms():
    @dp.jit
    def a(x):
        return x + 1

    @dp.jit(static_argnums=1)
    def b(x, n):
        return x * n

    c = dp.jit(lambda x, n: x ** n, static_argnames="n")
    np.testing.assert_array_equal(a(x3), x3 + 1)
    np.testing.assert_array_equal(b(x3, 3), x3 * 3)
    np.testing.assert_array_equal(c(x3, n=2), x3 ** 2)
    assert a.__name__ == "a"


def test_cache_hits_do_not_retrace():
    f, calls = counting(lambda x, y: x * y + 1)
    jf = dp.jit(f)
    for _ in range(3):
        jf(x3, x3)
    assert len(calls) == 1
    jf(x3 + 1, x3 - 1)  # new values, same avals
    jf(x3, 2.0)  # Python float: weak f64[]
    jf(x3, 5.0)  # another value of the same weak type: a hit
    assert len(calls) == 2
    jf(np.arange(4.0), np.arange(4.0))  # new shape
    jf(x3.astype(np.float32), x3.astype(np.float32))  # new dtype
    jf(x3, np.float64(2.0))  # strong scalar differs from the weak one
    assert len(calls) == 5 and jf.cache_size() == 5


def test_repeated_call_shortcut_follows_every_change_of_arguments():
    # A call with the previous call's shapes and dtypes skips the cache key; any other
    # call must still find (or compile) its own entry.
    f = dp.jit(lambda a, b: a * b + 1)
    x32, x64 = np.arange(6, dtype=np.float32), np.arange(6, dtype=np.float64)
    calls = [(x32, x32), (x32, x32), (x64, x64), (x32, x32), (x32[::2], x32[1::2]),
             (x32.reshape(2, 3), x32.reshape(2, 3)), (2.0, x64[:2]), (x32, x32),
             (np.arange(6), np.arange(6))]
    for a, b in calls:
        got = f(a, b)
        want = np.asarray(a) * np.asarray(b) + 1
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    assert f.cache_size() == 6  # f32 (6,), f64 (6,), f32 (3,), f32 (2, 3), float + f64, i64
    # inside a trace the shortcut's arrays are tracers: recorded, not run
    g = dp.grad(lambda x: dnp.sum(f(x, x)))
    np.testing.assert_allclose(g(x32), 2 * x32)


def test_static_arguments_by_position_and_name():
    f, calls = counting(lambda x, n, mode="sum": dnp.sum(x ** n) if mode == "sum" else x ** n)
    jf = dp.jit(f, static_argnums=(1,), static_argnames=("mode",))
    assert jf(x3, 2) == 5.0
    assert jf(x3, 2) == 5.0
    assert len(calls) == 1
    np.testing.assert_array_equal(jf(x3, 3, mode="each"), x3 ** 3)
    np.testing.assert_array_equal(jf(x3, n=3, mode="each"), x3 ** 3)  # static given by name
    assert jf(x3, 2, mode="sum") == 5.0
    assert len(calls) == 2 + (jf.cache_size() - 2)  # every distinct static set traced once
    before = len(calls)
    jf(x3, 3, mode="each")
    assert len(calls) == before


def test_static_argument_controls_python_control_flow():
    @dp.jit(static_argnums=1)
    def f(x, flag):
        if flag:
            return x + 1
        return x - 1

    np.testing.assert_array_equal(f(x3, True), x3 + 1)
    np.testing.assert_array_equal(f(x3, False), x3 - 1)


def test_log_compiles_names_the_key_part_that_changed(monkeypatch, capsys):
    monkeypatch.setattr(dp.config, "log_compiles", True)

    @dp.jit(static_argnums=1)
    def logged(x, n):
        return x * n

    logged(x3, 2)
    logged(x3, 2)
    logged(np.arange(4.0), 2)
    logged(np.arange(4.0), 3)
    logged((np.arange(4.0),), 3)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4, err
    assert all("compiled" in line and "logged" in line for line in err)
    assert "first call" in err[0]
    assert "leaf 0" in err[1] and "f64[3]" in err[1] and "f64[4]" in err[1]
    assert "static" in err[2] and "2" in err[2] and "3" in err[2]
    assert "structure" in err[3]


def test_results_are_fresh_arrays():
    const = np.arange(3.0)
    f = dp.jit(lambda x, y: (x, x, y.reshape(-1), const, y.T))
    x, y = np.ones(3), np.ones((2, 2))
    outs = f(x, y)
    for o in outs:
        assert isinstance(o, np.ndarray)
        for inp in (x, y, const):
            assert not np.shares_memory(o, inp)
    assert not np.shares_memory(outs[0], outs[1])
    outs[0][0] = 99.0  # writing a result changes nothing else
    assert x[0] == 1.0 and outs[1][0] == 1.0
    np.testing.assert_array_equal(f(x, y)[3], np.arange(3.0))


def test_nested_jit_and_transform_of_jit():
    inner = dp.jit(lambda x: dnp.sin(x) * 2)
    outer = dp.jit(lambda x: inner(x) + inner(x * 2))
    np.testing.assert_allclose(outer(x3), 2 * np.sin(x3) + 2 * np.sin(2 * x3))
    g = dp.jit(dp.grad(lambda x: dnp.sum(inner(x))))
    np.testing.assert_allclose(g(x3), 2 * np.cos(x3))


def test_jit_as_method_decorator():
    class Model:
        def __init__(self, w):
            self.w = w

        @dp.jit(static_argnums=0)
        def apply(self, x):
            return x * self.w

        @dp.jit
        def dynamic_self(self, x):
            return x

    np.testing.assert_array_equal(Model(3).apply(x3), 3 * x3)
    with pytest.raises(dp.PytreeError, match="static_argnums"):
        Model(3).dynamic_self(x3)


def test_disable_jit_runs_python(monkeypatch):
    f, calls = counting(lambda x: x + 1)
    jf = dp.jit(f)
    monkeypatch.setattr(dp.config, "disable_jit", True)
    jf(x3)
    jf(x3)
    assert len(calls) == 2 and jf.cache_size() == 0


def test_scalar_and_zero_size_results():
    f = dp.jit(lambda x: (dnp.sum(x), x[:0], 2.0, dnp.float32(1)))
    s, empty, two, one = f(np.ones(4, np.float32))
    assert s.shape == () and s.dtype == np.float32 and s == 4
    assert empty.shape == (0,) and empty.dtype == np.float32
    assert isinstance(two, np.ndarray) and two == 2.0
    assert one.dtype == np.float32


def test_lower_returns_the_optimised_graph():
    jf = dp.jit(lambda x: dnp.sin(x) + dnp.sin(x))
    graph = jf.lower(x3)
    assert [n.op.name for n in graph.nodes] == ["sin", "add"]


@pytest.mark.parametrize("value", [1, 2.5, True])
def test_python_scalars_as_arguments(value):
    out = dp.jit(lambda v: v * 2)(value)
    assert out == value * 2 and out.dtype == np.asarray(value * 2).dtype


def test_log_compiles_environment_switch():
    import os
    import subprocess
    import sys
    code = ("import numpy as np, dprog as dp\n"
            "f = dp.jit(lambda x: x + 1)\n"
            "f(np.ones(3)); f(np.ones(3)); f(np.ones(3, np.float32))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, DPROG_LOG_COMPILES="1", PYTHONPATH=root)
    err = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stderr.strip().splitlines()
    assert len(err) == 2 and "first call" in err[0]
    assert "f64[3] -> f32[3]" in err[1]
