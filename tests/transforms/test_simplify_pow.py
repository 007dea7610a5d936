"""x ** c for a literal c becomes products, sqrt and a division, and select(literal, a,
b) becomes a or b (the pow and select records' Op.rewrite, applied by the simplify
pass): checked on the optimised graph, and the compiled results against pow computed in higher precision,
special values included."""
import numpy as np
import pytest

import dprog as dp
from dprog.passes import run_pipeline

# exponent -> max error in ulp of the rewritten form: 0.5 (one rounding) plus one ulp per
# earlier rounding (measured: 1.23, 1.32, 1.40 and 1.73, 1.99)
BOUND = {0.0: 0.5, 1.0: 0.5, -1.0: 0.5, 2.0: 0.5, 0.5: 0.5,
         3.0: 1.5, -2.0: 1.5, -0.5: 1.5, 4.0: 2.5, -3.0: 2.5}
EXPONENTS = tuple(BOUND)
KEPT = (-4.0, 2.5, 5.0, -6.0, 1.0 / 3.0)   # left to vecmath's pow


def all_powers(x):
    return tuple(x ** c for c in EXPONENTS + KEPT)


def _inputs(dtype):
    info = np.finfo(dtype)
    rng = np.random.default_rng(7)
    mags = np.exp(rng.uniform(np.log(info.smallest_subnormal), np.log(info.max), 3000)).astype(dtype)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -2.5, 3.0,
                        info.smallest_subnormal, info.tiny, info.max, -info.max], dtype)
    return np.concatenate([special, mags, -mags[:500], rng.uniform(-4, 4, 500).astype(dtype)])


def _reference(x, c):
    # C99's pow: an array exponent, as NumPy's loop with a scalar 0.5 takes sqrt instead
    # (pow(-0, 0.5) = +0 and pow(-inf, 0.5) = +inf, where sqrt gives -0 and nan)
    wide = np.float64 if x.dtype == np.float32 else np.longdouble
    with np.errstate(all="ignore"):
        return np.power(x.astype(wide), np.full(x.shape, x.dtype.type(c), wide))


@pytest.fixture(scope="module", params=[np.float32, np.float64], ids=["f32", "f64"])
def computed(request):
    x = _inputs(request.param)
    return x, dp.jit(all_powers)(x)


@pytest.mark.parametrize("c", EXPONENTS + KEPT)
def test_literal_powers_match_pow(computed, c):
    x, results = computed
    got = results[(EXPONENTS + KEPT).index(c)]
    ref = _reference(x, c)
    dtype = x.dtype.type
    with np.errstate(over="ignore"):
        ref_rounded = ref.astype(dtype)
    assert got.dtype == x.dtype
    # where pow gives nan, inf or a signed zero, so does the rewritten form
    special = ~np.isfinite(ref_rounded) | (ref_rounded == 0)
    np.testing.assert_array_equal(got[special], ref_rounded[special])
    zero = ref_rounded == 0
    assert np.array_equal(np.signbit(got[zero]), np.signbit(ref_rounded[zero]))
    normal = ~special & (np.abs(ref) >= np.finfo(dtype).tiny)
    if c < 0:
        # 1 / x**|c|: where x**|c| is below the normal range, its own rounding to a
        # denormal shows (as in JAX's integer_pow); compare the rest
        normal &= np.abs(_reference(x, -c)) >= np.finfo(dtype).tiny
    normal &= np.abs(ref) <= np.finfo(dtype).max
    with np.errstate(over="ignore"):  # the spacing at the largest float is inf
        spacing = np.spacing(np.abs(ref_rounded[normal])).astype(ref.dtype)
    ulp = np.abs(got[normal].astype(ref.dtype) - ref[normal]) / spacing
    bound = BOUND.get(c, 1.5)   # vecmath's pow: 1.0 (f32) / 1.5 (f64) ulp
    assert ulp.max() <= bound, (c, float(ulp.max()), x[normal][np.argmax(ulp)])


def _ops(graph):
    return [n.op.name for n in graph.nodes for n in ([n] + [m for g in n.subgraphs() for m in g.nodes])]


def test_only_other_exponents_keep_pow():
    x = np.linspace(0.5, 2.0, 6)
    optimised = run_pipeline(dp.make_graph(all_powers)(x))
    assert _ops(optimised).count("pow") == len(KEPT), optimised


def test_gradient_of_a_cube_has_no_pow_and_no_constant_select():
    # d/dx x**3 = where(3 == 0, 0, 3 * x ** 2.0): the select and the pow both go
    f = dp.grad(lambda x: (x ** 3).sum())
    x = np.linspace(-2.0, 2.0, 9)
    optimised = run_pipeline(dp.make_graph(f)(x))
    assert "pow" not in _ops(optimised) and "select" not in _ops(optimised), optimised
    np.testing.assert_allclose(dp.jit(f)(x), 3 * x * x, rtol=1e-15)


def test_constant_select_keeps_shape_and_values():
    f = lambda x: (dp.numpy.where(True, 2.0, x), dp.numpy.where(False, 2.0, x))
    x = np.arange(4.0)
    optimised = run_pipeline(dp.make_graph(f)(x))
    assert "select" not in _ops(optimised), optimised
    a, b = dp.jit(f)(x)
    np.testing.assert_array_equal(a, np.full(4, 2.0))
    np.testing.assert_array_equal(b, x)
