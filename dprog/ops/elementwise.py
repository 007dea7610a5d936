"""Elementwise primitives: one table row per op.

Operands of an elementwise primitive share one dtype and one shape, except that rank-0
operands broadcast (so `x * 2.0` needs no broadcast node). dprog.numpy inserts the casts
and broadcasts that NumPy's promotion and broadcasting rules call for, so the primitives
stay simple for transforms and code generators.

A differentiable row gives its partial derivatives as functions of (inputs..., out)
written with traced operations; `_jvp_from_partials` and `_vjp_from_partials` turn them
into the op's JVP and VJP rules.
"""
import math

import numpy as np

from .. import dtypes
from ..errors import DtypeError, ShapeError, with_location
from ..ir import Aval, Literal
from .batching import elementwise_rule
from .record import Kind, Op, register

ACCEPTS = {
    "float": dtypes.is_float,
    "numeric": lambda d: not dtypes.is_bool(d),
    "int": dtypes.is_int,
    "bool": dtypes.is_bool,
    "any": lambda d: True,
}


def _broadcast_shape(name, avals):
    shapes = {a.shape for a in avals if a.ndim}
    if len(shapes) > 1:
        raise ShapeError(with_location(
            f"{name}: operand shapes {[a.shape for a in avals]} differ (only rank-0 "
            f"operands broadcast at the primitive level)"))
    return shapes.pop() if shapes else ()


def elementwise_abstract(name, accepts, out_dtype):
    check = ACCEPTS[accepts]

    def abstract(*avals):
        shape = _broadcast_shape(name, avals)
        dts = {a.dtype for a in avals}
        if len(dts) != 1:
            raise DtypeError(with_location(f"{name}: operand dtypes {sorted(map(str, dts))} differ"))
        dt = dts.pop()
        if not check(dt):
            raise DtypeError(with_location(f"{name} does not accept {dt} operands ({accepts} only)"))
        weak = all(a.weak for a in avals)
        return Aval(shape, dt if out_dtype is None else out_dtype, weak and out_dtype is None)
    return abstract


def _fit(t, aval):
    """Bring a tangent/cotangent term to `aval`'s shape (sum out or broadcast rank-0)."""
    from .. import numpy as dnp
    if t.shape == aval.shape:
        return t
    if aval.ndim == 0:
        return dnp.sum(t)
    return dnp.broadcast_to(t, aval.shape)


def _scale(t, d):
    """t * d, without a node when the partial is the constant 1 or -1."""
    if isinstance(d, int) and d in (1, -1):
        return t if d == 1 else -t
    return t * d


def _jvp_from_partials(partials):
    def jvp(primals, tangents, outs):
        out = outs[0]
        total = None
        for t, d in zip(tangents, partials):
            if t is None or d is None:
                continue
            term = _scale(t, d(*primals, out))
            total = term if total is None else total + term
        return None if total is None else _fit(total, out.aval)
    return jvp


def _vjp_from_partials(partials):
    def vjp(ct, primals, outs):
        out = outs[0]
        return [None if d is None or not _needs_ct(x)
                else _fit(_scale(ct, d(*primals, out)), x.aval)
                for x, d in zip(primals, partials)]
    return vjp


def _needs_ct(x):
    """Cotangents flow only to traced float values (not to literals or integers)."""
    from ..trace import Tracer
    return isinstance(x, Tracer) and dtypes.is_float(x.aval.dtype)


def _zero_jvp(primals, tangents, outs):
    return None


def _zero_vjp(ct, primals, outs):
    return [None] * len(primals)


def define(name, arity, impl, *, partials=None, expr=None, scalar_expr=None, fast=None,
           rewrite=None, accepts="float", out_dtype=None, domain="real", doc=""):
    """Register one elementwise op. partials=None marks it non-differentiable. An op whose
    `expr` calls kernels/vecmath gives NumPy's scalar function (a libm call in Numba, the
    same meaning, special values included) as its `scalar_expr` (see Op)."""
    differentiable = partials is not None
    return with_batch_rule(register(Op(
        name, Kind.ELEMENTWISE, elementwise_abstract(name, accepts, out_dtype), impl,
        jvp=_jvp_from_partials(partials) if differentiable else _zero_jvp,
        vjp=_vjp_from_partials(partials) if differentiable else _zero_vjp,
        expr=expr, scalar_expr=scalar_expr, fast=fast, rewrite=rewrite, domain=domain,
        differentiable=differentiable, doc=doc)))


