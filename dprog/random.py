"""dp.random: a counter-based, splittable random number generator usable under jit.

    key = dp.random.key(0)
    k1, k2 = dp.random.split(key)
    w = dp.random.normal(k1, (64, 10), dnp.float32)

There is no hidden state: every function takes a key, and the same key gives the same
numbers, eagerly or inside dp.jit. A key is an int64 array of shape (2,) holding two
32-bit words. Numbers come from the Threefry-2x32 block cipher (20 rounds; Salmon et al.,
"Parallel random numbers: as easy as 1, 2, 3", SC'11) applied to counters, written with
traced integer ops so the whole generator compiles into the caller's graph. Words are
kept in [0, 2**32) inside int64 lanes, so adds never overflow and shifts are logical.

Never reuse a key for two purposes: split it (or fold_in a number) and use the parts.
"""
import numpy as np

from . import dtypes
from . import numpy as dnp
from .errors import DtypeError, ShapeError, UnsupportedError, with_location
from .numpy._core import aval_of, asarray
from .trace import Tracer, is_tracing

MASK = 0xFFFFFFFF
_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_PARITY = 0x1BD11BDA
# The second counter word separates what a key is used for, so the words behind
# `bits(key)`, `split(key)` and `fold_in(key, d)` never coincide.
_TAG_BITS, _TAG_SPLIT, _TAG_FOLD = 0, 1, 2


def _rotl(x, r):
    return ((x << r) & MASK) | (x >> (32 - r))


def threefry2x32(k0, k1, x0, x1):
    """The Threefry-2x32-20 block function on 32-bit words held in int64 values."""
    ks = (k0, k1, (k0 ^ k1) ^ _PARITY)
    x0 = (x0 + ks[0]) & MASK
    x1 = (x1 + ks[1]) & MASK
    for block in range(5):
        for i in range(4):
            x0 = (x0 + x1) & MASK
            x1 = _rotl(x1, _ROTATIONS[(4 * block + i) % 8]) ^ x0
        inject = block + 1
        x0 = (x0 + ks[inject % 3]) & MASK
        x1 = (x1 + ks[(inject + 1) % 3] + inject) & MASK
    return x0, x1


# ------------------------------------------------------------------------------ keys

def key(seed):
    """A key from an integer seed (Python int or integer array; all 64 bits are used)."""
    if isinstance(seed, Tracer) or isinstance(seed, np.ndarray):
        seed = asarray(seed)
        if not dtypes.is_int(aval_of(seed).dtype) or aval_of(seed).ndim:
            raise DtypeError(with_location(
                f"random.key: the seed must be an integer scalar, got {aval_of(seed)}"))
        seed = dnp.astype(seed, dtypes.int64)
        return dnp.stack([(seed >> 32) & MASK, seed & MASK])
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise DtypeError(with_location(
            f"random.key: the seed must be an int, got {type(seed).__name__}"))
    seed = int(seed)
    return np.array([(seed >> 32) & MASK, seed & MASK], dtype=np.int64)


PRNGKey = key


def _check_key(k, name):
    k = asarray(k)
    aval = aval_of(k)
    if aval.shape != (2,) or not dtypes.is_int(aval.dtype):
        hint = (" (a batch of keys from split: index one, e.g. keys[0])" if aval.ndim == 2
                else "; make one with dp.random.key(seed)")
        raise ShapeError(with_location(
            f"random.{name}: expected a key (an int array of shape (2,)), got {aval}{hint}"))
    return dnp.astype(k, dtypes.int64)


def _blocks(k, count, tag):
    """Two words (y0, y1) for each of the counters (0..count-1, tag) under key k."""
    ctr = dnp.arange(count, dtype=dtypes.int64)
    return threefry2x32(k[0], k[1], ctr, tag)


def split(key, num=2):
    """`num` new independent keys, as an int64 array of shape (num, 2)."""
    k = _check_key(key, "split")
    y0, y1 = _blocks(k, int(num), _TAG_SPLIT)
    return dnp.stack([y0, y1], axis=1)


def fold_in(key, data):
    """A new key that depends on `key` and the integer `data` (taken modulo 2**32)."""
    k = _check_key(key, "fold_in")
    d = dnp.astype(asarray(data), dtypes.int64) & MASK
    if aval_of(d).ndim:
        raise ShapeError(with_location("random.fold_in: data must be an integer scalar"))
    y0, y1 = threefry2x32(k[0], k[1], d, _TAG_FOLD)
    return dnp.stack([y0, y1])


