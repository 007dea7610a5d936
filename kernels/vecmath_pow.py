"""pow for float32 and float64 (C99/NumPy special cases).

float64: log|x| as a double-word from a 128-entry table (exact reduction, no division),
times y, then e^(that) from a 128-entry table of 2^(j/128). float32: in float32
arithmetic without tables (16 lanes per 512-bit vector): log2|x| as a double-word from
s = (m-1)/(m+1) (one division) and an atanh series, times y as a double-word, then 2^t
from a polynomial. Both pick the special results with selects (finish), so the caller's
loop still vectorises. (On CPUs with AVX-512F, float32 pow is vecmath_pow_simd.py's
vector function instead; this float32 code serves the others. On CPUs with AVX2 or
AVX-512, float64 vpow is vecmath_pow64_simd.py's vector function, the same steps with
the same bits; kernels' pow_fast and pow_special stay this code.)
"""
import functools
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np

from .vecmath_bits import Consts, f2i, fma, frexp_sqrt2, i2f, jit, make_poly, scale_magic


def build(F):
    """{"pow": pow, "pow_fast": ..., "pow_special": ...} for dtype F.

    pow_fast(x, y) is pow without its special cases: bit-identical to pow wherever
    pow_special(x, y) is false (x a positive normal finite number, y finite), whatever
    the result's size. Kernels compute with pow_fast and run their slice again with pow
    if pow_special held for any element (Op.fast; dprog/codegen/cpu_kernel.py), so the
    common slice skips the selects for zero, negative, denormal and non-finite
    arguments (~30% of float64 pow's time in cache)."""
    K = Consts(F)
    return _build_pow32(K) if F is np.float32 else _build_pow64(K)


def _build_pow_special(K):
    """Is (x, y) a pair that pow_fast does not cover (see build)?"""
    MIN_NORMAL, INF = K.MIN_NORMAL, K.INF

    @jit
    def pow_special(x, y):
        return not ((x >= MIN_NORMAL) & (x < INF) & (abs(y) < INF))

    return pow_special


# float64 pow. log: |x| = 2^k * z with z in [POW64_OFF, 2*POW64_OFF), cut into 128 pieces
# by 7 mantissa bits counted from POW64_OFF's bits (1.0 at the centre of piece 74). Each
# piece has invc = J/128 near 1/z (1 for the piece holding 1.0), so r = z*invc - 1 is
# exact in float64 (|r| < 2^-7 where z < 1, z's last bit is 2^-53; < 2^-6 above), and
# log|x| = k*ln2 + log(1/invc) + log(1+r): the first two exact as tabulated (hi parts on
# a 2^-42 grid), r exact, log(1+r) = r - r^2/2 + r^3*P(r) with -r^2/2 in double-word.
# Relative error of the double-word log: below 2^-63. exp: x = (128*k2 + j)*ln2/128 + r,
# |r| <= ln2/256, e^x = 2^k2 * 2^(j/128) * (1 + r + r^2*Q(r)), 2^(j/128) as a float and
# its relative tail. The tables are computed here in decimal arithmetic (45 digits).
POW64_OFF_BITS = 0x3ff0000000000000 - (74 * 2**45 + 2**44)
POW64_X_HI = 1100.0      # exp's argument is clamped to +-this: e^x is inf or 0 beyond, k2 stays small
# (log1p(r) - r + r^2/2) / r^3 on |r| <= 0.0081 (Chebyshev interpolation at 6 nodes in
# mpmath, 200 bits; abs. error 1e-15, so r^3*P errs by < 2^-63 of r)
POW64_LOG_P = (-0.125009830553578, 0.14286806568225008, -0.16666666642507783,
               0.19999999973156835, -0.2500000000000009, 0.3333333333333343)
# (e^r - 1 - r) / r^2 on |r| <= 0.002735 (same method, 4 nodes; rel. error of e^r 2^-63.6)
POW64_EXP_Q = (0.008333334817160242, 0.041666677053455295, 0.16666666666666527,
               0.4999999999999903)


