"""dp.optim: optimizers (sgd, adam, adamw) and learning-rate schedules, as pure functions.

    opt = dp.optim.adam(dp.optim.warmup_cosine_decay(0.0, 1e-3, 100, 1000))
    state = opt.init(params)

    @dp.jit
    def step(params, state, x, y):
        loss, grads = dp.value_and_grad(loss_fn)(params, x, y)
        params, state = opt.update(grads, state, params)
        return params, state, loss
"""
from .optimizers import (AdamState, Optimizer, SGDState, adam, adamw, clip_by_global_norm,  # noqa: F401
                         global_norm, sgd)
from .schedules import constant, cosine_decay, exponential_decay, warmup_cosine_decay  # noqa: F401
