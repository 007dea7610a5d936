"""Parameter initialisers: f(key, shape, dtype) -> array, with an explicit random key.

Fan-in/fan-out follow the usual convention for a weight of shape (..., fan_in, fan_out)
(dense layers are (in, out)): leading dims count as a receptive field.
"""
import math

import numpy as np

from .. import numpy as dnp
from .. import random
from ..errors import ShapeError, with_location


def _fans(shape):
    shape = tuple(int(d) for d in shape)
    if len(shape) < 1:
        raise ShapeError(with_location(f"initialiser: a weight needs at least 1 dim, got {shape}"))
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _uniform(key, shape, dtype, limit):
    return random.uniform(key, shape, dtype, -limit, limit)


def _normal(key, shape, dtype, std):
    return random.normal(key, shape, dtype) * dnp.astype(std, dtype)


def glorot_uniform(key, shape, dtype=np.float64):
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _fans(shape)
    return _uniform(key, shape, dtype, math.sqrt(6.0 / (fan_in + fan_out)))


def glorot_normal(key, shape, dtype=np.float64):
    """N(0, 2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    return _normal(key, shape, dtype, math.sqrt(2.0 / (fan_in + fan_out)))


def he_uniform(key, shape, dtype=np.float64):
    """U(-a, a) with a = sqrt(6 / fan_in) (He et al. 2015), for ReLU layers."""
    fan_in, _ = _fans(shape)
    return _uniform(key, shape, dtype, math.sqrt(6.0 / fan_in))


def he_normal(key, shape, dtype=np.float64):
    """N(0, 2 / fan_in), for ReLU layers."""
    fan_in, _ = _fans(shape)
    return _normal(key, shape, dtype, math.sqrt(2.0 / fan_in))


def lecun_normal(key, shape, dtype=np.float64):
    """N(0, 1 / fan_in)."""
    fan_in, _ = _fans(shape)
    return _normal(key, shape, dtype, math.sqrt(1.0 / fan_in))


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def zeros(key, shape, dtype=np.float64):
    """All zeros (the key is accepted, and ignored, so every initialiser looks alike)."""
    return dnp.zeros(shape, dtype)


def ones(key, shape, dtype=np.float64):
    return dnp.ones(shape, dtype)


def normal(stddev=1e-2):
    """An initialiser drawing N(0, stddev**2)."""
    def init(key, shape, dtype=np.float64):
        return _normal(key, shape, dtype, stddev)
    return init
