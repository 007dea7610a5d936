"""Activation functions and their numerically stable log-space relatives.

All are compositions of dprog.numpy ops, so they trace, differentiate (to any order) and
fuse like user code. Where two formulas are equal in exact arithmetic, the one that
cannot overflow is used.
"""
import math

import numpy as np

from .. import dtypes
from .. import numpy as dnp
from ..api import stop_gradient
from ..errors import DtypeError, with_location
from ..numpy._core import aval_of, asarray, cast


def _float(x):
    x = asarray(x)
    if not dtypes.is_float(aval_of(x).dtype):
        x = cast(x, dtypes.float64)
    return x


def relu(x):
    """max(x, 0). The derivative at 0 is 0 (as JAX), not the 1/2 that maximum would give."""
    x = asarray(x)
    return dnp.where(x > 0, x, 0)


def gelu(x, approximate=True):
    """Gaussian error linear unit x * Phi(x).

    approximate=True uses the tanh form of Hendrycks & Gimpel (JAX's default);
    approximate=False the exact erf form (PyTorch's default).
    """
    x = _float(x)
    if approximate:
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1.0 + dnp.tanh(inner))
    return 0.5 * x * (1.0 + dnp.erf(x * (1.0 / math.sqrt(2.0))))


def sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large negative x."""
    return dnp.sigmoid(_float(x))


def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow for large x."""
    return dnp.logaddexp(_float(x), 0.0)


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    x = _float(x)
    return x * dnp.sigmoid(x)


def _shifted(x, axis):
    """x minus its max over `axis` (kept), with the max taken as a constant.

    The result of logsumexp/softmax does not depend on the shift, so stopping its
    gradient changes nothing mathematically and keeps max's tie-splitting rule out of
    the derivative. A non-finite max (all -inf) is replaced by 0 so no NaN appears.
    """
    m = stop_gradient(dnp.max(x, axis=axis, keepdims=True))
    m = dnp.where(dnp.isfinite(m), m, 0)
    return x - m, m


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x), axis)), computed without overflow."""
    x = _float(x)
    shifted, m = _shifted(x, axis)
    out = dnp.log(dnp.sum(dnp.exp(shifted), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    return dnp.squeeze(out, axis=axis) if axis is not None else dnp.reshape(out, ())


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x), axis), computed without overflow."""
    shifted, _ = _shifted(_float(x), axis)
    e = dnp.exp(shifted)
    return e / dnp.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    """x - logsumexp(x, axis), computed without overflow."""
    shifted, _ = _shifted(_float(x), axis)
    return shifted - dnp.log(dnp.sum(dnp.exp(shifted), axis=axis, keepdims=True))


def one_hot(labels, num_classes, dtype=np.float64):
    """out[..., c] = (labels[...] == c) as `dtype`; labels outside [0, num_classes) give
    all-zero rows."""
    labels = asarray(labels)
    if not dtypes.is_int(aval_of(labels).dtype):
        raise DtypeError(with_location(
            f"one_hot: labels must be integers, got {aval_of(labels).dtype}; "
            f"cast with .astype(np.int64)"))
    classes = dnp.arange(int(num_classes), dtype=aval_of(labels).dtype)
    return dnp.astype(dnp.expand_dims(labels, -1) == classes, dtype)