def _on_grid(v, step_bits):
    """Decimal v rounded to a multiple of 2^-step_bits, as a float (exact)."""
    return float(Fraction(int((v * 2 ** step_bits).to_integral_value()), 2 ** step_bits))


@functools.lru_cache(maxsize=None)
def _pow64_tables():
    """invc, log(1/invc) as hi (2^-42 grid) + lo, 2^(j/128) and its relative tail, and the
    ln2 splits; asserts that every piece's r = z*invc - 1 is exact. Cached: the scalar
    code and the vector function (vecmath_pow64_simd.py) share them (read-only)."""
    def z_at(bits):
        return Fraction(float(np.array(bits, np.int64).view(np.float64)))
    invc, logc_hi, logc_lo, t_hi, t_tail = [], [], [], [], []
    with localcontext() as ctx:
        ctx.prec = 45
        for i in range(128):
            a, b = z_at(POW64_OFF_BITS + i * 2**45), z_at(POW64_OFF_BITS + (i + 1) * 2**45)
            candidates = [128] if a <= 1 < b else range(int(128 / b) - 1, int(128 / a) + 2)
            j = min(candidates, key=lambda j: max(abs(a * Fraction(j, 128) - 1), abs(b * Fraction(j, 128) - 1)))
            r_max = max(abs(a * Fraction(j, 128) - 1), abs(b * Fraction(j, 128) - 1))
            assert r_max < (Fraction(1, 128) if b <= 1 else Fraction(1, 64)), i
            invc.append(j / 128)
            logc = -(Decimal(j) / 128).ln()
            logc_hi.append(_on_grid(logc, 42))
            logc_lo.append(float(logc - Decimal(logc_hi[-1])))
        ln2 = Decimal(2).ln()
        for j in range(128):
            v = (ln2 * j / 128).exp()
            t_hi.append(float(v))
            t_tail.append(float((v - Decimal(t_hi[-1])) / Decimal(t_hi[-1])))
        ln2_hi = _on_grid(ln2, 42)             # k*ln2_hi exact for |k| < 2^11
        l2n_hi = _on_grid(ln2 / 128, 41)       # 34 bits: kf*l2n_hi exact for |kf| < 2^18
        splits = (ln2_hi, float(ln2 - Decimal(ln2_hi)), l2n_hi, float(ln2 / 128 - Decimal(l2n_hi)),
                  float(128 / ln2))
    return [np.array(t, np.float64) for t in (invc, logc_hi, logc_lo, t_hi, t_tail)], splits


