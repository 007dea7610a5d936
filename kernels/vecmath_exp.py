"""exp, exp2, expm1, log, log2, log10, log1p for one float dtype (see build()).

exp: x = k*ln2 + r, |r| <= ln2/2 (Cody-Waite with FMA), e^r = 1 + r + r^2*g(r) with g a
Chebyshev fit (mpmath.chebyfit), 2^k applied as two exact power-of-two factors so that
results that overflow become inf and results in the denormal range are rounded once.
log: x = 2^e * m with m in [sqrt(1/2), sqrt(2)) read from the bits (musl's trick);
float64: log(m) = 2*atanh(s), s = (m-1)/(m+1), arranged as in fdlibm's e_log.c;
float32: a polynomial in f = m-1 (no division).
Special values are fixed up with selects (never branches on data: branches stop LLVM
from vectorising the caller's loop).
"""
from types import SimpleNamespace

import numpy as np

from .vecmath_bits import Consts, fma, frexp_sqrt2, jit, magic_k, make_poly, scale_magic

# (e^r - 1 - r) / r^2 on [-ln2/2, ln2/2]; relative error of e^r: 3e-19 (f64), 9e-9 (f32).
EXP_G = {
    np.float64: (2.0914679376583935e-09, 2.510520637395701e-08, 2.7557273661348637e-07,
                 2.7557255425746435e-06, 2.4801587325533363e-05, 0.00019841269874800493,
                 0.0013888888888883752, 0.008333333333326141, 0.04166666666666667,
                 0.1666666666666667, 0.5),
    np.float32: (0.001392617611993558, 0.008363173074513711, 0.041666554662050534,
                 0.1666657702559799, 0.5),
}
# (log(1+f) - f)/f^2 on [sqrt(1/2)-1, sqrt(2)-1] (float32 only; rel. error of log 8e-9).
LOG1P_P2 = (-0.07673641501674025, 0.1272267278801096, -0.1312755565128765, 0.14204855952571013,
            -0.16626645629127462, 0.20001234461093456, -0.25000781239812697,
            0.33333330028354796, -0.4999999764977098)
# (2*atanh(s)/s - 2) / s^2 as a polynomial in z = s^2, z in [0, 0.0295].
LOG_Q = {
    np.float64: (0.14616449685043406, 0.15331721600556042, 0.18182889125261723,
                 0.2222221113479508, 0.28571428625975487, 0.39999999999899505,
                 0.666666666666667),
    np.float32: (0.23330467216303835, 0.28550820815960665, 0.40000121839806124,
                 0.6666666655449709),
}


def hi_bits(v, bits):
    """v rounded to `bits` significant bits, so that small integer multiples are exact."""
    m, e = np.frexp(v)
    return float(np.ldexp(np.round(np.ldexp(m, bits)), e - bits))


