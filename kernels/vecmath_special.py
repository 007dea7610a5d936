"""tanh, sigmoid, sinh, cosh, erf and pow for one float dtype, built on vecmath_exp.

All are written on |x| and take the sign back with the sign bit, which keeps -0.0.
Every special case is a select, so the caller's loop still vectorises.
"""
from fractions import Fraction
from types import SimpleNamespace

import numpy as np

from .vecmath_bits import Consts, f2i, fma, i2f, jit, make_poly

# erf(x)/x as a polynomial in z = x^2 on [0, 0.64] (mpmath.chebyfit; rel. error 1e-17 / 3e-9).
ERF_A = {
    np.float64: (1.1079017947501558e-08, -1.5827667064567424e-07, 1.641705649300286e-06,
                 -1.4923283048388212e-05, 0.00012055252657271225, -0.000854832526774754,
                 0.005223977601471378, -0.02686617064321942, 0.11283791670947298,
                 -0.37612638903183626, 1.1283791670955126),
    np.float32: (-0.0006543816829090009, 0.005086514366929656, -0.02682158974267957,
                 0.11283130959383136, -0.3761260286884457, 1.1283791638960725),
}
# (sinh(a)/a - 1)/a^2 in z = a^2 on [0, 1]; rel. error 1e-17 / 2e-10.
SINH_P = {
    np.float64: (7.746178593018827e-13, 1.6057679623801638e-10, 2.5052117695907823e-08,
                 2.7557319191381816e-06, 0.00019841269841324198, 0.008333333333333299,
                 0.16666666666666666),
    np.float32: (2.8062802582276946e-06, 0.00019838101968683888, 0.00833333967591706,
                 0.16666666646842135),
}
# For x >= 0.8: erfc(x) = t*exp(-x^2 + K(v)), t = 2/(2+x), v = (t - center)/half
# (Numerical Recipes' erfc form, refitted on the range that erf needs).
ERF_K = {
    np.float64: ((3.794166212559186e-11, -6.367724724601446e-11, -6.08894533457223e-10,
                  2.1888096825457503e-09, 5.321399414902813e-09, -4.3502025589544096e-08,
                  -9.166404512255747e-09, 6.959689563500955e-07, -7.919815030430186e-07,
                  -1.0569031738130573e-05, 2.341393582677113e-05, 0.0001809114473471613,
                  -0.0005302401244620717, -0.0045411604237473695, 0.0112713312427191,
                  0.3106461344140965, -0.6957545497620992),
                 0.48214285714285715, 0.23214285714285718, 6.0),
    np.float32: ((7.00047689532922e-05, -0.0001580610766430102, -0.0026839105407487503,
                  0.005878635227384564, 0.25783956023738, -0.6396611171062992),
                 0.5238095238095238, 0.1904761904761905, 4.0),
}


def build(F, E):
    """E: vecmath_exp.build(F)."""
    K = Consts(F)
    ZERO, ONE, TWO = F(0), F(1), F(2)
    f32 = F is np.float32
    exp, expm1, exp_half, clamp = E.exp, E.expm1, E.exp_half, E.clamp
    # beyond these |x|, tanh rounds to 1 (and expm1(2|x|) would overflow)
    TH_BIG = F(10) if f32 else F(22)
    erf_a = make_poly(ERF_A[F], F)
    sinh_p = make_poly(SINH_P[F], F)
    QUARTER = F(0.25)
    kc, KC, KH, XMAX = ERF_K[F]
    erf_k = make_poly(kc, F)
    KC, KINV, XMAX, ERF_SPLIT = F(KC), F(1 / KH), F(XMAX), F(0.8)

    @jit
    def with_sign(a, x):
        # |a| with the sign bit of x (copysign without a libm call)
        return -a if f2i(x) < 0 else a

    @jit
    def tanh(x):
        a = clamp(abs(x), ZERO, TH_BIG)
        e = expm1(a + a)
        return with_sign(e / (e + TWO), x)

    @jit
    def sigmoid(x):
        # e^-|x| never overflows; for x < 0 this is e^x/(1+e^x), exact down to denormals
        t = exp(-abs(x))
        num = ONE if x >= ZERO else t
        return num / (ONE + t)

    @jit
    def sinh(x):
        # |x| < 1: odd polynomial (e^a - e^-a cancels); else h - 1/(4h), h = e^a/2
        a = abs(x)
        small = a + a * (a * a) * sinh_p(a * a)
        h = exp_half(a)
        return with_sign(small if a < ONE else h - QUARTER / h, x)

    @jit
    def cosh(x):
        h = exp_half(abs(x))                   # e^|x|/2: finite up to cosh's overflow
        return h + QUARTER / h

    @jit
    def erf(x):
        a = abs(x)
        z = a * a
        ra = a * erf_a(z)
        ac = clamp(a, ERF_SPLIT, XMAX)
        t = TWO / (TWO + ac)
        erfc = t * exp(erf_k((t - KC) * KINV) - ac * ac)
        rb = ONE - erfc
        return with_sign(ra if a < ERF_SPLIT else rb, x)

    return SimpleNamespace(tanh=tanh, sigmoid=sigmoid, sinh=sinh, cosh=cosh, erf=erf,
                           pow=_build_pow32(K) if f32 else _build_pow(K, E))


