"""Python operators, array attributes and NumPy protocols of Tracer.

Kept beside the functions they call (dprog.numpy) rather than in trace.py, so the tracing
machinery does not depend on the NumPy namespace.
"""
import numpy as np

from . import numpy as dnp
from .errors import LeakedTracerError, TracerConversionError, with_location
from .numpy import dispatch
from .trace import Tracer

_CONTROL_HINT = ("use dp.cond / dp.switch for branches, dp.fori_loop / dp.while_loop / dp.scan "
                 "for loops, dnp.where for elementwise choices, or mark the argument static "
                 "with static_argnums if its value decides the program's structure")


def _conversion_error(what):
    def method(self, *args):
        raise TracerConversionError(with_location(
            f"{what} of a traced value ({self.aval}): its value is not known while the "
            f"function is traced; {_CONTROL_HINT}"))
    return method


def _swap(fn):
    return lambda self, other: fn(other, self)


def _unhashable(self):
    raise TypeError(with_location(
        "traced values are unhashable; use them as arrays, not as dict keys or set members"))


def _len(self):
    if not self.aval.shape:
        raise TypeError(with_location("len() of a 0-d traced array"))
    return self.aval.shape[0]


def _iter(self):
    if not self.aval.shape:
        raise TypeError(with_location("iteration over a 0-d traced array"))
    return (self[i] for i in range(self.aval.shape[0]))


def _array(self, dtype=None, copy=None):
    if not self.builder.active:  # eager NumPy code met a tracer kept from a finished trace
        raise LeakedTracerError(with_location(
            "a traced value escaped the function that was traced (stored in a global, a "
            "closure or an attribute) and is used after that trace ended; return it from "
            "the function instead"))
    raise TracerConversionError(with_location(
        f"np.asarray()/np.array() of a traced value ({self.aval}): its value is not known "
        f"while tracing; use dprog.numpy (dnp) functions on it, or return it from the "
        f"traced function"))


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    return dnp.reshape(self, shape, order=order)


def _transpose(self, *axes):
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = axes[0]
    return dnp.transpose(self, axes or None)


_METHODS = {
    "__add__": dnp.add, "__radd__": _swap(dnp.add),
    "__sub__": dnp.subtract, "__rsub__": _swap(dnp.subtract),
    "__mul__": dnp.multiply, "__rmul__": _swap(dnp.multiply),
    "__truediv__": dnp.true_divide, "__rtruediv__": _swap(dnp.true_divide),
    "__floordiv__": dnp.floor_divide, "__rfloordiv__": _swap(dnp.floor_divide),
    "__mod__": dnp.mod, "__rmod__": _swap(dnp.mod),
    "__pow__": dnp.power, "__rpow__": _swap(dnp.power),
    "__matmul__": dnp.matmul, "__rmatmul__": _swap(dnp.matmul),
    "__neg__": dnp.negative, "__pos__": dnp.positive, "__abs__": dnp.abs,
    "__lt__": dnp.less, "__le__": dnp.less_equal, "__gt__": dnp.greater,
    "__ge__": dnp.greater_equal, "__eq__": dnp.equal, "__ne__": dnp.not_equal,
    # As NumPy: bitwise on integers, logical on bools (dnp.bitwise_* route by dtype).
    "__and__": dnp.bitwise_and, "__rand__": _swap(dnp.bitwise_and),
    "__or__": dnp.bitwise_or, "__ror__": _swap(dnp.bitwise_or),
    "__xor__": dnp.bitwise_xor, "__rxor__": _swap(dnp.bitwise_xor),
    "__lshift__": dnp.left_shift, "__rlshift__": _swap(dnp.left_shift),
    "__rshift__": dnp.right_shift, "__rrshift__": _swap(dnp.right_shift),
    "__invert__": dnp.invert,
    "__getitem__": dnp.getitem,
    "__bool__": _conversion_error("bool() (an `if`, `while`, `and`/`or` or assert)"),
    "__int__": _conversion_error("int()"),
    "__float__": _conversion_error("float()"),
    "__complex__": _conversion_error("complex()"),
    "__index__": _conversion_error("use as a Python index (range(), list index, ...)"),
    "__hash__": _unhashable,
    "__len__": _len,
    "__iter__": _iter,
    "__array__": _array,
    "__array_ufunc__": dispatch.array_ufunc,
    "__array_function__": dispatch.array_function,
    "reshape": _reshape,
    "transpose": _transpose,
    "sum": dnp.sum, "mean": dnp.mean, "max": dnp.max, "min": dnp.min, "prod": dnp.prod,
    "var": dnp.var, "std": dnp.std, "all": dnp.all, "any": dnp.any,
    "argmax": dnp.argmax, "argmin": dnp.argmin, "cumsum": dnp.cumsum, "cumprod": dnp.cumprod,
    "astype": dnp.astype, "ravel": dnp.ravel, "flatten": dnp.ravel, "squeeze": dnp.squeeze,
    "swapaxes": dnp.swapaxes, "clip": dnp.clip, "dot": dnp.dot, "take": dnp.take,
    "round": dnp.round, "repeat": dnp.repeat, "diagonal": dnp.diagonal, "trace": dnp.trace,
}

for _name, _fn in _METHODS.items():
    setattr(Tracer, _name, _fn)

Tracer.shape = property(lambda self: self.aval.shape)
Tracer.ndim = property(lambda self: self.aval.ndim)
Tracer.size = property(lambda self: self.aval.size)
Tracer.dtype = property(lambda self: self.aval.dtype)
Tracer.T = property(lambda self: dnp.transpose(self))
Tracer.mT = property(lambda self: dnp.swapaxes(self, -1, -2))
