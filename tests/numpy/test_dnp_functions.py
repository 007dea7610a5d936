"""Every listed dprog.numpy function against NumPy: eagerly, under dp.jit, and through
NumPy's own functions called on tracers (np.sin(tracer) dispatching into dprog).
The table is in dnp_cases.py; dtype promotion follows NumPy 2 (NEP 50)."""
import functools
import zlib

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.errors import UnsupportedError

from dnp_cases import CASES

TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6),
       np.dtype(np.float64): dict(rtol=1e-12, atol=1e-12)}
RANGES = {"real": (-2, 2), "positive": (0.25, 3), "nonzero": (0.5, 3), "small": (-1.5, 1.5),
          "unit": (-0.9, 0.9), "gt1": (1.1, 3), "gt_minus1": (-0.8, 2), "special": (-2, 2)}


def _make(spec, dtype, rng):
    dt = np.dtype(spec.dtype or dtype)
    if spec.domain.startswith("index:"):
        return rng.integers(0, int(spec.domain[6:]), spec.shape).astype(dt)
    if dt == np.bool_:
        return rng.integers(0, 2, spec.shape).astype(bool)
    lo, hi = RANGES[spec.domain]
    if dt.kind == "f":
        x = rng.uniform(lo, hi, spec.shape)
        if spec.domain == "special" and x.size >= 3:
            x.flat[:3] = [np.nan, np.inf, -np.inf]
    else:
        x = rng.integers(max(int(np.ceil(lo)), 1 if spec.domain == "positive" else -9),
                         int(np.floor(hi)) + 1, spec.shape)
    if spec.domain == "nonzero":
        x = x * rng.choice([-1, 1], spec.shape)
    return np.asarray(x, dt)


def _params():
    for case in CASES:
        for dt in case.dtypes:
            yield pytest.param(case, dt, id=f"{case.id}-{np.dtype(dt).name if dt else 'fixed'}")


def _leaves(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _check(got, expected, eager=False):
    """jit results are always arrays; eager ones may be NumPy scalars, as NumPy's are."""
    got, expected = _leaves(got), _leaves(expected)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = np.asarray(e)
        assert isinstance(g, (np.ndarray, np.generic) if eager else np.ndarray), type(g)
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        assert g.shape == e.shape, (g.shape, e.shape)
        np.testing.assert_allclose(g, e, equal_nan=True, **TOL.get(e.dtype, dict(rtol=0, atol=0)))


@pytest.mark.parametrize("case,dtype", list(_params()))
def test_matches_numpy(case, dtype):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    args = [_make(spec, dtype, rng) for spec in case.inputs]
    with np.errstate(all="ignore"):
        expected = case.fn(np, *args)
        _check(case.fn(dnp, *args), expected, eager=True)
        _check(dp.jit(functools.partial(case.fn, dnp))(*args), expected)
        if case.np_route:
            _check(dp.jit(functools.partial(case.fn, np))(*args), expected)


# ------------------------------------------------------------------ NEP 50 promotion

x_f32 = np.array([1.5, -2.0], np.float32)
x_f64 = np.array([1.5, -2.0], np.float64)
x_i32 = np.array([3, -4], np.int32)
x_i64 = np.array([3, -4], np.int64)
x_b = np.array([True, False])

# (id, function of traced operands, operands, NumPy 2's result dtype)
PROMOTIONS = [
    ("f32*2.0", lambda a: a * 2.0, (x_f32,), np.float32),
    ("2.0*f32", lambda a: 2.0 * a, (x_f32,), np.float32),
    ("f32**2", lambda a: a ** 2, (x_f32,), np.float32),
    ("f32**0.5", lambda a: abs(a) ** 0.5, (x_f32,), np.float32),
    ("f32/3", lambda a: a / 3, (x_f32,), np.float32),
    ("f32>1", lambda a: a > 1, (x_f32,), np.bool_),
    ("i32+1.5", lambda a: a + 1.5, (x_i32,), np.float64),
    ("i32+1", lambda a: a + 1, (x_i32,), np.int32),
    ("i32//2", lambda a: a // 2, (x_i32,), np.int32),
    ("i32/2", lambda a: a / 2, (x_i32,), np.float64),
    ("i32*f32", lambda a, b: a * b, (x_i32, x_f32), np.float64),
    ("f32+f64", lambda a, b: a + b, (x_f32, x_f64), np.float64),
    ("i32+i64", lambda a, b: a + b, (x_i32, x_i64), np.int64),
    ("bool+1", lambda a: a + 1, (x_b,), np.int64),
    ("f32+np.float64", lambda a: a + np.float64(1), (x_f32,), np.float64),
    ("f32+np.float32", lambda a: a + np.float32(1), (x_f32,), np.float32),
    ("i32*np.int64", lambda a: a * np.int64(2), (x_i32,), np.int64),
    ("sum_i32", lambda a: np.sum(a), (x_i32,), np.int64),
    ("mean_i32", lambda a: np.mean(a), (x_i32,), np.float64),
    ("sqrt_i32", lambda a: np.sqrt(abs(a)), (x_i32,), np.float64),
    ("where_f32_0.0", lambda a: np.where(a > 0, a, 0.0), (x_f32,), np.float32),
    ("maximum_f32_0", lambda a: np.maximum(a, 0), (x_f32,), np.float32),
]


@pytest.mark.parametrize("fn,args,dtype", [p[1:] for p in PROMOTIONS], ids=[p[0] for p in PROMOTIONS])
def test_weak_scalar_promotion_follows_numpy2(fn, args, dtype):
    expected = fn(*args)
    assert expected.dtype == dtype  # what NumPy 2 itself gives
    for got in (dp.jit(fn)(*args), fn(*[dnp.asarray(a) for a in args])):
        assert np.asarray(got).dtype == dtype
        np.testing.assert_allclose(got, expected)


def test_python_scalar_arguments_are_weak_under_jit():
    mul = dp.jit(lambda a, b: a * b)
    assert mul(x_f32, 2.0).dtype == np.float32
    assert mul(x_i32, 2).dtype == np.int32
    assert mul(x_i32, 2.5).dtype == np.float64
    assert mul(3, 2.5).dtype == np.float64
    assert mul(np.float32(2), 3.0).dtype == np.float32


def test_unsupported_numpy_function_is_named():
    @dp.jit
    def f(x):
        return np.fft.fft(x)

    with pytest.raises(UnsupportedError, match="fft"):
        f(x_f64)

    @dp.jit
    def g(x):
        return np.unwrap(x)

    with pytest.raises(UnsupportedError, match="numpy.unwrap"):
        g(x_f64)
    np.testing.assert_array_equal(dp.jit(lambda x: np.sin(x))(x_f64), np.sin(x_f64))
