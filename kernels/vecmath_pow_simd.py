"""float32 pow as a 16-lane vector function (vecmath_simd.py), for CPUs with AVX-512F and DQ.

Why: the scalar float32 pow (vecmath_pow._build_pow32) is table-free, so its log2 needs
a division and a long double-word series (~120 instructions per 16 lanes), and every
lane pays for every special case. Here the tables sit in registers (vpermi2ps reads 32
entries for 16 lanes in one instruction), and lanes that need special handling send
their whole vector down a second path, so the common vector takes ~66 instructions
(52 of them arithmetic).

Fast path (every lane: 2^-126 <= x < inf, and |y*log2 x| < 190):
  x = 2^k * z, z in [0.7109, 1.4219), cut into 32 pieces by mantissa bits (1.0 in the
  middle of piece 18); per piece invc ~ 1/z rounded to 6 significant bits and
  log2(1/invc) as hi + lo. r = z*invc - 1 is then exact in float32 (one FMA),
  |r| < 2^-5.4. (invc rounded to float32 kept |r| below 2^-5.9 but made r a
  double-word, whose low part cost 6 instructions.)
  log2 x = (k + LC) + C*(r - r^2/2) + r^3*P(r), C = 1/ln2: r - r^2/2 = u + e exactly
  (r^2 by an FMA two-product, then Fast2Sum), C*u as a double-word, one Fast2Sum onto
  k + LC, the small terms summed as lo.
  t = y*log2 x as th + tl (FMA); th = n/32 + rh2, n/32 = th rounded by adding 1.5*2^18
  (float32 spacing 1/32: n mod 32 lands in the low bits), rh2 exact; r2 = rh2 + tl,
  2^t = 2^floor(n/32) * 2^((n&31)/32) * (1 + r2*Q(r2)), the middle factor as hi +
  relative tail from a 32-entry table (the tail added inside the polynomial's last
  FMA), the scaling by vscalefps of n/32 itself.
  (Rewritten in the eleventh session, 63 -> 52 arithmetic instructions with
  the exact r: in cache 0.85 -> 1.0 of NumPy's speed, results within the same
  bounds.)
Slow path (a vector with any other lane): the same computation on |x| (denormals scaled
into the normal range first), then the special values of vecmath_pow's finish: log2 0 =
-inf, inf, nan, |x| == 1 -> 1, a clamped t, the sign for negative x (nan unless y is an
integer, negative for odd y), x**0 = 1. A lane computed on either path gets the same
bits, so a result never depends on its neighbours.

Error budget (the design; the measurements below are what is checked): t should err by
less than ~2^-26 where |t| < 150, so log2 x is a double-word in which every step is
exact or errs below ~2^-39 (the tail polynomial: 2^-42.7 absolute), and 2^r2's
polynomial errs by 2^-35 relative, leaving the last rounding to dominate. Measured: max
0.73 ulp on the test's samples (tests/kernels/test_vecmath.py), 0.75 ulp on 5M further
pairs (results of every size, x near 1 with |y| up to 3e7, denormal x, negative x with
integer y), 0.52 where the result is a normal number; results below 2^-126 are rounded
twice (m, then the scaling). Speed: VECMATH.md.

Coefficients: mpmath.chebyfit at 200 bits, rounded to float32 (the errors quoted are
with the rounded coefficients). Tables: computed here in decimal arithmetic.
"""
from decimal import Decimal, localcontext

import numpy as np

from . import vecmath_simd
from .vecmath_bits import Consts
from .vecmath_pow import _split32

PIECES = 32
INVC_BITS = 6                       # significant bits of each invc: z*invc - 1 is exact
R_MAX = 2.0 ** -5.4                 # |r| bound over every piece with such invc
ONE_PIECE = 18                      # the piece holding 1.0 (invc = 1, r = z - 1 exact)
ONE_BITS = 0x3F800000
OFF_BITS = ONE_BITS - (ONE_PIECE * 2**18 + 2**17)   # 1.0 at the middle of its piece
EXP_MASK = -(1 << 23)               # sign and exponent bits of an int32
# (log2(1+r) - r/ln2 + r^2/(2 ln2)) / r^3 on |r| <= 2^-5.4 (r^3*P errs by 2^-42.7)
LOG_TAIL = (-0.24055036902427673, 0.2886546552181244, -0.3606737554073334, 0.48089835047721863)
# (2^r - 1) / r on |r| <= 2^-6 (1 + 2^-10): 1 + r*Q(r) errs by 2^-35.0 relative
EXP2_Q = (0.009618166834115982, 0.05550443381071091, 0.24022650718688965, 0.6931471824645996)
K32 = Consts(np.float32)
MAGIC_32 = float(K32.MAGIC) / 32     # 1.5*2^18: its float32 spacing is 1/32
T_FAST = 190.0                      # |t| below this: 2^t needs no clamping
T_MAX = 200.0                       # 2^t is inf or 0 beyond


def _f32(v):
    return float(np.float32(float(v)))


