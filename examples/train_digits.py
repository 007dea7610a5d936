"""Train an MLP classifier on handwritten digits with a jitted training step.

The data is scikit-learn's `load_digits`: 1797 grey-scale 8x8 images of the digits 0-9
(the UCI optical-recognition set, a small cousin of MNIST that ships with scikit-learn,
so nothing is downloaded). The whole training step (forward pass, gradient, Adam update)
is one `dp.jit` executable:

    params, opt_state, loss = step(params, opt_state, x_batch, y_batch)

    python examples/train_digits.py                    # CPU, ~97% test accuracy
    python examples/train_digits.py --device cuda      # needs a CUDA GPU
    python examples/train_digits.py --epochs 10 --plot curve.png

The script's logic is importable: `train(...)` returns the history and the test accuracy,
`main(argv)` is the command line (the test suite runs both with reduced sizes).
"""
import argparse
import sys
import time

import numpy as np

try:
    import dprog as dp
except ImportError:  # run from a source checkout without installing: use the repo's copy
    import os
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dprog as dp
import dprog.numpy as dnp


def load_data(test_fraction=0.2, seed=0, limit=None):
    """(x_train, y_train, x_test, y_test): pixels scaled to [0, 1] as float32, int64 labels."""
    from sklearn.datasets import load_digits
    images, labels = load_digits(return_X_y=True)
    order = dp.random.permutation(dp.random.key(seed), len(labels))
    if limit is not None:
        order = order[:limit]
    x = (images[order] / 16.0).astype(np.float32)
    y = labels[order].astype(np.int64)
    n_test = int(round(len(y) * test_fraction))
    return x[n_test:], y[n_test:], x[:n_test], y[:n_test]


def loss_fn(params, x, y):
    return dp.nn.softmax_cross_entropy(dp.nn.mlp(params, x), y)


def make_step(opt, device):
    @dp.jit(device=device)
    def step(params, opt_state, x, y):
        loss, grads = dp.value_and_grad(loss_fn)(params, x, y)
        params, opt_state = opt.update(grads, opt_state, params)
        return params, opt_state, loss

    @dp.jit(device=device)
    def accuracy(params, x, y):
        return dnp.mean(dnp.argmax(dp.nn.mlp(params, x), axis=-1) == y)
    return step, accuracy


def cuda_available():
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except Exception:  # numba built without CUDA support, or no driver
        return False


def train(epochs=40, batch_size=64, hidden=(128,), learning_rate=3e-3, seed=0, device="cpu",
          progress=True, limit=None):
    """Train and evaluate; returns a dict with the per-epoch history, the test accuracy,
    the parameters and the wall time."""
    start = time.perf_counter()
    x_train, y_train, x_test, y_test = load_data(seed=seed, limit=limit)
    key = dp.random.key(seed)
    init_key, shuffle_key = dp.random.split(key)
    sizes = [x_train.shape[1], *hidden, 10]
    params = dp.nn.mlp_init(init_key, sizes, np.float32)
    steps_per_epoch = len(y_train) // batch_size  # drop the ragged tail: one compiled shape
    schedule = dp.optim.cosine_decay(learning_rate, epochs * steps_per_epoch, alpha=0.05)
    opt = dp.optim.adam(schedule)
    opt_state = opt.init(params)
    step, accuracy = make_step(opt, device)

    history = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    bar = _progress_bar(epochs, progress)
    for epoch in range(epochs):
        order = dp.random.permutation(dp.random.fold_in(shuffle_key, epoch), len(y_train))
        losses = []
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            params, opt_state, loss = step(params, opt_state, x_train[idx], y_train[idx])
            losses.append(float(np.asarray(loss)))
        history["loss"].append(float(np.mean(losses)))
        history["train_accuracy"].append(float(np.asarray(accuracy(params, x_train, y_train))))
        history["test_accuracy"].append(float(np.asarray(accuracy(params, x_test, y_test))))
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}",
                        acc=f"{history['train_accuracy'][-1]:.3f}",
                        test_acc=f"{history['test_accuracy'][-1]:.3f}")
        bar.update(1)
    bar.close()
    return {"history": history, "test_accuracy": history["test_accuracy"][-1],
            "params": params, "seconds": time.perf_counter() - start,
            "compiles": step.cache_size()}


def _progress_bar(epochs, enabled):
    from tqdm import tqdm
    return tqdm(total=epochs, desc="training", unit="epoch", disable=not enabled,
                file=sys.stderr)


def plot_history(history, path):
    """Loss and accuracy per epoch, side by side, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["loss"], label="train loss")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    ax_acc.plot(epochs, history["train_accuracy"], label="train")
    ax_acc.plot(epochs, history["test_accuracy"], label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--hidden", type=int, nargs="+", default=[128],
                   help="hidden layer widths (default: one layer of 128)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak Adam learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only this many images")
    p.add_argument("--plot", default="training_curve.png", help="where to write the PNG curve")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.device == "cuda" and not cuda_available():
        print("error: --device cuda was requested, but no CUDA GPU is available "
              "(numba.cuda.is_available() is False). Run with --device cpu, or on a "
              "machine with an NVIDIA GPU and driver.", file=sys.stderr)
        return 2
    result = train(epochs=args.epochs, batch_size=args.batch_size, hidden=tuple(args.hidden),
                   learning_rate=args.lr, seed=args.seed, device=args.device,
                   progress=not args.no_progress, limit=args.limit)
    plot_history(result["history"], args.plot)
    print(f"test accuracy: {result['test_accuracy']:.4f}  "
          f"(final train loss {result['history']['loss'][-1]:.4f}, "
          f"{result['seconds']:.1f} s on {args.device}); curve written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