def with_batch_rule(op):
    """Give an elementwise op the shared vmap rule (it needs the op, so it comes after)."""
    op.batch = elementwise_rule(op)
    return op


def _dnp():
    from .. import numpy as dnp
    return dnp


LN2 = math.log(2.0)
LN10 = math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf(x):
    from math import erf
    return np.vectorize(erf, otypes=[x.dtype])(x) if np.ndim(x) else np.asarray(erf(x), np.result_type(x))


def _logistic(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _balanced(cmp):
    """Derivative of max/min w.r.t. one operand: 1 where it wins, 1/2 on ties (as JAX)."""
    def d(a, b, out):
        dnp = _dnp()
        return dnp.where(cmp(a, b), 1.0, dnp.where(a == b, 0.5, 0.0)).astype(a.dtype)
    return d


def _pow_dx(x, y, out):
    dnp = _dnp()
    return dnp.where(y == 0, 0.0, y * x ** (y - 1)).astype(x.dtype)


def _pow_dy(x, y, out):
    dnp = _dnp()
    safe_x = dnp.where(x == 0, 1.0, x).astype(x.dtype)
    return dnp.where(x == 0, 0.0, out * dnp.log(safe_x)).astype(x.dtype)


def _scalar(like, value):
    return Literal(like.aval.dtype.type(value), like.aval.update(shape=(), weak=False))


def _pow_half(x, emit):
    # pow(-0, 0.5) is +0 where sqrt gives -0 (hence the abs), pow(-inf, 0.5) is +inf
    # where sqrt gives nan; elsewhere the two agree (nan for x < 0)
    root = emit(abs_p, emit(sqrt_p, x))
    return emit(select_p, emit(eq_p, x, _scalar(x, -np.inf)), _scalar(x, np.inf), root)


# x ** |c| for the literal exponents c that _pow_rewrite rewrites (x ** -c is 1 / x ** c:
# one rounding more). Each rounding before the last adds up to one ulp to the last one's
# half (as JAX's integer_pow): within 1.5 ulp for x**3, x**-2 and x**-0.5, 2.5 for x**4
# and x**-3 (tests/transforms/test_simplify_pow.py). x**-4 would be 3.5: it stays a pow
# (0.5-1 ulp), as do all other exponents.
POW_BY_EXPONENT = {
    1.0: lambda x, emit: x,
    2.0: lambda x, emit: emit(square_p, x),
    3.0: lambda x, emit: emit(mul_p, emit(square_p, x), x),
    4.0: lambda x, emit: emit(square_p, emit(square_p, x)),
    0.5: _pow_half,
}
MOST_NEGATIVE_EXPONENT = -3.0


def _pow_rewrite(node, emit):
    """x ** c for float x and a literal c in {0, +-1/2, +-1, +-2, +-3, 4} -> products, sqrt
    and a division (1 / x**|c| for c < 0), instead of vecmath's pow: x ** 3 and the
    x ** 2.0 in its gradient are common in losses, x ** -2 and x ** -3 in potentials.
    Every form gives C99 pow's special values (x ** 0 = 1 for a nan x too, 1 / x**n is inf
    at 0 and 0 where x**n overflows). One difference: where x**|c| underflows into the
    denormals, 1 / x**|c| shows that rounding (as JAX's integer_pow does)."""
    x, c = node.inputs
    if not isinstance(c, Literal) or node.outs[0].aval.dtype.kind != "f":
        return None
    c = float(c.value)
    if c == 0.0:
        return _scalar(x, 1)
    form = POW_BY_EXPONENT.get(abs(c)) if c >= MOST_NEGATIVE_EXPONENT else None
    if form is None:
        return None
    value = form(x, emit)
    return emit(div_p, _scalar(x, 1), value) if c < 0 else value


def _select_rewrite(node, emit):
    """select(True, a, b) -> a, select(False, a, b) -> b. The gradient of x ** c has
    where(c == 0, 0, ...), which constant folding turns into such a select."""
    pred, on_true, on_false = node.inputs
    if not isinstance(pred, Literal):
        return None
    return on_true if pred.value else on_false


# name: (arity, numpy impl, partials, codegen expression, accepts, domain)
copy_p = define("copy", 1, np.copy, partials=[lambda x, y: 1], expr="{0}", accepts="any")
neg_p = define("neg", 1, np.negative, partials=[lambda x, y: -1], expr="(-{0})", accepts="numeric")
abs_p = define("abs", 1, np.abs, partials=[lambda x, y: _dnp().sign(x)], expr="abs({0})",
               accepts="numeric", doc="d|x|/dx = sign(x), so 0 at 0 (as JAX)")
sign_p = define("sign", 1, np.sign, expr={"f": "(np.{dt}(1) if {0} > 0 else (np.{dt}(-1) if {0} < 0 else {0}))", "i": "np.{dt}(np.{dt}({0} > 0) - np.{dt}({0} < 0))"}, accepts="numeric")
square_p = define("square", 1, np.square, partials=[lambda x, y: 2 * x], expr="({0} * {0})",
                  accepts="numeric")
sqrt_p = define("sqrt", 1, np.sqrt, partials=[lambda x, y: 0.5 / y], expr="np.sqrt({0})",
                domain="positive")
cbrt_p = define("cbrt", 1, np.cbrt, partials=[lambda x, y: 1 / (3 * y * y)], expr="sc.cbrt({0})",
                domain="nonzero")
reciprocal_p = define("reciprocal", 1, np.reciprocal, partials=[lambda x, y: -(y * y)],
                      expr="(np.{dt}(1) / {0})", domain="nonzero")
exp_p = define("exp", 1, np.exp, partials=[lambda x, y: y], expr="vm.vexp({0})",
               scalar_expr="np.exp({0})", domain="small")
exp2_p = define("exp2", 1, np.exp2, partials=[lambda x, y: y * LN2], expr="vm.vexp2({0})",
                scalar_expr="np.exp2({0})", domain="small")
expm1_p = define("expm1", 1, np.expm1, partials=[lambda x, y: y + 1], expr="vm.vexpm1({0})",
                 scalar_expr="np.expm1({0})", domain="small")
log_p = define("log", 1, np.log, partials=[lambda x, y: 1 / x], expr="vm.vlog({0})",
               scalar_expr="np.log({0})", domain="positive",
               fast=("vm.vlog_fast({0})", "vm.vlog_special({0})"))
log2_p = define("log2", 1, np.log2, partials=[lambda x, y: 1 / (x * LN2)], expr="vm.vlog2({0})",
                scalar_expr="np.log2({0})", domain="positive",
                fast=("vm.vlog2_fast({0})", "vm.vlog_special({0})"))
log10_p = define("log10", 1, np.log10, partials=[lambda x, y: 1 / (x * LN10)],
                 expr="vm.vlog10({0})", scalar_expr="np.log10({0})", domain="positive",
                 fast=("vm.vlog10_fast({0})", "vm.vlog_special({0})"))
log1p_p = define("log1p", 1, np.log1p, partials=[lambda x, y: 1 / (1 + x)], expr="vm.vlog1p({0})",
                 scalar_expr="np.log1p({0})", domain="gt_minus1")
sin_p = define("sin", 1, np.sin, partials=[lambda x, y: _dnp().cos(x)], expr="vm.vsin({0})",
               scalar_expr="np.sin({0})", fast=("vm.vsin_fast({0})", "vm.vtrig_huge({0})"))
cos_p = define("cos", 1, np.cos, partials=[lambda x, y: -_dnp().sin(x)], expr="vm.vcos({0})",
               scalar_expr="np.cos({0})", fast=("vm.vcos_fast({0})", "vm.vtrig_huge({0})"))
tan_p = define("tan", 1, np.tan, partials=[lambda x, y: 1 + y * y], expr="np.tan({0})",
               domain="unit_open")
arcsin_p = define("arcsin", 1, np.arcsin, partials=[lambda x, y: 1 / _dnp().sqrt(1 - x * x)],
                  expr="np.arcsin({0})", domain="unit_open")
arccos_p = define("arccos", 1, np.arccos, partials=[lambda x, y: -1 / _dnp().sqrt(1 - x * x)],
                  expr="np.arccos({0})", domain="unit_open")
arctan_p = define("arctan", 1, np.arctan, partials=[lambda x, y: 1 / (1 + x * x)],
                  expr="vm.vatan({0})", scalar_expr="np.arctan({0})")
sinh_p = define("sinh", 1, np.sinh, partials=[lambda x, y: _dnp().cosh(x)], expr="vm.vsinh({0})",
                scalar_expr="np.sinh({0})", domain="small")
cosh_p = define("cosh", 1, np.cosh, partials=[lambda x, y: _dnp().sinh(x)], expr="vm.vcosh({0})",
                scalar_expr="np.cosh({0})", domain="small")
tanh_p = define("tanh", 1, np.tanh, partials=[lambda x, y: 1 - y * y], expr="vm.vtanh({0})",
                scalar_expr="np.tanh({0})")
arcsinh_p = define("arcsinh", 1, np.arcsinh, partials=[lambda x, y: 1 / _dnp().sqrt(x * x + 1)],
                   expr="np.arcsinh({0})")
arccosh_p = define("arccosh", 1, np.arccosh, partials=[lambda x, y: 1 / _dnp().sqrt(x * x - 1)],
                   expr="np.arccosh({0})", domain="gt1")
arctanh_p = define("arctanh", 1, np.arctanh, partials=[lambda x, y: 1 / (1 - x * x)],
                   expr="np.arctanh({0})", domain="unit_open")
logistic_p = define("logistic", 1, _logistic, partials=[lambda x, y: y * (1 - y)],
                    expr="vm.vsigmoid({0})", doc="sigmoid 1/(1+exp(-x))")
erf_p = define("erf", 1, _erf,
               partials=[lambda x, y: TWO_OVER_SQRT_PI * _dnp().exp(-(x * x))], expr="vm.verf({0})")
floor_p = define("floor", 1, np.floor, expr="np.floor({0})")
ceil_p = define("ceil", 1, np.ceil, expr="np.ceil({0})")
round_p = define("round", 1, np.round, expr="sc.round_half_even({0})",
                 doc="rounds half to even, as NumPy")
isnan_p = define("isnan", 1, np.isnan, expr="np.isnan({0})", out_dtype=dtypes.bool_)
isfinite_p = define("isfinite", 1, np.isfinite, expr="np.isfinite({0})", out_dtype=dtypes.bool_)
logical_not_p = define("logical_not", 1, np.logical_not, expr="(not {0})", accepts="bool",
                       domain="bool")

add_p = define("add", 2, np.add, partials=[lambda x, y, o: 1, lambda x, y, o: 1],
               expr="({0} + {1})", accepts="numeric")
sub_p = define("sub", 2, np.subtract, partials=[lambda x, y, o: 1, lambda x, y, o: -1],
               expr="({0} - {1})", accepts="numeric")
mul_p = define("mul", 2, np.multiply, partials=[lambda x, y, o: y, lambda x, y, o: x],
               expr="({0} * {1})", accepts="numeric")
div_p = define("div", 2, np.true_divide, partials=[lambda x, y, o: 1 / y, lambda x, y, o: -o / y],
               expr="({0} / {1})", domain="nonzero")
floor_divide_p = define("floor_divide", 2, np.floor_divide, expr={"f": "sc.float_floor_divide({0}, {1})", "i": "sc.int_floor_divide({0}, {1})"},
                        accepts="numeric", domain="nonzero")
mod_p = define("mod", 2, np.mod,
               partials=[lambda x, y, o: 1, lambda x, y, o: -_dnp().floor(x / y)],
               expr={"f": "sc.fmod_floor({0}, {1})", "i": "sc.int_mod({0}, {1})"}, accepts="numeric", domain="nonzero",
               doc="Python/NumPy modulo: the result has the sign of the divisor")
pow_p = define("pow", 2, np.power, partials=[_pow_dx, _pow_dy],
               expr={"f": "vm.vpow({0}, {1})", "i": "sc.int_pow({0}, {1})"}, rewrite=_pow_rewrite,
               fast={"f": ("vm.vpow_fast({0}, {1})", "vm.vpow_special({0}, {1})")},
               accepts="numeric", domain="positive", doc="d/dy at x == 0 is taken as 0 (as JAX)")
maximum_p = define("maximum", 2, np.maximum,
                   partials=[_balanced(lambda a, b: a > b), _balanced(lambda a, b: a < b)],
                   expr="sc.maximum({0}, {1})", accepts="numeric",
                   doc="ties split the derivative equally between operands (as JAX)")
minimum_p = define("minimum", 2, np.minimum,
                   partials=[_balanced(lambda a, b: a < b), _balanced(lambda a, b: a > b)],
                   expr="sc.minimum({0}, {1})", accepts="numeric",
                   doc="ties split the derivative equally between operands (as JAX)")
arctan2_p = define("arctan2", 2, np.arctan2,
                   partials=[lambda y, x, o: x / (x * x + y * y), lambda y, x, o: -y / (x * x + y * y)],
                   expr="np.arctan2({0}, {1})", domain="nonzero")

_COMPARISONS = {"lt": (np.less, "<"), "le": (np.less_equal, "<="), "gt": (np.greater, ">"),
                "ge": (np.greater_equal, ">="), "eq": (np.equal, "=="), "ne": (np.not_equal, "!=")}
lt_p, le_p, gt_p, ge_p, eq_p, ne_p = (
    define(name, 2, fn, expr=f"({{0}} {sym} {{1}})", accepts="any", out_dtype=dtypes.bool_)
    for name, (fn, sym) in _COMPARISONS.items())
# The comparisons, for code generators that narrow their operands (cpu_row_kernel's int32
# one-hot compare keeps every comparison's result when both sides are clamped alike).
COMPARISONS = (lt_p, le_p, gt_p, ge_p, eq_p, ne_p)

logical_and_p = define("logical_and", 2, np.logical_and, expr="({0} and {1})", accepts="bool",
                       domain="bool")
logical_or_p = define("logical_or", 2, np.logical_or, expr="({0} or {1})", accepts="bool",
                      domain="bool")
logical_xor_p = define("logical_xor", 2, np.logical_xor, expr="({0} != {1})", accepts="bool",
                       domain="bool")


# select(pred, on_true, on_false): the pred is bool, the branches share a dtype.
def _select_abstract(pred, a, b):
    shape = _broadcast_shape("select", (pred, a, b))
    if pred.dtype != dtypes.bool_:
        raise DtypeError(with_location(f"select: the condition must be bool, got {pred.dtype}"))
    if a.dtype != b.dtype:
        raise DtypeError(with_location(f"select: branch dtypes {a.dtype} and {b.dtype} differ"))
    return Aval(shape, a.dtype, a.weak and b.weak)


def _select_jvp(primals, tangents, outs):
    pred, a, b = primals
    _, ta, tb = tangents
    if ta is None and tb is None:
        return None
    dnp = _dnp()
    ta = dnp.zeros_like(a) if ta is None else ta
    tb = dnp.zeros_like(b) if tb is None else tb
    return _fit(select_p(pred, ta, tb), outs[0].aval)


def _select_vjp(ct, primals, outs):
    pred, a, b = primals
    zero = np.zeros((), ct.dtype)
    return [None,
            _fit(select_p(pred, ct, zero), a.aval) if _needs_ct(a) else None,
            _fit(select_p(pred, zero, ct), b.aval) if _needs_ct(b) else None]


select_p = with_batch_rule(register(Op("select", Kind.ELEMENTWISE, _select_abstract, np.where,
                       jvp=_select_jvp, vjp=_select_vjp, expr="({1} if {0} else {2})",
                       rewrite=_select_rewrite, domain="select", doc="where(pred, on_true, on_false)")))


# convert_element_type(x, dtype, weak): casts; derivatives pass between float dtypes only.
def _convert_abstract(x, *, dtype, weak=False):
    return Aval(x.shape, dtypes.canonical(dtype), weak)


def _convert_impl(x, *, dtype, weak=False):
    return np.asarray(x).astype(dtype)


def _convert_jvp(primals, tangents, outs, *, dtype, weak=False):
    (t,) = tangents
    if t is None or not dtypes.is_float(np.dtype(dtype)):
        return None
    return convert_element_type_p(t, dtype=dtype, weak=weak)


def _convert_vjp(ct, primals, outs, *, dtype, weak=False):
    (x,) = primals
    if not dtypes.is_float(x.aval.dtype):
        return [None]
    return [convert_element_type_p(ct, dtype=x.aval.dtype, weak=x.aval.weak)]


convert_element_type_p = with_batch_rule(register(Op(
    "convert_element_type", Kind.ELEMENTWISE, _convert_abstract, _convert_impl,
    jvp=_convert_jvp, vjp=_convert_vjp, expr="vm.cast({0}, {dtype})", domain="real",
    doc="astype; float->int truncates toward zero as NumPy")))


stop_gradient_p = define("stop_gradient", 1, lambda x: np.array(x, copy=True), expr="{0}",
                         accepts="any",
                         doc="identity whose derivative is zero (dp.stop_gradient)")
