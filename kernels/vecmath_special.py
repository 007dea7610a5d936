"""tanh, sigmoid, sinh, cosh and erf for one float dtype, built on vecmath_exp.

All are written on |x| and take the sign back with the sign bit, which keeps -0.0.
Every special case is a select, so the caller's loop still vectorises.
"""
from types import SimpleNamespace

import numpy as np

from . import vecmath_exp
from .vecmath_bits import Consts, copysign, fma, jit, magic_k, make_poly, scale_magic

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
    ZERO, ONE, TWO = F(0), F(1), F(2)
    f32 = F is np.float32
    exp, exp_half, clamp = E.exp, E.exp_half, E.clamp
    K = Consts(F)
    MAGIC, HALF = K.MAGIC, F(0.5)
    TWO_LOG2E = F(2 * float(K.LOG2E))
    HALF_LN2HI = F(float(K.LN2) / 2) if f32 else F(float(K.LN2HI) / 2)
    HALF_LN2LO = F(float(K.LN2LO) / 2)
    g_coeffs = vecmath_exp.EXP_G[F]
    exp_g2 = make_poly([c * 2.0 ** (len(g_coeffs) - i) for i, c in enumerate(g_coeffs)], F)
    # beyond these |x|, tanh rounds to 1 (and 2^k in tanh stays exact and finite)
    TH_BIG = F(10) if f32 else F(22)
    erf_a = make_poly(ERF_A[F], F)
    sinh_p = make_poly(SINH_P[F], F)
    QUARTER = F(0.25)
    kc, KC, KH, XMAX = ERF_K[F]
    erf_k = make_poly(kc, F)
    KC, KINV, XMAX, ERF_SPLIT = F(KC), F(1 / KH), F(XMAX), F(0.8)

    @jit
    def tanh(x):
        # e / (e + 2) with e = expm1(2a) = 2^k (1 + pm) - 1, a = |x|: expm1's clamps and
        # its cases for k == 0, -0.0 and the top of the range are not needed on
        # [0, 2*TH_BIG] (k == 0 gives e = pm exactly). Reduced at half scale, 2a = k*ln2 +
        # 2s, which saves doubling a: pm/2 = s + s^2*g2(s), g2(s) = 2*g(2s) (coefficients
        # scaled by powers of two, so every step rounds as g's would), and
        # h2 = 2^(k+1). float32 takes one ln2 constant: its error (2e-9 relative per unit
        # of k) moves e^2a by at most that, and tanh by that times 2/(e+2) (the exhaustive
        # max error stays 2.46 ulp); float64 keeps the two-part ln2 (one constant: 2.06
        # -> 2.27 ulp).
        a = abs(x)
        a = TH_BIG if a > TH_BIG else a           # nan falls through
        t = fma(a, TWO_LOG2E, MAGIC)
        kf = magic_k(t)
        s = fma(kf, -HALF_LN2HI, a)
        s = s if f32 else fma(kf, -HALF_LN2LO, s)
        half_pm = fma(s * s, exp_g2(s), s)
        h2 = scale_magic(TWO, t, 0)
        e = fma(h2, half_pm, fma(h2, HALF, -ONE))
        return copysign(e / (e + TWO), x)

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
        return copysign(small if a < ONE else h - QUARTER / h, x)

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
        return copysign(ra if a < ERF_SPLIT else rb, x)

    return SimpleNamespace(tanh=tanh, sigmoid=sigmoid, sinh=sinh, cosh=cosh, erf=erf)
