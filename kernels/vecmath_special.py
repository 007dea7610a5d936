"""tanh, sigmoid, sinh, cosh, erf and pow for one float dtype, built on vecmath_exp.

All are written on |x| and take the sign back with the sign bit, which keeps -0.0.
Every special case is a select, so the caller's loop still vectorises.
"""
from types import SimpleNamespace

import numpy as np

from .vecmath_bits import Consts, f2i, fma, jit, make_poly

# erf(x)/x as a polynomial in z = x^2 on [0, 0.64] (mpmath.chebyfit; rel. error 1e-17 / 3e-9).
ERF_A = {
    np.float64: (1.1079017947501558e-08, -1.5827667064567424e-07, 1.641705649300286e-06,
                 -1.4923283048388212e-05, 0.00012055252657271225, -0.000854832526774754,
                 0.005223977601471378, -0.02686617064321942, 0.11283791670947298,
                 -0.37612638903183626, 1.1283791670955126),
    np.float32: (-0.0006543816829090009, 0.005086514366929656, -0.02682158974267957,
                 0.11283130959383136, -0.3761260286884457, 1.1283791638960725),
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


def build(F, E, pow64=None):
    """E: vecmath_exp.build(F). pow64: the float64 pow, which float32's pow calls."""
    K = Consts(F)
    i2f, SIGN, INF, NAN = K.i2f, K.SIGN, K.INF, K.NAN
    ZERO, ONE, HALF, TWO = F(0), F(1), F(0.5), F(2)
    f32 = F is np.float32
    exp, expm1, exp_s, clamp = E.exp, E.expm1, E.exp_s, E.clamp
    # beyond these |x|, tanh rounds to 1 and e^-|x| no longer matters for sinh/cosh
    TH_BIG = F(10) if f32 else F(22)
    erf_a = make_poly(ERF_A[F], F)
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
        a = abs(x)
        t = expm1(clamp(a, ZERO, TH_BIG))
        small = HALF * (t + t / (t + ONE))
        big = exp_s(a, ZERO, -1)
        return with_sign(big if a > TH_BIG else small, x)

    @jit
    def cosh(x):
        a = abs(x)
        t = expm1(clamp(a, ZERO, TH_BIG))
        small = ONE + t * (t / (TWO + TWO * t))
        big = exp_s(a, ZERO, -1)
        return big if a > TH_BIG else small

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

    ns = dict(tanh=tanh, sigmoid=sigmoid, sinh=sinh, cosh=cosh, erf=erf, with_sign=with_sign)
    if f32:
        @jit
        def pow(x, y):
            # y*log(x) needs ~8 more bits than float32 has: do it all in float64
            return F(pow64(np.float64(x), np.float64(y)))
        ns["pow"] = pow
    else:
        ns["pow"] = _build_pow64(K, E)
    return SimpleNamespace(**ns)


def _build_pow64(K, E):
    F = np.float64
    ZERO, ONE, TWO, INF, NAN = F(0), F(1), F(2), K.INF, K.NAN
    LN2HI, LN2LO = K.LN2HI, K.LN2LO
    TWO52, TWO53 = F(2.0 ** 52), F(2.0 ** 53)
    split, exp_s, q = E.split, E.exp_s, E.q

    @jit
    def log_dd(ax):
        # log(ax) as hi + lo with ~2^-62 relative error: log(1+f) = 2s + s*z*Q(z) with
        # s = f/(2+f) carried as s + slo
        e, f = split(ax)
        t = TWO + f
        tlo = f - (t - TWO)                    # 2 + f = t + tlo exactly
        rcp = ONE / t
        s = f * rcp
        slo = (fma(-s, t, f) - s * tlo) * rcp
        z = s * s
        hi = TWO * s
        lo = TWO * slo + s * z * q(z)
        a = e * LN2HI                          # exact
        sm = a + hi
        bb = sm - a
        err = (a - (sm - bb)) + (hi - bb)      # two-sum
        lo2 = err + (lo + e * LN2LO)
        h = sm + lo2
        return h, lo2 - (h - sm)

    @jit
    def pow(x, y):
        ax, ay = abs(x), abs(y)
        h, lo = log_dd(ax)
        p = y * h
        plo = fma(y, h, -p) + y * lo
        mag = exp_s(p, plo, 0)
        # y integer / odd integer, read from the bits of |y| + 2^52
        v = ay + TWO52 if ay < TWO52 else ay
        yint = (v - TWO52 == ay) if ay < TWO52 else ay < INF
        yodd = yint and ay < TWO53 and (f2i(v) & 1) == 1
        mag = (ZERO if y > ZERO else INF) if ax == ZERO else mag
        mag = (INF if y > ZERO else ZERO) if ax == INF else mag
        big = ax > ONE
        mag = ((INF if big else ZERO) if ax != ONE else ONE) if y == INF else mag
        mag = ((ZERO if big else INF) if ax != ONE else ONE) if y == -INF else mag
        neg = f2i(x) < 0
        mag = NAN if (neg and not yint and ax != ZERO and ax < INF and ay < INF) else mag
        mag = -mag if (neg and yodd) else mag
        mag = x + y if (x != x or y != y) else mag
        return ONE if (y == ZERO or x == ONE) else mag

    return pow
