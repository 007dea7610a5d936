"""A Gaussian mixture fitted by gradient ascent on its log-likelihood.

Instead of expectation-maximisation, we write the log-likelihood down,

    log p(x) = logsumexp_k [ log pi_k + log N(x | mu_k, diag(sigma_k^2)) ],

and let dp.value_and_grad and Adam climb it. Mixture weights are a softmax of free
logits and scales are exponentials of free parameters, so every parameter is
unconstrained. `dp.nn.logsumexp` keeps the sum over components from underflowing for
points far from some component.

    python examples/gmm.py --plot gmm.png
"""
import argparse
import math
import sys

import numpy as np

try:
    import dprog as dp
except ImportError:  # run from a source checkout without installing: use the repo's copy
    import os
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dprog as dp
import dprog.numpy as dnp

TRUE_MEANS = np.array([[-3.0, 0.0], [2.0, 2.5], [2.5, -2.0]])
TRUE_STDS = np.array([[0.6, 0.9], [0.8, 0.5], [0.5, 0.5]])
TRUE_WEIGHTS = np.array([0.5, 0.3, 0.2])


def sample(key, n):
    """n points from the true mixture (component sizes in proportion to the weights)."""
    counts = np.round(TRUE_WEIGHTS * n).astype(int)
    keys = dp.random.split(key, len(counts))
    parts = [TRUE_MEANS[i] + TRUE_STDS[i] * dp.random.normal(keys[i], (c, 2))
             for i, c in enumerate(counts)]
    return np.concatenate(parts)


def log_likelihood(params, x):
    """Mean log-likelihood of the points x (n, d) under the mixture."""
    log_w = dp.nn.log_softmax(params["logits"])                       # (K,)
    stds = dnp.exp(params["log_stds"])                                 # (K, d)
    z = (x[:, None, :] - params["means"][None, :, :]) / stds[None]    # (n, K, d)
    d = x.shape[-1]
    log_normal = (-0.5 * dnp.sum(z * z, axis=-1) - dnp.sum(params["log_stds"], axis=-1)
                  - 0.5 * d * math.log(2 * math.pi))                   # (n, K)
    return dnp.mean(dp.nn.logsumexp(log_w + log_normal, axis=1))


def init_params(key, x, k):
    """Means spread over the data (a random point, then repeatedly the point farthest from
    those chosen), unit scales, equal weights. Gradient ascent, like EM, only finds a local
    optimum: starting two means inside one cluster can leave them there."""
    x = np.asarray(x)
    chosen = [int(dp.random.randint(key, (), 0, len(x)))]
    for _ in range(k - 1):
        dist = np.min(np.linalg.norm(x[:, None] - x[chosen][None], axis=-1), axis=1)
        chosen.append(int(dist.argmax()))
    return {"logits": np.zeros(k), "means": x[chosen].copy(),
            "log_stds": np.zeros((k, x.shape[1]))}


def fit(n=600, k=3, iterations=300, learning_rate=0.05, seed=0):
    data_key, init_key = dp.random.split(dp.random.key(seed))
    x = sample(data_key, n)
    opt = dp.optim.adam(learning_rate)

    @dp.jit
    def step(params, opt_state, x):
        ll, grads = dp.value_and_grad(log_likelihood)(params, x)
        grads = dp.tree_map(lambda g: -g, grads)    # ascend: minimise the negative
        params, opt_state = opt.update(grads, opt_state, params)
        return params, opt_state, ll

    params = init_params(init_key, x, k)
    opt_state = opt.init(params)
    history = []
    for _ in range(iterations):
        params, opt_state, ll = step(params, opt_state, x)
        history.append(float(ll))
    history.append(float(dp.jit(log_likelihood)(params, x)))
    return {"params": params, "history": history, "x": x,
            "weights": np.asarray(dp.nn.softmax(params["logits"])),
            "true_ll": float(log_likelihood({"logits": np.log(TRUE_WEIGHTS),
                                             "means": TRUE_MEANS,
                                             "log_stds": np.log(TRUE_STDS)}, x))}


def match_components(means):
    """For each true component, the index of the nearest fitted mean."""
    d = np.linalg.norm(TRUE_MEANS[:, None, :] - np.asarray(means)[None], axis=-1)
    return d.argmin(axis=1)


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    x, p = result["x"], result["params"]
    fig, (ax, ax_ll) = plt.subplots(1, 2, figsize=(10, 4))
    ax.scatter(x[:, 0], x[:, 1], s=4, alpha=0.4)
    angles = np.linspace(0, 2 * np.pi, 100)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    for mean, log_std in zip(p["means"], p["log_stds"]):
        for r in (1, 2):
            ring = mean + r * np.exp(log_std) * circle
            ax.plot(ring[:, 0], ring[:, 1], "C3", lw=1)
    ax.plot(TRUE_MEANS[:, 0], TRUE_MEANS[:, 1], "kx", ms=10, label="true means")
    ax.set(title="fitted mixture (1 and 2 sigma)", aspect="equal")
    ax.legend()
    ax_ll.plot(result["history"], label="fitted")
    ax_ll.axhline(result["true_ll"], color="k", ls=":", label="true parameters")
    ax_ll.set(xlabel="iteration", ylabel="mean log-likelihood", title="gradient ascent")
    ax_ll.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--plot", default="gmm.png")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    result = fit(n=args.n, iterations=args.iterations)
    plot(result, args.plot)
    order = match_components(result["params"]["means"])
    print("true means vs fitted:")
    for true, fitted, w in zip(TRUE_MEANS, result["params"]["means"][order], result["weights"][order]):
        print(f"  {true} -> {np.round(fitted, 3)} (weight {w:.3f})")
    print(f"mean log-likelihood {result['history'][0]:.3f} -> {result['history'][-1]:.3f} "
          f"(true parameters: {result['true_ll']:.3f}); plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
