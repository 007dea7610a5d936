"""Every generated and hand-written CUDA kernel compiles to PTX (sm_80) with no GPU, and
float32 kernels contain no float64 arithmetic.

The simulator runs kernels as Python and checks no types; compile_ptx runs Numba's CUDA
type inference and NVVM, so it catches what the simulator hides: untyped helpers, a
Python float literal widening float32 math to float64, unsupported intrinsics.
"""
import re

import numpy as np
import pytest

import dprog as dp
from dprog.codegen import cuda_kernel, cuda_row_kernel, module_cache
from dprog.ir import Graph
from dprog.codegen.cuda_launch import HW_BLOCK, HW_TILE
from dprog.passes import CUDA_FUSION, run_pipeline

from cuda_programs import PROGRAMS

cuda = pytest.importorskip("numba.cuda")
numba = pytest.importorskip("numba")
if numba.config.ENABLE_CUDASIM:
    pytest.skip("PTX compilation needs the real numba-cuda target, not the simulator",
                allow_module_level=True)

CC = (8, 0)
# libdevice's sinf/cosf/tanf reduce huge arguments (Payne-Hanek) with one f64 multiply;
# that is NVIDIA's code, not a promotion by dprog.
_LIBDEVICE_F64 = re.compile(r"^\s*(cvt\.rn\.f64\.s64|cvt\.rn\.f32\.f64|mul\.f64\s+%fd\d+, %fd\d+, 0d3BF921FB54442D19)")


def f64_instructions(ptx):
    return [line.strip() for line in ptx.splitlines()
            if re.search(r"\.f64\b", line) and not line.strip().startswith(".reg")
            and not _LIBDEVICE_F64.match(line)]


def fusion_nodes(fn, args):
    """The fusion nodes the CUDA backend compiles for fn (its pass pipeline), those of
    control-flow bodies (scan, while, cond) included."""
    return list(_fusions(dp.make_graph(fn)(*args)))


def _fusions(graph):
    for node in run_pipeline(run_pipeline(graph), CUDA_FUSION).nodes:
        if node.op.name == "fusion":
            yield node
            continue
        for value in node.params.values():
            for sub in (value if isinstance(value, (tuple, list)) else (value,)):
                if isinstance(sub, Graph):
                    yield from _fusions(sub)


def compile_groups(node, layout_choice, warp_rows=False):
    sub = node.params["graph"]
    if node.params.get("rows") is not None:
        return [compile_row_kernel(node, layout_choice)]
    parts = cuda_kernel.split_by_axes(sub) if cuda_kernel.kernel_kind(sub) == "split" else [sub]
    return [compile_group(part, tuple(node.params["shape"]), layout_choice, warp_rows) for part in parts]


def compile_row_kernel(node, layout_choice):
    sub, shape, k = node.params["graph"], tuple(node.params["shape"]), node.params["rows"]
    kinds = cuda_row_kernel.input_kinds(sub, shape, k, [layout_choice == "flat"] * len(sub.invars))
    source = cuda_row_kernel.row_kernel_source(sub, shape, k, kinds, 256, shuffles=True)
    module = module_cache.load_module(cuda_kernel.HEADER + "\n\n" + source)
    sig = cuda_row_kernel.row_kernel_signature(sub, shape, kinds)
    ptx, _ = cuda.compile_ptx(module.kernel.py_func, sig, cc=CC)
    return sub, source, ptx


def compile_group(sub, shape, layout_choice, warp_rows=False):
    layouts = ["scalar" if v.aval.ndim == 0 else layout_choice for v in sub.invars]
    warp_rows = warp_rows and cuda_kernel.kernel_kind(sub) == "rows" and cuda_kernel.use_warp_rows(sub, 1, True)
    source = cuda_kernel.kernel_source(sub, shape, layouts, HW_BLOCK, shuffles=True, warp_rows=warp_rows)
    module = module_cache.load_module(cuda_kernel.HEADER + "\n\n" + source)
    sig = cuda_kernel.kernel_signature(sub, shape, layouts)
    ptx, _ = cuda.compile_ptx(module.kernel.py_func, sig, cc=CC)
    return sub, source, ptx


