"""sin, cos, atan for one float dtype (see build()).

sin/cos: x = k*pi/2 + r, |r| <= pi/4. Up to |x| < 2^22 (float64) / 2^16 (float32) a
three-part Cody-Waite reduction with FMA is exact enough. Beyond that, Payne-Hanek:
float64 multiplies the mantissa by a 192-bit window of the bits of 2/pi picked by the
exponent, in 64-bit integer arithmetic; float32 multiplies it by 2^E*2/pi mod 4 from a
per-exponent table, in float64. Both paths run for every element and a select picks one:
LLVM's vectoriser if-converts every branch anyway, and a call to a libm fallback in one
branch would stop it from vectorising the caller's loop at all.
"""
import functools
from fractions import Fraction
from types import SimpleNamespace

import numpy as np

from .vecmath_bits import Consts, f2i, fma, jit, make_poly

SIN_S = {  # (sin(r) - r)/r^3 in z = r^2, r in [0, pi/4]
    np.float64: (1.5918129294866608e-10, -2.5051131845003624e-08, 2.755731610255244e-06,
                 -0.00019841269836758574, 0.008333333333330948, -0.16666666666666666),
    np.float32: (-0.00019587890880412386, 0.008332748270629749, -0.1666666466231438),
}
COS_C = {  # (cos(r) - 1 + r^2/2)/r^4 in z = r^2
    np.float64: (-1.1382632425521717e-11, 2.08761462684032e-09, -2.7557317271729793e-07,
                 2.480158729876569e-05, -0.0013888888888887398, 0.041666666666666664),
    np.float32: (2.4547942085071572e-05, -0.0013888303035894866, 0.04166666465950221),
}
ATAN_A = {  # (atan(u)/u - 1)/u^2 in z = u^2, |u| <= tan(pi/8)
    np.float64: (-0.01917688711906226, 0.03923165829558719, -0.0508544973794026,
                 0.0585814891280221, -0.06664511447381948, 0.07692183190826087,
                 -0.09090904578123903, 0.11111111015256361, -0.14285714284666542,
                 0.1999999999999552, -0.3333333333333333),
    np.float32: (-0.06451928208121749, 0.10743731490791084, -0.1426395559798464,
                 0.19999540483648964, -0.3333333176116852),
}
M32 = np.uint64(0xFFFFFFFF)
# Below these |x| the Cody-Waite reduction is exact enough; from them on, Payne-Hanek
# (and vtrig_huge is true: kernels then redo their slice with the exact sin/cos).
FAST_MAX_OF = {np.float32: 2.0 ** 16, np.float64: 2.0 ** 22}


