"""Time dprog.kernels.vecmath in @njit loops against NumPy's ufuncs, and print max ULP.

    python benchmarks/vecmath_bench.py [--n 10000000] [--reps 7] [--only vexp,vsin]
    python benchmarks/vecmath_bench.py --n 16384 --no-par     # in cache: compute cost only
    python benchmarks/vecmath_bench.py --ulp-only
    python benchmarks/vecmath_bench.py --only vpow --alternate 31   # + back-to-back ratio

Each function runs over N elements in a @njit loop (parallel=False, and parallel=True
with prange) writing into a preallocated array, and NumPy's ufunc runs with out=.
Times are medians in ms; ratio = NumPy / ours (> 1: ours is faster). Run it alone:
two jobs on a small machine distort each other. ULP errors come from the accuracy test's
samples and references (tests/kernels/test_vecmath.py).
"""
import argparse
import importlib.util
import os
import pathlib
import platform
import sys
import time

import numpy as np
from numba import config, njit, prange

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


T = _load(ROOT / "tests" / "kernels" / "test_vecmath.py", "_vecmath_tests")
vm = T.vm
from dprog.kernels.vector_width import prefer_wide  # noqa: E402 (after the tests' sys.path set-up)

try:
    from scipy import special as _sp
except ImportError:
    _sp = None

# name -> (NumPy (or SciPy) ufunc, None if there is none, input range)
CASES = {
    "vexp": (np.exp, (-80, 80)), "vexp2": (np.exp2, (-120, 120)),
    "vexpm1": (np.expm1, (-10, 10)), "vlog": (np.log, (1e-3, 1e3)),
    "vlog2": (np.log2, (1e-3, 1e3)), "vlog10": (np.log10, (1e-3, 1e3)),
    "vlog1p": (np.log1p, (-0.9, 1e3)), "vtanh": (np.tanh, (-10, 10)),
    "vsigmoid": (_sp.expit if _sp else None, (-20, 20)), "vsinh": (np.sinh, (-20, 20)),
    "vcosh": (np.cosh, (-20, 20)), "verf": (_sp.erf if _sp else None, (-5, 5)),
    "vsin": (np.sin, (-100, 100)), "vcos": (np.cos, (-100, 100)),
    "vatan": (np.arctan, (-10, 10)), "vpow": (np.power, (0.1, 10)),
    # what kernels run (with an exact second pass only where |x| is huge): cpu_kernel.py
    "vsin_fast": (np.sin, (-100, 100)), "vcos_fast": (np.cos, (-100, 100)),
    # as kernels run pow and the logarithms: the fast form, its guard ORed over the loop,
    # and the loop again with the exact form if it held anywhere (never, on these
    # inputs; cpu_kernel.py)
    "vpow_guarded": (np.power, (0.1, 10)), "vlog_guarded": (np.log, (1e-3, 1e3)),
    "vlog2_guarded": (np.log2, (1e-3, 1e3)), "vlog10_guarded": (np.log10, (1e-3, 1e3)),
}
BINARY = ("vpow", "vpow_guarded")
# name -> (fast form, guard, exact form)
GUARDED = {"vpow_guarded": ("vpow_fast", "vpow_special", "vpow"),
           "vlog_guarded": ("vlog_fast", "vlog_special", "vlog"),
           "vlog2_guarded": ("vlog2_fast", "vlog_special", "vlog2"),
           "vlog10_guarded": ("vlog10_fast", "vlog_special", "vlog10")}


# The loops, written once for one or two inputs and for range/prange. Plain: one call
# per element. Guarded: as a dprog kernel runs an op with a fast form (Op.fast): the fast
# form with its guard ORed over the loop, and the loop again with the exact form if the
# guard held anywhere (a prange loop counts instead of ORing: Numba's parallel
# reductions have no `|`). Vectors as wide as in dprog's generated kernels
# (kernels/vector_width.py).
_PLAIN = """
def loop({ins}, out):
    prefer_wide()
    for i in {range}(x.size):
        out[i] = fn({elems})
"""
_GUARDED = """
def loop({ins}, out):
    prefer_wide()
    special = {no}
    for i in {range}(x.size):
        out[i] = fast({elems})
        special = special {any} guard({elems})
    if special:
        for i in {range}(x.size):
            out[i] = exact({elems})
"""


def _compile_loops(template, binary, **fns):
    """(serial, parallel) njit loops from `template`, calling the functions in `fns`."""
    ins = ("x", "y") if binary else ("x",)
    loops = []
    for rng, no, any_, opts in (("range", "False", "|", {}), ("prange", "0", "+", {"parallel": True})):
        namespace = dict(fns, prefer_wide=prefer_wide, prange=prange)
        exec(template.format(ins=", ".join(ins), range=rng, no=no, any=any_,
                             elems=", ".join(f"{v}[i]" for v in ins)), namespace)
        loops.append(njit(error_model="numpy", **opts)(namespace["loop"]))
    return tuple(loops)


def make_loops(fn, binary):
    return _compile_loops(_PLAIN, binary, fn=fn)