def _short_invc(a, b):
    """The INVC_BITS-bit c nearest to centring z*c - 1 on the piece [a, b)."""
    m, e = np.frexp(float(2 / (a + b)))
    near = [float(np.ldexp(np.round(np.ldexp(m, INVC_BITS)) + d, e - INVC_BITS)) for d in (-2, -1, 0, 1, 2)]
    return min(near, key=lambda c: max(abs(a * Decimal(c) - 1), abs(b * Decimal(c) - 1)))


def tables():
    """Per-piece invc, log2(1/invc) as hi + lo; 2^(j/32) as hi + relative tail; and the
    splits of 1/ln2 and 1/(2 ln2). Asserts the exactness the algorithm relies on."""
    def z_at(bits):
        return Decimal(float(np.array(bits, np.int32).view(np.float32)))
    with localcontext() as ctx:
        ctx.prec = 40
        ln2 = Decimal(2).ln()
        invc, lc_hi, lc_lo = [], [], []
        for i in range(PIECES):
            a, b = z_at(OFF_BITS + i * 2**18), z_at(OFF_BITS + (i + 1) * 2**18)
            c = 1.0 if i == ONE_PIECE else _short_invc(a, b)
            assert (a <= 1 < b) == (i == ONE_PIECE)
            r_max = max(abs(a * Decimal(c) - 1), abs(b * Decimal(c) - 1))
            assert r_max < Decimal(R_MAX), (i, r_max)
            # z*c - 1 is exact in float32 for every z of the piece: z lies on the grid
            # of 2^-23 (z >= 1) or 2^-24 (z < 1), c on that of 2^-6 (c <= 1) or 2^-5
            # (c > 1), so z*c - 1 lies on 2^-29's, and |r| < 2^-5 leaves 24 bits
            m, e = np.frexp(c)
            assert float(np.ldexp(m, INVC_BITS)).is_integer()
            z_grid = -23 if a >= 1 else -24
            assert z_grid + (e - INVC_BITS) >= -29 and r_max < Decimal(2) ** -5
            lc = -(Decimal(c).ln() / ln2)
            invc.append(c)
            # hi on a 2^-16 grid, so that k + hi is exact for any exponent k
            hi = float((lc * 2**16).to_integral_value()) / 2**16
            lo = _f32(lc - Decimal(hi))
            lc_hi.append(hi)
            lc_lo.append(lo)
            # hi + C*r by Fast2Sum needs |LC| >= |C*r| where k == 0
            assert abs(lc) < Decimal("0.5")
            assert i == ONE_PIECE or abs(lc) >= r_max / ln2, i
        t_hi, t_lo = [], []
        for j in range(32):
            v = (ln2 * j / 32).exp()
            t_hi.append(_f32(v))
            t_lo.append(_f32((v - Decimal(t_hi[-1])) / Decimal(t_hi[-1])))
        c_split = tuple(float(w) for w in _split32(1 / ln2))
        half_c_split = tuple(float(w) for w in _split32(1 / (2 * ln2)))
    return invc, lc_hi, lc_lo, t_hi, t_lo, c_split, half_c_split


_TABLES = None


def _tables():
    global _TABLES
    if _TABLES is None:
        _TABLES = tables()
    return _TABLES


def _log2_dd(v, x, kadj=None):
    """log2 x as (hi, lo) for normal x > 0 (other lanes: some value)."""
    invc_t, lch_t, lcl_t, _, _, (c_hi, c_lo), (hc_hi, hc_lo) = _tables()
    ix = v.bits(x)
    tmp = v.isub(ix, v.ci(OFF_BITS))
    i = v.ashr(tmp, 18)          # the piece: vpermi2ps reads only the low 5 bits
    k = v.ashr(tmp, 23)
    if kadj is not None:
        k = v.iadd(k, kadj)
    z = v.flt(v.isub(ix, v.iand(tmp, v.ci(EXP_MASK))))
    invc = v.table(invc_t, i)
    rh = v.fma(z, invc, v.c(-1.0))                  # exact (invc has INVC_BITS bits)
    kf = v.to_float(k)
    lch = v.table(lch_t, i)
    a = v.add(kf, lch)                              # exact: LC_HI is on a 2^-16 grid
    al = v.table(lcl_t, i)
    # log2(1+r) = C*(r - r^2/2) + (the series' tail): u = r - r^2/2 first, exactly as
    # u + e (+ ql/2), then C*u as a double-word, one Fast2Sum onto k + LC
    q = v.mul(rh, rh)                               # rh^2 = q + ql
    ql = v.fma(rh, rh, v.neg(q))
    u = v.fma(q, v.c(-0.5), rh)
    e = v.fma(q, v.c(-0.5), v.sub(rh, u))           # exact: r - u (Sterbenz), then Fast2Sum
    bh = v.mul(v.c(c_hi), u)                        # C_HI*u = bh + bl
    bl = v.fma(v.c(c_hi), u, v.neg(bh))
    s1 = v.add(a, bh)
    s1l = v.add(v.sub(a, s1), bh)                   # Fast2Sum (tables() checks the order)
    # the small terms: C_LO*r - (C_LO/2)*r^2 + r^3*P(r) in one Horner chain onto LC's
    # low part (each step errs by < 2^-41 absolute), C_HI times u's error, the r^2
    # cross term, and the Fast2Sum and two-product errors
    lo = v.fma(v.fma(v.poly(LOG_TAIL, rh), rh, v.c(-hc_lo)), rh, v.c(c_lo))
    lo = v.fma(lo, rh, al)
    lo = v.fma(v.c(c_hi), e, lo)
    lo = v.fma(v.c(-hc_hi), ql, lo)
    lo = v.add(lo, v.add(bl, s1l))
    return s1, lo


