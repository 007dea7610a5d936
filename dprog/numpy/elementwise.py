"""NumPy's elementwise functions (ufuncs) on traced values."""
import numpy as np

from .. import dtypes
from ..ops import elementwise as ew
from ..errors import UnsupportedError, with_location
from ._core import aval_of, asarray, broadcast_shapes, broadcast_to, cast, promote


def _unary(prim, name, float_only=True):
    def fn(x):
        x = asarray(x)
        aval = aval_of(x)
        if float_only and not dtypes.is_float(aval.dtype):
            x = cast(x, dtypes.float64)
        return prim(x)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name}, as numpy.{name}."
    return fn


def _binary(prim, name, to_float=False):
    def fn(x, y):
        x, y = promote(name, x, y, to_float=to_float)
        return prim(x, y)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} with NumPy broadcasting and promotion."
    return fn


sqrt = _unary(ew.sqrt_p, "sqrt")
cbrt = _unary(ew.cbrt_p, "cbrt")
exp = _unary(ew.exp_p, "exp")
exp2 = _unary(ew.exp2_p, "exp2")
expm1 = _unary(ew.expm1_p, "expm1")
log = _unary(ew.log_p, "log")
log2 = _unary(ew.log2_p, "log2")
log10 = _unary(ew.log10_p, "log10")
log1p = _unary(ew.log1p_p, "log1p")
sin = _unary(ew.sin_p, "sin")
cos = _unary(ew.cos_p, "cos")
tan = _unary(ew.tan_p, "tan")
arcsin = _unary(ew.arcsin_p, "arcsin")
arccos = _unary(ew.arccos_p, "arccos")
arctan = _unary(ew.arctan_p, "arctan")
sinh = _unary(ew.sinh_p, "sinh")
cosh = _unary(ew.cosh_p, "cosh")
tanh = _unary(ew.tanh_p, "tanh")
arcsinh = _unary(ew.arcsinh_p, "arcsinh")
arccosh = _unary(ew.arccosh_p, "arccosh")
arctanh = _unary(ew.arctanh_p, "arctanh")
reciprocal = _unary(ew.reciprocal_p, "reciprocal", float_only=False)
isnan = _unary(ew.isnan_p, "isnan")
isfinite = _unary(ew.isfinite_p, "isfinite")


def _int_passthrough(prim, name):
    """floor/ceil/round leave integers unchanged (as NumPy)."""
    def fn(x):
        x = asarray(x)
        if not dtypes.is_float(aval_of(x).dtype):
            return x
        return prim(x)
    fn.__name__ = name
    return fn


floor = _int_passthrough(ew.floor_p, "floor")
ceil = _int_passthrough(ew.ceil_p, "ceil")


def round(x, decimals=0):  # noqa: A001 - NumPy's name
    x = asarray(x)
    if not dtypes.is_float(aval_of(x).dtype):
        return x
    if decimals == 0:
        return ew.round_p(x)
    scale = 10.0 ** decimals
    return ew.round_p(x * scale) / scale


around = round


def negative(x):
    x = asarray(x)
    if dtypes.is_bool(aval_of(x).dtype):
        raise TypeError("negative of a bool array is not supported (use logical_not)")
    return ew.neg_p(x)


def positive(x):
    return asarray(x)


def absolute(x):
    x = asarray(x)
    if dtypes.is_bool(aval_of(x).dtype):
        return x
    return ew.abs_p(x)


abs = absolute  # noqa: A001


def sign(x):
    return ew.sign_p(asarray(x))


def square(x):
    return ew.square_p(asarray(x))


add = _binary(ew.add_p, "add")
subtract = _binary(ew.sub_p, "subtract")
multiply = _binary(ew.mul_p, "multiply")
true_divide = _binary(ew.div_p, "true_divide", to_float=True)
divide = true_divide
floor_divide = _binary(ew.floor_divide_p, "floor_divide")
mod = _binary(ew.mod_p, "mod")
remainder = mod
maximum = _binary(ew.maximum_p, "maximum")
minimum = _binary(ew.minimum_p, "minimum")
arctan2 = _binary(ew.arctan2_p, "arctan2", to_float=True)
less = _binary(ew.lt_p, "less")
less_equal = _binary(ew.le_p, "less_equal")
greater = _binary(ew.gt_p, "greater")
greater_equal = _binary(ew.ge_p, "greater_equal")
equal = _binary(ew.eq_p, "equal")
not_equal = _binary(ew.ne_p, "not_equal")


def _logical(prim, name):
    def fn(x, y):
        x, y = promote(name, cast(asarray(x), dtypes.bool_) if not _is_bool(x) else x,
                       cast(asarray(y), dtypes.bool_) if not _is_bool(y) else y)
        return prim(x, y)
    fn.__name__ = name
    return fn


def _is_bool(x):
    return dtypes.is_bool(aval_of(x).dtype)


logical_and = _logical(ew.logical_and_p, "logical_and")
logical_or = _logical(ew.logical_or_p, "logical_or")
logical_xor = _logical(ew.logical_xor_p, "logical_xor")


def logical_not(x):
    x = asarray(x)
    return ew.logical_not_p(x if _is_bool(x) else cast(x, dtypes.bool_))


def power(x, y):
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
        if y == 2:
            return square(x)
        if y == 1:
            return asarray(x)
    x, y = promote("power", x, y)
    return ew.pow_p(x, y)


def float_power(x, y):
    x, y = promote("float_power", x, y, to_float=True)
    return ew.pow_p(x, y)


def clip(x, a_min=None, a_max=None):
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return asarray(x)


def where(condition, x=None, y=None):
    if x is None or y is None:
        raise UnsupportedError(with_location(
            "where(condition) with one argument returns a data-dependent shape, which "
            "cannot be traced; use where(condition, x, y)"))
    cond = asarray(condition)
    if not _is_bool(cond):
        cond = cast(cond, dtypes.bool_)
    x, y = promote("where", x, y)
    shape = broadcast_shapes("where", aval_of(cond).shape, aval_of(x).shape, aval_of(y).shape)

    def fit(v):
        rank0_ok = aval_of(v).ndim == 0
        return v if rank0_ok or aval_of(v).shape == shape else broadcast_to(v, shape)
    return ew.select_p(fit(cond), fit(x), fit(y))


def sigmoid(x):
    x = asarray(x)
    if not dtypes.is_float(aval_of(x).dtype):
        x = cast(x, dtypes.float64)
    return ew.logistic_p(x)


def erf(x):
    x = asarray(x)
    if not dtypes.is_float(aval_of(x).dtype):
        x = cast(x, dtypes.float64)
    return ew.erf_p(x)


def deg2rad(x):
    return multiply(x, np.pi / 180.0)


def rad2deg(x):
    return multiply(x, 180.0 / np.pi)


def hypot(x, y):
    return sqrt(x * x + y * y)


def logaddexp(x, y):
    x, y = promote("logaddexp", x, y, to_float=True)
    hi = maximum(x, y)
    return hi + log1p(exp(-abs(x - y)))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = asarray(x)
    dt = aval_of(x).dtype
    if not dtypes.is_float(dt):
        return x
    info = np.finfo(dt)
    x = where(isnan(x), nan, x)
    x = where(x == np.inf, info.max if posinf is None else posinf, x)
    return where(x == -np.inf, info.min if neginf is None else neginf, x)