# --------------------------------------------------------------------------- numbers

def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _words(k, n):
    """n uniformly random 32-bit words (int64 values in [0, 2**32)), 1-d."""
    half = (n + 1) // 2
    y0, y1 = _blocks(k, max(half, 1), _TAG_BITS)
    words = dnp.concatenate([y0, y1])
    return words[:n] if n != 2 * max(half, 1) else words


def bits(key, shape=()):
    """Random 32-bit words as int64 values in [0, 2**32), of the given shape."""
    k = _check_key(key, "bits")
    shape = _shape(shape)
    n = int(np.prod(shape, dtype=np.int64))
    return dnp.reshape(_words(k, n), shape)


def _unit(k, shape, dtype):
    """Uniform [0, 1) floats with every value a multiple of 2**-24 (float32) or 2**-53."""
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == dtypes.float32:
        u = dnp.astype(_words(k, n) >> 8, dtype) * np.float32(2.0 ** -24)
    else:
        w = _words(k, 2 * n)
        hi, lo = w[:n] >> 6, w[n:] >> 5
        u = dnp.astype((hi << 27) | lo, dtype) * (2.0 ** -53)
    return dnp.reshape(u, shape)


def _float_dtype(dtype, name):
    dt = dtypes.canonical(dtype)
    if not dtypes.is_float(dt):
        raise DtypeError(with_location(f"random.{name}: dtype must be float32 or float64, got {dt}"))
    return dt


def uniform(key, shape=(), dtype=np.float64, minval=0.0, maxval=1.0):
    """Uniform floats in [minval, maxval)."""
    k = _check_key(key, "uniform")
    dt = _float_dtype(dtype, "uniform")
    shape = _shape(shape)
    u = _unit(k, shape, dt)
    lo, hi = dnp.astype(minval, dt), dnp.astype(maxval, dt)
    return dnp.maximum(lo, u * (hi - lo) + lo)


def normal(key, shape=(), dtype=np.float64):
    """Standard normal floats (Box-Muller on two independent uniforms)."""
    k = _check_key(key, "normal")
    dt = _float_dtype(dtype, "normal")
    shape = _shape(shape)
    u = _unit(k, (2,) + shape, dt)
    radius = dnp.sqrt(-2.0 * dnp.log(1.0 - u[0]))  # 1 - u is in (0, 1]: log is finite
    return radius * dnp.cos((2 * np.pi) * u[1])


def bernoulli(key, p=0.5, shape=None):
    """Bools that are True with probability p (p broadcasts against shape)."""
    k = _check_key(key, "bernoulli")
    p = asarray(p)
    shape = aval_of(p).shape if shape is None else _shape(shape)
    return _unit(k, shape, dtypes.float64) < p


def randint(key, shape, minval, maxval, dtype=np.int64):
    """Integers in [minval, maxval), from 63 random bits (the modulo bias is < 2**-31)."""
    k = _check_key(key, "randint")
    dt = dtypes.canonical(dtype)
    if not dtypes.is_int(dt):
        raise DtypeError(with_location(f"random.randint: dtype must be an integer type, got {dt}"))
    shape = _shape(shape)
    n = int(np.prod(shape, dtype=np.int64))
    w = _words(k, 2 * n)
    r = dnp.reshape(((w[:n] >> 1) << 32) | w[n:], shape)
    lo, hi = dnp.astype(minval, dtypes.int64), dnp.astype(maxval, dtypes.int64)
    span = dnp.maximum(hi - lo, 1)
    return dnp.astype(r % span + lo, dt)


def permutation(key, x):
    """A random permutation of range(x) (x an int) or of x's first axis.

    It sorts random numbers, and dprog has no sort primitive yet: call it outside jit.
    """
    k = _check_key(key, "permutation")
    if is_tracing() or isinstance(x, Tracer) or isinstance(k, Tracer):
        raise UnsupportedError(with_location(
            "random.permutation needs a sort, which dprog cannot trace yet; call it "
            "outside the jitted function and pass the permuted indices in"))
    n = int(x) if isinstance(x, (int, np.integer)) else np.shape(x)[0]
    order = np.argsort(np.asarray(_unit(k, (n,), dtypes.float64)), kind="stable")
    return order if isinstance(x, (int, np.integer)) else np.asarray(x)[order]


__all__ = ["key", "PRNGKey", "split", "fold_in", "bits", "uniform", "normal", "bernoulli",
           "randint", "permutation", "threefry2x32"]
