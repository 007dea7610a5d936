"""Train the digits MLP (examples/train_digits.py) data-parallel over MPI processes.

Every process holds the whole model; each step, each process computes gradients on its
slice of the global batch, the gradients are averaged across processes (bucketed,
non-blocking Allreduce) and every process applies the same Adam update, so parameters
stay identical everywhere (checked by a checksum at the end).

    mpirun -n 2 python examples/train_data_parallel.py
    mpirun -n 2 python examples/train_data_parallel.py --device cuda   # one GPU per process
    python examples/train_data_parallel.py                             # a job of one process

As root, Open MPI also wants OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.
`--batch-size` is the *global* batch: each of P processes gets batch_size / P rows, so
1 and P processes follow the same trajectory (up to float rounding).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_digits  # noqa: E402  (load_data, loss_fn, the same model)

dp = train_digits.dp
dnp = train_digits.dnp


def train(epochs=10, batch_size=64, hidden=(128,), learning_rate=3e-3, seed=0,
          device="cpu", limit=None, bucket_bytes=4 << 20, log=print):
    """Returns a dict: params, history, test accuracy, timings and the checksum."""
    info = dp.distributed.init(device=device)
    x_train, y_train, x_test, y_test = train_digits.load_data(seed=seed, limit=limit)
    key = dp.random.key(seed)
    init_key, shuffle_key = dp.random.split(key)
    params = dp.nn.mlp_init(init_key, [x_train.shape[1], *hidden, 10], np.float32)
    steps_per_epoch = len(y_train) // batch_size
    opt = dp.optim.adam(dp.optim.cosine_decay(learning_rate, epochs * steps_per_epoch, alpha=0.05))
    opt_state = opt.init(params)
    grad_fn = dp.jit(dp.value_and_grad(train_digits.loss_fn), device=info.device)
    step = dp.distributed.data_parallel(grad_fn, has_value=True, optimizer=opt,
                                        bucket_bytes=bucket_bytes)
    accuracy = dp.jit(lambda p, x, y: dnp.mean(dnp.argmax(dp.nn.mlp(p, x), axis=-1) == y))

    times, comm, history = [], [], {"loss": [], "test_accuracy": []}
    for epoch in range(epochs):
        order = dp.random.permutation(dp.random.fold_in(shuffle_key, epoch), len(y_train))
        losses = []
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]       # the global batch ...
            xb, yb = dp.distributed.shard_batch((x_train[idx], y_train[idx]))  # ... my part
            start = time.perf_counter()
            params, opt_state, loss = step(params, opt_state, xb, yb)
            times.append(time.perf_counter() - start)
            comm.append(step.stats["allreduce_s"])
            losses.append(float(np.asarray(loss)))  # already the mean over processes
        history["loss"].append(float(np.mean(losses)))
        history["test_accuracy"].append(float(np.asarray(accuracy(params, x_test, y_test))))
        if info.rank == 0:
            log(f"epoch {epoch + 1}/{epochs}: loss {history['loss'][-1]:.4f}  "
                f"test accuracy {history['test_accuracy'][-1]:.3f}")
    digest = dp.distributed.assert_synchronized(params)  # raises if any rank drifted
    warm = times[1:] or times  # the first step compiles
    return {"params": params, "history": history, "test_accuracy": history["test_accuracy"][-1],
            "checksum": digest, "info": info, "step_ms": 1e3 * float(np.median(warm)),
            "allreduce_ms": 1e3 * float(np.median(comm[1:] or comm)),
            "buckets": step.stats["buckets"], "steps": len(times)}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64, help="global batch (all processes)")
    p.add_argument("--hidden", type=int, nargs="+", default=[128])
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only this many images")
    p.add_argument("--bucket-kb", type=float, default=4096, help="gradient bucket size (KiB)")
    p.add_argument("--save", default=None, help="rank 0 writes the final parameters (.npz)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.device == "cuda" and not train_digits.cuda_available():
        print("error: --device cuda was requested, but no CUDA GPU is visible to this "
              "process (numba.cuda.is_available() is False). Run with --device cpu, or on "
              "hosts with one NVIDIA GPU per process.", file=sys.stderr)
        return 2
    result = train(epochs=args.epochs, batch_size=args.batch_size, hidden=tuple(args.hidden),
                   learning_rate=args.lr, seed=args.seed, device=args.device,
                   limit=args.limit, bucket_bytes=int(args.bucket_kb * 1024))
    info = result["info"]
    if info.rank == 0:
        if args.save:
            leaves = dp.tree_leaves(result["params"])
            np.savez(args.save, *[np.asarray(leaf) for leaf in leaves])
        overhead = 100 * result["allreduce_ms"] / result["step_ms"]
        print(f"{info.size} process(es) on {info.device}: test accuracy "
              f"{result['test_accuracy']:.4f}; median step {result['step_ms']:.3f} ms, of "
              f"which gradient allreduce {result['allreduce_ms']:.3f} ms ({overhead:.0f}%, "
              f"{result['buckets']} bucket(s)); parameter checksum {result['checksum'][:16]} "
              f"(identical on all ranks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
