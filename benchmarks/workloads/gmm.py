"""Gradient of the GMM log-posterior (the ADBench / GradBench objective), n = 1000."""
import math

import numpy as np

import dprog as dp
import dprog.numpy as dnp

NAME = "GMM objective grad d={d} k={k} n=1000 (f64)"
N = 1000
SIZES = [(10, 25), (64, 100)]


def bytes_moved():
    return None


def make_inputs(d, k, n=N, seed=0):
    rng = np.random.default_rng(seed)
    alphas = rng.standard_normal(k)
    means = rng.random((k, d))
    icf = rng.standard_normal((k, d * (d + 1) // 2)) * 0.1
    x = rng.standard_normal((n, d))
    return alphas, means, icf, x, 1.0, 0


def _tri_index(d):
    """For each (row, col) of a d x d matrix, where its entry lives in icf[:, d:] (or 0)."""
    rows, cols = np.tril_indices(d, -1)
    # ADBench fills the strict lower triangle column by column.
    order = np.lexsort((rows, cols))
    idx = np.zeros((d, d), np.int64)
    idx[rows[order], cols[order]] = np.arange(len(rows))
    mask = np.zeros((d, d), bool)
    mask[rows, cols] = True
    return idx, mask


def objective(xp, logsumexp, alphas, means, icf, x, gamma, m):
    n, d = x.shape
    k = alphas.shape[0]
    idx, lower = _tri_index(d)
    qdiags = xp.exp(icf[:, :d])
    sum_qs = xp.sum(icf[:, :d], axis=1)
    offdiag = icf[:, d:]
    eye = np.eye(d, dtype=bool)
    Ls = xp.where(eye, qdiags[:, :, None] * np.eye(d), xp.where(lower, offdiag[:, idx], 0.0))
    xc = x[:, None, :] - means[None, :, :]                      # (n, k, d)
    Lxc = xp.einsum("kij,nkj->nki", Ls, xc)
    sq = xp.sum(Lxc * Lxc, axis=2)                               # (n, k)
    inner = alphas[None, :] + sum_qs[None, :] - 0.5 * sq
    const = -n * d * 0.5 * math.log(2 * math.pi)
    lse_alphas = logsumexp(alphas)
    frob = xp.sum(qdiags * qdiags) + xp.sum(offdiag * offdiag)
    prior = 0.5 * gamma * gamma * frob - m * xp.sum(sum_qs)
    return const + xp.sum(logsumexp(inner, axis=1)) - n * lse_alphas + prior


def build(peers, d, k):
    alphas, means, icf, x, gamma, m = make_inputs(d, k)
    g = dp.jit(dp.grad(lambda a, mu, q, x: objective(dnp, dp.nn.logsumexp, a, mu, q, x, gamma, m),
                       argnums=(0, 1, 2)))
    fns = {"dprog": lambda: g(alphas, means, icf, x)}
    jax = peers.get("jax")
    if jax:
        jnp = jax.numpy
        jax.config.update("jax_enable_x64", True)
        from jax.scipy.special import logsumexp
        jg = jax.jit(jax.grad(lambda a, mu, q, x: objective(jnp, logsumexp, a, mu, q, x, gamma, m),
                              argnums=(0, 1, 2)))
        args = [jax.device_put(v) for v in (alphas, means, icf, x)]
        fns["jax"] = lambda: jax.block_until_ready(jg(*args))
        ours, theirs = g(alphas, means, icf, x), jg(*args)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-6, atol=1e-8)
    return fns
