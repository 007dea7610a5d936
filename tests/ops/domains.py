"""Where registry tests draw each primitive's inputs from.

An op's `domain` names either a *value domain* (the elementwise ops: "real", "positive",
...), from which every operand is drawn with a shared shape, or a *structured domain*
("gather", "matmul", ...) whose sampler also chooses the op's static params. Ops whose
record has no domain are looked up by name in STRUCTURED. `sample()` returns a Case;
`sampler_for()` raises KeyError for an op nobody has taught these tests about, which
test_registry turns into a failing test: adding an op adds its tests.

Draws go through a Source, so one sampler serves hypothesis (reference tests: shrinkable,
with edge values such as 0.5 or NaN) and a seeded RNG (derivative tests: values away
from kinks and ties, and collection-time dtype probing).
"""
import inspect
from typing import Callable, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dprog import dtypes

SUPPORTED = dtypes.SUPPORTED
FLOATS = (dtypes.float32, dtypes.float64)


class NotApplicable(Exception):
    """The sampler has no valid case for this dtype (the op is not tested with it)."""


class Case(NamedTuple):
    args: list
    params: dict
    ref: Callable  # independent NumPy reference on float64-upcast args (or the op's impl)


# ------------------------------------------------------------------------ value domains

# domain -> (float lo, float hi, nonzero?) ; bounds are exact binary fractions so they are
# representable in float32 as hypothesis requires.
FLOAT_RANGES = {
    "real": (-3.0, 3.0, False), "positive": (0.125, 4.0, False), "nonzero": (0.25, 4.0, True),
    "small": (-2.0, 2.0, False), "gt_minus1": (-0.875, 3.0, False), "gt1": (1.125, 4.0, False),
    "unit_open": (-0.875, 0.875, False),
    # Integer-only ops (bit operations): the float entries are never drawn.
    "int": (-3.0, 3.0, False), "shift": (0.0, 3.0, False),
}
# Narrower ranges for finite differences: away from poles and the domain's edges.
SMOOTH_RANGES = {
    "real": (-2.0, 2.0, False), "positive": (0.5, 2.0, False), "nonzero": (0.5, 2.0, True),
    "small": (-1.5, 1.5, False), "gt_minus1": (-0.5, 2.0, False), "gt1": (1.5, 3.0, False),
    "unit_open": (-0.75, 0.75, False),
    "int": (-2.0, 2.0, False), "shift": (0.0, 2.0, False),
}
INT_RANGES = {
    "real": (-5, 5, False), "positive": (1, 3, False), "nonzero": (1, 5, True),
    "small": (-2, 2, False), "gt_minus1": (0, 3, False), "gt1": (2, 4, False),
    "unit_open": (0, 0, False),
    "int": (-(2 ** 20), 2 ** 20, False), "shift": (0, 31, False),
}
VALUE_DOMAINS = set(FLOAT_RANGES) | {"bool"}
SPECIALS = [np.nan, np.inf, -np.inf, -0.0]


class Source:
    """Draws for samplers; subclasses say where randomness comes from."""

    def shape(self, min_rank=0, max_rank=3, max_side=3, allow_zero=True):
        rank = self.int(min_rank, max_rank)
        lo = 0 if allow_zero and self.int(0, 5) == 0 else 1  # size-0 now and then
        return tuple(self.int(lo, max_side) for _ in range(rank))

    def subset(self, items):
        return tuple(i for i in items if self.int(0, 1))

    def permutation(self, n):
        items, out = list(range(n)), []
        while items:
            out.append(items.pop(self.int(0, len(items) - 1)))
        return tuple(out)

    def choice(self, seq):
        return seq[self.int(0, len(seq) - 1)]


class RngSource(Source):
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def int(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))

    def values(self, shape, dtype, domain, specials=False):
        dtype = np.dtype(dtype)
        if dtype == dtypes.bool_:
            return self.rng.integers(0, 2, shape).astype(bool)
        ranges = SMOOTH_RANGES if dtype.kind == "f" else INT_RANGES
        lo, hi, nonzero = ranges["real" if domain == "bool" else domain]
        if dtype.kind == "f":
            x = self.rng.uniform(lo, hi, shape)
        else:
            x = self.rng.integers(lo, hi + 1, shape)
        if nonzero:
            x = x * self.rng.choice([-1, 1], shape)
        return np.asarray(x, dtype)


