"""Hand-vectorised math functions that LLVM's loop vectoriser calls for whole vectors.

The rest of vecmath is scalar code that the loop vectoriser widens. That cannot express
two things the fastest math libraries rely on: a small table held in registers and read
with a permute (vpermps / vpermi2ps: one instruction for 16 lanes, where LLVM turns a
table lookup into a gather of 16 loads), and a branch on "does any lane of this vector
need the slow path" (in scalar code every lane pays for every special case).

So a function here is written directly as a vector function in LLVM IR, with the
`Vec` helpers below, and hooked up through LLVM's vector function ABI: the scalar
function the kernel calls carries a "vector-function-abi-variant" attribute naming the
16-, 8- and 4-lane versions, so the vectoriser replaces a call per element with a call
per vector. The body is emitted once, at the CPU's native width; the other widths call
it. The scalar function itself (used by a loop's remainder
iterations, and by loops that are not vectorised) runs the vector function on one lane
repeated, so every element gets bit-identical results wherever it sits in the loop.

A call per vector costs a little (the loop's other work cannot interleave with it, and
LLVM inlines nothing after it vectorises), so this pays only for long functions.

float32 pow uses AVX-512 instructions (the permutes, vscalefps and vfpclassps): only
for CPUs with AVX-512F and DQ (`available`). float32 sin/cos are plain LLVM IR: 16
lanes with AVX-512, 8 with AVX2 (`native_lanes`); float64 pow too, at half as many
lanes (8 or 4), its tables read one row per lane (`Vec.rows64`). Elsewhere the callers
keep their scalar implementations.
"""
import numpy as np
from llvmlite import ir
from numba.core import cgutils

from .vecmath_bits import target_features

F32 = ir.FloatType()
F64 = ir.DoubleType()
I32 = ir.IntType(32)
I64 = ir.IntType(64)
LANES = 16


def available(context):
    """Can kernels compiled by this context use the vector functions written with
    AVX-512 instructions (AVX-512F, and DQ for vfpclassps: every AVX-512 CPU but Xeon
    Phi has both)?"""
    return {"+avx512f", "+avx512dq"} <= target_features(context)


def native_lanes(context):
    """float32 lanes per vector for vector functions written in plain LLVM IR (no
    AVX-512 instructions): 16 with AVX-512F, 8 with AVX2 and FMA, else None (the
    callers keep their scalar code)."""
    features = target_features(context)
    if "+avx512f" in features:
        return 16
    if {"+avx2", "+fma"} <= features:
        return 8
    return None