def _build_pow64(K):
    """float64 pow, within 0.51 ulp on the test's samples (0.61 on 8M harder ones, where
    the division-based double-word log it replaced reached 1.59). In cache, one thread,
    against NumPy's SVML loop in the same process (benchmarks as in VECMATH.md): 0.75x
    NumPy's speed, the code it replaced 0.53x."""
    F = np.float64
    ZERO, ONE, INF, MAGIC = F(0), F(1), K.INF, K.MAGIC
    finish = _build_pow_finish(K)
    (INVC, LOGC_HI, LOGC_LO, T_HI, T_TAIL), splits = _pow64_tables()
    LN2HI, LN2LO, L2N_HI, L2N_LO, INVL2N = (F(v) for v in splits)
    log_p = make_poly(POW64_LOG_P, F)
    exp_q = make_poly(POW64_EXP_Q, F)
    TOP = -(1 << 52)                          # sign and exponent bits
    MAGIC_BITS = int(np.array(MAGIC).view(np.int64))
    MIN_NORMAL, TWO52, MHALF = K.MIN_NORMAL, F(2.0 ** 52), F(-0.5)
    X_HI = F(POW64_X_HI)

    @jit
    def log_dd(ax):
        # log(ax) as hi + lo for finite ax > 0 (other ax: some value, selected away)
        sub = ax < MIN_NORMAL
        ia = f2i(ax * TWO52 if sub else ax)
        tmp = ia - POW64_OFF_BITS
        i = (tmp >> 45) & 127
        k = F((tmp >> 52) - (52 if sub else 0))
        r = fma(i2f(ia - (tmp & TOP)), INVC[i], -ONE)    # exact
        t1 = k * LN2HI + LOGC_HI[i]                       # exact
        h1 = t1 + r                  # |t1| >= 1.33|r| unless t1 == 0: Fast2Sum is exact
        l1 = (t1 - h1) + r
        ar = MHALF * r
        ar2 = r * ar                                      # -r^2/2 = ar2 + ar2lo
        ar2lo = fma(r, ar, -ar2)
        h2 = h1 + ar2
        l2 = (h1 - h2) + ar2
        lo = (l1 + l2) + (ar2lo + (k * LN2LO + LOGC_LO[i])) + r * r * r * log_p(r)
        h = h2 + lo
        return h, lo - (h - h2)

    @jit
    def exp_dd(x, lo):
        # e^(x + lo) for a small lo, rounded once (denormal results twice)
        xc = X_HI if x > X_HI else x
        xc = -X_HI if xc < -X_HI else xc
        t = fma(xc, INVL2N, MAGIC)            # 128*k2 + j in its low bits
        kf = t - MAGIC
        r = fma(kf, -L2N_HI, xc) - kf * L2N_LO
        r = r + (lo if abs(x) < X_HI else ZERO)   # lo is meaningless once clamped
        kj = f2i(t) - MAGIC_BITS
        j = kj & 127
        p = fma(r * r, exp_q(r), r)           # e^r - 1
        m = fma(T_HI[j], T_TAIL[j] + p, T_HI[j])
        return scale_magic(m, i2f(MAGIC_BITS + (kj >> 7)), 0)

    @jit
    def pow(x, y):
        # C99/NumPy special cases fall out of log and exp (log 0 = -inf, log inf = inf)
        # with a few selects; & and | instead of and/or keep the code branch-free
        ax = abs(x)
        h, lo = log_dd(ax)
        fin = (ax > ZERO) & (ax < INF)
        h = h if fin else (-INF if ax == ZERO else ax)
        one = h == ZERO                        # |x| == 1: 1 even for y = +-inf
        p = ZERO if one else y * h
        plo = ZERO if (one | (not fin)) else fma(y, h, -p) + y * lo
        return finish(x, y, fin, exp_dd(p, plo))

    @jit
    def pow_fast(x, y):
        # pow's steps for a normal x > 0 and a finite y, where its selects all pass the
        # computed value through: for x == 1 (h == 0) or y == 0 the product is +-0 and
        # exp_dd gives exactly 1, the value pow selects
        h, lo = log_dd(x)
        p = y * h
        return exp_dd(p, fma(y, h, -p) + y * lo)

    return {"pow": pow, "pow_fast": pow_fast, "pow_special": _build_pow_special(K)}


def _build_pow_finish(K):
    """pow(x, y) from mag = |x|**y (fin: x finite and nonzero): the sign for x < 0 (nan
    unless y is an integer, negative for odd y) and the C99 results that hold whatever
    the magnitude, pow(x, 0) = pow(1, y) = 1 (nan included)."""
    F = K.F
    ZERO, ONE, NAN, HALF = F(0), F(1), K.NAN, F(0.5)

    @jit
    def finish(x, y, fin, mag):
        # is y an (odd) integer? (llvm.trunc: one instruction; inf counts as even, nan
        # as no integer)
        ay = abs(y)
        yint = np.trunc(ay) == ay
        half = ay * HALF
        yodd = yint & (np.trunc(half) != half)
        neg = f2i(x) < 0
        mag = NAN if (neg & (not yint) & fin) else mag
        mag = -mag if (neg & yodd) else mag
        return ONE if ((y == ZERO) | (x == ONE)) else mag

    return finish


