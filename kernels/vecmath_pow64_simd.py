"""float64 pow as a vector function (vecmath_simd.py), in plain LLVM IR: 8 lanes on CPUs
with AVX-512F, 4 on CPUs with AVX2 and FMA.

Why: the scalar float64 pow (vecmath_pow._build_pow64) is branch-free, so every element
pays for every special case (denormal x, zero, inf, nan, negative x and the C99 pairs:
about a third of its time), and LLVM reads its five 128-entry tables with five gathers
per vector. Here a vector whose lanes are all ordinary (x a positive normal finite
number, y finite) runs pow_fast's steps only, and a vector with another lane runs the
whole of pow for all its lanes. The table values a lane needs sit next to each other
(invc and log c as hi and lo in one 32-byte row, 2^(j/128) and its tail in one 16-byte
row), so a lane costs one load per table instead of one per value.

Both paths are the scalar code's own steps in the same order (vecmath_pow's log_dd,
exp_dd and finish), so every lane gets the same bits as vecmath_pow's pow, whichever
path its vector took and whichever CPU it runs on: results do not depend on neighbours.
2^k is applied with llvm.ldexp (vscalefpd) on AVX-512 and as two exact power-of-two
factors elsewhere, as vecmath_bits.scale_magic does (the same bits).
"""
import functools

import numpy as np
from llvmlite import ir

from . import vecmath_pow, vecmath_simd
from .vecmath_bits import Consts
from .vecmath_pow import POW64_EXP_Q, POW64_LOG_P, POW64_OFF_BITS, POW64_X_HI

F = np.float64
K64 = Consts(F)
MAGIC = float(K64.MAGIC)
MAGIC_BITS = int(np.array(K64.MAGIC).view(np.int64))
MIN_NORMAL = float(K64.MIN_NORMAL)
TOP = -(1 << 52)                        # sign and exponent bits
X_HI = POW64_X_HI


class _Tables:
    """vecmath_pow's float64 tables, one row per index (what a lane reads with one
    load), and its ln2 splits."""

    def __init__(self):
        (invc, logc_hi, logc_lo, t_hi, t_tail), splits = vecmath_pow._pow64_tables()
        self.log_rows = np.stack([invc, logc_hi, logc_lo, np.zeros(128)], axis=1)
        self.exp_rows = np.stack([t_hi, t_tail], axis=1)
        self.ln2hi, self.ln2lo, self.l2n_hi, self.l2n_lo, self.invl2n = (float(v) for v in splits)


@functools.lru_cache(maxsize=None)
def _tables():
    # computed when a kernel first builds the function (~50 ms), not at import: a
    # process that only loads cached kernels never needs them
    return _Tables()


def _log_dd(v, ax, subnormals):
    """log(ax) as (hi, lo) for finite ax > 0 (other lanes: some value), as
    vecmath_pow's log_dd; without `subnormals` for lanes known to be normal."""
    if subnormals:
        sub = v.lt(ax, v.c64(MIN_NORMAL))
        ia = v.bits(v.sel(sub, v.mul(ax, v.c64(2.0 ** 52)), ax))
    else:
        ia = v.bits(ax)
    tmp = v.isub(ia, v.ci64(POW64_OFF_BITS))
    i = v.iand(v.ashr(tmp, 45), v.ci64(127))
    e = v.ashr(tmp, 52)
    if subnormals:
        e = v.isub(e, v.sel(sub, v.ci64(52), v.ci64(0)))
    k = v.to_float(e)
    T = _tables()
    invc, logc_hi, logc_lo, _ = v.rows64(T.log_rows, i)
    r = v.fma(v.flt(v.isub(ia, v.iand(tmp, v.ci64(TOP)))), invc, v.c64(-1.0))   # exact
    t1 = v.add(v.mul(k, v.c64(T.ln2hi)), logc_hi)                                  # exact
    h1 = v.add(t1, r)
    l1 = v.add(v.sub(t1, h1), r)
    ar = v.mul(v.c64(-0.5), r)
    ar2 = v.mul(r, ar)
    ar2lo = v.fma(r, ar, v.neg(ar2))
    h2 = v.add(h1, ar2)
    l2 = v.add(v.sub(h1, h2), ar2)
    small = v.add(ar2lo, v.add(v.mul(k, v.c64(T.ln2lo)), logc_lo))
    tail = v.mul(v.mul(v.mul(r, r), r), v.poly(POW64_LOG_P, r))
    lo = v.add(v.add(v.add(l1, l2), small), tail)
    h = v.add(h2, lo)
    return h, v.sub(lo, v.sub(h, h2))


