"""Array creation. Under a trace, constants are broadcasts of a scalar or iotas, so a
large zeros((4096, 4096)) costs one node, not a captured 128 MB array."""
import numpy as np

from .. import dtypes
from ..ops import misc
from ..trace import Tracer, is_tracing
from ._core import aval_of, asarray as _asarray, broadcast_to, cast


def _shape(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def _dtype(dtype, default=dtypes.float64):
    return default if dtype is None else dtypes.canonical(dtype)


def full(shape, fill_value, dtype=None):
    shape = _shape(shape)
    if isinstance(fill_value, Tracer):
        value = fill_value if dtype is None else cast(fill_value, _dtype(dtype))
        return broadcast_to(value, shape)
    dt = _dtype(dtype, default=aval_of(_asarray(fill_value)).dtype)
    if not is_tracing():
        return np.full(shape, fill_value, dtype=dt)
    return broadcast_to(np.asarray(fill_value, dtype=dt), shape)


def zeros(shape, dtype=None):
    return full(shape, 0, _dtype(dtype))


def ones(shape, dtype=None):
    return full(shape, 1, _dtype(dtype))


empty = zeros


def _like(x, dtype, shape):
    aval = aval_of(x)
    return (aval.shape if shape is None else _shape(shape)), (aval.dtype if dtype is None else dtypes.canonical(dtype))


def full_like(x, fill_value, dtype=None, shape=None):
    shape, dt = _like(x, dtype, shape)
    return full(shape, fill_value, dt)


def zeros_like(x, dtype=None, shape=None):
    shape, dt = _like(x, dtype, shape)
    return full(shape, 0, dt)


def ones_like(x, dtype=None, shape=None):
    shape, dt = _like(x, dtype, shape)
    return full(shape, 1, dt)


empty_like = zeros_like


def asarray(x, dtype=None):
    return _asarray(x, dtype)


array = asarray


def _iota(n, dtype):
    if not is_tracing():
        return np.arange(n, dtype=dtype)
    return misc.iota_p(shape=(n,), dtype=dtype, axis=0)


def arange(start, stop=None, step=1, dtype=None):
    if any(isinstance(v, Tracer) for v in (start, stop, step)):
        from ..errors import ShapeError, with_location
        raise ShapeError(with_location(
            "arange needs concrete (non-traced) bounds: its length decides the shape; "
            "pass them as static arguments (static_argnums)"))
    if stop is None:
        start, stop = 0, start
    ref = np.arange(start, stop, step)
    dt = _dtype(dtype, default=dtypes.canonical(ref.dtype))
    n = len(ref)
    ramp = _iota(n, dtypes.int64 if dt.kind in "iu" else dt)
    if start == 0 and step == 1:
        return cast(ramp, dt)
    return cast(ramp * step + start, dt)


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    num = int(num)
    div = (num - 1) if endpoint else num
    dt = _dtype(dtype)
    ramp = cast(_iota(num, dtypes.int64), dt)
    step = (stop - start) / div if div > 0 else 0.0 * (stop - start)
    out = ramp * step + start
    if endpoint and num > 1:
        from .elementwise import where
        last = cast(_iota(num, dtypes.int64), dtypes.int64) == num - 1
        out = where(last, stop, out)
    return cast(out, dt)


def eye(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    dt = _dtype(dtype)
    if not is_tracing():
        return np.eye(N, M, k, dtype=dt)
    rows = misc.iota_p(shape=(N, M), dtype=np.int64, axis=0)
    cols = misc.iota_p(shape=(N, M), dtype=np.int64, axis=1)
    return cast(cols - rows == k, dt)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri_mask(n, m, k, lower):
    """Boolean (n, m) mask of the lower (or upper) triangle from diagonal k."""
    if not is_tracing():
        rows, cols = np.indices((n, m))
    else:
        rows = misc.iota_p(shape=(n, m), dtype=np.int64, axis=0)
        cols = misc.iota_p(shape=(n, m), dtype=np.int64, axis=1)
    return (cols - rows <= k) if lower else (cols - rows >= k)
