"""The parameter blocks dprog builds for cuLaunchKernel on a GPU (codegen/cuda_driver.py)
follow Numba's kernel ABI: checked here without a GPU, against the signature the PTX
tests compile each generated kernel for, and word by word for arrays and scalars."""
import struct

import numpy as np
import pytest

from dprog.codegen import cuda_driver, cuda_kernel
from dprog.codegen.cuda_driver import Param, pack_params, scalar_param

numba = pytest.importorskip("numba")


def test_array_is_seven_words_with_the_address_fixed_up_per_call():
    words, fixups = pack_params([Param(slot=3, size=10, dtype=np.float32)])
    # meminfo, parent, nitems, itemsize, data, shape[0], strides[0] (bytes)
    assert words == [0, 0, 10, 4, 0, 10, 4]
    assert fixups == [(4, 3)]


def test_scalars_take_one_word_in_their_own_width():
    params = [scalar_param(7), scalar_param(np.float32(1.5)), scalar_param(-2.0),
              scalar_param(np.int32(-3)), scalar_param(True)]
    assert [p.nbtype for p in params] == ["int64", "float32", "float64", "int32", "bool"]
    words, fixups = pack_params(params)
    assert fixups == []
    raw = b"".join(w.to_bytes(8, "little") for w in words)
    assert struct.unpack_from("<q", raw, 0)[0] == 7
    assert struct.unpack_from("<f", raw, 8)[0] == 1.5
    assert struct.unpack_from("<d", raw, 16)[0] == -2.0
    assert struct.unpack_from("<i", raw, 24)[0] == -3
    assert raw[32] == 1


def test_fixups_index_each_arrays_data_word():
    params = [scalar_param(5), Param(slot=0, size=4, dtype=np.float64), scalar_param(0),
              Param(slot=2, size=8, dtype=np.int32)]
    words, fixups = pack_params(params)
    assert len(words) == 1 + 7 + 1 + 7
    assert fixups == [(5, 0), (13, 2)]
    assert words[11:13] == [8, 4]  # nitems, itemsize of the int32 array


def test_signature_matches_the_generated_kernels_signature():
    # The planner types a group kernel's launch from its arguments; that must be the
    # signature kernel_signature gives (the one the PTX tests compile).
    import dprog as dp
    import dprog.numpy as dnp
    from dprog.passes import run_pipeline
    from dprog.passes.fuse import fuse
    x = np.ones((4, 5), np.float32)
    graph = fuse(run_pipeline(dp.make_graph(lambda x: dnp.sum(dnp.exp(x), axis=1))(x)))
    (node,) = [n for n in graph.nodes if n.op.name == "fusion"]
    sub, shape = node.params["graph"], tuple(node.params["shape"])
    layouts = ["flat"] * len(sub.invars)
    # rows, cols, chunks, sizes..., outputs..., then (buffer, offset) per input
    params = [scalar_param(1)] * (3 + len(shape))
    params += [Param(slot=k, size=4, dtype=v.aval.dtype) for k, v in enumerate(sub.outvars)]
    for k, v in enumerate(sub.invars):
        params += [Param(slot=10 + k, size=20, dtype=v.aval.dtype), scalar_param(0)]
    assert cuda_driver.numba_signature(params) == cuda_kernel.kernel_signature(sub, shape, layouts)


def test_cublas_operand_descriptions():
    from dprog.codegen.cuda_blas import OP_N, OP_T, column_major
    # row-major (3 x 5), rows contiguous: X^T is column-major with ld 5
    assert column_major(3, 5, 5, 1) == (OP_N, 5)
    # a transposed view (columns contiguous): passed transposed, ld = the row count's stride
    assert column_major(3, 5, 1, 3) == (OP_T, 3)
    # a row of a wider matrix: ld may exceed the columns
    assert column_major(3, 5, 8, 1) == (OP_N, 8)
    # single rows/columns take any stride
    assert column_major(1, 5, 0, 1) == (OP_N, 5)
    assert column_major(4, 1, 1, 0) == (OP_N, 1)
    # broadcast rows (stride 0) or doubly strided views: no description, dprog's kernel runs
    assert column_major(3, 5, 0, 1) is None
    assert column_major(3, 5, 10, 2) is None
