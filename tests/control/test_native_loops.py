"""Native loops (dprog/codegen/cpu_loop.py): a scan or while whose body is kernels and
views runs as one compiled Numba loop. Each program here runs compiled and with the
reference interpreter, and must agree; each also states which path its loops take
("loop": native, "impl": the Python loop), so a body that silently stops going native
fails here, and so does a native loop that fails to compile (it would warn and fall back)."""
import warnings

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from benchmarks.workloads import particles
from dprog.codegen import cpu_loop
from dprog.codegen.cpu_plan import PARALLEL_MIN_ELEMENTS_CHEAP

from support import reference  # tests/support.py

rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def f64(*shape):
    return rng.standard_normal(shape)


def compiled(fun, *args):
    """(jitted function, its results); a native loop that fails to compile is an error."""
    jitted = dp.jit(fun)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="dprog: the compiled loop")
        return jitted, jitted(*args)


def executable(jitted):
    (entry,) = jitted._cache.values()
    return entry.executable


def loop_paths(jitted):
    """How each scan / while of the compiled program runs: 'loop' (native) or 'impl'."""
    return [s.kind for s in executable(jitted).steps if s.node.op.name in ("scan", "while")]


def assert_same(got, want):
    got_leaves, want_leaves = dp.tree_leaves(got), dp.tree_leaves(want)
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        tol = 1e-5 if g.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


# ---------------------------------------------------------------------------- programs

def particles_grad(v0, k, x0, target):
    return dp.grad(lambda v, k: particles.simulate(dnp, dp.scan, v, k, x0, target), argnums=(0, 1))(v0, k)


def ema_reverse(c, xs):
    return dp.scan(lambda c, x: (c * 0.9 + x, c + 1.0), c, xs, reverse=True)


def empty_scan(c, xs):
    return dp.scan(lambda c, x: (c * x, (c + x, c)), c, xs)


def empty_scan_no_xs(c):
    return dp.scan(lambda c, _: (c + 1.0, c * 2.0), c, None, length=0)


def swap_and_keep(a, b):
    # p and q swap every step (odd length, so a reused buffer would show); r accumulates
    return dp.scan(lambda c, _: ((c[1], c[0], c[0] + c[2]), c[1]), (a, b, a), None, length=5)


def same_value_twice(a, b):
    def step(c, _):
        s = c[0] + c[1]
        return (s, s), s
    return dp.scan(step, (a, b), None, length=4)


def carry_unchanged(c, k):
    return dp.scan(lambda c, x: ((c[0], c[1] * x), (c[0], x)), (c, k), dnp.arange(1.0, 4.0))


def scalar_int_bool_carries(xs):
    def step(c, x):
        total, count, flag = c
        return (total + x, count + 1, dnp.logical_not(flag)), (total > 1.0, count * 2)
    return dp.scan(step, (np.float32(0.0), 0, True), xs)


def int32_carry(c, xs):
    return dp.scan(lambda c, x: (c * 3 + x, c % 7), c, xs)


def with_consts(c, xs, w, s):
    return dp.scan(lambda c, x: (c * w + s * x, dnp.sum(c)), c, xs)


def extra_dims(c, xs):
    # xs (L, 2, 3, 5), carry (2, 3, 5); ys (L, 2, 3, 5) and a partial reduction (L, 2)
    return dp.scan(lambda c, x: (dnp.tanh(c + x), (x * c, dnp.sum(c * c, axis=(1, 2)))), c, xs)


def literal_and_input_outputs(c, xs):
    return dp.scan(lambda c, x: (c, (1.5, x, c, c * 2.0)), c, xs)


def literal_carry(c):
    return dp.scan(lambda c, _: ((c[0] * 0.0 + 1.0, np.float64(2.0)), c[1]), (c, np.float64(0.5)), None, length=3)


def views_in_body(c, xs):
    def step(c, x):
        ys = (c[::2, 1:], c.reshape(9), c[::-1], dnp.broadcast_to(x, (2, 2)), dnp.zeros((2,)), c[1])
        return c.T * 1.0 + c[::-1].T, ys
    return dp.scan(step, c, xs)


def view_carry(c):
    # the new carry is a view of the old one (a transpose, then a reversed copy)
    return dp.scan(lambda c, _: ((c[0].T, c[1][::-1]), c[0][0]), c, None, length=3)


def while_counter(x, n):
    return dp.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 0.5 + x), (0, x))


def while_reduction(x):
    return dp.while_loop(lambda c: dnp.sum(c * c) > 1e-3, lambda c: c * 0.7, x)


def fori_static(x):
    return dp.fori_loop(1, 6, lambda i, c: dnp.sin(c) * i + x, x)