# float32 pow in float32 arithmetic (16 lanes per 512-bit vector), no tables.
# log2: |x| = 2^e * m, m in [sqrt(1/2), sqrt(2)), s = (m-1)/(m+1) as sh + sl (one
# division; sl from the exact remainder, and 1/(m+1) = (1-s)/2), then
# log2(m) = C*s + (C/3)*s^3 + s^5*R(s^2), C = 2/ln2, with C*s and (C/3)*s^3 as exact
# double-word products (FMA) and C, C/3 each split in two floats.
# (log2((1+s)/(1-s)) - C*s - C*s^3/3) / s^5 as a polynomial in z = s^2 on [0, 0.02944]
# (mpmath.chebyfit, 50 digits, 4 nodes; with the float32 coefficients the tail errs by
# 2^-36.8 relative to C*s). The kernel appends C/3's low part as the constant term and
# multiplies by s^3.
POW32_R = (0.27584985334650425, 0.32034700155023904, 0.41220007270570375,
           0.5770780149840546)
# (2^r - 1 - r*ln2) / r^2 on |r| <= 0.5002 (mpmath.chebyfit, 50 digits, 6 nodes; with
# the float32 coefficients 2^r errs by 2^-30.7 relative)
POW32_P = (1.5290979165437358e-05, 0.0001545320271879925, 0.0013333522250187197,
           0.009618082482680665, 0.05550410871472039, 0.24022650760723566)


def _split32(v):
    """Decimal v as float32 hi + lo (hi + lo within 2^-48 of v)."""
    hi = float(np.float32(float(v)))
    return np.float32(hi), np.float32(float(v - Decimal(hi)))


