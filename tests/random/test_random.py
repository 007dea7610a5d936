"""dp.random: known-answer values of the cipher, determinism, jit == eager, statistics."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog import random as rnd


@pytest.mark.parametrize("key,ctr,expected", [
    # Known-answer vectors of Threefry-2x32-20 from the Random123 distribution.
    ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
])
def test_threefry_known_answers(key, ctr, expected):
    y0, y1 = rnd.threefry2x32(np.int64(key[0]), np.int64(key[1]),
                              np.array([ctr[0]], np.int64), np.array([ctr[1]], np.int64))
    assert (int(y0[0]), int(y1[0])) == expected


def test_threefry_traced_matches_known_answer():
    f = dp.jit(lambda k, c: rnd.threefry2x32(k[0], k[1], c[0], c[1]))
    y0, y1 = f(np.array([0x13198A2E, 0x03707344]), np.array([[0x243F6A88], [0x85A308D3]]))
    assert (int(y0[0]), int(y1[0])) == (0xC4923A9C, 0x483DF7A0)


def test_key_uses_all_seed_bits_and_is_deterministic():
    assert rnd.key(5).dtype == np.int64 and rnd.key(5).shape == (2,)
    np.testing.assert_array_equal(rnd.key(2**40 + 3), [256, 3])
    a = rnd.uniform(rnd.key(7), (100,))
    np.testing.assert_array_equal(a, rnd.uniform(rnd.key(7), (100,)))
    assert not np.allclose(a, rnd.uniform(rnd.key(8), (100,)))
    assert not np.allclose(a, rnd.uniform(rnd.key(7 + 2**32), (100,)))


def test_split_gives_distinct_independent_keys():
    keys = rnd.split(rnd.key(0), 4)
    assert keys.shape == (4, 2) and keys.dtype == np.int64
    assert len({tuple(k) for k in keys.tolist()}) == 4
    assert ((keys >= 0) & (keys < 2**32)).all()
    draws = np.stack([rnd.normal(k, (20000,)) for k in keys])
    corr = np.corrcoef(draws)
    assert np.abs(corr - np.eye(4)).max() < 0.03  # 4.2 standard errors at n = 20000
    # A split key's stream differs from its parent's.
    parent = rnd.normal(rnd.key(0), (20000,))
    assert abs(np.corrcoef(parent, draws[0])[0, 1]) < 0.03


def test_fold_in_distinct_per_value_and_deterministic():
    k = rnd.key(3)
    folded = [tuple(rnd.fold_in(k, i).tolist()) for i in range(50)]
    assert len(set(folded)) == 50
    assert folded[7] == tuple(rnd.fold_in(k, 7).tolist())
    assert tuple(rnd.split(k, 1)[0].tolist()) not in folded


def test_jit_equals_eager():
    def draw(k):
        k1, k2, k3, k4 = rnd.split(k, 4)
        return (rnd.uniform(k1, (3, 5), np.float32, -2.0, 3.0), rnd.normal(k2, (7,)),
                rnd.bernoulli(k3, 0.3, (11,)), rnd.randint(k4, (6,), 5, 17),
                rnd.fold_in(k, 12), rnd.bits(k, (4,)))
    k = rnd.key(11)
    for got, want in zip(dp.jit(draw)(k), draw(k)):
        assert got.dtype == want.dtype
        assert_same_numbers(got, want)


def assert_same_numbers(got, want):
    """Bits are exact; floats may differ by an ULP where a fused kernel contracts a*b+c
    into one fused multiply-add."""
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=2 * np.finfo(got.dtype).eps, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


def test_key_from_traced_seed_matches_concrete():
    f = dp.jit(lambda s: rnd.normal(rnd.key(s), (5,)))
    assert_same_numbers(f(np.int64(2**33 + 9)), rnd.normal(rnd.key(2**33 + 9), (5,)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_moments_and_range(dtype):
    u = rnd.uniform(rnd.key(1), (200000,), dtype)
    assert u.dtype == dtype and u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.004          # se = 0.00065
    assert abs(u.var() - 1 / 12) < 0.002
    hist, _ = np.histogram(u, bins=20, range=(0, 1))
    expected = len(u) / 20
    assert ((hist - expected) ** 2 / expected).sum() < 50  # chi2(19): p(>50) ~ 1e-4
    v = rnd.uniform(rnd.key(1), (1000,), dtype, minval=-3.0, maxval=-1.0)
    assert v.min() >= -3.0 and v.max() < -1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_moments(dtype):
    z = rnd.normal(rnd.key(2), (200000,), dtype).astype(np.float64)
    assert abs(z.mean()) < 0.01                 # se = 0.0022
    assert abs(z.var() - 1.0) < 0.02
    assert abs(np.mean(z ** 3)) < 0.05          # skewness 0
    assert abs(np.mean(z ** 4) - 3.0) < 0.1     # kurtosis 3
    assert abs(np.mean(np.abs(z) < 1.0) - 0.6827) < 0.005


def test_bernoulli_and_randint():
    b = rnd.bernoulli(rnd.key(4), 0.25, (100000,))
    assert b.dtype == np.bool_ and abs(b.mean() - 0.25) < 0.006
    p = np.array([0.0, 1.0, 0.5])
    assert rnd.bernoulli(rnd.key(4), p).shape == (3,)
    r = rnd.randint(rnd.key(5), (60000,), 3, 9, np.int32)
    assert r.dtype == np.int32 and r.min() == 3 and r.max() == 8
    counts = np.bincount(r - 3)
    assert np.abs(counts / len(r) - 1 / 6).max() < 0.01


def test_permutation():
    perm = rnd.permutation(rnd.key(6), 100)
    assert sorted(perm.tolist()) == list(range(100)) and perm.tolist() != list(range(100))
    np.testing.assert_array_equal(perm, rnd.permutation(rnd.key(6), 100))
    x = np.arange(10) * 10
    assert sorted(rnd.permutation(rnd.key(6), x).tolist()) == x.tolist()
    with pytest.raises(dp.DprogError, match="outside the jitted function"):
        dp.jit(lambda k: rnd.permutation(k, 5))(rnd.key(0))


def test_bad_keys_raise_clear_errors():
    with pytest.raises(dp.DprogError, match="index one"):
        rnd.uniform(rnd.split(rnd.key(0)), (3,))
    with pytest.raises(dp.DprogError, match="dp.random.key"):
        rnd.normal(np.array([1.0, 2.0]), (3,))
    with pytest.raises(dp.DprogError, match="float32 or float64"):
        rnd.uniform(rnd.key(0), (3,), np.int32)


def test_bitwise_ops_match_numpy_eager_and_traced():
    x = np.array([0, 1, 5, 2**31 + 7, 2**40 - 1, -3], np.int64)
    y = np.array([3, 6, 12, 2**32 - 1, 17, 5], np.int64)

    def f(a, b):
        return (dnp.bitwise_and(a, b), dnp.bitwise_or(a, b), dnp.bitwise_xor(a, b),
                dnp.left_shift(a, 3), dnp.right_shift(a, 2), dnp.invert(a), a & b, a ^ 7, ~a,
                a >> 1, 1 << (b & 7))
    want = (x & y, x | y, x ^ y, x << 3, x >> 2, ~x, x & y, x ^ 7, ~x, x >> 1, 1 << (y & 7))
    for got in (f(x, y), dp.jit(f)(x, y)):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    b = np.array([True, False, True])
    np.testing.assert_array_equal(dp.jit(lambda p: (p & ~p[::-1]) | p[::-1])(b),
                                  (b & ~b[::-1]) | b[::-1])
    with pytest.raises(dp.DprogError, match="integer"):
        dnp.bitwise_and(np.ones(2), np.ones(2))