def fori_traced(x, n):
    return dp.fori_loop(0, n, lambda i, c: c * x + i, dnp.ones_like(x))


def while_zero_trips(x):
    return dp.while_loop(lambda c: dnp.max(c[0]) > 1e9, lambda c: (c[0] * 2.0, c[1] + 1), (x, 0))


def matmul_body(c, w):
    return dp.scan(lambda c, _: (dnp.tanh(c @ w), None), c, None, length=4)


def nested_scan(x):
    def outer(c, xi):
        inner, _ = dp.scan(lambda d, y: (dnp.sin(d * y + xi), None), c, dnp.arange(3.0))
        return inner, inner
    return dp.scan(outer, x, dnp.arange(4.0) * 0.1)


def big_rows(c):
    # 512 x 1024 = PARALLEL_MIN_ELEMENTS_CHEAP elements per step: a parallel (split) kernel
    return dp.scan(lambda c, _: (c * 0.5 + 1.0, dnp.sum(c, axis=1)), c, None, length=3)


P = 50
PROGRAMS = [
    ("particles grad", particles_grad, lambda: (f32(P, 2), np.float32(2.0), f32(P, 2), f32(P, 2)), ["loop", "loop"]),
    ("reverse with xs and ys", ema_reverse, lambda: (f32(3, 4), f32(6, 3, 4)), ["loop"]),
    ("length 0 with xs", empty_scan, lambda: (f64(3), f64(0, 3)), ["loop"]),
    ("length 0 without xs", empty_scan_no_xs, lambda: (f32(2, 2),), ["loop"]),
    ("carries swap and pass through", swap_and_keep, lambda: (f64(4), f64(4)), ["loop"]),
    ("one value as two carries", same_value_twice, lambda: (f32(3), f32(3)), ["loop"]),
    ("carry unchanged, rank-0 consts", carry_unchanged, lambda: (f64(2, 2), np.float64(1.5)), ["loop"]),
    ("rank-0 float, int and bool carries", scalar_int_bool_carries, lambda: (f32(7),), ["loop"]),
    ("int32 carry", int32_carry, lambda: (np.arange(5, dtype=np.int32), np.arange(20, dtype=np.int32).reshape(4, 5)), ["loop"]),
    ("consts", with_consts, lambda: (f32(4), f32(5, 4), f32(4), np.float32(0.3)), ["loop"]),
    ("xs and ys with extra dims", extra_dims, lambda: (f64(2, 3, 5), f64(4, 2, 3, 5)), ["loop"]),
    ("literal and input outputs", literal_and_input_outputs, lambda: (f32(3), f32(4, 3)), ["loop"]),
    ("literal carry", literal_carry, lambda: (f64(3),), ["loop"]),
    ("views in the body", views_in_body, lambda: (f64(3, 3), f64(4)), ["loop"]),
    ("a view as the new carry", view_carry, lambda: ((f64(3, 3), f64(4)),), ["loop"]),
    ("while with a counter", while_counter, lambda: (f64(4), 5), ["loop"]),
    ("while on a reduction", while_reduction, lambda: (f32(6, 2),), ["loop"]),
    ("while with no trips", while_zero_trips, lambda: (f64(3),), ["loop"]),
    ("fori_loop, static bounds", fori_static, lambda: (f64(3),), ["loop"]),
    ("fori_loop, traced bounds", fori_traced, lambda: (f64(3), np.int32(4)), ["loop"]),
    ("matmul body: Python loop", matmul_body, lambda: (f64(2, 3), f64(3, 3)), ["impl"]),
    ("nested scan: Python loop outside", nested_scan, lambda: (f64(2),), ["impl"]),
    ("parallel kernels: Python loop", big_rows, lambda: (f32(512, PARALLEL_MIN_ELEMENTS_CHEAP // 512),), ["impl"]),
]


@pytest.mark.parametrize("name,fun,make_args,paths", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_native_loop_matches_reference(name, fun, make_args, paths):
    args = make_args()
    jitted, got = compiled(fun, *args)
    assert_same(got, reference(fun, *args))
    assert loop_paths(jitted) == paths
    # a second call (the loaded function, pooled buffers reused) agrees too
    assert_same(jitted(*args), got)


def test_particles_forward_and_backward_scans_go_native():
    """The benchmark's program (1000 particles, 200 steps): the forward scan (which also
    stacks the carries) and the backward scan both run as native loops, serially."""
    x0, v0, target = f32(particles.P, 2), f32(particles.P, 2), f32(particles.P, 2)
    jitted, _ = compiled(particles_grad, v0, np.float32(2.0), x0, target)
    loops = [s.loop for s in executable(jitted).steps if s.kind == "loop"]
    assert len(loops) == 2 and [lp.node.params["reverse"] for lp in loops] == [False, True]
    assert all(isinstance(lp, cpu_loop.NativeLoop) for lp in loops)
    # float32 stays float32: typed constants and buffers only
    assert not any("float64" in lp.source for lp in loops)
    assert not any(s.kind == "impl" for s in executable(jitted).steps if s.node.op.name == "scan")


def test_parallel_body_stays_a_python_loop_of_split_kernels():
    # Inside compiled code a kernel runs on one thread: a body big enough for parallel
    # kernels keeps the Python loop, whose kernel calls are split across threads.
    x = f32(512, PARALLEL_MIN_ELEMENTS_CHEAP // 512)
    jitted, got = compiled(big_rows, x)
    steps = executable(jitted).steps
    assert not [s for s in steps if s.kind == "loop"]
    assert_same(got, reference(big_rows, x))


def test_results_are_fresh_arrays():
    a, b = f64(4), f64(4)
    f = lambda a, b: dp.scan(lambda c, _: ((c[0], c[0]), c[1]), (a, b), None, length=2)
    jitted, ((p, q), ys) = compiled(f, a, b)
    # p is a's value carried through, q the same value: three distinct new arrays
    for r in (p, q, ys):
        assert not np.shares_memory(r, a) and not np.shares_memory(r, b)
    assert not np.shares_memory(p, q)
    p[:] = 0.0
    ys[:] = 0.0
    (p2, q2), ys2 = jitted(a, b)
    np.testing.assert_array_equal(p2, a)
    np.testing.assert_array_equal(q2, a)
    np.testing.assert_array_equal(ys2, np.stack([b, a]))
    # length 0: the carry is the operand's value, in a new array
    jitted, (c, ys) = compiled(empty_scan, a, f64(0, 4))
    assert not np.shares_memory(c, a) and ys[0].shape == (0, 4)


def test_strided_and_read_only_operands_use_one_compiled_signature():
    base = f64(4, 3)
    read_only = f64(3, 4)
    read_only.flags.writeable = False
    jitted, _ = compiled(ema_reverse, base.T.copy(), f64(5, 3, 4))
    xs = f64(5, 4, 3).transpose(0, 2, 1)  # strided
    for c in (base.T, read_only, np.broadcast_to(f64(4), (3, 4))):
        assert_same(jitted(c, xs), reference(ema_reverse, c, xs))
    (lp,) = [s.loop for s in executable(jitted).steps if s.kind == "loop"]
    assert len(lp._fn.signatures) == 1


def test_a_loop_numba_cannot_compile_falls_back_with_one_warning(monkeypatch):
    real = cpu_loop._module_source

    def broken(kernels, args, lines):
        return real(kernels, args, ["undefined_in_generated_code()"] + lines)

    monkeypatch.setattr(cpu_loop, "_module_source", broken)
    c, xs = f32(3, 4), f32(6, 3, 4)
    jitted = dp.jit(ema_reverse)
    with pytest.warns(RuntimeWarning, match="compiled loop of a scan did not compile"):
        got = jitted(c, xs)
    assert_same(got, reference(ema_reverse, c, xs))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(jitted(c, xs), got)  # the Python loop from now on, without warning again



def test_body_constants_reach_the_loop():
    """A derived body may hold concrete constants (graph.consts, which a derivative rule
    captured) besides its inputs: the native loop passes them after the operands."""
    from dprog.ir import Node, Var
    from dprog.ops.control_loops import scan_p
    w, s = f32(3), np.float32(0.25)
    graph = dp.make_graph(lambda w, s, c, x: (c * w + x * s, c - w))(w, s, f32(3), f32(3))
    body = graph.replace(invars=graph.invars[2:], constvars=graph.invars[:2], consts=[w, s])
    c, xs = f32(3), f32(5, 3)
    params = dict(body=body, num_consts=0, num_carry=1, length=5, reverse=False)
    operands = [Var(body.in_avals[0]), Var(body.in_avals[1].update(shape=(5, 3)))]
    outs = [Var(a) for a in scan_p.abstract_eval([v.aval for v in operands], params)]
    lp = cpu_loop.native_loop(Node(scan_p, operands, params, outs))
    assert lp is not None and len(lp.const_values) == 2
    carry, ys = np.empty(3, np.float32), np.empty((5, 3), np.float32)
    lp(c, xs, carry, ys)
    want_carry, want_ys = scan_p.impl(c, xs, **params)  # the reference interpreter's loop
    np.testing.assert_allclose(carry, want_carry, rtol=1e-6)
    np.testing.assert_allclose(ys, want_ys, rtol=1e-6)
