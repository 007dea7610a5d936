"""Losses. Each reduces over the batch with `reduction` = "mean" (default), "sum" or
"none" (one value per example)."""
from .. import dtypes
from .. import numpy as dnp
from ..errors import DtypeError, ShapeError, with_location
from ..numpy._core import aval_of, asarray
from .activations import log_softmax

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(per_example, reduction):
    if reduction == "mean":
        return dnp.mean(per_example)
    if reduction == "sum":
        return dnp.sum(per_example)
    return per_example


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ShapeError(with_location(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}"))


def softmax_cross_entropy(logits, labels, reduction="mean"):
    """-log softmax(logits)[label] with integer class labels of shape logits.shape[:-1]."""
    _check_reduction(reduction)
    logits, labels = asarray(logits), asarray(labels)
    la, ya = aval_of(logits), aval_of(labels)
    if not dtypes.is_int(ya.dtype):
        raise DtypeError(with_location(
            f"softmax_cross_entropy: labels must be integer class indices, got {ya.dtype} "
            f"(for one-hot or soft targets use -sum(targets * log_softmax(logits), -1))"))
    if la.ndim < 1 or ya.shape != la.shape[:-1]:
        raise ShapeError(with_location(
            f"softmax_cross_entropy: labels of shape {ya.shape} do not match logits of "
            f"shape {la.shape} (labels need shape logits.shape[:-1])"))
    logp = log_softmax(logits, axis=-1)
    picked = dnp.take_along_axis(logp, dnp.expand_dims(labels, -1), axis=-1)
    return _reduce(-dnp.squeeze(picked, axis=-1), reduction)


def mse(predictions, targets, reduction="mean"):
    """Squared error (predictions - targets)**2, averaged over all elements by default."""
    _check_reduction(reduction)
    d = asarray(predictions) - asarray(targets)
    return _reduce(d * d, reduction)