# Programs that are one matmul have no fused group; the matmul kernel's PTX is checked
# on its own below.
FUSED_PROGRAMS = [p for p in PROGRAMS if not p[0].startswith("matmul")]


@pytest.mark.parametrize("name,fn,make", FUSED_PROGRAMS, ids=[p[0] for p in FUSED_PROGRAMS])
@pytest.mark.parametrize("layout", ["flat", "strided"])
def test_generated_kernels_compile_to_ptx(name, fn, make, layout):
    nodes = fusion_nodes(fn, make())
    assert nodes, f"{name} has no fused group"
    for sub, source, ptx in [c for node in nodes for c in compile_groups(node, layout)]:
        check_compiled(sub, source, ptx)


def check_compiled(sub, source, ptx):
    assert ".entry" in ptx
    dtypes = {v.aval.dtype for v in sub.invars} | {v.aval.dtype for v in sub.outvars}
    if np.dtype("float64") not in dtypes:
        bad = f64_instructions(ptx)
        assert not bad, f"float64 arithmetic in a kernel without float64 data:\n{bad[:5]}\n{source}"


def _rows_groups(fn, make):
    """The program's rows kernels that a GPU runs with a warp per row (short rows)."""
    groups = []
    for node in fusion_nodes(fn, make()):
        sub = node.params["graph"]
        parts = cuda_kernel.split_by_axes(sub) if cuda_kernel.kernel_kind(sub) == "split" else [sub]
        groups += [(part, tuple(node.params["shape"])) for part in parts
                   if node.params.get("rows") is None and cuda_kernel.kernel_kind(part) == "rows"
                   and cuda_kernel.use_warp_rows(part, 1, True)]
    return groups


WARP_PROGRAMS = [p for p in FUSED_PROGRAMS if _rows_groups(p[1], p[2])]


@pytest.mark.parametrize("name,fn,make", WARP_PROGRAMS, ids=[p[0] for p in WARP_PROGRAMS])
def test_warp_row_kernels_compile_to_ptx(name, fn, make):
    """The warp-per-row form of every rows kernel: shuffles, no block barriers."""
    for sub, shape in _rows_groups(fn, make):
        _, source, ptx = compile_group(sub, shape, "flat", warp_rows=True)
        check_compiled(sub, source, ptx)
        assert "shfl.sync.down" in ptx and "bar.sync" not in ptx


def test_most_programs_have_warp_row_kernels():
    assert len(WARP_PROGRAMS) >= 4, [p[0] for p in WARP_PROGRAMS]


ROW_PROGRAMS = [p for p in FUSED_PROGRAMS
                if any(n.params.get("rows") is not None for n in fusion_nodes(p[1], p[2]()))]


def test_softmax_programs_become_row_kernels():
    names = {p[0] for p in ROW_PROGRAMS}
    assert {"softmax", "logsumexp_rows", "softmax_ce_grad", "mean_var"} <= names, names


def test_row_kernel_reduces_with_shuffles_and_barriers():
    (node,) = [n for n in fusion_nodes(lambda z: dp.nn.softmax(z, axis=-1), (np.ones((4, 100), np.float32),))
               if n.params.get("rows") is not None]
    _, source, ptx = compile_row_kernel(node, "flat")
    assert source.count("for col in range(tid, cols") == 3  # max, sum of exp, result
    assert "shfl.sync.down" in ptx and "bar.sync" in ptx


