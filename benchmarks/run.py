"""Run the benchmarks: `python -m benchmarks [--only NAME ...] [--rounds N] [--out FILE]`.

Each workload runs dprog and whichever peers are installed (NumPy, JAX, PyTorch) in this
one process, interleaved round by round; we print medians and ratios to JAX, next to the
machine's limits (memory bandwidth from a large copy, sgemm FLOP/s).
"""
import argparse
import json
import os
import sys

from . import machine, peers
from .timing import interleaved, median


def _workloads():
    from .workloads import elementwise, gmm, latency, mlp, particles, slices, softmax_ce
    items = [("elementwise", elementwise.NAME, elementwise.build, elementwise.bytes_moved(), 1),
             ("softmax_ce", softmax_ce.NAME, softmax_ce.build, softmax_ce.bytes_moved(), 1),
             ("mlp", mlp.NAME, mlp.build, None, 1)]
    for d, k in gmm.SIZES:
        items.append((f"gmm_{d}_{k}", gmm.NAME.format(d=d, k=k),
                      lambda p, d=d, k=k: gmm.build(p, d, k), None, 1))
    items.append(("particles", particles.NAME, particles.build, None, 1))
    items.append(("latency", latency.NAME, latency.build, None, latency.CALLS))
    items.append(("slices", slices.NAME, slices.build, None, 1))   # not an issue-4 workload
    return items


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="workload keys to run")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", help="write results as JSON here")
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args(argv)
    loaded = {} if args.no_peers else {"jax": peers.load_jax(), "torch": peers.load_torch()}
    loaded = {k: v for k, v in loaded.items() if v is not None}
    limits = machine.measure()
    print(f"machine: {limits['cpu']}, {limits['cores']} cores, copy bandwidth "
          f"{limits['bandwidth_GBps']:.1f} GB/s, sgemm {limits['sgemm_GFLOPs']:.0f} GFLOP/s; "
          f"peers: {', '.join(sorted(loaded)) or 'none'}")
    results = {"machine": limits, "workloads": {}}
    for key, name, build, nbytes, calls in _workloads():
        if args.only and key not in args.only:
            continue
        fns = build(loaded)
        if not fns:
            print(f"\n{name}: skipped (not available)")
            continue
        samples = interleaved(fns, rounds=args.rounds)
        med = {fw: median(s) / calls for fw, s in samples.items()}
        results["workloads"][key] = {"name": name, "median_s": med}
        print(f"\n{name}")
        for fw, t in sorted(med.items(), key=lambda kv: kv[1]):
            line = f"  {fw:6s} {_fmt(t)}"
            if "jax" in med:
                line += f"   x{t / med['jax']:.2f} of jax"
            if nbytes:
                line += f"   {nbytes / t / 1e9:.1f} GB/s ({100 * nbytes / t / 1e9 / limits['bandwidth_GBps']:.0f}% of copy)"
            print(line)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return results


def _fmt(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:9.2f} us"
    return f"{seconds * 1e3:9.2f} ms"


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
