"""Random straight-line float64 programs over the op registry, for property tests.

A program is a list of steps, each an (kind, a, b, c) tuple of small ints that hypothesis
draws and shrinks; `run_program` interprets it on two inputs, x: (2, 3) and y: (3,),
with dprog.numpy (traced or eager). Each step appends one value to a pool: an elementwise
op of the registry on one or two pool values (broadcast to a common shape), a reduction,
a reshape/transpose or a matmul. Operands are first mapped smoothly into the op's test
domain (`Op.domain`), which also keeps values bounded so finite differences stay exact
enough. `smooth=True` leaves out ops with kinks or jumps (abs, max/min, mod, max/min
reductions), which finite differences cannot check.
"""
import inspect

import numpy as np
from hypothesis import strategies as st

import dprog.numpy as dnp
from dprog.ops.record import REGISTRY, Kind

NON_SMOOTH = {"abs", "maximum", "minimum", "mod"}
SKIP = {"copy", "select", "convert_element_type", "round", "stop_gradient"}

# Smooth maps of any real into each domain: bounded, so chains of ops cannot overflow.
DOMAIN_MAPS = {
    "real": lambda v: 3.0 * dnp.tanh(v / 3.0),
    "small": lambda v: 2.0 * dnp.tanh(v / 2.0),
    "positive": lambda v: 0.5 + 2.0 / (1.0 + dnp.exp(-v)),
    "nonzero": lambda v: 0.5 + 2.0 / (1.0 + dnp.exp(-v)),
    "unit_open": lambda v: 0.9 * dnp.tanh(v),
    "gt_minus1": lambda v: -0.5 + 2.0 / (1.0 + dnp.exp(-v)),
    "gt1": lambda v: 1.5 + 2.0 / (1.0 + dnp.exp(-v)),
}


def _arity(op):
    return op.impl.nin if isinstance(op.impl, np.ufunc) else len(inspect.signature(op.impl).parameters)


def _float_ops(arity, smooth):
    return sorted((op for op in REGISTRY.values()
                   if op.kind is Kind.ELEMENTWISE and op.differentiable and op.name not in SKIP
                   and op.domain in DOMAIN_MAPS and _arity(op) == arity
                   and not (smooth and op.name in NON_SMOOTH)), key=lambda op: op.name)


def op_tables(smooth):
    return _float_ops(1, smooth), _float_ops(2, smooth)


def programs(max_steps=6):
    step = st.tuples(st.integers(0, 4), st.integers(0, 63), st.integers(0, 63), st.integers(0, 63))
    return st.lists(step, min_size=1, max_size=max_steps)


def _broadcast_pair(u, w):
    try:
        shape = np.broadcast_shapes(u.shape, w.shape)
    except ValueError:
        return u, dnp.sum(w)  # incompatible: a rank-0 operand broadcasts in the primitive
    return dnp.broadcast_to(u, shape), dnp.broadcast_to(w, shape)


def _movement(v, b):
    if v.ndim == 2:
        return [v.T, dnp.reshape(v, (-1,)), dnp.reshape(v, v.shape[::-1])][b % 3]
    if v.ndim == 1:
        return dnp.reshape(v, (1, -1)) if b % 2 else dnp.reshape(v, (-1, 1))
    return dnp.reshape(v, (1,))


def _matmul(pool, v, c):
    if v.ndim == 0:
        return v * pool[c % len(pool)].sum()
    k = v.shape[-1]
    partners = [w for w in pool if w.ndim in (1, 2) and w.shape[0] == k]
    w = partners[c % len(partners)] if partners else (v.T if v.ndim == 2 else v)
    return dnp.matmul(v, w)


def run_program(steps, x, y, smooth):
    unary, binary = op_tables(smooth)
    reductions = [dnp.sum, dnp.mean] if smooth else [dnp.sum, dnp.mean, dnp.max, dnp.min]
    pool = [x, y]
    for kind, a, b, c in steps:
        v = pool[b % len(pool)]
        if kind == 0:
            op = unary[a % len(unary)]
            out = op(DOMAIN_MAPS[op.domain](v))
        elif kind == 1:
            op = binary[a % len(binary)]
            u, w = _broadcast_pair(v, pool[c % len(pool)])
            out = op(DOMAIN_MAPS[op.domain](u), DOMAIN_MAPS[op.domain](w))
        elif kind == 2:
            red = reductions[a % len(reductions)]
            out = red(v, axis=c % v.ndim, keepdims=bool(a % 2)) if v.ndim else red(v)
        elif kind == 3:
            out = _movement(v, a)
        else:
            out = _matmul(pool, DOMAIN_MAPS["real"](v), c)
        pool.append(out)
    return pool[-1]


def describe(steps, smooth):
    """The program as text, for failure reports."""
    unary, binary = op_tables(smooth)
    names = []
    for kind, a, b, c in steps:
        names.append([f"{unary[a % len(unary)].name}(v{b})", f"{binary[a % len(binary)].name}(v{b}, v{c})",
                      f"reduce{a}(v{b}, axis={c})", f"move{a}(v{b})", f"matmul(v{b}, ~{c})"][kind])
    return "; ".join(names)
