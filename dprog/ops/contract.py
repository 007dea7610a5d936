"""Contractions: batched matrix multiply. dot, tensordot and einsum lower to it.

matmul(a, b): a is (..., m, k), b is (..., k, n) with equal batch shapes (dprog.numpy
broadcasts them), result (..., m, n). It runs on BLAS through NumPy.
"""
import numpy as np

from .. import dtypes
from ..errors import DtypeError, ShapeError, with_location
from ..ir import Aval
from .batching import bdim_to_front, moveaxis, unbatched_shape
from .record import Kind, Op, register
from .shape import reshape_p, transpose_p


def _matmul_abstract(a, b):
    if a.ndim < 2 or b.ndim < 2 or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
        raise ShapeError(with_location(
            f"matmul: shapes {a.shape} and {b.shape} do not align (inner dimensions "
            f"{a.shape[-1:]} vs {b.shape[-2:-1]})"))
    if a.dtype != b.dtype or dtypes.is_bool(a.dtype):
        raise DtypeError(with_location(f"matmul: operand dtypes {a.dtype}, {b.dtype}"))
    return Aval(a.shape[:-1] + b.shape[-1:], a.dtype, a.weak and b.weak)


def swap_last(x):
    perm = tuple(range(x.aval.ndim - 2)) + (x.aval.ndim - 1, x.aval.ndim - 2)
    return transpose_p(x, perm=perm)


def _matmul_jvp(primals, tangents, outs):
    a, b = primals
    ta, tb = tangents
    terms = []
    if ta is not None:
        terms.append(matmul_p(ta, b))
    if tb is not None:
        terms.append(matmul_p(a, tb))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _matmul_vjp(ct, primals, outs):
    a, b = primals
    if not dtypes.is_float(a.aval.dtype):
        return [None, None]
    return [matmul_p(ct, swap_last(b)), matmul_p(swap_last(a), ct)]


def _matmul_batch(axis_size, args, dims, /):
    a, b = args
    da, db = dims
    (m, k), n = unbatched_shape(a, da)[-2:], unbatched_shape(b, db)[-1]
    # A shared 2-d matrix needs no copy per member: fold the batch into the other
    # operand's rows (or columns), so one plain BLAS call serves the whole batch.
    if db is None and len(unbatched_shape(b, db)) == 2:
        rows = reshape_p(bdim_to_front(a, da), shape=(axis_size * m, k))
        return reshape_p(matmul_p(rows, b), shape=(axis_size, m, n)), 0
    if da is None and len(unbatched_shape(a, da)) == 2:
        cols = reshape_p(moveaxis(b, db, 1), shape=(k, axis_size * n))
        return reshape_p(matmul_p(a, cols), shape=(m, axis_size, n)), 1
    return matmul_p(bdim_to_front(a, da, axis_size), bdim_to_front(b, db, axis_size)), 0


matmul_p = register(Op("matmul", Kind.CONTRACTION, _matmul_abstract, np.matmul,
                       jvp=_matmul_jvp, vjp=_matmul_vjp, batch=_matmul_batch, domain="matmul"))
