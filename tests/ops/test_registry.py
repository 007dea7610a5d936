"""One loop over dprog.ops.REGISTRY: every primitive against its NumPy reference, and
every differentiable primitive's JVP and VJP against central finite differences, to
second order. The inputs come from each op's `domain` (tests/ops/domains.py), so a new
op gets all of these tests as soon as it is registered with a domain.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dprog as dp
import dprog.numpy as dnp
from dprog import dtypes
from dprog.ir import aval_of_value, verify
from dprog.ops import REGISTRY

import domains

# Tolerance table: results vs a float64 reference computed from the same inputs.
TOL = {
    dtypes.float32: dict(rtol=2e-5, atol=2e-6),
    dtypes.float64: dict(rtol=1e-12, atol=1e-13),
    dtypes.int32: dict(rtol=0, atol=0),
    dtypes.int64: dict(rtol=0, atol=0),
    dtypes.bool_: dict(rtol=0, atol=0),
}
FD_EPS = 1e-6
FD_TOL = dict(rtol=2e-5, atol=2e-6)

# Ops that hold sub-graphs (control flow, custom rules, compiler fusion groups) cannot be
# drawn from a value domain; each has a dedicated suite instead (checked below).
SUBGRAPH_SUITES = {
    "cond": "control/test_cond.py", "scan": "control/test_loops.py",
    "while": "control/test_loops.py", "custom_vjp_call": "control/test_custom.py",
    "custom_jvp_call": "control/test_custom.py", "checkpoint": "control/test_custom.py",
    "fusion": "codegen/test_cpu_compiler.py",
    # Collectives need several processes to mean anything beyond the identity.
    "psum": "distributed/test_mpi.py", "pmax": "distributed/test_mpi.py",
    "all_gather": "distributed/test_mpi.py",
}
DEDICATED_KINDS = ("control", "fused", "collective")
OPS = sorted(n for n, op in REGISTRY.items() if op.kind.value not in DEDICATED_KINDS)
DTYPE_CASES = [pytest.param(name, dt, id=f"{name}-{dt}") for name in OPS
               for dt in domains.SUPPORTED if domains.accepts(REGISTRY[name], dt)]
DIFFERENTIABLE = [n for n in OPS if REGISTRY[n].differentiable
                  and domains.accepts(REGISTRY[n], dtypes.float64)]
NON_DIFFERENTIABLE = [n for n in OPS if not REGISTRY[n].differentiable
                      and domains.accepts(REGISTRY[n], dtypes.float64)]


def _apply(op, params):
    return lambda *args: op(*args, **params)


def _outs(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _upcast(a):
    return a.astype(np.float64) if a.dtype == np.float32 else a


def _noncontiguous(a):
    """The same values in memory with gaps (every other element of a bigger buffer)."""
    if a.ndim == 0:
        return a
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    view = big[..., ::2]
    assert not view.flags.c_contiguous or a.shape[-1] <= 1 or a.size == 0
    return view


# ------------------------------------------------------------------------- coverage

@pytest.mark.parametrize("name", OPS)
def test_every_op_has_a_test_domain(name):
    op = REGISTRY[name]
    domains.sampler_for(op)  # KeyError: teach tests/ops/domains.py about the new op
    assert any(domains.accepts(op, dt) for dt in domains.SUPPORTED), \
        f"{name}: no dtype yields a valid sampled case"


@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items()
                                         if op.kind.value in DEDICATED_KINDS))
def test_every_subgraph_op_has_a_dedicated_suite(name):
    import os
    suite = SUBGRAPH_SUITES.get(name)
    assert suite is not None, f"{name}: add its dedicated test suite to SUBGRAPH_SUITES"
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), suite)
    assert os.path.exists(path), path


def test_structured_samplers_name_real_ops_or_domains():
    used = {op.domain for op in REGISTRY.values()} | set(REGISTRY)
    assert set(domains.STRUCTURED) <= used, set(domains.STRUCTURED) - used


def test_every_differentiable_op_has_both_rules():
    for op in REGISTRY.values():
        if op.differentiable:
            assert op.jvp is not None and op.vjp is not None, op.name


# -------------------------------------------------------------------- NumPy reference

@pytest.mark.parametrize("name,dtype", DTYPE_CASES)
@given(data=st.data())
def test_matches_numpy_reference(name, dtype, data):
    op = REGISTRY[name]
    _check_against_reference(op, domains.sample(op, domains.HypSource(data), dtype))


@pytest.mark.parametrize("edge", ["scalar", "empty"])
@pytest.mark.parametrize("name,dtype", [p for p in DTYPE_CASES if p.values[1] == dtypes.float32])
def test_zero_dim_and_size_zero_operands(name, dtype, edge):
    op = REGISTRY[name]
    for seed in range(2):
        case = domains.sample(op, domains.EdgeSource(seed, edge), dtype)
        _check_against_reference(op, case)


def _check_against_reference(op, case):
    fn = _apply(op, case.params)
    with np.errstate(all="ignore"):
        expected_avals = op.abstract_eval([aval_of_value(a) for a in case.args], case.params)
        ref = _outs(case.ref(*[_upcast(a) for a in case.args]))
        eager = _outs(fn(*case.args))
        jitted = _outs(dp.jit(fn)(*case.args))
        noncontig = _outs(dp.jit(fn)(*[_noncontiguous(a) for a in case.args]))
    verify(dp.make_graph(fn)(*case.args))
    for aval, r, e, j, nc in zip(expected_avals, ref, eager, jitted, noncontig):
        for got in (e, j, nc):
            assert isinstance(got, np.ndarray)
            assert got.dtype == aval.dtype and got.shape == aval.shape == np.shape(r)
            np.testing.assert_allclose(got, np.asarray(r).astype(aval.dtype), equal_nan=True,
                                       **TOL[aval.dtype])
        # Compiled kernels use their own math (vectorised polynomials, FMA): they agree
        # with NumPy's eager result to the dtype's tolerance, bitwise for ints and bools.
        np.testing.assert_allclose(j, e, equal_nan=True, **TOL[aval.dtype])
        # Strided inputs may take another BLAS/SIMD path: a few ULP apart, not bitwise.
        np.testing.assert_allclose(nc, j, equal_nan=True, **TOL[aval.dtype])


# ----------------------------------------------------------------- finite differences

def _diff_case(name, data):
    op = REGISTRY[name]
    src = domains.RngSource(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    case = domains.sample(op, src, dtypes.float64, mode="diff")
    fn = _apply(op, case.params)
    wrt = tuple(i for i, a in enumerate(case.args) if a.dtype.kind == "f")
    if not wrt:
        pytest.skip(f"{name}: no float operands")
    return op, src, case, fn, wrt


def _perturbed(args, wrt, vs, eps):
    new = list(args)
    for i, v in zip(wrt, vs):
        new[i] = args[i] + eps * v
    return new


def _fd(f, args, wrt, vs):
    with np.errstate(all="ignore"):
        plus = f(*_perturbed(args, wrt, vs, FD_EPS))
        minus = f(*_perturbed(args, wrt, vs, -FD_EPS))
    return [(p - m) / (2 * FD_EPS) for p, m in zip(_outs(plus), _outs(minus))]


def _tangents(src, args, wrt):
    return [src.values(args[i].shape, np.float64, "real") for i in wrt]


def _full_tangents(args, wrt, vs):
    ts = [np.zeros_like(a) for a in args]
    for i, v in zip(wrt, vs):
        ts[i] = v
    return tuple(ts)


@pytest.mark.usefixtures("reference_backend")
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@given(data=st.data())
def test_jvp_and_vjp_match_finite_differences(name, data):
    op, src, case, fn, wrt = _diff_case(name, data)
    args = case.args
    vs = _tangents(src, args, wrt)
    expected = _fd(fn, args, wrt, vs)
    out, t_out = dp.jvp(fn, tuple(args), _full_tangents(args, wrt, vs))
    for t, e in zip(_outs(t_out), expected):
        np.testing.assert_allclose(t, e, **FD_TOL)
    # Reverse mode: <ct, J v> from the cotangents must match the same directional FD.
    out, vjp_fn = dp.vjp(fn, *args)
    cts = [src.values(np.shape(o), np.float64, "real") for o in _outs(out)]
    in_cts = vjp_fn(cts[0] if len(cts) == 1 else tuple(cts))
    lhs = sum(float(np.vdot(in_cts[i], v)) for i, v in zip(wrt, vs))
    rhs = sum(float(np.vdot(c, e)) for c, e in zip(cts, expected))
    np.testing.assert_allclose(lhs, rhs, **FD_TOL)
    for i, a in enumerate(args):
        assert in_cts[i].shape == a.shape


@pytest.mark.usefixtures("reference_backend")
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=4)
@given(data=st.data())
def test_second_order_matches_finite_differences(name, data):
    op, src, case, fn, wrt = _diff_case(name, data)
    args = case.args
    w = src.values(op.abstract_eval([aval_of_value(a) for a in args], case.params)[0].shape,
                   np.float64, "real")

    def grads(*a):  # first-order gradient, already checked against FD above
        return dp.grad(lambda *b: dnp.sum(fn(*b) * w), argnums=wrt)(*a)

    vs = _tangents(src, args, wrt)
    # Forward over reverse: jvp of grad is a Hessian-vector product.
    _, hv = dp.jvp(grads, tuple(args), _full_tangents(args, wrt, vs))
    for h, e in zip(hv, _fd(grads, args, wrt, vs)):
        np.testing.assert_allclose(h, e, **FD_TOL)
    # Reverse over reverse: grad of <grad, u>, projected on v.
    us = _tangents(src, args, wrt)

    def projected(*a):
        return sum(dnp.sum(g * u) for g, u in zip(grads(*a), us))

    gg = dp.grad(projected, argnums=wrt)(*args)
    lhs = sum(float(np.vdot(g, v)) for g, v in zip(gg, vs))
    np.testing.assert_allclose(lhs, _fd(projected, args, wrt, vs)[0], **FD_TOL)


@pytest.mark.usefixtures("reference_backend")
@pytest.mark.parametrize("name", NON_DIFFERENTIABLE)
@settings(max_examples=4)
@given(data=st.data())
def test_non_differentiable_ops_have_zero_tangents(name, data):
    op, src, case, fn, wrt = _diff_case(name, data)
    args = case.args
    out, t_out = dp.jvp(fn, tuple(args), _full_tangents(args, wrt, _tangents(src, args, wrt)))
    for o, t in zip(_outs(out), _outs(t_out)):
        assert np.shape(t) == np.shape(o)
        assert not np.any(t)
