"""The table of dprog.numpy functions checked against NumPy (see test_dnp_functions.py).

Each Case is `fn(m, *arrays)` with m either numpy or dprog.numpy, the specs of its array
inputs and the dtypes it is run at. A spec with dtype None takes the row's dtype.
"""
from typing import Callable, NamedTuple

import numpy as np

F = (np.float32, np.float64)
NUM = (np.float32, np.float64, np.int32, np.int64)
I = (np.int32, np.int64)
B = (np.bool_,)


class X(NamedTuple):
    shape: tuple
    domain: str = "real"  # real | positive | nonzero | small | unit | gt1 | gt_minus1 | special | index:<n>
    dtype: object = None


class Case(NamedTuple):
    id: str
    fn: Callable
    inputs: tuple
    dtypes: tuple = F
    np_route: bool = True  # also call the NumPy function on tracers (dispatch)


def _unary(name, domain="real", dts=F, shape=(3, 4)):
    return Case(name, lambda m, x: getattr(m, name)(x), (X(shape, domain),), dts)


def _binary(name, domain="real", dts=NUM, shapes=((3, 1, 4), (2, 4))):
    return Case(name, lambda m, x, y: getattr(m, name)(x, y), tuple(X(s, domain) for s in shapes), dts)


x234 = X((2, 3, 4))
CASES = [
    # ------------------------------------------------------------------ elementwise
    *[_unary(n, "positive") for n in ("sqrt", "log", "log2", "log10")],
    *[_unary(n, "small") for n in ("exp", "exp2", "expm1", "sinh", "cosh")],
    *[_unary(n, "unit") for n in ("tan", "arcsin", "arccos", "arctanh")],
    *[_unary(n) for n in ("cbrt", "sin", "cos", "arctan", "tanh", "arcsinh", "round")],
    _unary("reciprocal", "nonzero"), _unary("arccosh", "gt1"), _unary("log1p", "gt_minus1"),
    *[_unary(n, dts=NUM) for n in ("negative", "abs", "sign", "square", "floor", "ceil")],
    _unary("isnan", "special", dts=NUM), _unary("isfinite", "special", dts=NUM),
    _unary("sin", dts=I, shape=(5,)),  # int -> float64
    _unary("sqrt", "positive", dts=I, shape=()),
    *[_binary(n) for n in ("add", "subtract", "multiply", "maximum", "minimum")],
    *[_binary(n, "nonzero") for n in ("divide", "floor_divide", "mod")],
    _binary("power", "positive"), _binary("arctan2", "nonzero", dts=F),
    *[_binary(n) for n in ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal")],
    *[_binary(n, dts=B + F) for n in ("logical_and", "logical_or")],
    _unary("logical_not", dts=B + F),
    Case("add_0d", lambda m, x, y: m.add(x, y), (X(()), X((3,)))),
    Case("add_size0", lambda m, x, y: m.add(x, y), (X((0, 3)), X((1, 3)))),
    Case("mixed_f32_f64", lambda m, x, y: x * y, (X((3,), dtype=np.float32), X((3,), dtype=np.float64)), (None,)),
    Case("mixed_i32_f32", lambda m, x, y: x + y, (X((3,), dtype=np.int32), X((3,), dtype=np.float32)), (None,)),
    Case("mixed_i32_i64", lambda m, x, y: x - y, (X((3,), dtype=np.int32), X((3,), dtype=np.int64)), (None,)),
    Case("power_scalar", lambda m, x: m.power(x, 3), (X((4,)),), NUM),
    Case("clip", lambda m, x: m.clip(x, -1, 1.5), (X((3, 4)),), NUM),
    Case("clip_upper_only", lambda m, x: m.clip(x, None, 0.5), (X((3, 4)),)),
    Case("where", lambda m, c, x, y: m.where(c, x, y), (X((3, 1), dtype=np.bool_), X((4,)), X((3, 4))), NUM),
    Case("where_scalar", lambda m, x: m.where(x > 0, x, 0.0), (X((5,)),), NUM),
    # -------------------------------------------------------------------- reductions
    *[Case(f"{n}-{k}", (lambda n, kw: lambda m, x: getattr(m, n)(x, **kw))(n, kw), (x234,), dts)
      for n, dts in (("sum", NUM), ("mean", NUM), ("prod", NUM), ("max", NUM), ("min", NUM),
                     ("var", F), ("std", F))
      for k, kw in (("all", {}), ("ax1", dict(axis=1)), ("neg", dict(axis=-1)),
                    ("tuple", dict(axis=(0, 2))), ("keep", dict(axis=(0, -1), keepdims=True)),
                    ("keepall", dict(keepdims=True)))],
    Case("var_ddof", lambda m, x: m.var(x, axis=0, ddof=1), (x234,)),
    Case("std_ddof", lambda m, x: m.std(x, ddof=1), (x234,)),
    Case("prod_with_zero", lambda m, x: m.prod(x * (x > -1), axis=0), (X((5, 3)),)),
    Case("sum_size0", lambda m, x: m.sum(x, axis=0), (X((0, 3)),), NUM),
    Case("sum_bool", lambda m, x: m.sum(x > 0, axis=1), (X((3, 4)),), NUM),
    *[Case(f"{n}-{k}", (lambda n, kw: lambda m, x: getattr(m, n)(x, **kw))(n, kw), (x234,), NUM)
      for n in ("argmax", "argmin") for k, kw in (("all", {}), ("ax", dict(axis=1)), ("neg", dict(axis=-1)))],
    *[Case(f"{n}-{k}", (lambda n, kw: lambda m, x: getattr(m, n)(x > 0, **kw))(n, kw), (x234,))
      for n in ("all", "any") for k, kw in (("all", {}), ("ax", dict(axis=1)),
                                           ("keep", dict(axis=(0, 2), keepdims=True)))],
    # ------------------------------------------------------------------------- shape
    Case("reshape", lambda m, x: m.reshape(x, (4, -1)), (x234,), NUM),
    Case("reshape_0d", lambda m, x: m.reshape(x, ()), (X((1, 1)),)),
    Case("transpose", lambda m, x: m.transpose(x), (x234,)),
    Case("transpose_axes", lambda m, x: m.transpose(x, (1, 2, 0)), (x234,)),
    Case("swapaxes", lambda m, x: m.swapaxes(x, 0, -1), (x234,)),
    Case("moveaxis", lambda m, x: m.moveaxis(x, 0, -1), (x234,)),
    Case("moveaxis_many", lambda m, x: m.moveaxis(x, [0, 1], [-1, -2]), (x234,)),
    Case("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), (X((3, 1)),), NUM),
    Case("expand_dims", lambda m, x: m.expand_dims(x, -1), (X((3, 4)),)),
    Case("expand_dims_tuple", lambda m, x: m.expand_dims(x, (0, 2)), (X((3, 4)),)),
    Case("squeeze", lambda m, x: m.squeeze(x), (X((1, 3, 1)),)),
    Case("squeeze_axis", lambda m, x: m.squeeze(x, axis=2), (X((1, 3, 1)),)),
    Case("concatenate", lambda m, x, y: m.concatenate([x, y], axis=0), (X((2, 3)), X((1, 3)))),
    Case("concatenate_neg", lambda m, x, y, z: m.concatenate((x, y, z), axis=-1),
         (X((2, 1)), X((2, 3)), X((2, 0)))),
    Case("stack", lambda m, x, y: m.stack([x, y]), (X((2, 3)), X((2, 3))), NUM),
    Case("stack_neg", lambda m, x, y: m.stack([x, y], axis=-1), (X((2, 3)), X((2, 3)))),
    Case("split", lambda m, x: m.split(x, 2, axis=1), (X((3, 4)),)),
    Case("split_indices", lambda m, x: m.split(x, [1, 3]), (X((5, 2)),)),
    Case("flip", lambda m, x: m.flip(x), (x234,)),
    Case("flip_axis", lambda m, x: m.flip(x, axis=(0, -1)), (x234,)),
    Case("pad", lambda m, x: m.pad(x, 1), (X((2, 3)),), NUM),
    Case("pad_widths", lambda m, x: m.pad(x, ((1, 2), (0, 1)), constant_values=2.5), (X((2, 3)),)),
    Case("tile", lambda m, x: m.tile(x, 2), (X((2, 3)),)),
    Case("tile_reps", lambda m, x: m.tile(x, (2, 1, 3)), (X((2, 3)),)),
    Case("repeat", lambda m, x: m.repeat(x, 2, axis=0), (X((2, 3)),)),
    Case("repeat_flat", lambda m, x: m.repeat(x, 3), (X((2, 3)),)),
    Case("repeat_counts", lambda m, x: m.repeat(x, [1, 0, 2], axis=1), (X((2, 3)),)),
    Case("take", lambda m, x, i: m.take(x, i, axis=1), (X((3, 4)), X((2, 5), "index:4", np.int64))),
    Case("take_flat", lambda m, x, i: m.take(x, i), (X((3, 4)), X((5,), "index:12", np.int32))),
    Case("take_negative", lambda m, x: m.take(x, np.array([-1, 0, -4]), axis=0), (X((4, 2)),)),
    Case("take_along_axis", lambda m, x, i: m.take_along_axis(x, i, axis=1),
         (X((3, 4)), X((3, 2), "index:4", np.int64))),
    Case("take_along_axis0", lambda m, x, i: m.take_along_axis(x, i, axis=0),
         (x234, X((5, 3, 1), "index:2", np.int64))),
    # ----------------------------------------------------------------------- linalg
    *[Case(f"matmul{a}x{b}", lambda m, x, y: m.matmul(x, y), (X(a), X(b)), NUM)
      for a, b in (((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
                   ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((0, 3), (3, 2)))],
    Case("matmul_op", lambda m, x, y: x @ y, (X((3, 4)), X((4, 2)))),
    *[Case(f"dot{a}x{b}", lambda m, x, y: m.dot(x, y), (X(a), X(b)), NUM)
      for a, b in (((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((), (3,)),
                   ((2, 3, 4), (4, 5)), ((2, 3, 4), (5, 4, 2)))],
    Case("vdot", lambda m, x, y: m.vdot(x, y), (X((2, 3)), X((2, 3))), NUM),
    Case("outer", lambda m, x, y: m.outer(x, y), (X((3,)), X((4,))), NUM),
    Case("tensordot1", lambda m, x, y: m.tensordot(x, y, axes=1), (x234, X((4, 5)))),
    Case("tensordot2", lambda m, x, y: m.tensordot(x, y, axes=2), (x234, X((3, 4, 2)))),
    Case("tensordot_pairs", lambda m, x, y: m.tensordot(x, y, axes=([1, 0], [0, 1])), (x234, X((3, 2, 5)))),
    *[Case(f"einsum_{s.replace(',', '_').replace('->', '_to_')}",
           (lambda s: lambda m, *xs: m.einsum(s, *xs))(s), tuple(X(sh) for sh in shapes), NUM)
      for s, shapes in (("ij,jk->ik", ((2, 3), (3, 4))), ("bij,bjk->bik", ((2, 2, 3), (2, 3, 4))),
                        ("ii->", ((3, 3),)), ("ij->ji", ((2, 3),)), ("i,i->", ((4,), (4,))),
                        ("ij,j->i", ((2, 3), (3,))), ("ijk->ik", ((2, 3, 4),)),
                        ("ij,jk,kl->il", ((2, 3), (3, 4), (4, 2))), ("bi,bj->bij", ((2, 3), (2, 4))))],
    Case("trace", lambda m, x: m.trace(x), (X((3, 4)),), NUM),
    Case("trace_offset", lambda m, x: m.trace(x, offset=1), (X((3, 4)),)),
    Case("trace_axes", lambda m, x: m.trace(x, axis1=1, axis2=2), (x234,)),
    Case("diag_1d", lambda m, x: m.diag(x), (X((3,)),), NUM),
    Case("diag_1d_k", lambda m, x: m.diag(x, k=-1), (X((3,)),)),
    Case("diag_2d", lambda m, x: m.diag(x), (X((3, 4)),)),
    Case("diag_2d_k", lambda m, x: m.diag(x, k=1), (X((3, 4)),)),
    Case("diagonal", lambda m, x: m.diagonal(x, offset=-1), (X((4, 3)),)),
    Case("diagonal_axes", lambda m, x: m.diagonal(x, axis1=0, axis2=2), (x234,)),
    *[Case(f"{n}{k}", (lambda n, k: lambda m, x: getattr(m, n)(x, k=k))(n, k), (X((3, 4)),), NUM)
      for n in ("tril", "triu") for k in (0, -1, 1)],
    Case("tril_batched", lambda m, x: m.tril(x), (x234,)),
    # ------------------------------------------------------------------- cumulative
    *[Case(f"{n}-{k}", (lambda n, kw: lambda m, x: getattr(m, n)(x, **kw))(n, kw), (X((3, 4)),), NUM)
      for n in ("cumsum", "cumprod") for k, kw in (("flat", {}), ("ax0", dict(axis=0)),
                                                    ("neg", dict(axis=-1)))],
    # --------------------------------------------------------------------- creation
    Case("zeros", lambda m: m.zeros((2, 3)), (), (None,), False),
    Case("zeros_int", lambda m: m.zeros(3, dtype=np.int32), (), (None,), False),
    Case("ones", lambda m: m.ones((2, 0)), (), (None,), False),
    Case("full", lambda m: m.full((2, 2), 1.5), (), (None,), False),
    Case("full_dtype", lambda m: m.full(3, 2, dtype=np.float32), (), (None,), False),
    Case("full_int", lambda m: m.full((2,), 7), (), (None,), False),
    Case("zeros_like", lambda m, x: m.zeros_like(x), (X((2, 3)),), NUM),
    Case("ones_like", lambda m, x: m.ones_like(x, dtype=np.int32), (X((2, 3)),)),
    Case("full_like", lambda m, x: m.full_like(x, 7), (X((2, 3)),), NUM),
    Case("arange", lambda m: m.arange(5), (), (None,), False),
    Case("arange_step", lambda m: m.arange(1, 8, 2), (), (None,), False),
    Case("arange_float", lambda m: m.arange(0.5, 3.0, 0.5), (), (None,), False),
    Case("arange_dtype", lambda m: m.arange(4, dtype=np.float32), (), (None,), False),
    Case("linspace", lambda m: m.linspace(0.0, 1.0, 5), (), (None,), False),
    Case("linspace_open", lambda m: m.linspace(-1, 2, 4, endpoint=False), (), (None,), False),
    Case("eye", lambda m: m.eye(3), (), (None,), False),
    Case("eye_k", lambda m: m.eye(3, 4, k=1), (), (None,), False),
    Case("eye_int", lambda m: m.eye(2, dtype=np.int32), (), (None,), False),
    # ------------------------------------------------------------------ conversions
    Case("astype_int", lambda m, x: m.astype(x, np.int32), (X((3, 4)),), NUM),
    Case("astype_f32", lambda m, x: m.astype(x, np.float32), (X((3, 4)),), NUM),
    Case("astype_bool", lambda m, x: m.astype(x, np.bool_), (X((3, 4)),), NUM),
    Case("method_astype", lambda m, x: x.astype(np.float64), (X((3,)),), NUM),
    # np.asarray(tracer) is refused by design (tests/test_errors.py), so no NumPy route here.
    Case("asarray_dtype", lambda m, x: m.asarray(x, dtype=np.float32) * x, (X((3,)),), F, False),
    Case("asarray_list", lambda m, x: m.asarray([1, 2, 3]) * x, (X((3,)),), NUM),
]
