"""Learning-rate schedules: step -> learning rate.

`step` is the number of updates already made (0 for the first), a Python int or an
integer array, traced inside jit, so the schedule becomes part of the compiled step.
Results are float64 values; optimizers cast them to each parameter's dtype.
"""
import math

from .. import dtypes
from .. import numpy as dnp


def _t(step):
    return dnp.astype(step, dtypes.float64)


def constant(value):
    """The same learning rate at every step."""
    def schedule(step):
        return dnp.full((), float(value), dtypes.float64)
    return schedule


def exponential_decay(init_value, decay_rate, transition_steps, staircase=False, end_value=None):
    """init_value * decay_rate ** (step / transition_steps); with staircase the exponent is
    floored; end_value bounds the result (from below when decaying, above when growing)."""
    if transition_steps <= 0:
        raise ValueError("exponential_decay: transition_steps must be positive")

    def schedule(step):
        p = _t(step) / float(transition_steps)
        if staircase:
            p = dnp.floor(p)
        lr = float(init_value) * dnp.power(float(decay_rate), p)
        if end_value is not None:
            lr = (dnp.maximum if decay_rate < 1 else dnp.minimum)(lr, float(end_value))
        return lr
    return schedule


def _cosine(t, value_from, value_to, steps):
    frac = dnp.minimum(t, float(steps)) / float(max(steps, 1))
    return value_to + (value_from - value_to) * 0.5 * (1.0 + dnp.cos(math.pi * frac))


def cosine_decay(init_value, decay_steps, alpha=0.0):
    """Half a cosine from init_value down to alpha * init_value over decay_steps, then
    constant (Loshchilov & Hutter's SGDR without restarts)."""
    def schedule(step):
        return _cosine(_t(step), float(init_value), float(alpha) * float(init_value), decay_steps)
    return schedule


def warmup_cosine_decay(init_value, peak_value, warmup_steps, decay_steps, end_value=0.0):
    """Linear warmup from init_value to peak_value over warmup_steps, then cosine decay
    to end_value; decay_steps counts the whole schedule, warmup included."""
    warmup = max(int(warmup_steps), 0)

    def schedule(step):
        t = _t(step)
        rise = float(init_value) + (float(peak_value) - float(init_value)) * (
            dnp.minimum(t, float(warmup)) / float(max(warmup, 1)))
        fall = _cosine(dnp.maximum(t - warmup, 0.0), float(peak_value), float(end_value),
                       int(decay_steps) - warmup)
        return dnp.where(t < warmup, rise, fall)
    return schedule
