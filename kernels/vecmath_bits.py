"""Bit-level building blocks for the vectorisable math kernels.

Everything here is branch-free scalar code that LLVM's loop vectoriser can widen:
bitcasts between a float and the integer of the same width, fused multiply-add, and a
per-dtype bundle of constants (`Consts`) so that each function is written once and
instantiated for float32 and float64 without any float64 promotion.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# error_model="numpy": the default "python" model adds a ZeroDivisionError branch to
# every division, which blocks vectorisation. No fastmath: it would let LLVM assume
# no nan/inf and drop our special-value selects.
OPTS = dict(error_model="numpy")
# alwaysinline at the LLVM level: without it LLVM keeps calls to the larger functions
# (sin, erf, pow) and the caller's loop is not vectorised. (The helpers written with @jit
# are not compiled one by one in kernels: vecmath_flatten.py inlines them as source, and
# the vecmath overloads compile the result without Python wrappers, as Numba's overloads
# do. They keep their wrappers so that calling one from Python still works.)
INNER_OPTS = dict(OPTS, forceinline=True)


def jit(fn):
    return njit(**INNER_OPTS)(fn)


@intrinsic
def f2i(typingctx, x):
    """Float bits as a signed integer of the same width (float32 -> int32)."""
    if isinstance(x, types.Float):
        ity = types.int32 if x.bitwidth == 32 else types.int64

        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], context.get_value_type(sig.return_type))
        return ity(x), codegen


@intrinsic
def i2f(typingctx, i):
    """The float whose bits are the signed integer i (int32 -> float32, int64 ->
    float64): f2i's inverse."""
    if isinstance(i, types.Integer) and i.bitwidth in (32, 64):
        fty = types.float32 if i.bitwidth == 32 else types.float64

        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], context.get_value_type(fty))
        return fty(i), codegen


def _call_float_intrinsic(context, builder, sig, name, args):
    """Call LLVM's scalar intrinsic `name` (e.g. "llvm.fma") at the signature's float
    type: name.f32 or name.f64."""
    ty = context.get_value_type(sig.return_type)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ty, [ty] * len(args)),
                                        f"{name}.f{sig.return_type.bitwidth}")
    return builder.call(fn, args)


@intrinsic
def fma(typingctx, a, b, c):
    """a*b + c with one rounding (llvm.fma: a vfmadd instruction on x86-64 with FMA)."""
    if isinstance(a, types.Float) and a == b == c:
        def codegen(context, builder, sig, args):
            return _call_float_intrinsic(context, builder, sig, "llvm.fma", args)
        return a(a, b, c), codegen


@intrinsic
def copysign(typingctx, a, x):
    """|a| with the sign bit of x (llvm.copysign: one vpternlogd per vector on AVX-512,
    where a select on x's sign took two instructions)."""
    if isinstance(a, types.Float) and a == x:
        def codegen(context, builder, sig, args):
            return _call_float_intrinsic(context, builder, sig, "llvm.copysign", args)
        return a(a, x), codegen


@intrinsic
def frexp_sqrt2(typingctx, x):
    """x > 0 normal -> (e, m) as floats, x = 2^e * m, m in [sqrt(1/2), sqrt(2)) (musl's
    trick: add 1.0 - sqrt(1/2) to the bits). Done at the float's own integer width: in
    Python-level code Numba would widen the int32 steps to int64, which costs 512-bit
    integer instructions in float32 loops."""
    if isinstance(x, types.Float):
        w = x.bitwidth
        mant, bias = (23, 127) if w == 32 else (52, 1023)
        one_bits = int(np.array(1, f"f{w // 8}").view(f"i{w // 8}"))
        sqrth_bits = int(np.array(np.sqrt(0.5), f"f{w // 8}").view(f"i{w // 8}"))

        def codegen(context, builder, sig, args):
            ity, fty = ir.IntType(w), context.get_value_type(x)
            ix = builder.add(builder.bitcast(args[0], ity),
                             ir.Constant(ity, one_bits - sqrth_bits))
            e = builder.sub(builder.ashr(ix, ir.Constant(ity, mant)), ir.Constant(ity, bias))
            mb = builder.add(builder.and_(ix, ir.Constant(ity, (1 << mant) - 1)),
                             ir.Constant(ity, sqrth_bits))
            vals = [builder.sitofp(e, fty), builder.bitcast(mb, fty)]
            return context.make_tuple(builder, sig.return_type, vals)
        return types.UniTuple(x, 2)(x), codegen


def target_features(context):
    """The CPU features Numba compiles for, e.g. {"+avx512f", ...} (so a
    NUMBA_CPU_NAME/NUMBA_CPU_FEATURES override is honoured; Numba's disk cache is keyed
    by them too, so a kernel compiled one way is never loaded on a CPU of the other)."""
    return set((getattr(context.codegen(), "_tm_features", "") or "").split(","))


def has_scalef(context):
    """Whether Numba compiles for a CPU with AVX-512F."""
    return "+avx512f" in target_features(context)


def _magic_bits(w):
    return int(np.array(1.5 * 2.0 ** (23 if w == 32 else 52), f"f{w // 8}").view(f"i{w // 8}"))