class EdgeSource(RngSource):
    """Random values, but every shape a sampler asks for is 0-d ("scalar") or holds a
    size-0 dim ("empty") wherever the sampler allows it."""

    def __init__(self, seed, edge):
        super().__init__(seed)
        self.edge = edge

    def shape(self, min_rank=0, max_rank=3, max_side=3, allow_zero=True):
        if self.edge == "scalar" and min_rank == 0:
            return ()
        if self.edge == "empty" and allow_zero:
            rank = max(min_rank, 1)
            return (0,) + tuple(self.int(1, max_side) for _ in range(rank - 1))
        return super().shape(min_rank, max_rank, max_side, allow_zero)


class HypSource(Source):
    def __init__(self, data):
        self.data = data

    def int(self, lo, hi):
        return self.data.draw(st.integers(lo, hi))

    def values(self, shape, dtype, domain, specials=False):
        dtype = np.dtype(dtype)
        return self.data.draw(hnp.arrays(dtype, shape, elements=_elements(dtype, domain, specials)))


def _elements(dtype, domain, specials):
    if dtype == dtypes.bool_:
        return st.booleans()
    domain = "real" if domain == "bool" else domain
    if dtype.kind in "iu":
        lo, hi, nonzero = INT_RANGES[domain]
        s = st.integers(lo, hi)
        return st.one_of(s, s.map(lambda v: -v)) if nonzero else s
    lo, hi, nonzero = FLOAT_RANGES[domain]
    width = dtype.itemsize * 8
    s = st.floats(lo, hi, width=width)
    if nonzero:
        s = st.one_of(s, st.floats(-hi, -lo, width=width))
    if specials:
        s = st.one_of(s, st.sampled_from(SPECIALS))
    return s


# ------------------------------------------------------------------ elementwise sampler