def _exp_dd(v, x, lo):
    """e^(x + lo) for a small lo, as vecmath_pow's exp_dd."""
    T = _tables()
    xc = v.sel(v.lt(v.c64(X_HI), x), v.c64(X_HI), x)
    xc = v.sel(v.lt(xc, v.c64(-X_HI)), v.c64(-X_HI), xc)
    t = v.fma(xc, v.c64(T.invl2n), v.c64(MAGIC))          # 128*k2 + j in its low bits
    kf = v.sub(t, v.c64(MAGIC))
    r = v.sub(v.fma(kf, v.c64(-T.l2n_hi), xc), v.mul(kf, v.c64(T.l2n_lo)))
    r = v.add(r, v.sel(v.lt(v.abs(x), v.c64(X_HI)), lo, v.c64(0.0)))
    kj = v.isub(v.bits(t), v.ci64(MAGIC_BITS))
    t_hi, t_tail = v.rows64(T.exp_rows, v.iand(kj, v.ci64(127)))
    p = v.fma(v.mul(r, r), v.poly(POW64_EXP_Q, r), r)   # e^r - 1
    m = v.fma(t_hi, v.add(t_tail, p), t_hi)
    return _scale(v, m, v.ashr(kj, 7))


def _scale(v, m, k):
    """m * 2^k (int64 lanes, |k| <= 2*1023 - 2), rounded once (vecmath_bits.scale_magic)."""
    if m.type.count == 8:               # 8 float64 lanes: built for AVX-512F (native_lanes)
        return v.ldexp(m, v.b.trunc(k, ir.VectorType(vecmath_simd.I32, 8)))
    k1 = v.ashr(k, 1)
    k2 = v.isub(k, k1)

    def pow2(e):
        return v.flt(v.shl(v.iadd(e, v.ci64(1023)), 52))
    return v.mul(v.mul(m, pow2(k1)), pow2(k2))


def _finish(v, x, y, fin, mag):
    """vecmath_pow's finish: the sign for x < 0, nan for a negative x and a non-integer
    y, and pow(x, 0) = pow(1, y) = 1."""
    ay = v.abs(y)
    yint = v.eq(v.trunc(ay), ay)
    half = v.mul(ay, v.c64(0.5))
    yodd = v.m_and(yint, v.b.fcmp_unordered("!=", v.trunc(half), half))
    neg = v.ilt(v.bits(x), v.ci64(0))
    mag = v.sel(v.m_and(v.m_and(neg, v.m_not(yint)), fin), v.c64(np.nan), mag)
    mag = v.sel(v.m_and(neg, yodd), v.neg(mag), mag)
    return v.sel(v.m_or(v.eq(y, v.c64(0.0)), v.eq(x, v.c64(1.0))), v.c64(1.0), mag)


def _pow_full(v, x, y):
    """vecmath_pow's pow: every case, for a vector with a lane off the fast path."""
    zero = v.c64(0.0)
    ax = v.abs(x)
    h, lo = _log_dd(v, ax, subnormals=True)
    fin = v.m_and(v.lt(zero, ax), v.lt(ax, v.c64(np.inf)))
    h = v.sel(fin, h, v.sel(v.eq(ax, zero), v.c64(-np.inf), ax))
    one = v.eq(h, zero)                     # |x| == 1: 1 even for y = +-inf
    p = v.sel(one, zero, v.mul(y, h))
    plo = v.add(v.fma(y, h, v.neg(p)), v.mul(y, lo))
    plo = v.sel(v.m_or(one, v.m_not(fin)), zero, plo)
    return _finish(v, x, y, fin, _exp_dd(v, p, plo))


def _pow_fast(v, x, y):
    """vecmath_pow's pow_fast: x a positive normal finite number, y finite."""
    h, lo = _log_dd(v, x, subnormals=False)
    p = v.mul(y, h)
    return _exp_dd(v, p, v.add(v.fma(y, h, v.neg(p)), v.mul(y, lo)))


def pow_body(v, x, y):
    """The vector function: x**y on float64 lanes."""
    fn = v.b.function
    slow_block = fn.append_basic_block("slow")
    fast_block = fn.append_basic_block("fast")
    ordinary = v.m_and(v.m_and(v.ge(x, v.c64(MIN_NORMAL)), v.lt(x, v.c64(np.inf))),
                       v.lt(v.abs(y), v.c64(np.inf)))
    v.b.cbranch(v.any(v.m_not(ordinary)), slow_block, fast_block)

    v.b.position_at_end(slow_block)
    v.section = "slow"
    v.b.ret(_pow_full(v, x, y))

    v.b.position_at_end(fast_block)
    v.section = "main"
    return _pow_fast(v, x, y)


def call(context, builder, x, y):
    """Emit pow(x, y) (float64 values) in the current function through the vector
    function (for a context where vecmath_simd.native_lanes is not None)."""
    return vecmath_simd.call(builder, "dprog_pow", pow_body, [x, y], vecmath_simd.native_lanes(context) // 2)
