"""pow for float32 and float64 (C99/NumPy special cases), table-driven.

float64: log|x| as a double-word from a 128-entry table (exact reduction, no division),
times y, then e^(that) from a 128-entry table of 2^(j/128). float32: log2 and exp2 in
float64 from a 16-entry table. Both pick the special results with selects (finish), so
the caller's loop still vectorises.
"""
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np

from .vecmath_bits import Consts, f2i, fma, i2f, jit, make_poly, scale_magic


def build(F):
    K = Consts(F)
    return _build_pow32(K) if F is np.float32 else _build_pow64(K)


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


def _pow64_tables():
    """invc, log(1/invc) as hi (2^-42 grid) + lo, 2^(j/128) and its relative tail, and the
    ln2 splits; asserts that every piece's r = z*invc - 1 is exact."""
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
    X_HI = F(1100)                            # e^x is inf or 0 beyond; keeps k2 small

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

    return pow


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


# float32 pow, computed in float64: log2 from a 16-entry table and a short polynomial,
# then exp2 of y*log2|x| (the design of musl's and ARM's powf, written anew here).
# The interval [POW32_OFF, 2*POW32_OFF) of the reduced |x| is cut into 16 pieces by the
# top 4 bits of the float64 mantissa counted from POW32_OFF's bits: piece i has centre
# c_i (c = 1 for the piece holding 1.0, so that log2 is accurate near 1), with
# INVC = 1/c_i rounded and LOGC = -log2(INVC) (mpmath, 50 digits).
POW32_OFF = 0.69921875
POW32_INVC = (1.3989071038251366, 1.3403141361256545, 1.2864321608040201, 1.2367149758454106,
              1.1906976744186046, 1.147982062780269, 1.1082251082251082, 1.0711297071129706,
              1.0364372469635628, 1.0, 0.9481481481481482, 0.8951048951048951,
              0.847682119205298, 0.8050314465408805, 0.7664670658682635, 0.7314285714285714)
POW32_LOGC = (-0.4843001617159575, -0.4225711719642514, -0.3633753794563512,
              -0.3065130425006747, -0.2518071504105397, -0.19910010007969525,
              -0.14825095858394247, -0.09913319201925132, -0.05163276841532236, 0.0,
              0.07681559705083084, 0.1598713367783894, 0.2384047393250789,
              0.3128829552843553, 0.38370429247405213, 0.4512111118323288)
# log2(1+r)/r on |r| <= 0.02963 (mpmath.chebyfit, rel. error of log2(1+r): 2^-38.3)
POW32_LOG2 = (-0.24068684192562564, 0.28881062329273527, -0.36067368195992633,
              0.4808982575228639, -0.721347520448299, 1.442695040893326)
# 2^r on [-1/2, 1/2] (mpmath.chebyfit, rel. error 2^-28.6)
POW32_EXP2 = (0.0001546144469856913, 0.0013400428177615838, 0.009618056678524637,
              0.05550327226670302, 0.24022650922288757, 0.6931472067028326, 1.0)


def _build_pow32(K):
    """float32 pow with float64 inside. The float64 steps are exact enough that the one
    rounding to float32 at the end dominates: log2 errs by 2^-38 relative, so y*log2|x|
    (|y*log2|x|| <= 200 where the result is finite and not 0) by < 2^-30 absolute, and
    exp2 by 2^-28.6 relative, ~0.03 ulp of float32 together. float32 denormal inputs are
    normal in float64, and float64 -> float32 rounds overflow to inf and tiny results to
    float32 denormals once. The branch-free special cases are those of the float64
    pow (_build_pow64). Against the double-word float32 code it replaced: max error 0.91 ->
    0.53 ulp at the same speed (2.0-2.4 against 2.2 ns per element in cache, one thread);
    NumPy's SVML loop takes 0.9 ns, so this is still ~2x slower than NumPy. The loop
    runs 8 lanes wide (the widest type is float64) with two table gathers per vector."""
    F = K.F
    ZERO, ONE, INF = F(0), F(1), K.INF
    finish = _build_pow_finish(K)
    D = np.float64
    INVC = np.array(POW32_INVC, D)
    LOGC = np.array(POW32_LOGC, D)
    log2p = make_poly(POW32_LOG2, D)
    exp2p = make_poly(POW32_EXP2, D)
    OFF_BITS = int(np.array(POW32_OFF, D).view(np.int64))
    TOP = -(1 << 52)                                    # sign and exponent bits
    MAGIC64 = D(1.5 * 2.0 ** 52)
    MAGIC64_BITS = int(np.array(MAGIC64).view(np.int64))
    T_MAX, D_ZERO, D_NEGINF = D(200), D(0), D(-np.inf)

    @jit
    def log2_64(a):
        # a > 0 finite: a = 2^k * z with z in [OFF, 2*OFF); log2(a) = k + log2(c) + log2(z/c)
        ia = f2i(a)
        tmp = ia - OFF_BITS
        i = (tmp >> 48) & 15
        k = tmp >> 52
        z = i2f(ia - (tmp & TOP))
        r = fma(z, INVC[i], D(-1))
        return (LOGC[i] + D(k)) + r * log2p(r)

    @jit
    def exp2_64(t):
        # 2^t for |t| <= T_MAX (nan stays nan): t = kd + r, |r| <= 1/2
        t = T_MAX if t > T_MAX else t
        t = -T_MAX if t < -T_MAX else t
        u = t + MAGIC64
        kd = u - MAGIC64
        scale = i2f((f2i(u) - MAGIC64_BITS + 1023) << 52)
        return exp2p(t - kd) * scale

    @jit
    def pow(x, y):
        ax = abs(x)
        fin = (ax > ZERO) & (ax < INF)
        lg = log2_64(D(ax))
        lg = lg if fin else (D_NEGINF if ax == ZERO else D(ax))   # log2 0 = -inf, inf, nan
        t = D_ZERO if ax == ONE else D(y) * lg   # |x| == 1: 1 even for y = +-inf
        return finish(x, y, fin, F(exp2_64(t)))

    return pow
