"""Differentiable physics: recover the stiffness and drag of damped, driven springs.

Three particles on springs (m = 1) share an unknown stiffness k and drag c and feel the
same known driving force f(t):  x'' = -k x - c x' + f(t).  We observe their positions
(with a little noise) for a few hundred time steps, then fit k and c by gradient descent
*through the simulator*: `dp.scan` runs the semi-implicit Euler integrator, and
`dp.value_and_grad` differentiates the trajectory mismatch back through every step.

    python examples/fit_spring.py --plot spring_fit.png
"""
import argparse
import sys

import numpy as np

try:
    import dprog as dp
except ImportError:  # run from a source checkout without installing: use the repo's copy
    import os
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dprog as dp
import dprog.numpy as dnp

TRUE = {"k": 2.0, "c": 0.3}
GUESS = {"k": 1.4, "c": 0.8}
X0 = np.array([1.0, -0.5, 0.0])   # initial positions of the three particles
V0 = np.array([0.0, 0.5, 1.0])    # and their velocities


def forcing(steps, dt):
    t = np.arange(steps) * dt
    return 0.5 * np.sin(1.3 * t)


def simulate(params, force, dt):
    """Positions (steps, 3) for parameters {"log_k", "log_c"} under the force sequence."""
    k, c = dnp.exp(params["log_k"]), dnp.exp(params["log_c"])

    def step(state, f):
        x, v = state
        v = v + dt * (-k * x - c * v + f)   # semi-implicit Euler: new v moves x
        x = x + dt * v
        return (x, v), x
    _, xs = dp.scan(step, (X0, V0), force)
    return xs


def to_params(k, c):
    return {"log_k": np.array(np.log(k)), "log_c": np.array(np.log(c))}


def fit(steps=300, dt=0.05, iterations=150, learning_rate=0.05, noise=0.01, seed=0):
    """Fit k and c to noisy observations; returns a dict with the estimates and losses."""
    force = forcing(steps, dt)
    clean = np.asarray(dp.jit(simulate, static_argnums=2)(to_params(**TRUE), force, dt))
    observed = clean + noise * dp.random.normal(dp.random.key(seed), clean.shape)

    def loss_fn(params):
        return dnp.mean((simulate(params, force, dt) - observed) ** 2)

    opt = dp.optim.adam(learning_rate)

    @dp.jit
    def train_step(params, opt_state):
        loss, grads = dp.value_and_grad(loss_fn)(params)
        params, opt_state = opt.update(grads, opt_state, params)
        return params, opt_state, loss

    params = to_params(**GUESS)
    opt_state = opt.init(params)
    losses = []
    for _ in range(iterations):
        params, opt_state, loss = train_step(params, opt_state)
        losses.append(float(loss))
    final = float(dp.jit(loss_fn)(params))
    return {"k": float(np.exp(params["log_k"])), "c": float(np.exp(params["log_c"])),
            "losses": losses + [final], "observed": observed, "force": force, "dt": dt,
            "params": params}


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    dt, force = result["dt"], result["force"]
    t = np.arange(len(force)) * dt
    sim = dp.jit(simulate, static_argnums=2)
    before = np.asarray(sim(to_params(**GUESS), force, dt))
    after = np.asarray(sim(result["params"], force, dt))
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for i, colour in enumerate(("C0", "C1", "C2")):
        ax.plot(t, result["observed"][:, i], ".", ms=2, color=colour, alpha=0.5)
        ax.plot(t, before[:, i], ":", color=colour, lw=1)
        ax.plot(t, after[:, i], "-", color=colour, lw=1.2)
    ax.plot([], [], "k.", label="observed")
    ax.plot([], [], "k:", label=f"initial guess k={GUESS['k']}, c={GUESS['c']}")
    ax.plot([], [], "k-", label=f"fitted k={result['k']:.3f}, c={result['c']:.3f}")
    ax.set(xlabel="time", ylabel="position", title="trajectories")
    ax.legend(fontsize=8)
    ax_loss.semilogy(result["losses"])
    ax_loss.set(xlabel="iteration", ylabel="mean squared error", title="fit")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--plot", default="spring_fit.png")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if not hasattr(dp, "scan"):
        print("error: this example needs dp.scan, which this dprog build does not have yet",
              file=sys.stderr)
        return 2
    result = fit(steps=args.steps, iterations=args.iterations)
    plot(result, args.plot)
    print(f"true k={TRUE['k']}, c={TRUE['c']}; fitted k={result['k']:.4f}, c={result['c']:.4f} "
          f"(loss {result['losses'][0]:.3g} -> {result['losses'][-1]:.3g}); plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
