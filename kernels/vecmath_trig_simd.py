"""float32 sin and cos as vector functions (vecmath_simd.py), in plain LLVM IR: 16 lanes
on CPUs with AVX-512F, 8 on CPUs with AVX2 and FMA.

Why: the scalar float32 sin/cos (vecmath_trig.build) compute the Payne-Hanek reduction
for huge arguments in float64 for every element and select, because LLVM's vectoriser
if-converts every branch. That path halves the vector width and costs several times the
common one: a plain loop over vsin ran at ~0.35x NumPy's speed. Here a vector whose lanes
are all below 2^16 (or nan) takes the common path only, and a vector with a huge or
infinite lane branches to the Payne-Hanek reduction for all its lanes.

Both paths are the scalar code's own steps, in the same order, so every lane gets the
same bits as vecmath_trig's sin/cos (and as sin_fast/cos_fast, which kernels inline,
wherever vtrig_huge is false): results do not depend on the CPU or on neighbours.

  common: k = nearest integer to x*2/pi (by adding 1.5*2^23), r = x - k*pi/2 in three
          Cody-Waite steps with FMA;
  huge:   x = M * 2^E, C_E = 2^E * 2/pi mod 4 from a table (as hi + lo, float64),
          y = M*C_E mod 4 in float64 with the two-sum's error, k = nearest integer,
          r = (y - k)*pi/2 rounded to float32;
  then sin(r) and cos(r) by their polynomials, the pair picked and signed by k mod 4,
  and nan where x is infinite or nan.
"""
import numpy as np
from llvmlite import ir

from . import vecmath_simd, vecmath_trig
from .vecmath_bits import Consts
from .vecmath_trig import E32_MAX, E32_MIN, MAGIC64, MAGIC64_BITS

F = np.float32
K32 = Consts(F)
FAST_MAX = vecmath_trig.FAST_MAX_OF[F]
TWO_OVER_PI = float(F(2 / np.pi))
P1, P2, P3 = (float(p) for p in vecmath_trig.split_const(vecmath_trig.PI / 2, F, 3))
SIN_S = tuple(float(F(c)) for c in vecmath_trig.SIN_S[F])     # as make_poly rounds them
COS_C = tuple(float(F(c)) for c in vecmath_trig.COS_C[F])
MAGIC = float(K32.MAGIC)
MAGIC_BITS = int(np.array(K32.MAGIC, F).view(np.int32))
PIO2_HI = float(vecmath_trig.split_const(vecmath_trig.PI / 2, np.float64, 2)[0])


def _reduce_common(v, ax):
    """k (int32 lanes; only k mod 4 is used) and r for |x| < 2^16."""
    t = v.fma(ax, v.c(TWO_OVER_PI), v.c(MAGIC))
    kf = v.sub(t, v.c(MAGIC))
    k = v.isub(v.bits(t), v.ci(MAGIC_BITS))
    r = v.fma(kf, v.c(-P1), ax)
    r = v.fma(kf, v.c(-P2), r)
    r = v.fma(kf, v.c(-P3), r)
    return k, r


