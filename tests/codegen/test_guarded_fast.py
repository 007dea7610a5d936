"""Kernels with a cheap form of sin/cos/pow (Op.fast, codegen/cpu_kernel.py
`kernel_source`): the loop computes without the huge-argument path (sin/cos) or the special
cases (pow) and runs its slice again with the exact form if any element needed it. Results
must not depend on whether such an element shared the slice: the cheap form is
bit-identical to the exact one wherever it is used."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog.codegen.cpu_kernel import kernel_source
from dprog.ops.fusion import fusion_p
from dprog.passes import run_pipeline
from dprog.passes.fuse import fuse

from support import reference  # tests/support.py

rng = np.random.default_rng(3)


def wave(x, y):
    return dnp.sin(x) * y + dnp.cos(x * 2.0)


def kernel_texts(fun, *args):
    graph = fuse(run_pipeline(dp.jit(fun).lower(*args)), absorb_views=True)
    return [kernel_source(n.params["graph"], len(n.params["shape"]))
            for n in graph.nodes if n.op is fusion_p]


def bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def test_sin_and_cos_kernels_take_the_cheap_form_with_a_guarded_exact_pass():
    x = rng.standard_normal(64).astype(np.float32)
    (text,) = kernel_texts(wave, x, x)
    assert "vm.vsin_fast(" in text and "vm.vcos_fast(" in text
    assert "huge_ = huge_ | vm.vtrig_huge(" in text and "if huge_:" in text
    assert "vm.vsin(" in text and "vm.vcos(" in text  # the exact pass
    # a reduction the kernel starts itself restarts in the exact pass ...
    (text,) = kernel_texts(lambda x: dnp.sum(dnp.sin(x)), x)
    assert "huge_" in text and text.count("acc_out0 = np.float32(0.0)") == 2
    # ... one accumulated across the nest (over the leading dim) would add twice: exact only
    x2 = rng.standard_normal((16, 8)).astype(np.float32)
    (text,) = kernel_texts(lambda x: dnp.sum(dnp.sin(x), axis=0), x2)
    assert "_fast" not in text and "huge_" not in text


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the reference's sin(inf)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_arguments_are_exact_and_leave_the_others_unchanged(dtype):
    # Big enough to be split across threads: one slice meets huge arguments, one not.
    n = 300_000
    x = rng.uniform(-50, 50, n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    f = dp.jit(wave)
    plain = f(x, y)
    xh = x.copy()
    huge = [7, 11, 1000]  # all in the first slice: the second never runs the exact pass
    xh[huge] = [1e30, -3.0e9, 2.0 ** 40]
    xh[100:103] = [np.inf, -np.inf, np.nan]
    got = f(xh, y)
    same = np.ones(n, bool)
    same[huge] = False
    same[100:103] = False
    np.testing.assert_array_equal(bits(got[same]), bits(plain[same]))
    assert np.isnan(got[100:103]).all()
    want = reference(wave, xh.astype(np.float64), y.astype(np.float64))[huge]
    np.testing.assert_allclose(got[huge], want, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)
    np.testing.assert_allclose(plain, reference(wave, x, y), rtol=10 * np.finfo(dtype).eps,
                               atol=10 * np.finfo(dtype).eps)


def test_multi_dim_kernel_and_its_gradient():
    x = rng.uniform(-4, 4, (64, 33)).astype(np.float32)
    x[3, 5] = 7e20
    g = dp.grad(lambda x: dnp.sum(dnp.sin(x.T) * dnp.cos(x.T + 1.0) * dnp.arange(64.0, dtype=np.float32)))
    got, want = dp.jit(g)(x), reference(g, x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reductions_restart_in_the_exact_pass(dtype):
    n = 300_000
    x = rng.uniform(-3, 3, n).astype(dtype)
    x[17] = 4e20  # in the first thread's slice only
    rows = rng.uniform(-3, 3, (50, 301)).astype(dtype)
    rows[7, 3] = 1e25
    for fun, arg in [(lambda x: dnp.sum(dnp.sin(x) * dnp.cos(x)), x),
                     (lambda x: dnp.max(dnp.cos(x)), x),
                     (lambda r: dnp.sum(dnp.sin(r), axis=1), rows)]:
        got, want = dp.jit(fun)(arg), reference(fun, arg.astype(np.float64))
        np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-3)


def power_mix(x, y):
    return x ** y + y


@pytest.mark.filterwarnings("ignore:(invalid value|divide by zero|overflow) encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pow_special_cases_are_exact_and_leave_the_others_unchanged(dtype):
    n = 300_000
    x = rng.uniform(0.2, 5, n).astype(dtype)
    y = rng.uniform(-4, 4, n).astype(dtype)
    (text,) = kernel_texts(power_mix, x, y)
    assert "vm.vpow_fast(" in text and "huge_ = huge_ | vm.vpow_special(" in text
    assert "vm.vpow(" in text
    f = dp.jit(power_mix)
    plain = f(x, y)
    xs, ys = x.copy(), y.copy()
    odd = [5, 9, 13, 21, 33, 40, 41, 1000]       # all in the first slice
    xs[odd] = [0.0, -2.0, -0.0, np.inf, np.nan, 1e-40 if dtype == np.float32 else 1e-310, 1.0, -3.0]
    ys[odd] = [2.0, 3.0, -1.0, 0.5, 1.0, 0.5, np.inf, 0.5]
    got = f(xs, ys)
    same = np.ones(n, bool)
    same[odd] = False
    np.testing.assert_array_equal(bits(got[same]), bits(plain[same]))
    wide = np.longdouble
    with np.errstate(all="ignore"):
        want = np.power(xs[odd].astype(wide), ys[odd]) + ys[odd]
    np.testing.assert_allclose(got[odd], want.astype(dtype), rtol=2 * np.finfo(dtype).eps)  # nans equal
    power = np.power(x.astype(wide), y.astype(wide))
    # (the sum may cancel: its error is relative to the terms)
    err = np.abs(plain - (power + y)) / (np.abs(power) + np.abs(y))
    assert err.max() < 2 * np.finfo(dtype).eps


def test_integer_pow_has_no_fast_form():
    a = np.arange(1, 65, dtype=np.int64)
    (text,) = kernel_texts(lambda a, b: a ** b, a, a % 5)
    assert "sc.int_pow(" in text and "huge_" not in text


@pytest.mark.filterwarnings("ignore:(invalid value|divide by zero) encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_special_cases_are_exact_and_leave_the_others_unchanged(dtype):
    def logs(x):
        return dnp.log(x) + dnp.log2(x) * dnp.log10(x)
    n = 300_000
    x = rng.uniform(0.01, 100, n).astype(dtype)
    (text,) = kernel_texts(logs, x)
    for name in ("vlog_fast", "vlog2_fast", "vlog10_fast"):
        assert f"vm.{name}(" in text
    assert "huge_ = huge_ | vm.vlog_special(" in text and "vm.vlog(" in text
    f = dp.jit(logs)
    plain = f(x)
    xs = x.copy()
    odd = [3, 8, 99, 1000, 1001, 2000, 2001]     # all in the first slice
    xs[odd] = [0.0, -1.0, np.inf, np.nan, -0.0, 1e-40 if dtype == np.float32 else 1e-310, 1.0]
    got = f(xs)
    same = np.ones(n, bool)
    same[odd] = False
    np.testing.assert_array_equal(bits(got[same]), bits(plain[same]))
    with np.errstate(all="ignore"):
        w = xs[odd].astype(np.longdouble)
        want = np.log(w) + np.log2(w) * np.log10(w)
    np.testing.assert_allclose(got[odd], want.astype(dtype), rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_allclose(plain, reference(logs, x.astype(np.float64)).astype(dtype),
                               rtol=10 * np.finfo(dtype).eps, atol=10 * np.finfo(dtype).eps)
