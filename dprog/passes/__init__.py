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
from .sink_transposes import sink_transposes

# The order matters: simplify exposes common subexpressions, CSE merges them, and DCE
# removes what the rewrites left unused. sink_transposes leaves transposes that the
# second simplify folds into broadcasts and cancels against each other. Fusion belongs
# to the backends, which run their own table (below) after this pipeline.
PIPELINE = [
    ("dce", dce),
    ("simplify", simplify),
    ("sink_transposes", sink_transposes),
    ("fold", fold),
    ("cse", cse),
    ("merge_extended", merge_extended),
    ("simplify_after_cse", simplify),
    ("dce_after_cse", dce),
]


def _fuse_for_cpu(graph):
    from .fuse import fuse
    return fuse(graph, absorb_views=True)  # the CPU code generator reads views by index


def _fuse_for_cuda(graph):
    from .fuse import fuse
    return fuse(graph)


def _inline_checkpoints(graph):
    from .inline_checkpoints import inline_checkpoints
    return inline_checkpoints(graph)


def _fuse_rows(graph):
    from .fuse_rows import fuse_rows
    return fuse_rows(graph)


def _fuse_rows_for_cuda(graph):
    from .fuse_rows import Limits, fuse_rows
    from ..codegen.cuda_row_kernel import MAX_ROW_ELEMENTS
    return fuse_rows(graph, Limits(max_row_elements=MAX_ROW_ELEMENTS, outer_reductions=False))


# Fusion, per backend: checkpoint bodies are inlined so fusion sees through them
# (inline_checkpoints.py); loops over one iteration space become fusion nodes (fuse.py);
# loops that meet at a reduction over the inner dims then become one row kernel with
# several passes per row (fuse_rows.py; on CUDA, a block per row, so rows are bounded).
CPU_FUSION = [("inline_checkpoints", _inline_checkpoints), ("fuse", _fuse_for_cpu), ("fuse_rows", _fuse_rows)]
CUDA_FUSION = [("inline_checkpoints", _inline_checkpoints), ("fuse", _fuse_for_cuda),
               ("fuse_rows", _fuse_rows_for_cuda)]

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
