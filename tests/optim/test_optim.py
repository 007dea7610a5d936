"""dp.optim: each optimizer against updates computed by hand, over pytrees, jitted as one
step, and the schedules against their closed forms."""
import math

import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp
from dprog import optim

P = {"w": np.array([1.0, -2.0]), "b": [np.array(0.5)]}
G1 = {"w": np.array([0.1, 0.4]), "b": [np.array(-1.0)]}
G2 = {"w": np.array([-0.3, 0.2]), "b": [np.array(2.0)]}


def _run(opt, grads_seq, params=P):
    state = opt.init(params)
    for g in grads_seq:
        params, state = opt.update(g, state, params)
    return params, state


def _leaf(t, name):
    return t["w"] if name == "w" else t["b"][0]


@pytest.mark.parametrize("name", ["w", "b"])
def test_sgd_plain(name):
    params, state = _run(optim.sgd(0.1), [G1, G2])
    want = _leaf(P, name) - 0.1 * _leaf(G1, name) - 0.1 * _leaf(G2, name)
    np.testing.assert_allclose(_leaf(params, name), want)
    assert int(state.count) == 2 and state.momentum is None


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum(nesterov):
    params, state = _run(optim.sgd(0.1, momentum=0.9, nesterov=nesterov), [G1, G2])
    p, g1, g2 = P["w"], G1["w"], G2["w"]
    buf1 = g1
    buf2 = 0.9 * buf1 + g2
    if nesterov:
        want = p - 0.1 * (g1 + 0.9 * buf1) - 0.1 * (g2 + 0.9 * buf2)
    else:
        want = p - 0.1 * buf1 - 0.1 * buf2
    np.testing.assert_allclose(params["w"], want)
    np.testing.assert_allclose(state.momentum["w"], buf2)


def _adam_ref(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * (mhat / (np.sqrt(vhat) + eps) + wd * p)
    return p, m, v


def test_adam_matches_hand_computation():
    params, state = _run(optim.adam(0.01, b1=0.8, b2=0.95, eps=1e-6), [G1, G2, G1])
    want, m, v = _adam_ref(P["w"], [G1["w"], G2["w"], G1["w"]], 0.01, 0.8, 0.95, 1e-6)
    np.testing.assert_allclose(params["w"], want, rtol=1e-12)
    np.testing.assert_allclose(state.mu["w"], m)
    np.testing.assert_allclose(state.nu["w"], v)
    # The first bias-corrected Adam step has size lr in every coordinate.
    first, _ = _run(optim.adam(0.01), [G1])
    np.testing.assert_allclose(first["w"] - P["w"], -0.01 * np.sign(G1["w"]), rtol=1e-6)


def test_adamw_decoupled_weight_decay():
    params, _ = _run(optim.adamw(0.01, weight_decay=0.1), [G1, G2])
    want, _, _ = _adam_ref(P["w"], [G1["w"], G2["w"]], 0.01, wd=0.1)
    np.testing.assert_allclose(params["w"], want, rtol=1e-12)
    # Zero gradients: adamw still shrinks the weights, adam does not move them.
    zero = dp.tree_map(np.zeros_like, P)
    decayed, _ = _run(optim.adamw(0.1, weight_decay=0.5), [zero])
    np.testing.assert_allclose(decayed["w"], P["w"] * (1 - 0.1 * 0.5))
    still, _ = _run(optim.adam(0.1), [zero])
    np.testing.assert_allclose(still["w"], P["w"])


def test_learning_rate_schedule_is_evaluated_per_step():
    sched = optim.exponential_decay(0.1, 0.5, transition_steps=1)
    params, _ = _run(optim.sgd(sched), [G1, G2])
    np.testing.assert_allclose(params["w"], P["w"] - 0.1 * G1["w"] - 0.05 * G2["w"])


@pytest.mark.parametrize("make", [lambda: optim.sgd(0.05, momentum=0.9),
                                  lambda: optim.adam(optim.cosine_decay(0.05, 10)),
                                  lambda: optim.adamw(0.05)])
def test_jitted_step_equals_eager_and_keeps_float32(make):
    opt = make()
    params = {"w": np.array([1.0, -2.0, 0.5], np.float32), "b": np.array(0.1, np.float32)}
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y = x @ np.array([0.5, 1.0, -1.0], np.float32)

    def loss_fn(p, x, y):
        return dnp.mean((x @ p["w"] + p["b"] - y) ** 2)

    def step(params, state, x, y):
        loss, grads = dp.value_and_grad(loss_fn)(params, x, y)
        params, state = opt.update(grads, state, params)
        return params, state, loss

    jstep = dp.jit(step)
    pj, sj = params, opt.init(params)
    pe, se = params, opt.init(params)
    losses = []
    for _ in range(5):
        pj, sj, lj = jstep(pj, sj, x, y)
        pe, se, le = step(pe, se, x, y)
        losses.append(float(lj))
    assert jstep.cache_size() == 1  # the counter is an array: one trace for all steps
    assert pj["w"].dtype == np.float32 and lj.dtype == np.float32
    np.testing.assert_allclose(pj["w"], pe["w"], rtol=1e-5)
    assert int(sj.count) == 5 and losses[-1] < losses[0]


def test_mismatched_trees_raise():
    opt = optim.adam(0.1)
    with pytest.raises(dp.DprogError, match="different structures"):
        opt.update({"w": G1["w"]}, opt.init(P), P)


def test_schedules_closed_forms():
    steps = np.arange(0, 30)
    np.testing.assert_allclose([optim.constant(0.3)(s) for s in steps], 0.3)
    ed = optim.exponential_decay(1.0, 0.5, 10)
    np.testing.assert_allclose([ed(s) for s in steps], 0.5 ** (steps / 10))
    st = optim.exponential_decay(1.0, 0.5, 10, staircase=True, end_value=0.3)
    np.testing.assert_allclose([st(s) for s in steps], np.maximum(0.5 ** (steps // 10), 0.3))
    cd = optim.cosine_decay(2.0, 20, alpha=0.1)
    frac = np.minimum(steps, 20) / 20
    np.testing.assert_allclose([cd(s) for s in steps],
                               2.0 * (0.9 * 0.5 * (1 + np.cos(np.pi * frac)) + 0.1))
    wc = optim.warmup_cosine_decay(0.0, 1.0, warmup_steps=5, decay_steps=25, end_value=0.1)
    got = np.array([float(wc(s)) for s in steps])
    np.testing.assert_allclose(got[:6], [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(got[15], 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 10 / 20)))
    np.testing.assert_allclose(got[25:], 0.1)
    # Traced: a schedule inside jit gives the same values.
    np.testing.assert_allclose(dp.jit(wc)(np.int64(12)), got[12])


def test_clip_by_global_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array(4.0)}
    assert float(optim.global_norm(g)) == pytest.approx(5.0)
    c = optim.clip_by_global_norm(g, 1.0)
    np.testing.assert_allclose(c["a"], [0.6, 0.0])
    np.testing.assert_allclose(optim.clip_by_global_norm(g, 10.0)["a"], g["a"])