def _pi_fixed(n):
    """floor-ish(pi * 2^n) from Machin's formula in Python integers (error < 2^-(n-8))."""
    def atan_inv(m):                      # atan(1/m) * 2^n
        total, term, k, sign = 0, (1 << n) // m, 1, 1
        while term:
            total += sign * (term // k)
            term //= m * m
            k, sign = k + 2, -sign
        return total
    return 16 * atan_inv(5) - 4 * atan_inv(239)


PI = Fraction(_pi_fixed(400), 1 << 400)


def split_const(v, F, parts):
    """v (a Fraction) as a sum of `parts` floats of type F, each the rounded remainder."""
    out = []
    for _ in range(parts):
        out.append(F(float(v)) if F is np.float64 else F(np.float32(float(v))))
        v = v - Fraction(float(out[-1]))
    return out


def two_over_pi_words(nwords, pad):
    """The bits of 2/pi after `pad` zero bits, as big-endian uint64 words."""
    nbits = nwords * 64 - pad
    n = nbits + 128
    bits = ((1 << (2 * n + 1)) // _pi_fixed(n)) >> (n - nbits)   # floor(2/pi * 2^nbits)
    return tuple(np.uint64((bits >> (64 * (nwords - 1 - w))) & (2**64 - 1))
                 for w in range(nwords))


# float32's slow path: C_E = 2^E*2/pi mod 4 is tabulated for these exponents (E of
# x = M * 2^E with a 24-bit integer M: |x| >= 2^16 has E >= -7, and float32's largest
# E is 104; indices outside are clamped), and y = M*C_E mod 4 is rounded to an integer
# by adding MAGIC64. Shared with the vector functions (vecmath_trig_simd.py), which
# compute the same steps.
E32_MIN, E32_MAX = -8, 105
MAGIC64 = 1.5 * 2.0 ** 52
MAGIC64_BITS = int(np.array(MAGIC64).view(np.int64))


@functools.lru_cache(maxsize=None)
def two_over_pi_mod4_table(emin, emax):
    """C_E = 2^E * 2/pi mod 4 for E in [emin, emax] as float64 pairs (hi with 29
    significant bits, lo the rounded rest), for float32's slow path."""
    nb = 400
    b = ((1 << (2 * nb + 1)) // _pi_fixed(nb))           # 2/pi * 2^nb
    hi, lo = [], []
    for e in range(emin, emax + 1):
        c = Fraction((b << (e - emin)) % (4 << (nb - emin)), 1 << (nb - emin))
        m, ex = np.frexp(float(c))
        h = float(np.ldexp(np.floor(np.ldexp(m, 29)), ex - 29)) if c else 0.0
        hi.append(h)
        lo.append(float(c - Fraction(h)))
    return np.array(hi), np.array(lo)


def build(F):
    K = Consts(F)
    f32 = F is np.float32
    MANT, BIAS, INF = K.MANT, K.BIAS, K.INF
    ZERO, ONE, HALF = F(0), F(1), F(0.5)
    MAGIC = K.MAGIC
    MAGIC_BITS = int(np.array(MAGIC, F).view(np.int32 if f32 else np.int64))
    TWO_OVER_PI = F(2 / np.pi)
    P1, P2, P3 = split_const(PI / 2, F, 3)         # pi/2 = P1 + P2 + P3 (Cody-Waite)
    FAST_MAX = F(FAST_MAX_OF[F])
    sin_s = make_poly(SIN_S[F], F)
    cos_c = make_poly(COS_C[F], F)
    atan_a = make_poly(ATAN_A[F], F)
    PIO2_HI, PIO2_LO = split_const(PI / 2, np.float64, 2)
    # float64: zero bits in front of 2/pi so that the smallest exponent on the slow path
    # (|x| = FAST_MAX) still indexes from bit >= 0
    PAD = 64
    WARR = np.array(two_over_pi_words(21, PAD), dtype=np.uint64)
    CHI, CLO = two_over_pi_mod4_table(E32_MIN, E32_MAX)
    SCALE64 = np.float64(2.0 ** -64)

    @jit
    def bits64(j):
        # 64 bits of the padded 2/pi starting at bit j
        wi = j >> 6
        sh = np.uint64(j & 63)
        a, b = WARR[wi], WARR[wi + 1]
        return (a << sh) | ((b >> np.uint64(1)) >> (np.uint64(63) - sh))

    @jit
    def column(acc, ml, mh, a, b, c):
        # one 32-bit column of (mh*2^32 + ml) * chunks: a, b, c = chunks n, n-1, n-2
        acc = acc + ((ml * a) & M32) + ((ml * b) >> np.uint64(32)) + ((mh * b) & M32) \
            + ((mh * c) >> np.uint64(32))
        return acc >> np.uint64(32), acc & M32

    @jit
    def reduce_huge32(ax):
        # ax = M * 2^E (float32); y = ax*2/pi mod 4 = M * C_E mod 4 with C_E = 2^E*2/pi
        # mod 4 from a table, as CHI + CLO (CHI has 29 bits: M*CHI is exact in float64)
        ix = np.int64(f2i(ax))
        idx = min(max((ix >> 23) - (150 + E32_MIN), 0), len(CHI) - 1)
        m = np.float64((ix & 0x7FFFFF) | 0x800000)
        ch, cl = CHI[idx], CLO[idx]
        t = m * ch
        t = t - 4.0 * ((t * 0.25 + MAGIC64) - MAGIC64)     # exact, in [-2, 2]
        p = m * cl
        pe = fma(m, cl, -p)
        y = t + p
        bb = y - t
        err = (t - (y - bb)) + (p - bb)                     # two-sum
        u = y + MAGIC64
        k = u - MAGIC64
        q = np.int64(f2i(u)) - MAGIC64_BITS
        r = ((y - k) + (err + pe)) * PIO2_HI
        return q, F(r), ZERO

    @jit
    def reduce_huge(ax):
        # ax = M * 2^E; y = ax*2/pi mod 4 = quadrant + fraction, in integer arithmetic
        ix = np.int64(f2i(ax))
        E = max((ix >> MANT) - (BIAS + MANT), 2 - PAD)
        M = np.uint64((ix & ((1 << MANT) - 1)) | (1 << MANT))
        j0 = E - 2 + PAD
        x0 = bits64(j0)
        x1 = bits64(j0 + 64)
        # float64: M (53 bits) * 192-bit window (six 32-bit chunks c0..c5); y = product *
        # 2^-190; columns of 32 bits summed with carries (each sum < 2^35)
        x2 = bits64(j0 + 128)
        c0, c1, c2 = x2 & M32, x2 >> np.uint64(32), x1 & M32     # least significant first
        c3, c4, c5 = x1 >> np.uint64(32), x0 & M32, x0 >> np.uint64(32)
        ml, mh = M & M32, M >> np.uint64(32)
        z = np.uint64(0)
        acc, _ = column(z, ml, mh, c0, z, z)
        acc, l1 = column(acc, ml, mh, c1, c0, z)
        acc, l2 = column(acc, ml, mh, c2, c1, c0)
        acc, l3 = column(acc, ml, mh, c3, c2, c1)
        acc, l4 = column(acc, ml, mh, c4, c3, c2)
        acc, l5 = column(acc, ml, mh, c5, c4, c3)
        m30 = np.uint64(0x3FFFFFFF)
        fhi = ((l5 & m30) << np.uint64(34)) | (l4 << np.uint64(2)) | (l3 >> np.uint64(30))
        flo = ((l3 & m30) << np.uint64(34)) | (l2 << np.uint64(2)) | (l1 >> np.uint64(30))
        q = np.int64(l5 >> np.uint64(30)) + np.int64(fhi >> np.uint64(63))
        fs = np.int64(fhi)
        fh = fs & np.int64(-2048)                   # top 53 bits: exact as a double
        hi = np.float64(fh) * SCALE64
        lo = (np.float64(fs - fh) + np.float64(flo) * SCALE64) * SCALE64
        h = hi + lo
        lo = lo - (h - hi)
        rh = h * PIO2_HI
        rl = fma(h, PIO2_HI, -rh) + (h * PIO2_LO + lo * PIO2_HI)
        r = rh + rl
        return q, r, rl - (r - rh)

    @jit
    def reduce_fast(ax):
        # Cody-Waite: exact enough for ax < FAST_MAX
        t = fma(ax, TWO_OVER_PI, MAGIC)
        kf = t - MAGIC
        k = np.int64(f2i(t)) - MAGIC_BITS
        r = fma(kf, -P1, ax)
        r = fma(kf, -P2, r)
        r = fma(kf, -P3, r)
        return k, r, ZERO

    @jit
    def reduce(x):
        ax = abs(x)
        k, r, _ = reduce_fast(ax)
        qh, rh, rl = reduce_huge32(ax) if f32 else reduce_huge(ax)
        big = ax >= FAST_MAX
        return (qh if big else k), (rh if big else r), (rl if big else ZERO)

    @jit
    def huge(x):
        # where sin_fast/cos_fast are wrong (inf too; nan is not: they give nan)
        return abs(x) >= FAST_MAX

    @jit
    def sincos_r(r, rl):
        z = r * r
        s = r + (rl + r * z * sin_s(z))
        hz = HALF * z
        w = ONE - hz
        c = w + (((ONE - w) - hz) + (z * z * cos_c(z) - r * rl))
        return s, c

    @jit
    def sin_q(x, q, r, rl):
        s, c = sincos_r(r, rl)
        res = c if (q & 1) == 1 else s
        res = -res if (q & 2) == 2 else res
        res = -res if f2i(x) < 0 else res
        return x - x if not (abs(x) < INF) else res

    @jit
    def cos_q(x, q, r, rl):
        s, c = sincos_r(r, rl)
        res = s if (q & 1) == 1 else c
        res = -res if ((q + 1) & 2) == 2 else res
        return x - x if not (abs(x) < INF) else res

    @jit
    def sin(x):
        q, r, rl = reduce(x)
        return sin_q(x, q, r, rl)

    @jit
    def cos(x):
        q, r, rl = reduce(x)
        return cos_q(x, q, r, rl)

    # The same without the Payne-Hanek path: equal to sin/cos wherever huge(x) is false,
    # and several times cheaper (float32: 0.46 against 2.25 ns per element in cache, as
    # the slow path is float64 and halves the vector width). Kernels use them with a
    # second, exact pass over their slice when any element was huge (cpu_kernel.py).
    @jit
    def sin_fast(x):
        q, r, rl = reduce_fast(abs(x))
        return sin_q(x, q, r, rl)

    @jit
    def cos_fast(x):
        q, r, rl = reduce_fast(abs(x))
        return cos_q(x, q, r, rl)

    TAN_PI8, TAN_3PI8 = F(np.tan(np.pi / 8)), F(np.tan(3 * np.pi / 8))
    PI4_HI, PI4_LO = split_const(PI / 4, F, 2)
    PI2_HI, PI2_LO = split_const(PI / 2, F, 2)

    @jit
    def atan(x):
        # atan(a) = off + atan(u), |u| <= tan(pi/8), with one division for all cases
        a = abs(x)
        mid = a > TAN_PI8
        big = a > TAN_3PI8
        num = -ONE if big else (a - ONE if mid else a)
        den = a if big else (a + ONE if mid else ONE)
        hi = PI2_HI if big else (PI4_HI if mid else ZERO)
        lo = PI2_LO if big else (PI4_LO if mid else ZERO)
        u = num / den
        z = u * u
        res = hi + (lo + (u + u * z * atan_a(z)))
        return -res if f2i(x) < 0 else res

    return SimpleNamespace(sin=sin, cos=cos, sin_fast=sin_fast, cos_fast=cos_fast,
                           trig_huge=huge, atan=atan)
