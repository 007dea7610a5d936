"""The pass pipeline: pure Graph -> Graph functions, run in this order.

Each pass is timed (see `timings`); DPROG_PRINT_AFTER=<name>[,<name>...] (or "all")
prints the IR after that pass, as Numba's NUMBA_DEBUG_PRINT_AFTER does.
"""
import os
import sys
import time

from .cse import cse
from .dce import dce
from .fold import fold
from .merge_extended import merge_extended
from .simplify import simplify

# The order matters: simplify exposes common subexpressions, CSE merges them, and DCE
# removes what the rewrites left unused. Fusion is not here: it belongs to the backends
# (passes/fuse.py), which run it after this pipeline.
PIPELINE = [
    ("dce", dce),
    ("simplify", simplify),
    ("fold", fold),
    ("cse", cse),
    ("merge_extended", merge_extended),
    ("simplify_after_cse", simplify),
    ("dce_after_cse", dce),
]

timings = {}  # pass name -> total seconds spent in it in this process


def _print_after():
    names = os.environ.get("DPROG_PRINT_AFTER", "")
    return {n.strip() for n in names.split(",") if n.strip()}


def run_pipeline(graph, pipeline=None):
    show = _print_after()
    for name, fn in (PIPELINE if pipeline is None else pipeline):
        start = time.perf_counter()
        graph = fn(graph)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
        if name in show or "all" in show:
            print(f"--- IR after {name} ---\n{graph}", file=sys.stderr)
    return graph