class Vec:
    """Emits float32/int32 vector instructions of one width into a function body, and
    float64/int64 ones of half as many lanes (float32 slow paths that need the
    precision, and float64 functions). The arithmetic, bit and comparison helpers take
    either kind; constants are `c`/`ci` (float32/int32) and `c64`/`ci64`.

    Constants are read from a table the function receives as a pointer (`consts`),
    with each read folded into the instruction that uses it, because generated code is
    compiled for the large code model: a constant of LLVM's own constant pool costs a
    64-bit address load before every use, and a vector function reloads its constants
    on every call (~35 extra instructions per call in pow). The table's values are
    collected as the body is built (`words`)."""

    def __init__(self, builder, consts, lanes=LANES):
        self.b = builder
        self.module = builder.module
        self.lanes = lanes
        self.f = ir.VectorType(F32, lanes)
        self.i = ir.VectorType(I32, lanes)
        # float64 halves, for slow paths that need the precision
        self.f64 = ir.VectorType(F64, lanes // 2)
        self.i64 = ir.VectorType(I64, lanes // 2)
        self.consts = consts                    # i32* to the table
        self.words = []                          # the table: int32 words
        self._slots = {}
        # Constants are shared within a section. A slow path reads its own copies: LLVM
        # hoists a load that both sides of a branch make above the branch, and the fast
        # path would then hold the slow path's constants in registers too (and spill).
        self.section = "main"

    def _word_slot(self, words):
        key = (self.section, tuple(words))
        if key not in self._slots:
            self._slots[key] = len(self.words)
            self.words.extend(words)
        return self._slots[key]

    def _load(self, words, ty, splat):
        """A constant of type ty read from the table (one word splatted, or len(words)
        lanes)."""
        at = self.b.gep(self.consts, [ir.Constant(I32, self._word_slot(words))], inbounds=True)
        if splat:
            elem = ty.element
            one = self.b.load(self.b.bitcast(at, elem.as_pointer()), align=4)
            vec = self.b.insert_element(ir.Constant(ty, ir.Undefined), one, ir.Constant(I32, 0))
            return self.b.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(I32, ty.count), [0] * ty.count))
        return self.b.load(self.b.bitcast(at, ty.as_pointer()), align=4)

    # constants
    def c(self, v):
        v32 = np.float32(v)
        assert float(v32) == float(v) or np.isnan(v), f"{v!r} is not a float32"
        return self._load([int(np.array(v32).view(np.int32))], self.f, splat=True)

    def ci(self, v):
        return self._load([int(np.array(v, np.int64).astype(np.int32))], self.i, splat=True)

    def c64(self, v):
        """A float64 constant, for a half-width float64 vector."""
        words = np.array(v, np.float64).reshape(1).view(np.int32)
        return self._load([int(w) for w in words], self.f64, splat=True)

    def ci64(self, v):
        words = np.array(v, np.int64).reshape(1).view(np.int32)
        return self._load([int(w) for w in words], self.i64, splat=True)

    def vconst(self, values):
        """A vector of per-lane float32 values."""
        vals = np.array(values, np.float32)
        assert vals.size == self.lanes and np.array_equal(vals.astype(np.float64), np.array(values, np.float64))
        return self._load([int(w) for w in vals.view(np.int32)], self.f, splat=False)

    def _intrinsic(self, name, args, ret=None):
        ret = ret or self.f
        fn = cgutils.get_or_insert_function(self.module, ir.FunctionType(ret, [a.type for a in args]), name)
        return self.b.call(fn, args)

    # float arithmetic (IEEE, no fast-math flags: special values and roundings are exact)
    def add(self, a, b):
        return self.b.fadd(a, b)

    def sub(self, a, b):
        return self.b.fsub(a, b)

    def mul(self, a, b):
        return self.b.fmul(a, b)

    def neg(self, a):
        return self.b.fneg(a)

    def fma(self, a, b, c):
        ty = a.type
        width = 32 if ty.element == F32 else 64
        return self._intrinsic(f"llvm.fma.v{ty.count}f{width}", [a, b, c], ret=ty)

    def abs(self, a):
        # clearing the sign bit with a mask from the table (llvm.fabs would read its
        # mask from LLVM's constant pool)
        if _is_f64(a.type):
            return self.flt(self.iand(self.bits(a), self.ci64(0x7FFFFFFFFFFFFFFF)))
        return self.flt(self.iand(self.bits(a), self.ci(0x7FFFFFFF)))

    def trunc(self, a):
        return self._intrinsic(f"llvm.trunc.v{a.type.count}f{64 if _is_f64(a.type) else 32}", [a], ret=a.type)

    def ldexp(self, a, k):
        """a * 2^k (float lanes, int32 lanes k), rounded once: llvm.ldexp, one
        vscalefps/vscalefpd on AVX-512 (elsewhere LLVM calls libm per lane)."""
        width = 64 if _is_f64(a.type) else 32
        return self._intrinsic(f"llvm.ldexp.v{a.type.count}f{width}.v{k.type.count}i32", [a, k], ret=a.type)

    def scalef(self, a, e):
        """a * 2^floor(e) (e float lanes), rounded once: vscalefps."""
        return self._intrinsic("llvm.x86.avx512.mask.scalef.ps.512",
                               [a, e, ir.Constant(self.f, ir.Undefined),
                                ir.Constant(ir.IntType(16), -1), ir.Constant(I32, 4)])

    def poly(self, coeffs, x):
        """Horner's rule, highest degree first, with FMAs (x float32 or float64 lanes)."""
        const = self.c64 if _is_f64(x.type) else self.c
        acc = const(coeffs[0])
        for v in coeffs[1:]:
            acc = self.fma(acc, x, const(v))
        return acc

    # bits and integers (float32 <-> int32 lanes, float64 <-> int64 lanes)
    def bits(self, a):
        return self.b.bitcast(a, ir.VectorType(I64 if _is_f64(a.type) else I32, a.type.count))

    def flt(self, i):
        return self.b.bitcast(i, ir.VectorType(F64 if i.type.element == I64 else F32, i.type.count))

    def iadd(self, a, b):
        return self.b.add(a, b)

    def isub(self, a, b):
        return self.b.sub(a, b)

    def iand(self, a, b):
        return self.b.and_(a, b)

    def ashr(self, a, n):
        return self.b.ashr(a, self._imm(a.type, n))   # shift counts are immediates, not table reads

    def shl(self, a, n):
        return self.b.shl(a, self._imm(a.type, n))

    def _imm(self, ty, n):
        return ir.Constant(ty, [int(n)] * ty.count)

    def to_float(self, i):
        return self.b.sitofp(i, ir.VectorType(F64 if i.type.element == I64 else F32, i.type.count))

    # comparisons (ordered: false when either side is nan) and selects
    def lt(self, a, b):
        return self.b.fcmp_ordered("<", a, b)

    def eq(self, a, b):
        return self.b.fcmp_ordered("==", a, b)

    def ne(self, a, b):
        return self.b.fcmp_ordered("!=", a, b)

    def ge(self, a, b):
        return self.b.fcmp_ordered(">=", a, b)

    def ilt(self, a, b):
        return self.b.icmp_signed("<", a, b)

    def ieq(self, a, b):
        return self.b.icmp_signed("==", a, b)

    def sel(self, mask, a, b):
        return self.b.select(mask, a, b)

    def not_pos_normal(self, a):
        """Lanes holding anything but a positive normal number: nan, inf, zero, a
        denormal or a negative number (one vfpclassps, where a range check on the bits
        takes two instructions)."""
        return self._intrinsic("llvm.x86.avx512.fpclass.ps.512", [a, ir.Constant(I32, 0xFF)],
                               ret=ir.VectorType(ir.IntType(1), self.lanes))   # every class but positive normal

    def m_and(self, a, b):
        return self.b.and_(a, b)

    def m_or(self, a, b):
        return self.b.or_(a, b)

    def m_not(self, a):
        return self.b.not_(a)

    def any(self, mask):
        """Is any lane of the mask set (an i1)?"""
        word = self.b.bitcast(mask, ir.IntType(mask.type.count))
        return self.b.icmp_unsigned("!=", word, ir.Constant(ir.IntType(mask.type.count), 0))

    # lanes of a vector
    def part(self, a, lanes):
        """The given lanes of a, as a shorter vector."""
        return _shuffle(self.b, a, a, lanes)

    def join(self, a, b):
        """a's lanes followed by b's (two vectors of one type)."""
        return _shuffle(self.b, a, b, range(2 * a.type.count))

    def lookup64(self, values, idx, lanes):
        """values[idx[j]] for j in lanes, as a float64 vector: the table is placed in the
        constant table and read with one scalar load per lane (for slow paths: a table too
        large for permutes, and no gather intrinsic to rely on across LLVM versions)."""
        words = np.asarray(values, np.float64).view(np.int32)
        base = self._word_slot([int(w) for w in words])
        out = ir.Constant(ir.VectorType(F64, len(lanes)), ir.Undefined)
        for j, lane in enumerate(lanes):
            i = self.b.extract_element(idx, ir.Constant(I32, lane))
            at = self.b.gep(self.consts, [self.b.add(self.b.shl(i, ir.Constant(I32, 1)), ir.Constant(I32, base))],
                            inbounds=True)
            one = self.b.load(self.b.bitcast(at, F64.as_pointer()), align=4)
            out = self.b.insert_element(out, one, ir.Constant(I32, j))
        return out

    def rows64(self, rows, idx):
        """One float64 vector per column of the table `rows` (shape (n, w), w a power of
        two), each lane holding the row idx[lane] (idx: int32 or int64 lanes, in range,
        so that the word offsets do not overflow):
        one load of a whole row per lane, and shuffles that turn the loaded rows into
        columns. A function that needs several values per index (pow's invc, log c as hi
        and lo) keeps them in one row, so a lane costs one load, not one per value."""
        rows = np.asarray(rows, np.float64)
        n_rows, w = rows.shape
        assert w & (w - 1) == 0
        words = [int(v) for v in rows.reshape(-1).view(np.int32)]
        key = ("rows", tuple(words))     # one copy for every section: nothing hoists these loads
        if key not in self._slots:
            if len(self.words) % 2:              # rows start on 8-byte boundaries
                self.words.append(0)
            self._slots[key] = len(self.words)
            self.words.extend(words)
        base = self._slots[key]
        row_ty = ir.VectorType(F64, w)
        loaded = []
        ity = idx.type.element      # int64 lanes index in int64: no sign extensions
        for lane in range(idx.type.count):
            i = self.b.extract_element(idx, ir.Constant(I32, lane))
            word = self.b.add(self.b.mul(i, ir.Constant(ity, 2 * w)), ir.Constant(ity, base))
            at = self.b.gep(self.consts, [word], inbounds=True)
            loaded.append(self.b.load(self.b.bitcast(at, row_ty.as_pointer()), align=8))
        both = _concat(self.b, loaded)
        n = len(loaded)
        return [_shuffle(self.b, both, both, [lane * w + j for lane in range(n)]) for j in range(w)]

    # tables in registers
    def table(self, values, idx):
        """values[idx] per lane for a table of 16 or 32 float32s (int32 lanes, of which
        the instruction reads only the low 4 or 5 bits): one vpermps or vpermi2ps."""
        assert len(values) in (16, 32)
        if len(values) == 16:
            return self._intrinsic("llvm.x86.avx512.permvar.sf.512", [self.vconst(values), idx])
        return self._intrinsic("llvm.x86.avx512.vpermi2var.ps.512",
                               [self.vconst(values[:16]), idx, self.vconst(values[16:])])


