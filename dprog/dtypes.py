"""dtypes: the supported set, canonicalisation, and NumPy 2 (NEP 50) promotion.

Python scalars are *weak*: they take the dtype of the array they meet (x_f32 * 2.0 stays
float32), exactly as NumPy 2 does. An abstract value carries a weak flag so that traced
Python scalars keep that behaviour through the graph.
"""
import numpy as np

from .errors import DtypeError, with_location

bool_ = np.dtype(np.bool_)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)

SUPPORTED = (bool_, int32, int64, float32, float64)
_SUPPORTED_SET = frozenset(SUPPORTED)

# NumPy's default dtypes for Python scalars (what a weak value becomes on its own).
_WEAK_DEFAULT = {bool: bool_, int: int64, float: float64}
# A Python value standing for a weak operand when we ask NumPy to promote.
_WEAK_STANDIN = {bool_: False, int64: 0, float64: 0.0, int32: 0, float32: 0.0}

SHORT_NAMES = {bool_: "bool", int32: "i32", int64: "i64", float32: "f32", float64: "f64"}


def canonical(dtype):
    """Return the np.dtype for `dtype`, or raise a DtypeError naming the supported set."""
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise DtypeError(with_location(f"{dtype!r} is not a dtype ({e})")) from None
    if dt not in _SUPPORTED_SET:
        names = ", ".join(str(d) for d in SUPPORTED)
        raise DtypeError(with_location(
            f"dtype {dt} is not supported by dprog; use one of: {names} "
            f"(convert with x.astype(np.float32), for example)"))
    return dt


def python_scalar_dtype(value):
    """The (weak) dtype of a Python scalar, or None if `value` is not one."""
    return _WEAK_DEFAULT.get(type(value))


def is_float(dtype):
    return dtype.kind == "f"


def is_int(dtype):
    return dtype.kind in "iu"


def is_bool(dtype):
    return dtype.kind == "b"


def is_inexact(dtype):
    return dtype.kind == "f"


def result_type(*avals):
    """Promote abstract values by NumPy 2 rules. Returns (dtype, weak)."""
    strong = [a.dtype for a in avals if not a.weak]
    weak = [a for a in avals if a.weak]
    if not strong:
        # Only Python scalars meet: NumPy gives bool/int64/float64, still weak.
        return canonical(np.result_type(*[_WEAK_STANDIN[a.dtype] for a in weak])), True
    args = strong + [_WEAK_STANDIN[a.dtype] for a in weak]
    return canonical(np.result_type(*args)), False


def float_type(aval):
    """The float dtype an op like sin/mean gives for this input (int -> float64)."""
    if is_float(aval.dtype):
        return aval.dtype
    return float64