def _times_y(v, hi, lo, y):
    th = v.mul(y, hi)
    tl = v.fma(y, lo, v.fma(y, hi, v.neg(th)))
    return th, tl


def _exp2_dd(v, th, tl):
    """2^(th + tl) for |th| <= T_MAX, |tl| small (nan stays nan)."""
    _, _, _, t_hi, t_lo, _, _ = _tables()
    # th + MAGIC_32 rounds th to a multiple of 1/32, n/32, with n in its low bits
    tk = v.add(th, v.c(MAGIC_32))
    n32 = v.sub(tk, v.c(MAGIC_32))                   # n/32 (exact)
    rh = v.sub(th, n32)                              # exact, |rh| <= 1/64
    r = v.add(rh, tl)
    j = v.bits(tk)                  # n mod 32 in the low 5 bits, all vpermi2ps reads
    hi = v.table(t_hi, j)
    p = v.fma(r, v.poly(EXP2_Q, r), v.table(t_lo, j))   # 2^r - 1, plus hi's tail
    m = v.fma(hi, p, hi)
    return v.scalef(m, n32)                          # * 2^floor(n/32)


def _finish(v, x, y, fin, mag):
    """The sign for x < 0 and the results that hold whatever the magnitude (as
    vecmath_pow._build_pow_finish)."""
    ay = v.abs(y)
    yint = v.eq(v.trunc(ay), ay)
    half = v.mul(ay, v.c(0.5))
    yodd = v.m_and(yint, v.ne(v.trunc(half), half))
    neg = v.ilt(v.bits(x), v.ci(0))
    nan_lanes = v.m_and(v.m_and(neg, v.m_not(yint)), fin)
    mag = v.sel(nan_lanes, v.c(np.nan), mag)
    mag = v.sel(v.m_and(neg, yodd), v.neg(mag), mag)
    one = v.m_or(v.eq(y, v.c(0.0)), v.eq(x, v.c(1.0)))
    return v.sel(one, v.c(1.0), mag)


def pow_body(v, x, y):
    """The vector function: 16 lanes of x**y."""
    fn = v.b.function
    fast_block = fn.append_basic_block("fast")
    slow_block = fn.append_basic_block("slow")
    hi, lo = _log2_dd(v, x)
    th, tl = _times_y(v, hi, lo, y)
    # any lane whose x is not normal, positive and finite, or whose |th| >= T_FAST
    slow = v.m_or(v.not_pos_normal(x), v.m_not(v.lt(v.abs(th), v.c(T_FAST))))
    v.b.cbranch(v.any(slow), slow_block, fast_block)

    v.b.position_at_end(fast_block)
    v.b.ret(_exp2_dd(v, th, tl))

    v.b.position_at_end(slow_block)
    v.section = "slow"
    ax = v.abs(x)
    sub = v.lt(ax, v.c(K32.MIN_NORMAL))
    xs = v.sel(sub, v.mul(ax, v.c(K32.SUB_SCALE)), ax)
    kadj = v.sel(sub, v.ci(-(K32.MANT + 2)), v.ci(0))
    hi, lo = _log2_dd(v, xs, kadj)
    fin = v.m_and(v.b.fcmp_ordered(">", ax, v.c(0.0)), v.lt(ax, v.c(np.inf)))
    hi = v.sel(fin, hi, v.sel(v.eq(ax, v.c(0.0)), v.c(-np.inf), ax))   # log2 0, inf, nan
    lo = v.sel(fin, lo, v.c(0.0))
    th, tl = _times_y(v, hi, lo, y)
    one = v.eq(ax, v.c(1.0))                         # |x| == 1: 1 even for y = +-inf
    th = v.sel(one, v.c(0.0), th)
    small = v.lt(v.abs(th), v.c(T_MAX))
    tl = v.sel(v.m_and(small, v.m_and(fin, v.m_not(one))), tl, v.c(0.0))
    th = v.sel(v.b.fcmp_ordered(">", th, v.c(T_MAX)), v.c(T_MAX), th)   # nan falls through
    th = v.sel(v.lt(th, v.c(-T_MAX)), v.c(-T_MAX), th)
    mag = _exp2_dd(v, th, tl)
    return _finish(v, x, y, fin, mag)


def call(builder, x, y):
    """Emit x**y (float32 values) in the current function through the vector function."""
    return vecmath_simd.call(builder, "dprog_powf", pow_body, [x, y])
