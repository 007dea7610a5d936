"""vmap through cond/switch, scan, while, custom_vjp/custom_jvp and checkpoint: values
and derivatives against a Python loop over batch members, and the batched graph keeps
one control node (no per-member unrolling)."""
import numpy as np

import dprog as dp
import dprog.numpy as dnp
from dprog.passes import run_pipeline

from control_helpers import central_diff

RNG = np.random.default_rng(7)
B = 4


def rand(*shape):
    return RNG.standard_normal(shape)


def per_member(f, *args, in_axes=None):
    """np.stack of f on each batch member (in_axes: 0 or None per argument)."""
    in_axes = in_axes or (0,) * len(args)
    n = next(a.shape[0] for a, ax in zip(args, in_axes) if ax == 0)
    rows = [f(*[a[b] if ax == 0 else a for a, ax in zip(args, in_axes)]) for b in range(n)]
    if isinstance(rows[0], tuple):
        return tuple(np.stack([np.asarray(r[k]) for r in rows]) for k in range(len(rows[0])))
    return np.stack([np.asarray(r) for r in rows])


def op_count(fn, *args, name):
    """How many `name` nodes the top level of fn's graph has."""
    return [n.op.name for n in dp.make_graph(fn)(*args).nodes].count(name)


def assert_close(got, want, **kw):
    if isinstance(want, tuple):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, **kw)
    else:
        np.testing.assert_allclose(got, want, **kw)


# ------------------------------------------------------------------------------ cond

def cond_fn(p, x):
    return dp.cond(p > 0, lambda v: dnp.sin(v) * 2.0, lambda v: v * v - 1.0, x)


def test_cond_unbatched_predicate_keeps_one_cond():
    xs = rand(B, 3)
    vf = dp.vmap(cond_fn, in_axes=(None, 0))
    for p in (1.0, -1.0):
        assert_close(vf(p, xs), per_member(cond_fn, np.float64(p), xs, in_axes=(None, 0)))
    assert op_count(vf, 1.0, xs, name="cond") == 1
    assert op_count(vf, 1.0, xs, name="select") == 0


def test_cond_batched_predicate_selects_per_member():
    ps, xs = np.array([1.0, -1.0, 2.0, -3.0]), rand(B, 3)
    vf = dp.vmap(cond_fn)
    assert_close(vf(ps, xs), per_member(cond_fn, ps, xs))
    assert op_count(vf, ps, xs, name="cond") == 0


def test_cond_branch_output_batched_in_one_branch_only():
    # true_fn ignores the operand (unbatched output), false_fn uses it (batched).
    def f(p, x):
        return dp.cond(p > 0, lambda v: dnp.ones(3), lambda v: v + 1.0, x)
    xs = rand(B, 3)
    for p in (1.0, -1.0):
        assert_close(dp.vmap(f, in_axes=(None, 0))(p, xs), per_member(f, np.float64(p), xs, in_axes=(None, 0)))


def test_switch_batched_index_clamps_like_switch():
    branches = [lambda v: v + 10.0, lambda v: v * 3.0, lambda v: -v]

    def f(i, x):
        return dp.switch(i, branches, x)
    idx = np.array([-2, 0, 1, 2, 7], np.int32)
    xs = rand(5, 2)
    assert_close(dp.vmap(f)(idx, xs), per_member(f, idx, xs))
    # batched index, unbatched operand and integer outputs
    g = lambda i, n: dp.switch(i, [lambda m: m + 1, lambda m: m * 5], n)  # noqa: E731
    assert_close(dp.vmap(g, in_axes=(0, None))(idx, np.int32(3)), [4, 4, 15, 15, 15])


def test_vmap_of_grad_through_cond():
    def loss(x):
        return dnp.sum(dp.cond(dnp.sum(x) > 0, lambda v: dnp.exp(v), lambda v: v ** 3, x))
    xs = rand(B, 3) + np.array([[1.0], [-1.0], [1.0], [-1.0]])
    assert_close(dp.vmap(dp.grad(loss))(xs), per_member(dp.grad(loss), xs))
    assert_close(dp.grad(lambda x: dnp.sum(dp.vmap(loss)(x)))(xs), per_member(dp.grad(loss), xs))


# ------------------------------------------------------------------------------ scan