def _shuffle(builder, a, b, picks):
    """The lanes `picks` of a's lanes followed by b's."""
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(I32, len(picks)), list(picks)))


def _widen(builder, v, lanes):
    """A <n x T> vector as <lanes x T>, its lanes repeated (no undefined lanes: the
    vector function must not see garbage that would send it down a slow path)."""
    return _shuffle(builder, v, v, [k % v.type.count for k in range(lanes)])


def _concat(builder, parts):
    while len(parts) > 1:
        parts = [_shuffle(builder, a, b, range(2 * a.type.count)) for a, b in zip(parts[::2], parts[1::2])]
    return parts[0]


def _is_f64(ty):
    return ty.element == F64


def _define_width(module, native, n, n_args, name):
    """The n-lane version of the vector function `native`: narrower ones run it on
    repeated lanes, wider ones in pieces."""
    native_ty = native.function_type.return_type
    lanes = native_ty.count
    vty = ir.VectorType(native_ty.element, n)
    vn = ir.Function(module, ir.FunctionType(vty, [vty] * n_args + [I32.as_pointer()]), f"{name}_v{n}")
    _private(vn)
    b = ir.IRBuilder(vn.append_basic_block("entry"))
    args, consts = vn.args[:-1], vn.args[-1]
    if n < lanes:
        wide = b.call(native, [_widen(b, a, lanes) for a in args] + [consts])
        b.ret(_shuffle(b, wide, wide, range(n)))
    else:
        pieces = [b.call(native, [_shuffle(b, a, a, range(k, k + lanes)) for a in args] + [consts])
                  for k in range(0, n, lanes)]
        b.ret(_concat(b, pieces))
    return vn