def arity(op):
    impl = op.impl
    if isinstance(impl, np.ufunc):
        return impl.nin
    sig = inspect.signature(impl)
    return sum(1 for p in sig.parameters.values()
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


# Static params an elementwise op declares as keyword-only arguments of its shape rule.
PARAM_SAMPLERS = {
    "dtype": lambda src, mode: dtypes.float64 if mode == "diff" else src.choice(SUPPORTED),
    "weak": lambda src, mode: False,
}


def _keyword_params(op, src, mode):
    sig = inspect.signature(op.abstract)
    names = [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]
    return {n: PARAM_SAMPLERS[n](src, mode) for n in names}


def elementwise(op, src, dtype, mode):
    if op.domain == "bool" and dtype != dtypes.bool_:
        raise NotApplicable
    n = arity(op)
    shape = src.shape()
    shapes = [shape] * n
    if n > 1 and shape:  # rank-0 operands broadcast at the primitive level
        shapes = [() if src.int(0, 3) == 0 else shape for _ in range(n)]
        if all(s == () for s in shapes):
            shapes[0] = shape
    params = _keyword_params(op, src, mode)
    # NaN/inf stress the "real" ops, but casting them to an integer is undefined.
    specials = (mode == "ref" and op.domain == "real"
                and dtypes.is_float(params.get("dtype", dtypes.float64)))
    args = [src.values(s, dtype, op.domain, specials) for s in shapes]
    return Case(args, params, lambda *a: op.impl(*a, **params))


# ------------------------------------------------------------------- structured samplers

def _x(src, dtype, domain="real", **shape_kw):
    return src.values(src.shape(**shape_kw), dtype, domain)


def broadcast_in_dim(op, src, dtype, mode):
    x = _x(src, dtype)
    out_rank = x.ndim + src.int(0, 2)
    dims = tuple(sorted(src.permutation(out_rank)[:x.ndim]))
    shape = [src.int(0, 3) for _ in range(out_rank)]
    for i, d in enumerate(dims):
        shape[d] = x.shape[i] if x.shape[i] != 1 else src.int(1, 3)
    new = tuple(d for d in range(out_rank) if d not in dims)
    return Case([x], dict(shape=tuple(shape), dims=dims),
                lambda x: np.broadcast_to(np.expand_dims(x, new), shape))


def reshape(op, src, dtype, mode):
    x = _x(src, dtype)
    candidates = [(x.size,), x.shape[::-1], (1,) + x.shape, x.shape + (1,)]
    if x.size == 1:
        candidates.append(())
    if x.ndim >= 2:
        candidates.append((x.shape[0] * x.shape[1],) + x.shape[2:])
    shape = src.choice(candidates)
    return Case([x], dict(shape=shape), lambda x: x.ravel().reshape(shape))


def transpose(op, src, dtype, mode):
    x = _x(src, dtype)
    perm = src.permutation(x.ndim)
    return Case([x], dict(perm=perm), lambda x: np.moveaxis(x, perm, range(x.ndim)))


def slice_(op, src, dtype, mode):
    x = _x(src, dtype)
    start, limit, step = [], [], []
    for n in x.shape:
        s = src.int(0, n)
        start.append(s)
        limit.append(src.int(s, n))
        step.append(src.int(1, 3))
    params = dict(start=tuple(start), limit=tuple(limit), step=tuple(step))
    key = tuple(slice(*t) for t in zip(start, limit, step))
    return Case([x], params, lambda x: x[key])


def pad(op, src, dtype, mode):
    x = _x(src, dtype, max_rank=2)
    value = src.values((), dtype, "real")
    lo = tuple(src.int(0, 2) for _ in x.shape)
    hi = tuple(src.int(0, 2) for _ in x.shape)
    interior = tuple(src.int(0, 2) for _ in x.shape)

    def ref(x, v):
        shape = tuple(a + b + n + max(n - 1, 0) * i for n, a, b, i in zip(x.shape, lo, hi, interior))
        out = np.full(shape, v, x.dtype)
        where = [a + np.arange(n) * (i + 1) for n, a, i in zip(x.shape, lo, interior)]
        out[np.ix_(*where)] = x
        return out
    return Case([x, value], dict(lo=lo, hi=hi, interior=interior), ref)


def rev(op, src, dtype, mode):
    x = _x(src, dtype)
    axes = src.subset(range(x.ndim))
    return Case([x], dict(axes=axes), lambda x: x[tuple(slice(None, None, -1) if d in axes
                                                        else slice(None) for d in range(x.ndim))])


def concatenate(op, src, dtype, mode):
    shape = src.shape(min_rank=1)
    axis = src.int(0, len(shape) - 1)
    xs = []
    for _ in range(src.int(1, 3)):
        s = list(shape)
        s[axis] = src.int(0, 3)
        xs.append(src.values(tuple(s), dtype, "real"))
    return Case(xs, dict(axis=axis), lambda *xs: np.concatenate(xs, axis))


def _reduction(ref):
    def sampler(op, src, dtype, mode):
        x = _x(src, dtype)
        axes = src.subset(range(x.ndim))
        if ref in (np.max, np.min) and any(x.shape[a] == 0 for a in axes):
            axes = tuple(a for a in axes if x.shape[a])
        return Case([x], dict(axes=axes), lambda x: ref(x, axis=axes))
    return sampler


def _arg(ref):
    def sampler(op, src, dtype, mode):
        x = _x(src, dtype, min_rank=1, allow_zero=False)
        axis = src.int(0, x.ndim - 1)
        return Case([x], dict(axis=axis), lambda x: ref(x, axis=axis))
    return sampler


def cumsum(op, src, dtype, mode):
    x = _x(src, dtype, min_rank=1)
    axis, reverse = src.int(0, x.ndim - 1), bool(src.int(0, 1))

    def ref(x):
        acc = np.logical_or.accumulate if x.dtype == bool else np.add.accumulate
        if not reverse:
            return acc(x, axis=axis)
        return np.flip(acc(np.flip(x, axis), axis=axis), axis)
    return Case([x], dict(axis=axis, reverse=reverse), ref)


def iota(op, src, dtype, mode):
    if dtype == dtypes.bool_:
        raise NotApplicable  # NumPy has no arange of bools longer than 2
    shape = src.shape(min_rank=1)
    axis = src.int(0, len(shape) - 1)
    return Case([], dict(shape=shape, dtype=dtype, axis=axis),
                lambda: np.indices(shape)[axis].astype(dtype))


def gather(op, src, dtype, mode):
    x = _x(src, dtype, min_rank=1)
    axis = src.int(0, x.ndim - 1)
    n = x.shape[axis]
    idx_shape = src.shape(max_rank=2) if n else (0,)
    idx = src.values(idx_shape, np.int64, "real") % n - n * src.int(0, 1) if n else \
        np.zeros(idx_shape, np.int64)  # in [-n, n): negative indices count from the end
    return Case([x, idx.astype(src.choice([np.int32, np.int64]))], dict(axis=axis),
                lambda x, i: np.take(x, i, axis=axis))


def scatter(op, src, dtype, mode):
    size = src.int(1, 4)
    idx = src.values(src.shape(max_rank=2), np.int64, "real") % size - size * src.int(0, 1)
    head, tail = src.shape(max_rank=1), src.shape(max_rank=1)
    upd = src.values(head + idx.shape + tail, dtype, "real")
    axis = len(head)

    def ref(upd, idx):
        out = np.zeros(head + (size,) + tail, upd.dtype)
        flat = upd.reshape(head + (idx.size,) + tail)
        for j, i in enumerate(idx.ravel()):
            out[(slice(None),) * axis + (i % size,)] += flat[(slice(None),) * axis + (j,)]
        return out
    return Case([upd, idx], dict(axis=axis, size=size), ref)


def matmul(op, src, dtype, mode):
    batch = src.shape(max_rank=2, max_side=2)
    m, k, n = (src.int(0 if mode == "ref" else 1, 3) for _ in range(3))
    a = src.values(batch + (m, k), dtype, "real")
    b = src.values(batch + (k, n), dtype, "real")
    return Case([a, b], {}, np.matmul)


def select(op, src, dtype, mode):
    shape = src.shape()
    shapes = [() if src.int(0, 3) == 0 else shape for _ in range(3)]
    pred = src.values(shapes[0], dtypes.bool_, "bool")
    a, b = (src.values(s, dtype, "real") for s in shapes[1:])
    return Case([pred, a, b], {}, np.where)


STRUCTURED = {
    "broadcast_in_dim": broadcast_in_dim, "reshape": reshape, "transpose": transpose,
    "slice": slice_, "pad": pad, "rev": rev, "concatenate": concatenate,
    "reduce_sum": _reduction(np.sum), "reduce_max": _reduction(np.max),
    "reduce_min": _reduction(np.min), "argmax": _arg(np.argmax), "argmin": _arg(np.argmin),
    "cumsum": cumsum, "iota": iota, "gather": gather, "scatter": scatter, "matmul": matmul,
    "select": select,
}


def sampler_for(op):
    if op.domain in VALUE_DOMAINS:
        return elementwise
    key = op.domain if op.domain is not None else op.name
    if key not in STRUCTURED:
        raise KeyError(f"op {op.name!r} (domain {op.domain!r}) has no sampler in tests/ops/domains.py")
    return STRUCTURED[key]


def sample(op, src, dtype, mode="ref"):
    """A Case for `op` with operands of `dtype` ("ref": edge values; "diff": smooth)."""
    return sampler_for(op)(op, src, dtype, mode)


def accepts(op, dtype):
    """Whether op takes operands of dtype: probe its shape rule on a few sampled cases."""
    from dprog.errors import DtypeError
    from dprog.ir import aval_of_value
    for seed in range(3):
        try:
            case = sample(op, RngSource(seed), dtype)
            op.abstract_eval([aval_of_value(a) for a in case.args], case.params)
            return True
        except (DtypeError, NotApplicable):
            return False
        except Exception:  # noqa: BLE001 - a shape problem in this draw: try another
            continue
    return False