def sim(k, x0, forces):
    """A damped spring: carry (pos, vel), one force per step, ys = positions."""
    def step(c, f):
        p, v = c
        v = v * 0.9 - k * p * 0.1 + f
        p = p + 0.1 * v
        return (p, v), p * p
    (p, v), ys = dp.scan(step, (x0, dnp.zeros_like(x0)), forces)
    return p + v, ys


def test_scan_batched_over_each_operand_kind():
    k, x0, forces = np.float64(0.7), rand(3), rand(6, 3)
    ks, x0s, fs = rand(B) ** 2, rand(B, 3), rand(B, 6, 3)
    cases = [((0, None, None), (ks, x0, forces)), ((None, 0, None), (k, x0s, forces)),
             ((None, None, 0), (k, x0, fs)), ((None, None, 1), (k, x0, fs.transpose(1, 0, 2))),
             ((0, 0, 0), (ks, x0s, fs))]
    for in_axes, args in cases:
        got = dp.vmap(sim, in_axes=in_axes)(*args)
        loop_args = [a if ax != 1 else np.moveaxis(a, 1, 0) for a, ax in zip(args, in_axes)]
        want = per_member(sim, *loop_args, in_axes=tuple(None if a is None else 0 for a in in_axes))
        assert_close(got, want, rtol=1e-12)
        assert op_count(dp.vmap(sim, in_axes=in_axes), *args, name="scan") == 1


def test_scan_carry_becomes_batched_in_the_body_and_reverse():
    def f(x, xs):
        c, ys = dp.scan(lambda c, r: (c + r * x, c * 2.0), 0.0, xs, reverse=True)
        return c, ys
    xs = rand(5)
    got = dp.vmap(f, in_axes=(0, None))(np.arange(B, dtype=float), xs)
    want = per_member(f, np.arange(B, dtype=float), xs, in_axes=(0, None))
    assert_close(got, want)


def test_nested_vmap_over_fori_loop():
    def f(a, x):
        return dp.fori_loop(0, 5, lambda i, c: dnp.sin(c) * a + i, x)
    a, x = rand(3), rand(B, 2)
    got = dp.vmap(dp.vmap(f, in_axes=(0, None)), in_axes=(None, 0))(a, x)
    want = np.stack([[f(np.float64(ai), xb) for ai in a] for xb in x])
    assert_close(got, want)


def scan_loss(w, xs):
    pv, ys = sim(w[0], xs[0] * w[1], xs)
    return dnp.sum(pv * pv) + dnp.sum(ys) * w[1]


def test_vmap_of_grad_through_scan_runs_one_forward_loop():
    ws, xs = rand(B, 2) * 0.5, rand(6, 3)
    vg = dp.vmap(dp.grad(scan_loss), in_axes=(0, None))
    want = per_member(dp.grad(scan_loss), ws, xs, in_axes=(0, None))
    assert_close(vg(ws, xs), want, rtol=1e-10)
    fd = central_diff(lambda w: scan_loss(w, xs), ws[0])
    assert_close(want[0], fd, rtol=1e-5, atol=1e-7)
    ops = [n.op.name for n in run_pipeline(dp.make_graph(vg)(ws, xs)).nodes]
    assert ops.count("scan") == 2  # one forward loop (merged with the stacking one), one backward


def test_jacfwd_and_jacrev_through_scan():
    def f(x):
        return sim(np.float64(0.5), x, np.ones((4, 3)) * 0.1)[1][-1]
    x = rand(3)
    jf, jr = dp.jacfwd(f)(x), dp.jacrev(f)(x)
    fd = np.stack([central_diff(lambda v: f(v)[i], x) for i in range(3)])
    assert_close(jf, fd, rtol=1e-5, atol=1e-8)
    assert_close(jr, jf, rtol=1e-12)


# ----------------------------------------------------------------------------- while

def halvings(x, limit):
    """Steps of halving |x| until it is below limit: the trip count differs per member."""
    def body(c):
        n, v = c
        return n + 1, v * 0.5
    return dp.while_loop(lambda c: dnp.abs(c[1]) > limit, body, (0, x))