def call(builder, name, body, args, lanes=LANES):
    """Call scalar function `name` on `args` (float32 values, or float64 values) in the
    current function, defining it (and its vector versions, and their constant table)
    in this module on first use. `body(vec, *vector_args)` emits the computation on
    `lanes` lanes (the CPU's vector width: float32 16 with AVX-512 and 8 with AVX2,
    float64 half that) with `Vec` and returns the result vector; it may add basic blocks
    and end them with a `ret` of their own (vec.b is positioned in the function). The
    other widths (float32: 16, 8 and 4 lanes; float64: 8, 4 and 2, what the loop
    vectoriser picks for 512-, 256- and 128-bit vectors) call that version, so every
    lane gets the same bits whichever width the vectoriser picked. A float64 body's
    `Vec` is made for twice as many float32 lanes, so that its `f64`/`i64` types are the
    argument vectors' types.

    (`name` must be built with the same `lanes` throughout a process: the functions are
    linkonce_odr, so two modules' copies must be the same code. Callers derive `lanes`
    from the CPU Numba compiles for, which is fixed per process.)"""
    module = builder.module
    n_args = len(args)
    elem = args[0].type
    assert elem in (F32, F64) and all(a.type == elem for a in args)
    widths = (16, 8, 4) if elem == F32 else (8, 4, 2)
    if name not in module.globals:
        vty = ir.VectorType(elem, lanes)
        native = ir.Function(module, ir.FunctionType(vty, [vty] * n_args + [I32.as_pointer()]),
                             f"{name}_v{lanes}")
        _private(native)
        b = ir.IRBuilder(native.append_basic_block("entry"))
        vec = Vec(b, consts=native.args[-1], lanes=lanes if elem == F32 else 2 * lanes)
        b.ret(body(vec, *native.args[:-1]))
        table = ir.GlobalVariable(module, ir.ArrayType(I32, len(vec.words)), f"{name}_consts")
        table.initializer = ir.Constant(ir.ArrayType(I32, len(vec.words)), vec.words)
        table.global_constant = True
        table.linkage = "internal"
        table.align = 64

        # the other widths, for loops the vectoriser widens to another width (float32
        # next to float64, 256- or 512-bit vectors). Nothing calls them before the
        # vectoriser runs, so they are marked as used.
        _keep(module, [_define_width(module, native, n, n_args, name) for n in widths if n != lanes])

        s = ir.Function(module, ir.FunctionType(elem, [elem] * n_args + [I32.as_pointer()]), name)
        _private(s, "readnone")
        # the table pointer is the same for every element: a uniform ("u") parameter
        params = "v" * n_args + "u"
        variants = ",".join(f"_ZGV_LLVM_N{n}{params}_{name}({name}_v{n})" for n in widths)
        set.add(s.attributes, f'"vector-function-abi-variant"="{variants}"')
        b = ir.IRBuilder(s.append_basic_block("entry"))
        splats = []
        for a in s.args[:-1]:
            one = b.insert_element(ir.Constant(vty, ir.Undefined), a, ir.Constant(I32, 0))
            splats.append(_shuffle(b, one, one, [0] * lanes))
        b.ret(b.extract_element(b.call(native, splats + [s.args[-1]]), ir.Constant(I32, 0)))
    table = module.globals[f"{name}_consts"]
    ptr = builder.gep(table, [ir.Constant(I32, 0), ir.Constant(I32, 0)], inbounds=True)
    return builder.call(module.globals[name], list(args) + [ptr])