def make_guarded_loops(fast, guard, exact, binary):
    return _compile_loops(_GUARDED, binary, fast=fast, guard=guard, exact=exact)


def loops_for(name):
    if name in GUARDED:
        return make_guarded_loops(*(getattr(vm, f) for f in GUARDED[name]), name in BINARY)
    return make_loops(getattr(vm, name), name in BINARY)


def times_ms(f, reps, inner=1):
    """(median, min) ms per call; the min is the figure least disturbed by other jobs.
    Small arrays (in cache: compute cost only) repeat the call `inner` times per sample."""
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            f()
        ts.append((time.perf_counter() - t0) / inner)
    return 1e3 * float(np.median(ts)), 1e3 * min(ts)


def alternating_ratio(f_ref, f_ours, reps, inner=1):
    """Median over rounds of (NumPy's time / ours), the two timed back to back in each
    round: less sensitive to the machine's slow and fast phases than separate medians."""
    f_ref(), f_ours()
    ratios = []
    for _ in range(reps):
        ts = []
        for f in (f_ref, f_ours):
            t0 = time.perf_counter()
            for _ in range(inner):
                f()
            ts.append(time.perf_counter() - t0)
        ratios.append(ts[0] / ts[1])
    return float(np.median(ratios))


def _has_ulp(name):
    # (the sin/cos fast forms are wrong for huge |x|, which the test domain holds)
    return name in T.MAX_ULP or name in GUARDED


def max_ulp(name, dtype):
    if name in BINARY:
        x, y = T.pow_samples(dtype)
        out = np.empty_like(x)
        loops_for(name)[0](x, y, out)
        wide = np.float64 if dtype == np.float32 else np.longdouble
        with np.errstate(all="ignore"):
            ref = np.power(x.astype(wide), y.astype(wide))
    else:
        exact = GUARDED[name][2] if name in GUARDED else name
        x = T.domain(exact, dtype)
        if name == "verf" and dtype == np.float64:
            x = x[::8]
        out = np.empty_like(x)
        loops_for(name)[0](x, out)
        wide = np.float64 if dtype == np.float32 else np.longdouble
        with np.errstate(all="ignore"):
            ref = T.REF[exact](x.astype(wide))
    return float(T.ulp_errors(out, ref, dtype).max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--only", default="")
    ap.add_argument("--ulp-only", action="store_true", help="skip the timings")
    ap.add_argument("--no-par", action="store_true", help="skip parallel=True")
    ap.add_argument("--alternate", type=int, default=0, metavar="ROUNDS",
                    help="also print the median ratio of ROUNDS rounds timing NumPy and "
                         "the serial loop back to back")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(CASES)
    if args.ulp_only:
        print(f"{'function':10} {'float32':>8} {'float64':>8}   (max ulp; test bound)")
        for name in names:
            if not _has_ulp(name):
                continue
            u = [max_ulp(name, dt) for dt in (np.float32, np.float64)]
            bound = T.MAX_ULP[GUARDED[name][2] if name in GUARDED else name]
            print(f"{name:10} {u[0]:8.2f} {u[1]:8.2f}   {bound}", flush=True)
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"numba threads {config.NUMBA_NUM_THREADS}, NumPy {np.__version__}, N={args.n}")
    print("medians in ms; ratio = numpy / ours (> 1: ours faster); min-ratio from the "
          "fastest runs")
    print(f"{'function':10} {'dtype':7} {'ulp':>6} {'numpy':>8} {'njit':>8} {'ratio':>6} "
          f"{'par':>8} {'ratio':>6} {'min-ratio':>9}")
    rng = np.random.default_rng(0)
    for name in names:
        ref, (lo, hi) = CASES[name]
        binary = name in BINARY
        serial, par = loops_for(name)
        for dtype in (np.float32, np.float64):
            x = rng.uniform(lo, hi, args.n).astype(dtype)
            ins = (x, rng.uniform(-5, 5, args.n).astype(dtype)) if binary else (x,)
            out = np.empty_like(x)
            nan = (float("nan"),) * 2
            inner = max(1, 2_000_000 // args.n)
            t_np, m_np = times_ms(lambda: ref(*ins, out=out), args.reps, inner) if ref else nan
            t_s, m_s = times_ms(lambda: serial(*ins, out), args.reps, inner)
            t_p, _ = nan if args.no_par else times_ms(lambda: par(*ins, out), args.reps, inner)
            ulp = max_ulp(name, dtype) if _has_ulp(name) else float("nan")
            alt = ""
            if args.alternate and ref:
                alt = "   alternating: %.2f" % alternating_ratio(
                    lambda: ref(*ins, out=out), lambda: serial(*ins, out), args.alternate, inner)
            print(f"{name:10} {dtype.__name__:7} {ulp:6.2f} {t_np:8.4g} {t_s:8.4g} "
                  f"{t_np / t_s:6.2f} {t_p:8.4g} {t_np / t_p:6.2f} {m_np / m_s:9.2f}{alt}",
                  flush=True)


if __name__ == "__main__":
    main()