def _build_pow32(K):
    """float32 pow in float32 arithmetic, branch-free and table-free, so the loop runs
    16 lanes wide (no float64, no gathers; one division).

    Error budget: t = y*log2|x| must be right to about 2^-27 absolute while |t| <= 150
    (the range of finite nonzero float32 results). log2|x| as hi + lo errs by < 2^-33
    relative (measured on a sweep of m with mpmath: the float32 rounding of the s^5 tail
    dominates; the tail's fit errs by 2^-36.8, the rest is exact or 2^-47), and
    y*(hi + lo) is an exact product plus small terms, so t errs by < 2^-26. exp2:
    t = k + r, r = (t_hi - k) + t_lo, 2^r = (1 + rh*ln2) + (r^2*P(r) + t_lo*ln2) with
    1 + rh*ln2 as an exact pair (rh = t_hi - k is exact), so the only large rounding is
    the last addition; the others add about 2^-28 (P fits 2^r within 2^-30.7). Results
    below 2^-126 are rounded twice (the sum, then the scaling into the denormal range).

    Measured (2026-11-27, development VM under load from another job, interleaved runs):
    max error 0.72 ulp on the test's samples and 0.78 ulp on 4M more pairs (results of
    every size including denormals, x near 1 with |y| up to 3e7, denormal x, negative x
    with integer y; float64 reference), against 0.53 ulp for the float64-based code it
    replaced and NumPy's own 0.98-1.52. Speed, one thread: 1.55-1.75 ns per element in
    cache against 2.0-2.2 ns before (NumPy/SVML 0.83-0.9 ns, so still ~0.53x NumPy), and
    1.8 ns against 2.2 ns per element on 10M elements (NumPy 1.2-1.3 ns: ~0.65-0.7x)."""
    F = K.F
    ZERO, ONE, HALF, INF = F(0), F(1), F(0.5), K.INF
    finish = _build_pow_finish(K)
    with localcontext() as ctx:
        ctx.prec = 45
        ln2 = Decimal(2).ln()
        C_HI, C_LO = _split32(2 / ln2)
        K3_HI, K3_LO = _split32(2 / (3 * ln2))
        LN2F = np.float32(float(ln2))           # within 2^-29 of ln2
    rpoly = make_poly(POW32_R + (float(K3_LO),), F)   # K3_LO + z*R(z)
    ppoly = make_poly(POW32_P, F)
    SUB_SCALE, SUB_E, MIN_NORMAL, MAGIC = K.SUB_SCALE, F(-(K.MANT + 2)), K.MIN_NORMAL, K.MAGIC
    T_MAX = F(200)                              # 2^t is inf or 0 beyond

    @jit
    def log2_dd(ax):
        # log2(ax) as hi + lo for finite ax > 0 (other ax: some value, selected away)
        sub = ax < MIN_NORMAL
        e, m = frexp_sqrt2(ax * SUB_SCALE if sub else ax)
        e = e + SUB_E if sub else e
        f = m - ONE                              # exact
        d = m + ONE
        dl = m - (d - ONE)                       # d + dl == m + 1 (Fast2Sum)
        sh = f / d
        # s - sh = (f - sh*(m+1)) / (m+1), the remainder exact by FMA, 1/(m+1) = (1-s)/2
        sl = fma(-sh, dl, fma(-sh, d, f)) * fma(-HALF, sh, HALF)
        z = sh * sh
        zl = fma(sh, sh, -z)
        b = z * sh                               # sh^3 = b + bl + zl*sh
        bl = fma(z, sh, -b)
        v = C_HI * sh
        vl = fma(C_HI, sh, -v)
        u = K3_HI * b
        ul = fma(K3_HI, b, -u)
        h = v + u                                # |u| < |v|/100: Fast2Sum
        hl = (v - h) + u
        lo = fma(C_LO, sh, vl + ul)
        lo = fma(C_HI, fma(sl, z, sl), lo)       # sl*(d/ds)(C*s + C*s^3/3)
        lo = fma(K3_HI, fma(zl, sh, bl), lo)
        lo = fma(b, rpoly(z), lo)                # C/3's low part and the s^5 tail
        hi = e + h                               # |e| >= 1 > |h| or e == 0: Fast2Sum
        return hi, ((e - hi) + h) + (hl + lo)

    @jit
    def exp2_dd(th, tl):
        # 2^(th + tl), th clamped (nan falls through), tl small unless th is beyond T_MAX
        th = T_MAX if th > T_MAX else th
        th = -T_MAX if th < -T_MAX else th
        tk = th + MAGIC                          # k = round(th) in the low bits
        rh = th - (tk - MAGIC)                   # exact, |rh| <= 1/2
        r = rh + tl
        # 2^r = 1 + r*ln2 + r^2*P(r): 1 + rh*ln2 as a + a_err (exact: 1 - a by Sterbenz),
        # so that the only large rounding is the final one
        a = fma(rh, LN2F, ONE)
        a_err = fma(rh, LN2F, ONE - a)
        small = a_err + fma(tl, LN2F, r * r * ppoly(r))
        return scale_magic(a + small, tk, 0)

    @jit
    def pow(x, y):
        # special values: log2 0 = -inf, log2 inf = inf, nan stays nan, and t is clamped,
        # so 2^t gives 0, inf or nan; finish applies the signs and C99 special pairs
        ax = abs(x)
        hi, lo = log2_dd(ax)
        fin = (ax > ZERO) & (ax < INF)
        hi = hi if fin else (-INF if ax == ZERO else ax)
        one = ax == ONE                          # |x| == 1: 1 even for y = +-inf
        p = y * hi
        th = ZERO if one else p
        tl = fma(y, hi, -p) + y * lo
        tl = tl if (abs(th) < T_MAX) & (not one) else ZERO
        return finish(x, y, fin, exp2_dd(th, tl))

    @jit
    def pow_fast(x, y):
        # pow's steps for a normal x > 0 and a finite y; for x == 1 (hi == lo == 0) or
        # y == 0, th and tl are +-0 where pow selects +0, and exp2_dd gives exactly 1
        # either way
        hi, lo = log2_dd(x)
        p = y * hi
        tl = fma(y, hi, -p) + y * lo
        tl = tl if abs(p) < T_MAX else ZERO
        return exp2_dd(p, tl)

    return {"pow": pow, "pow_fast": pow_fast, "pow_special": _build_pow_special(K)}