# (2*atanh(s)/s - 2 - 2z/3)/z^2 in z = s^2 on [0, 0.0295]: rel. error 6e-17 / 2e-9.
LOG_Q2 = {
    np.float64: (0.11723051028097753, 0.11706248540922386, 0.13334804238225345,
                 0.15384594970895457, 0.18181818335314404, 0.22222222221656232,
                 0.28571428571429364, 0.4),
    np.float32: (0.19120357575034247, 0.22204765666017248, 0.28571531790757826,
                 0.3999999990497125),
}


def _build_pow(K, E):
    F = K.F
    ZERO, ONE, TWO, INF = F(0), F(1), F(2), K.INF
    LN2HI, LN2LO = K.LN2HI, K.LN2LO
    split, exp_s = E.split, E.exp_s
    finish = _build_pow_finish(K)
    q2 = make_poly(LOG_Q2[F], F)
    TWO3_HI = F(2 / 3)
    TWO3_LO = F(float(Fraction(2, 3) - Fraction(float(TWO3_HI))))

    @jit
    def two_sum(a, b):
        s = a + b
        bb = s - a
        return s, (a - (s - bb)) + (b - bb)

    @jit
    def log_dd(ax):
        # log(ax) as hi + lo, relative error ~2^-64 (float64: y*log needs ~2^-63 for 1 ulp
        # when |y*log| ~ 700). log(1+f) = 2s + (2/3)s^3 + s^5*Q2(z), s = f/(2+f) carried
        # as s + slo, the s^3 term in double-word: only s^5*Q2 sees plain rounding.
        e, f = split(ax)
        t = TWO + f
        tlo = f - (t - TWO)                    # 2 + f = t + tlo exactly
        rcp = ONE / t
        s = f * rcp
        slo = (fma(-s, t, f) - s * tlo) * rcp
        z = s * s
        zlo = fma(s, s, -z)
        c = s * z
        clo = fma(s, z, -c) + s * zlo          # s^3 = c + clo
        u = TWO3_HI * c
        ulo = fma(TWO3_HI, c, -u) + (TWO3_HI * clo + TWO3_LO * c)
        lo = TWO * slo * (ONE + z) + ulo + c * z * q2(z) + e * LN2LO   # (1+z): s^3's slo
        h1, l1 = two_sum(e * LN2HI, TWO * s)   # e*LN2HI is exact
        h2, l2 = two_sum(h1, u)
        lo = lo + (l1 + l2)
        h = h2 + lo
        return h, lo - (h - h2)

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
        return finish(x, y, fin, exp_s(p, plo, 0))

    return pow


def _build_pow_finish(K):
    """pow(x, y) from mag = |x|**y (fin: x finite and nonzero): the sign for x < 0 (nan
    unless y is an integer, negative for odd y) and the C99 results that hold whatever
    the magnitude, pow(x, 0) = pow(1, y) = 1 (nan included)."""
    F = K.F
    ZERO, ONE, NAN = F(0), F(1), K.NAN
    TWO_M, TWO_M1 = F(2.0 ** K.MANT), F(2.0 ** (K.MANT + 1))

    @jit
    def finish(x, y, fin, mag):
        # is y an (odd) integer? read from the bits of |y| + 2^MANT (inf counts as even)
        ay = abs(y)
        v = ay + TWO_M if ay < TWO_M else ay
        yint = (ay >= TWO_M) | (v - TWO_M == ay)
        yodd = yint & (ay < TWO_M1) & ((f2i(v) & 1) == 1)
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
    pow (_build_pow). Against the double-word float32 code it replaced: max error 0.91 ->
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
