"""Optimizers as pure functions over pytrees of parameters.

    opt = dp.optim.adam(1e-3)
    state = opt.init(params)
    params, state = opt.update(grads, state, params)

State is a pytree of arrays (a NamedTuple) whose step counter is an int64 array, so a
whole training step, gradient and update together, jits into one executable and the
learning-rate schedule is evaluated inside it. Scalars (learning rate, bias corrections)
are cast to each parameter's dtype, so float32 parameters stay float32.
"""
from typing import Any, Callable, NamedTuple

import numpy as np

from .. import numpy as dnp
from ..errors import PytreeError, with_location
from ..tree import tree_map, tree_structure


class Optimizer(NamedTuple):
    init: Callable[[Any], Any]
    update: Callable[[Any, Any, Any], Any]


class SGDState(NamedTuple):
    count: Any
    momentum: Any  # None without momentum


class AdamState(NamedTuple):
    count: Any
    mu: Any  # first-moment estimate
    nu: Any  # second-moment estimate


def _zeros_like_tree(params):
    return tree_map(dnp.zeros_like, params)


def _count0():
    return np.zeros((), np.int64)


def _lr(learning_rate, count):
    return learning_rate(count) if callable(learning_rate) else learning_rate


def _like(value, p):
    """A scalar in p's dtype (Python floats stay weak: they never widen p)."""
    if isinstance(value, (int, float)):
        return value
    return dnp.astype(value, dnp.asarray(p).dtype)


def _check_same(grads, params):
    if tree_structure(grads) != tree_structure(params):
        raise PytreeError(with_location(
            f"optimizer update: grads and params have different structures:\n"
            f"  grads:  {tree_structure(grads)}\n  params: {tree_structure(params)}\n"
            f"differentiate with respect to the same pytree you pass as params"))


def sgd(learning_rate, momentum=0.0, nesterov=False):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    buf = momentum * buf + g; step = g + momentum * buf (Nesterov) or buf;
    p = p - lr * step.
    """
    momentum = float(momentum)

    def init(params):
        return SGDState(_count0(), _zeros_like_tree(params) if momentum else None)

    def update(grads, state, params):
        _check_same(grads, params)
        lr = _lr(learning_rate, state.count)
        if not momentum:
            new = tree_map(lambda p, g: p - _like(lr, p) * g, params, grads)
            return new, SGDState(state.count + 1, None)
        buf = tree_map(lambda b, g: momentum * b + g, state.momentum, grads)
        step = tree_map(lambda g, b: g + momentum * b, grads, buf) if nesterov else buf
        new = tree_map(lambda p, s: p - _like(lr, p) * s, params, step)
        return new, SGDState(state.count + 1, buf)
    return Optimizer(init, update)


def _adam(learning_rate, b1, b2, eps, weight_decay):
    b1, b2, eps, weight_decay = float(b1), float(b2), float(eps), float(weight_decay)

    def init(params):
        return AdamState(_count0(), _zeros_like_tree(params), _zeros_like_tree(params))

    def update(grads, state, params):
        _check_same(grads, params)
        count = state.count + 1
        t = dnp.astype(count, np.float64)
        lr = _lr(learning_rate, state.count)
        bc1 = 1.0 - dnp.power(b1, t)  # bias corrections of the zero-initialised moments
        bc2 = 1.0 - dnp.power(b2, t)
        mu = tree_map(lambda m, g: b1 * m + (1.0 - b1) * g, state.mu, grads)
        nu = tree_map(lambda v, g: b2 * v + (1.0 - b2) * (g * g), state.nu, grads)

        def step(p, m, v):
            direction = (m / _like(bc1, p)) / (dnp.sqrt(v / _like(bc2, p)) + eps)
            if weight_decay:
                # Decoupled (AdamW): decay acts on p directly, not through the moments.
                direction = direction + weight_decay * p
            return p - _like(lr, p) * direction
        return tree_map(step, params, mu, nu), AdamState(count, mu, nu)
    return Optimizer(init, update)


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma & Ba 2015) with bias-corrected moment estimates."""
    return _adam(learning_rate, b1, b2, eps, 0.0)


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019):
    p = p - lr * (adam_direction + weight_decay * p)."""
    return _adam(learning_rate, b1, b2, eps, weight_decay)


def global_norm(tree):
    """sqrt of the sum of squares of every leaf: the size of a gradient pytree."""
    from ..tree import tree_leaves
    return dnp.sqrt(sum(dnp.sum(dnp.square(x)) for x in tree_leaves(tree)))


def clip_by_global_norm(grads, max_norm):
    """Scale grads down so that their global norm is at most max_norm."""
    norm = global_norm(grads)
    scale = dnp.minimum(1.0, max_norm / dnp.maximum(norm, 1e-30))
    return tree_map(lambda g: g * _like(scale, g), grads)