def test_reduction_kernels_use_warp_shuffles_on_hardware():
    (node,) = fusion_nodes(lambda x: dp.numpy.sum(x * x, axis=1), (np.ones((4, 100), np.float32),))
    ((_, source, ptx),) = compile_groups(node, "flat")
    assert "shfl_down_sync" in source and "shfl.sync.down" in ptx
    assert "atom.global" in ptx  # the multi-chunk combine
    ((_, source, ptx),) = compile_groups(node, "flat", warp_rows=True)
    assert "shfl_down_sync" in source and "syncthreads" not in source
    assert "shfl.sync.down" in ptx and "bar.sync" not in ptx


def test_f64_check_catches_a_python_float_literal():
    """The check above must fail for the bug it guards against."""
    import math

    def widened(out, a):
        i = cuda.grid(1)
        out[i] = math.exp(a[i] + 0.1)  # a float64 literal makes this exp (not expf)
    ptx, _ = cuda.compile_ptx(widened, (numba.float32[::1], numba.float32[::1]), cc=CC)
    assert f64_instructions(ptx)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_matmul_kernel_compiles(dtype):
    from dprog.kernels.cuda_matmul import matmul_kernel
    _, py = matmul_kernel(HW_TILE, dtype)
    arr = numba.from_dtype(np.dtype(dtype))[::1]
    i64 = numba.int64
    sig = (arr, arr, i64, i64, i64, i64, arr, i64, i64, i64, i64, i64, i64, i64, i64)
    ptx, _ = cuda.compile_ptx(py, sig, cc=CC)
    assert "bar.sync" in ptx and ".shared" in ptx
    if dtype == "float32":
        assert not f64_instructions(ptx)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_index_kernels_compile(dtype):
    from dprog.kernels import cuda_index
    arr = numba.from_dtype(np.dtype(dtype))[::1]
    idx = numba.int64[::1]
    i64 = numba.int64
    # bool has no atomic add on the GPU (the simulator allows it): scatter_or serves it.
    scatter = cuda_index.scatter_or if dtype == "bool" else cuda_index.scatter_add
    for fn in (cuda_index.gather, scatter):
        ptx, _ = cuda.compile_ptx(fn, (arr, arr, i64, idx, i64, i64, i64, i64, i64), cc=CC)
        if dtype == "float32":
            assert not f64_instructions(ptx)
        if fn is cuda_index.scatter_add:
            assert "atom.global.add" in ptx or "red.global.add" in ptx
    ptx, _ = cuda.compile_ptx(cuda_index.fill, (arr, numba.from_dtype(np.dtype(dtype)), i64), cc=CC)
    assert ".entry" in ptx
    scalar = numba.from_dtype(np.dtype(dtype))
    for fn, sig in ((cuda_index.arg_extreme, (idx, arr, i64, i64, i64, i64, numba.boolean)),
                    (cuda_index.cumulative_sum, (arr, arr, i64, i64, i64, i64, numba.boolean, scalar))):
        ptx, _ = cuda.compile_ptx(fn, sig, cc=CC)
        assert ".entry" in ptx
        if dtype == "float32":
            assert not f64_instructions(ptx)


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_pad_and_concatenate_kernels_compile(dtype):
    from dprog.codegen import cuda_movement
    arr = numba.from_dtype(np.dtype(dtype))[::1]
    i64 = numba.int64

    def compile_source(source, sig):
        module = module_cache.load_module(cuda_kernel.HEADER + "\n\n" + source)
        ptx, _ = cuda.compile_ptx(module.kernel.py_func, sig, cc=CC)
        assert ".entry" in ptx
        if dtype == "float32":
            assert not f64_instructions(ptx)
    # total, n0, n1, out, x, x_off, v, v_off, then (lo, step, m, s) per dim
    compile_source(cuda_movement.pad_source(2), (i64, i64, i64, arr, arr, i64, arr, i64) + (i64,) * 8)
    # total, n0, n1, out, 3 x (buffer, offset, 2 strides), b1, b2
    compile_source(cuda_movement.concatenate_source(2, 1, 3), (i64, i64, i64, arr) + (arr, i64, i64, i64) * 3 + (i64, i64))
