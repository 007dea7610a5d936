"""The three checks every fuzzed program goes through, shared by test_fuzz.py and the
saved regression files:

1. backends agree: the reference interpreter (config.backend "reference") and the fused
   Numba CPU kernels (config.backend "") give the same outputs;
2. derivatives: reverse mode (grad) and forward mode (jvp) match central finite
   differences of a random projection of the outputs along a random direction (float64);
3. transposition: <vjp(u), v> == <u, jvp(v)> for random u, v.
"""
import contextlib

import numpy as np

import dprog as dp


class NotApplicable(Exception):
    """The program's values at these inputs are not finite or too large to compare."""


@contextlib.contextmanager
def backend(name):
    old = dp.config.backend
    dp.config.backend = name
    try:
        yield
    finally:
        dp.config.backend = old


def _flat(tree):
    return [np.asarray(x) for x in dp.tree_leaves(tree)]


def _usable(outs, limit=1e4):
    return all(np.all(np.isfinite(o)) and np.all(np.abs(o) < limit) for o in outs)


def _tol(dtype):
    return {np.float32: 2e-3, np.float64: 1e-7}[np.dtype(dtype).type]


def check_backends(program):
    f, xs = program.function(), program.inputs()
    with backend("reference"):
        ref = _flat(dp.jit(f)(*xs))
    if not _usable(ref):
        raise NotApplicable
    with backend(""):
        got = _flat(dp.jit(f)(*xs))
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == r.dtype, (g.shape, g.dtype, r.shape, r.dtype)
        scale = 1.0 + float(np.max(np.abs(r), initial=0.0))
        np.testing.assert_allclose(g, r, rtol=0, atol=_tol(r.dtype) * scale * 10)


def _random_like(rng, values):
    return [np.asarray(rng.standard_normal(np.shape(v)), dtype=np.asarray(v).dtype) for v in values]


def _dot(a, b):
    return sum(float(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64))) for x, y in zip(a, b))


def check_derivatives(program, which=("reverse", "forward"), mode="reference"):
    """Directional derivative of L(x) = <w, f(x)> along v by both modes vs central
    differences at two step sizes (the two must agree: else f is not smooth here)."""
    f, xs = program.function(), program.inputs()
    with backend(mode):
        outs = _flat(dp.jit(f)(*xs))
        if not _usable(outs, 1e3):
            raise NotApplicable
        rng = np.random.default_rng(program.seed + 1)
        w, v = _random_like(rng, outs), _random_like(rng, xs)

        def projected(*args):
            return _dot_traced(w, dp.tree_leaves(f(*args)))
        L = dp.jit(projected)

        def fd(h):
            plus = L(*[x + h * d for x, d in zip(xs, v)])
            minus = L(*[x - h * d for x, d in zip(xs, v)])
            return (float(plus) - float(minus)) / (2 * h)
        coarse, fine = fd(1e-4), fd(1e-5)
        scale = 1.0 + abs(fine)
        if abs(coarse - fine) > 1e-4 * scale:
            raise NotApplicable  # a kink or a branch switch within the step
        if "reverse" in which:
            grads = dp.grad(projected, argnums=tuple(range(len(xs))))(*xs)
            got = _dot(grads, v)
            assert abs(got - fine) <= 1e-5 * scale, ("reverse", got, fine)
        if "forward" in which:
            _, tangents = dp.jvp(f, tuple(xs), tuple(v))
            got = _dot(w, _flat(tangents))
            assert abs(got - fine) <= 1e-5 * scale, ("forward", got, fine)


def _dot_traced(w, outs):
    import dprog.numpy as dnp
    total = 0.0
    for wi, o in zip(w, outs):
        total = total + dnp.sum(dnp.asarray(o, dtype=np.float64) * wi)
    return total


def check_transpose(program, mode="reference"):
    f, xs = program.function(), program.inputs()
    with backend(mode):
        outs, vjp_fn = dp.vjp(f, *xs)
        outs_flat = _flat(outs)
        if not _usable(outs_flat, 1e3):
            raise NotApplicable
        rng = np.random.default_rng(program.seed + 2)
        u, v = _random_like(rng, outs_flat), _random_like(rng, xs)
        ct = vjp_fn(dp.tree_unflatten(dp.tree_structure(outs), u))
        _, tangents = dp.jvp(f, tuple(xs), tuple(v))
        lhs, rhs = _dot(_flat(ct), v), _dot(u, _flat(tangents))
        scale = 1.0 + sum(float(np.sum(np.abs(np.asarray(c, np.float64) * d))) for c, d in zip(_flat(ct), v))
        assert abs(lhs - rhs) <= _tol(program.dtype) * scale, (lhs, rhs)


CHECKS = {
    "backends": check_backends,
    "derivatives": check_derivatives,
    # compiled kernels on both sides of the identity: covers the CPU code of vjp/jvp graphs
    "transpose": lambda p: check_transpose(p, mode=""),
}


def run_saved(source, in_shapes, dtype, seed, check):
    """Replay a saved regression program through one check."""
    from programs import Program
    CHECKS[check](Program.from_source(source, in_shapes, dtype, seed))
