"""dp.nn: activations, initialisers, layers as pure functions, and losses.

    params = dp.nn.mlp_init(dp.random.key(0), [64, 128, 10], dnp.float32)
    logits = dp.nn.mlp(params, x)
    loss = dp.nn.softmax_cross_entropy(logits, labels)
"""
from . import init as initializers  # noqa: F401
from .activations import (gelu, log_softmax, logsumexp, one_hot, relu, sigmoid, silu,  # noqa: F401
                          softmax, softplus)
from .init import (glorot_normal, glorot_uniform, he_normal, he_uniform, kaiming_normal,  # noqa: F401
                   kaiming_uniform, lecun_normal, xavier_normal, xavier_uniform)
from .layers import (dense, dense_init, dropout, embedding, embedding_init, layer_norm,  # noqa: F401
                     layer_norm_init, mlp, mlp_init)
from .losses import mse, softmax_cross_entropy  # noqa: F401

swish = silu