def test_while_batched_predicate_freezes_finished_members():
    xs = np.array([0.5, 3.0, 40.0, -1000.0])
    got = dp.vmap(halvings, in_axes=(0, None))(xs, 1.0)
    want = per_member(halvings, xs, np.float64(1.0), in_axes=(0, None))
    assert_close(got, want)
    assert list(got[0]) == [0, 2, 6, 10]
    limits = np.array([1.0, 0.1, 10.0, 2000.0])
    assert_close(dp.vmap(halvings)(xs, limits), per_member(halvings, xs, limits))
    assert op_count(dp.vmap(halvings), xs, limits, name="while") == 1


def test_while_unbatched_predicate_and_traced_fori_bounds():
    def f(x, n):
        return dp.fori_loop(np.int32(0), n, lambda i, c: c * 1.5 + i, x)
    xs = rand(B, 2)
    got = dp.vmap(f, in_axes=(0, None))(xs, np.int32(3))
    assert_close(got, per_member(f, xs, np.int32(3), in_axes=(0, None)))
    ns = np.array([0, 1, 3, 5], np.int32)
    assert_close(dp.vmap(f)(xs, ns), per_member(f, xs, ns))
    # forward mode through the batched while
    _, t = dp.jvp(lambda x: dp.vmap(f)(x, ns), (xs,), (np.ones_like(xs),))
    assert_close(t, np.broadcast_to(1.5 ** ns[:, None], xs.shape))


# ----------------------------------------------------------------------- custom rules

@dp.custom_vjp
def clipped(x):
    return dnp.sin(x)


def _clipped_fwd(x):
    return dnp.sin(x), dnp.cos(x)


def _clipped_bwd(c, g):
    return (dnp.clip(g * c, -0.1, 0.1) * 3.0,)  # not the true derivative: visibly custom


clipped.defvjp(_clipped_fwd, _clipped_bwd)


def test_custom_vjp_rule_used_under_vmap_of_grad_and_grad_of_vmap():
    xs = rand(B, 3)
    custom = np.clip(np.cos(xs), -0.1, 0.1) * 3.0
    assert_close(dp.vmap(clipped)(xs), np.sin(xs))
    assert op_count(dp.vmap(clipped), xs, name="custom_vjp_call") == 1
    assert_close(dp.vmap(dp.grad(lambda x: dnp.sum(clipped(x))))(xs), custom)
    assert_close(dp.grad(lambda x: dnp.sum(dp.vmap(clipped)(x)))(xs), custom)
    # an unbatched argument's cotangent is summed over members
    g = dp.grad(lambda w: dnp.sum(dp.vmap(lambda x: clipped(w * x), in_axes=0)(xs)))(np.ones(3))
    assert_close(g, np.sum(np.clip(np.cos(xs), -0.1, 0.1) * 3.0 * xs, axis=0))


@dp.custom_jvp
def softabs(x):
    return dnp.sqrt(x * x + 1.0)


@softabs.defjvp
def _softabs_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softabs(x), t * 7.0  # a constant slope: visibly custom


def test_custom_jvp_rule_used_under_vmap():
    xs = rand(B, 3)
    assert_close(dp.vmap(softabs)(xs), np.sqrt(xs * xs + 1))
    assert op_count(dp.vmap(softabs), xs, name="custom_jvp_call") == 1
    assert_close(dp.vmap(dp.grad(lambda x: dnp.sum(softabs(x))))(xs), np.full_like(xs, 7.0))
    assert_close(dp.grad(lambda x: dnp.sum(dp.vmap(softabs)(x)))(xs), np.full_like(xs, 7.0))
    _, t = dp.jvp(dp.vmap(softabs), (xs,), (np.ones_like(xs),))
    assert_close(t, np.full_like(xs, 7.0))


def test_checkpoint_under_vmap():
    w = rand(3)

    def loss(x):
        return dnp.sum(dp.checkpoint(lambda v: dnp.tanh(v * w) ** 2)(x))
    xs = rand(B, 3)
    assert_close(dp.vmap(loss)(xs), per_member(loss, xs))
    want = per_member(dp.grad(loss), xs)
    assert_close(dp.vmap(dp.grad(loss))(xs), want)
    assert_close(dp.grad(lambda x: dnp.sum(dp.vmap(loss)(x)))(xs), want)
    assert op_count(dp.vmap(loss), xs, name="checkpoint") == 1
