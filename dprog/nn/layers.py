"""Layers as pure functions over pytrees of parameters: `*_init` builds the parameters
(a dict of arrays) from a key, the layer function applies them. No objects, no state:
parameters go through dp.grad and dp.optim like any other pytree.
"""
import numpy as np

from .. import dtypes
from .. import numpy as dnp
from .. import random
from ..errors import DtypeError, ShapeError, with_location
from ..numpy._core import aval_of, asarray
from . import init as initializers
from .activations import relu


def dense_init(key, in_dim, out_dim, dtype=np.float64, w_init=initializers.glorot_uniform,
               b_init=initializers.zeros):
    """{"w": (in_dim, out_dim), "b": (out_dim,)} parameters of a dense layer."""
    kw, kb = random.split(key)
    return {"w": w_init(kw, (in_dim, out_dim), dtype), "b": b_init(kb, (out_dim,), dtype)}


def dense(params, x):
    """x @ w + b over the last axis of x."""
    return dnp.matmul(x, params["w"]) + params["b"]


def mlp_init(key, sizes, dtype=np.float64, w_init=initializers.he_uniform):
    """A list of dense-layer parameters for layer widths `sizes` (input first)."""
    keys = random.split(key, len(sizes) - 1)
    return [dense_init(keys[i], sizes[i], sizes[i + 1], dtype, w_init)
            for i in range(len(sizes) - 1)]


def mlp(params, x, activation=relu):
    """Dense layers with `activation` between them (none after the last)."""
    for layer in params[:-1]:
        x = activation(dense(layer, x))
    return dense(params[-1], x)


def layer_norm_init(dim, dtype=np.float64):
    return {"scale": dnp.ones((dim,), dtype), "bias": dnp.zeros((dim,), dtype)}


def layer_norm(params, x, eps=1e-5):
    """Normalise the last axis to zero mean and unit variance, then scale and shift."""
    mu = dnp.mean(x, axis=-1, keepdims=True)
    centered = x - mu
    var = dnp.mean(centered * centered, axis=-1, keepdims=True)
    return centered / dnp.sqrt(var + eps) * params["scale"] + params["bias"]


def dropout(key, x, rate, training=True):
    """Zero each element with probability `rate` and scale the rest by 1 / (1 - rate)
    (inverted dropout), so evaluation (training=False) is the identity."""
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ShapeError(with_location(f"dropout: rate must be in [0, 1), got {rate}"))
    if not training or rate == 0.0:
        return x
    x = asarray(x)
    keep = random.bernoulli(key, 1.0 - rate, aval_of(x).shape)
    return dnp.where(keep, x / (1.0 - rate), 0)


def embedding_init(key, num_embeddings, dim, dtype=np.float64,
                   init=initializers.normal(1.0)):
    return {"table": init(key, (num_embeddings, dim), dtype)}


def embedding(params, ids):
    """Rows of the embedding table for integer `ids` (any shape): shape ids.shape + (dim,)."""
    ids = asarray(ids)
    if not dtypes.is_int(aval_of(ids).dtype):
        raise DtypeError(with_location(
            f"embedding: ids must be integers, got {aval_of(ids).dtype}"))
    return dnp.take(params["table"], ids, axis=0)