def build(F):
    K = Consts(F)
    MANT, MAGIC = K.MANT, K.MAGIC
    LN2HI, LN2LO, LOG2E, LN2 = K.LN2HI, K.LN2LO, K.LOG2E, K.LN2
    LN2_LO_FULL = F(np.log(2.0) - float(K.LN2))
    INF, NAN, ZERO, ONE, HALF, TWO = K.INF, K.NAN, F(0), F(1), F(0.5), F(2)
    f32 = F is np.float32
    # Clamps keep k small enough for exact k*LN2HI and for scale_magic's two factors, and
    # are far enough out that the clamped result is already inf or 0 (or -1 for expm1).
    X_HI, X_LO = (F(100), F(-120)) if f32 else (F(1100), F(-1100))
    EM1_HI, EM1_LO = (F(89), F(-20)) if f32 else (F(710), F(-40))
    g = make_poly(EXP_G[F], F)
    # e^r = 1 + r + r^2*g(r) as one Horner chain: one instruction fewer than
    # 1 + fma(r^2, g(r), r), and no less accurate (float32 exp over every third float:
    # max 0.94 ulp against 1.06)
    exp_poly = make_poly(tuple(EXP_G[F]) + (1.0, 1.0), F)
    q = make_poly(LOG_Q[F], F)
    p2 = make_poly(LOG1P_P2, F)
    SUB_SCALE, SUB_E = K.SUB_SCALE, F(-(MANT + 2))
    MIN_NORMAL = K.MIN_NORMAL
    INVLN2 = F(1 / np.log(2.0))
    INVLN10 = F(1 / np.log(10.0))
    L10_2HI = F(hi_bits(np.log10(2.0), MANT + 1 - 12))   # e*L10_2HI exact for |e| < 2^12
    L10_2LO = F(np.log10(2.0) - float(L10_2HI))

    @jit
    def clamp(x, lo, hi):
        # written so that nan falls through unchanged
        x = hi if x > hi else x
        return lo if x < lo else x

    @jit
    def reduce(x):
        # x = kf*ln2 + r; the FMA adds MAGIC with a single rounding, giving round(x/ln2),
        # and t keeps k in its low bits for scale_magic
        t = fma(x, LOG2E, MAGIC)
        kf = magic_k(t)                    # t - MAGIC (converted as scale_magic converts)
        r = fma(kf, -LN2HI, x)
        r = fma(kf, -LN2LO, r)
        return t, r

    @jit
    def exp_k(x, kadj):
        # e^x * 2^kadj (kadj = -1: e^x / 2, finite up to where that overflows)
        t, r = reduce(clamp(x, X_LO, X_HI))
        return scale_magic(exp_poly(r), t, kadj)

    @jit
    def exp(x):
        return exp_k(x, 0)

    @jit
    def exp_half(x):
        # e^x / 2 (sinh, cosh)
        return exp_k(x, -1)

    @jit
    def exp2(x):
        xc = clamp(x, X_LO * LOG2E, X_HI * LOG2E)
        t = xc + MAGIC
        rr = xc - magic_k(t)               # exact, |rr| <= 1/2 (magic_k: t - MAGIC)
        r = fma(rr, LN2, rr * LN2_LO_FULL)
        return scale_magic(exp_poly(r), t, 0)

    @jit
    def expm1(x):
        t, r = reduce(clamp(x, EM1_LO, EM1_HI))
        pm = fma(r * r, g(r), r)           # e^r - 1
        h = scale_magic(ONE, t, -1)        # 2^(k-1): avoids 2^1024 at the top end
        big = TWO * fma(h, pm, h - HALF)   # 2^k*(1+pm) - 1 with h - 1/2 exact
        res = pm if t == MAGIC else big    # k == 0
        return x if x == ZERO else res     # keeps -0.0

    @jit
    def split(x):
        # x > 0 finite -> (e, f) with x = 2^e * (1 + f), 1 + f in [sqrt(1/2), sqrt(2))
        sub = x < MIN_NORMAL
        e, m = frexp_sqrt2(x * SUB_SCALE if sub else x)
        return (e + SUB_E if sub else e), m - ONE

    @jit
    def log1p_core(f):
        # log(1+f) = f - (hfsq - s*(hfsq + R)) ; returns (hfsq, s*(hfsq+R)) pieces
        s = f / (TWO + f)
        z = s * s
        hfsq = HALF * f * f
        return hfsq, s * (hfsq + z * q(z))

    @jit
    def fix_log(x, res):
        res = NAN if x < ZERO else res
        res = -INF if x == ZERO else res
        return x + x if not (x < INF) else res   # +inf -> inf, nan -> nan

    @jit
    def log1p_f(f):
        # log(1+f) for f in [sqrt(1/2)-1, sqrt(2)-1]; float32: a polynomial, which saves
        # the division; float64: fdlibm's 2*atanh(s) form, as (big, small) pieces
        if f32:
            return f, f * f * p2(f)
        hfsq, t = log1p_core(f)
        return f, -(hfsq - t)

    @jit
    def split_normal(x):
        # split for x >= MIN_NORMAL, finite (the same steps without the denormal scaling)
        e, m = frexp_sqrt2(x)
        return e, m - ONE

    @jit
    def log_of(e, f):
        big, small = log1p_f(f)
        return e * LN2HI + ((e * LN2LO + small) + big)

    @jit
    def log2_of(e, f):
        big, small = log1p_f(f)
        return e + (big + small) * INVLN2

    @jit
    def log10_of(e, f):
        big, small = log1p_f(f)
        return e * L10_2HI + (e * L10_2LO + (big + small) * INVLN10)

    def exact_and_fast(of):
        """A logarithm (`of` the split x) and its fast form for kernels (Op.fast): the
        same steps without the denormal scaling and fix_log's selects, so bit-identical
        wherever log_special(x) is false (x normal, positive and finite). float32 log in
        cache 0.42 -> 0.31 ns per element, float64 1.12 -> 0.88; a kernel redoes its
        slice with the exact form if log_special held for any element
        (dprog/codegen/cpu_kernel.py)."""
        @jit
        def exact(x):
            e, f = split(x)
            return fix_log(x, of(e, f))

        @jit
        def fast(x):
            e, f = split_normal(x)
            return of(e, f)
        return exact, fast

    log, log_fast = exact_and_fast(log_of)
    log2, log2_fast = exact_and_fast(log2_of)
    log10, log10_fast = exact_and_fast(log10_of)

    @jit
    def log_special(x):
        return not ((x >= MIN_NORMAL) & (x < INF))

    @jit
    def log1p(x):
        u = ONE + x
        c = (x - (u - ONE)) / u            # rounding error of 1 + x, relative to u
        e, f = split(u)
        big, small = log1p_f(f)
        res = e * LN2HI + ((e * LN2LO + (small + c)) + big)
        res = fix_log(u, res)
        return x if x == ZERO else res     # keeps -0.0

    return SimpleNamespace(**{k: v for k, v in locals().items()
                              if callable(v) and k != "exact_and_fast"})
