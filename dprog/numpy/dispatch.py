"""NumPy's dispatch protocols: np.sin(tracer), np.sum(tracer), np.where(...) trace too.

NumPy calls Tracer.__array_ufunc__ / __array_function__ when a traced value meets one of
its functions; we forward to the dprog.numpy function of the same name. A NumPy function
dprog does not provide raises an UnsupportedError that names it.
"""
import numpy as np

from ..errors import UnsupportedError, with_location

_UFUNC_ALIASES = {"absolute": "abs", "true_divide": "divide", "conjugate": None}


def _dnp():
    from .. import numpy as dnp
    return dnp


def array_ufunc(tracer, ufunc, method, *inputs, **kwargs):
    dnp = _dnp()
    if method != "__call__":
        if method == "reduce" and ufunc in (np.add, np.multiply, np.maximum, np.minimum):
            fn = {np.add: dnp.sum, np.multiply: dnp.prod, np.maximum: dnp.max, np.minimum: dnp.min}[ufunc]
            return fn(*inputs, **{k: v for k, v in kwargs.items() if k in ("axis", "keepdims")})
        raise UnsupportedError(with_location(
            f"numpy.{ufunc.__name__}.{method} is not supported on traced values"))
    if kwargs.get("out") is not None:
        raise UnsupportedError(with_location(
            f"numpy.{ufunc.__name__}(..., out=...) writes in place, which traced arrays cannot do; "
            f"use the returned value"))
    name = _UFUNC_ALIASES.get(ufunc.__name__, ufunc.__name__)
    fn = getattr(dnp, name, None) if name else None
    if fn is None:
        raise UnsupportedError(with_location(
            f"numpy.{ufunc.__name__} is not supported by dprog; see dprog.numpy for what is"))
    extra = {k: v for k, v in kwargs.items() if k not in ("out", "casting", "order", "subok")}
    if extra:
        raise UnsupportedError(with_location(
            f"numpy.{ufunc.__name__}: keyword arguments {sorted(extra)} are not supported when tracing"))
    return fn(*inputs)


def array_function(tracer, func, types, args, kwargs):
    dnp = _dnp()
    name = func.__name__
    module = getattr(func, "__module__", "") or ""
    fn = None
    if module.startswith("numpy.linalg"):
        fn = getattr(dnp.linalg, name, None)
    elif not module.startswith(("numpy.fft", "numpy.random", "numpy.ma")):
        fn = getattr(dnp, name, None)
    if fn is None:
        raise UnsupportedError(with_location(
            f"numpy.{name} is not supported by dprog on traced values; see dprog.numpy "
            f"for what is, or compute it outside the traced function"))
    return fn(*args, **kwargs)