def _k_of_magic(builder, t, w):
    """k from t = 1.5*2^MANT + k, as an integer of t's width: t's bits minus MAGIC's."""
    ity = ir.IntType(w)
    return builder.sub(builder.bitcast(t, ity), ir.Constant(ity, _magic_bits(w)))


@intrinsic
def magic_k(typingctx, t):
    """k as a float, where t = 1.5*2^MANT + k: the same value as t - MAGIC.

    Converted from the integer that scale_magic computes from the same t, in the same
    instructions, so on AVX-512 LLVM merges this conversion with the one inside
    scale_magic's ldexp (vscalefps takes a float exponent): an exp pays one conversion
    instead of a conversion and a subtraction (t - MAGIC). Measured: the elementwise
    benchmark's kernel (exp and tanh) one vector instruction shorter per exp."""
    if isinstance(t, types.Float):
        w = t.bitwidth

        def codegen(context, builder, sig, args):
            k = _k_of_magic(builder, args[0], w)
            if has_scalef(context) and w > 32:
                k = builder.trunc(k, ir.IntType(32))   # as scale_magic hands it to ldexp
            return builder.sitofp(k, context.get_value_type(t))
        return t(t), codegen


@intrinsic
def scale_magic(typingctx, p, t, kadj):
    """p * 2^(k + kadj) where t = 1.5*2^MANT + k (the rounding trick leaves k in the low
    bits of t), |k + kadj| <= 2*BIAS - 2, rounded once: overflow gives inf and a
    denormal result is rounded correctly.

    With AVX-512F this is llvm.ldexp, one vscalefps/vscalefpd per vector, which does
    exactly that. Elsewhere LLVM would turn llvm.ldexp into a libm call per element, so
    2^k is applied as two exact power-of-two factors built from the bits, in integer
    steps at the float's width (see frexp_sqrt2). Both give bit-identical results.
    Measured on the development machine (AVX-512, float32 exp in L1/L2): 0.36 -> 0.28 ns
    per element."""
    if isinstance(p, types.Float) and p == t and isinstance(kadj, types.Integer):
        w = p.bitwidth
        mant, bias = (23, 127) if w == 32 else (52, 1023)

        def codegen(context, builder, sig, args):
            ity, fty = ir.IntType(w), context.get_value_type(p)
            adj = args[2]
            adj = builder.trunc(adj, ity) if kadj.bitwidth > w else builder.sext(adj, ity)
            k = builder.add(_k_of_magic(builder, args[1], w), adj)
            if has_scalef(context):
                i32 = ir.IntType(32)
                k32 = builder.trunc(k, i32) if w > 32 else k
                fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(fty, [fty, i32]),
                                                    f"llvm.ldexp.f{w}.i32")
                return builder.call(fn, [args[0], k32])
            k1 = builder.ashr(k, ir.Constant(ity, 1))
            k2 = builder.sub(k, k1)

            def pow2(v):
                v = builder.shl(builder.add(v, ir.Constant(ity, bias)), ir.Constant(ity, mant))
                return builder.bitcast(v, fty)
            return builder.fmul(builder.fmul(args[0], pow2(k1)), pow2(k2))
        return p(p, t, kadj), codegen


class Consts:
    """Per-dtype constants, all already typed as F (np.float32 or np.float64)."""

    def __init__(self, F):
        self.F = F
        f32 = F is np.float32
        self.MANT = 23 if f32 else 52               # mantissa bits
        self.BIAS = 127 if f32 else 1023
        # x + MAGIC - MAGIC rounds x to an integer (|x| < 2**(MANT-1)), and the low bits
        # of x + MAGIC hold that integer.
        self.MAGIC = F(1.5 * 2.0 ** self.MANT)
        self.MIN_NORMAL = F(np.finfo(F).tiny)
        self.SUB_SCALE = F(2.0 ** (self.MANT + 2))  # lifts a denormal into the normal range
        self.INF = F(np.inf)
        self.NAN = F(np.nan)
        # ln2 split so that k*LN2HI is exact for |k| < 2**11 (fdlibm's split for float64).
        self.LN2HI = F(0.693145751953125) if f32 else F(6.93147180369123816490e-01)
        self.LN2LO = F(1.428606765330187045e-06) if f32 else F(1.90821492927058770002e-10)
        self.LOG2E = F(1.4426950408889634)
        self.LN2 = F(np.log(2.0))


def make_poly(coeffs, F):
    """Horner's rule for fixed coefficients (highest degree first), as an njit function.

    Written out as one expression: a loop over a constant tuple is only unrolled by LLVM
    up to ~12 terms, and a loop left inside the function stops outer-loop vectorisation.
    """
    ns = {f"c{i}": F(v) for i, v in enumerate(coeffs)}
    ns["fma"] = fma
    expr = "c0"
    for i in range(1, len(coeffs)):
        expr = f"fma({expr}, x, c{i})"
    source = f"def p(x):\n    return {expr}\n"
    exec(source, ns)
    ns["p"].__dprog_source__ = source     # for vecmath_flatten (exec'd code has no file)
    return jit(ns["p"])