def _private(fn, memory="readonly"):
    # linkonce_odr: every module may define its own (identical) copy, and - unlike
    # internal - the optimiser may not rewrite the signature (it would drop the table
    # pointer, a constant, and the mapping to the vector versions would no longer fit);
    # noinline: kept as a function until the loop vectoriser has used the mapping;
    # readonly: reads only its constant table. The scalar function is declared readnone:
    # LLVM's loop vectoriser does not widen a call that may read memory, even with a
    # vector mapping, and reading memory that is constant and private to these
    # functions has no effect a caller could observe.
    fn.linkage = "linkonce_odr"
    for attr in ("noinline", "nounwind", memory):
        fn.attributes.add(attr)


def _keep(module, functions):
    """Add functions to the module's llvm.compiler.used list, so that the optimiser keeps
    them until the loop vectoriser may call them (they are linkonce_odr: dropped when
    unused, and nothing calls them before)."""
    i8p = ir.IntType(8).as_pointer()
    used = module.globals.get("llvm.compiler.used")
    if used is None:
        used = ir.GlobalVariable(module, ir.ArrayType(i8p, 0), "llvm.compiler.used")
        used.linkage = "appending"
        used.section = "llvm.metadata"
        members = []
    else:
        members = list(used.initializer.constant)
    members += [fn.bitcast(i8p) for fn in functions]
    # (an appending global's array type grows with it; nothing else refers to it)
    array = ir.ArrayType(i8p, len(members))
    used.value_type = array
    used.type = array.as_pointer()
    used.initializer = ir.Constant(array, members)
