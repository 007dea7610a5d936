"""NumPy's bitwise functions: bitwise_and/or/xor, invert, left_shift, right_shift.

On bool operands NumPy's bitwise ops are the logical ones, so those route to the logical
primitives; integer operands use the bit primitives of dprog/ops/bits.py.
"""
from .. import dtypes
from ..errors import DtypeError, with_location
from ..ops import bits
from ._core import aval_of, asarray, promote
from .elementwise import logical_and, logical_not, logical_or, logical_xor


def _bitwise(prim, logical, name):
    def fn(x, y):
        x, y = promote(name, x, y)
        dt = aval_of(x).dtype
        if dtypes.is_bool(dt):
            if logical is None:
                raise DtypeError(with_location(
                    f"{name} needs integer operands, got bool; cast with .astype(np.int32)"))
            return logical(x, y)
        if not dtypes.is_int(dt):
            raise DtypeError(with_location(
                f"{name} needs integer or bool operands, got {dt}; cast with .astype(np.int64)"))
        return prim(x, y)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name}, as numpy.{name} (integers and bools)."
    return fn


bitwise_and = _bitwise(bits.bitwise_and_p, logical_and, "bitwise_and")
bitwise_or = _bitwise(bits.bitwise_or_p, logical_or, "bitwise_or")
bitwise_xor = _bitwise(bits.bitwise_xor_p, logical_xor, "bitwise_xor")
left_shift = _bitwise(bits.left_shift_p, None, "left_shift")
right_shift = _bitwise(bits.right_shift_p, None, "right_shift")


def invert(x):
    """~x: bitwise not of integers (-x - 1 in two's complement), logical not of bools."""
    x = asarray(x)
    dt = aval_of(x).dtype
    if dtypes.is_bool(dt):
        return logical_not(x)
    if not dtypes.is_int(dt):
        raise DtypeError(with_location(f"invert needs integer or bool operands, got {dt}"))
    return bits.bitwise_xor_p(x, dt.type(-1))


bitwise_not = invert
bitwise_invert = invert