def _reduce_huge(v, ax):
    """k and r for |x| >= 2^16 (some value for smaller lanes), in float64 on two halves
    (a float64 vector holds half as many lanes)."""
    chi, clo = vecmath_trig.two_over_pi_mod4_table(E32_MIN, E32_MAX)
    ix = v.bits(ax)
    idx = v.isub(v.ashr(ix, 23), v.ci(150 + E32_MIN))
    idx = v.sel(v.ilt(idx, v.ci(0)), v.ci(0), idx)
    idx = v.sel(v.ilt(v.ci(len(chi) - 1), idx), v.ci(len(chi) - 1), idx)
    mant = v.b.or_(v.iand(ix, v.ci(0x7FFFFF)), v.ci(0x800000))
    ks, rs = [], []
    half = v.lanes // 2
    for start in (0, half):
        lanes = range(start, start + half)
        m = v.b.sitofp(v.part(mant, lanes), v.f64)
        ch = v.lookup64(chi, idx, lanes)
        cl = v.lookup64(clo, idx, lanes)
        t = v.mul(m, ch)
        t = v.sub(t, v.mul(v.c64(4.0), v.sub(v.add(v.mul(t, v.c64(0.25)), v.c64(MAGIC64)), v.c64(MAGIC64))))
        p = v.mul(m, cl)
        pe = v.fma(m, cl, v.neg(p))
        y = v.add(t, p)
        bb = v.sub(y, t)
        err = v.add(v.sub(t, v.sub(y, bb)), v.sub(p, bb))     # two-sum
        u = v.add(y, v.c64(MAGIC64))
        kf = v.sub(u, v.c64(MAGIC64))
        k = v.b.sub(v.b.bitcast(u, v.i64), v.ci64(MAGIC64_BITS))
        ks.append(v.b.trunc(k, ir.VectorType(vecmath_simd.I32, half)))
        r = v.mul(v.add(v.sub(y, kf), v.add(err, pe)), v.c64(PIO2_HI))
        rs.append(v.b.fptrunc(r, ir.VectorType(vecmath_simd.F32, half)))
    return v.join(*ks), v.join(*rs)


def _sincos_r(v, r):
    """sin r and cos r for |r| <= pi/4 (vecmath_trig's sincos_r with rl = 0)."""
    zero = v.c(0.0)
    z = v.mul(r, r)
    s = v.add(r, v.add(zero, v.mul(v.mul(r, z), v.poly(SIN_S, z))))
    hz = v.mul(v.c(0.5), z)
    w = v.sub(v.c(1.0), hz)
    tail = v.sub(v.mul(v.mul(z, z), v.poly(COS_C, z)), v.mul(r, zero))
    c = v.add(w, v.add(v.sub(v.sub(v.c(1.0), w), hz), tail))
    return s, c


def _bit_set(v, k, bit):
    return v.ieq(v.iand(k, v.ci(bit)), v.ci(bit))


def _body(v, x, cosine):
    fn = v.b.function
    entry = v.b.block
    huge_block = fn.append_basic_block("huge")
    join_block = fn.append_basic_block("join")
    ax = v.abs(x)
    k, r = _reduce_common(v, ax)
    huge = v.ge(ax, v.c(FAST_MAX))                     # inf too; nan is not
    v.b.cbranch(v.any(huge), huge_block, join_block)

    v.b.position_at_end(huge_block)
    v.section = "huge"
    kh, rh = _reduce_huge(v, ax)
    kh = v.sel(huge, kh, k)
    rh = v.sel(huge, rh, r)
    v.b.branch(join_block)

    v.b.position_at_end(join_block)
    v.section = "main"
    kp = v.b.phi(v.i)
    kp.add_incoming(k, entry)
    kp.add_incoming(kh, huge_block)
    rp = v.b.phi(v.f)
    rp.add_incoming(r, entry)
    rp.add_incoming(rh, huge_block)
    s, c = _sincos_r(v, rp)
    if cosine:
        res = v.sel(_bit_set(v, kp, 1), s, c)
        res = v.sel(_bit_set(v, v.iadd(kp, v.ci(1)), 2), v.neg(res), res)
    else:
        res = v.sel(_bit_set(v, kp, 1), c, s)
        res = v.sel(_bit_set(v, kp, 2), v.neg(res), res)
        res = v.sel(v.ilt(v.bits(x), v.ci(0)), v.neg(res), res)
    return v.sel(v.lt(ax, v.c(np.inf)), res, v.sub(x, x))


def sin_body(v, x):
    return _body(v, x, cosine=False)


def cos_body(v, x):
    return _body(v, x, cosine=True)


def call_sin(context, builder, x):
    """Emit sin(x) (a float32 value) in the current function through the vector function
    (for a context where vecmath_simd.native_lanes is not None)."""
    return vecmath_simd.call(builder, "dprog_sinf", sin_body, [x], vecmath_simd.native_lanes(context))


def call_cos(context, builder, x):
    return vecmath_simd.call(builder, "dprog_cosf", cos_body, [x], vecmath_simd.native_lanes(context))
