"""When a CUDA executable is replayed as a CUDA graph (dprog/codegen/cuda_graph.py).

Capture itself needs a GPU driver; benchmarks/gpu_check.py checks it on hardware (every
program of tests/cuda/cuda_programs.py over five calls with new inputs, and a chain of MLP
steps that must match the step-by-step path bit for bit). These tests pin the decision:
no capture before WARM_CALLS calls, one decision per executable, the cost model's
verdict, the user's switch, and a failed capture that falls back with one warning.
"""
import types

import numpy as np
import pytest

from dprog.codegen import cuda_driver, cuda_graph
from dprog.codegen import cuda_steps as cs
from dprog.config import config


class _FakeGemm:
    pass


def _launch():
    return object.__new__(cuda_driver.Launch)


def _executable(launches=0, gemms=0, n_in=1, n_out=1, size=8, host_step=False):
    step = cs.Step()
    step.prepared = [_launch() for _ in range(launches)] + [_FakeGemm() for _ in range(gemms)]
    steps = [step] + ([types.SimpleNamespace(allocs=[])] if host_step else [])
    slot_info = {s: (size, np.dtype(np.float32)) for s in range(n_in + n_out)}
    return types.SimpleNamespace(steps=steps, in_slots=list(range(n_in)), slot_info=slot_info,
                                 results=[(n_in + j, (size,), np.float32) for j in range(n_out)])


@pytest.fixture
def captures(monkeypatch):
    """Replace the capture with a record of the executables it was asked for."""
    made = []

    def fake_graph(executable):
        made.append(executable)
        return ("graph of", executable)
    monkeypatch.setattr(cuda_graph, "GraphReplay", fake_graph)
    return made


def test_cost_model_counts_launches_products_and_copies():
    # 15 launches and 8 products (the MLP step) against 8 inputs and 7 results
    mlp = _executable(launches=15, gemms=8, n_in=8, n_out=7)
    expected = 15 * cuda_graph.LAUNCH_US + 8 * cuda_graph.GEMM_US - cuda_graph.GRAPH_LAUNCH_US \
        - 15 * cuda_graph.COPY_US - 2 * 15 * 8 * 4 / cuda_graph.COPY_BYTES_PER_US
    assert cuda_graph.estimated_saving_us(mlp) == pytest.approx(expected)
    assert cuda_graph.estimated_saving_us(mlp) >= cuda_graph.MIN_SAVING_US
    # one launch (a*b + c): the copies cost more than the launch saved
    assert cuda_graph.estimated_saving_us(_executable(launches=1, n_in=3)) < 0
    # copying 256 MB in and out costs more device time than 20 launches save
    assert cuda_graph.estimated_saving_us(_executable(launches=20, size=1 << 26)) < 0


def test_only_prepared_kernel_steps_are_capturable():
    assert cuda_graph.capturable(_executable(launches=3))
    assert not cuda_graph.capturable(_executable(launches=3, host_step=True))
    unprepared = _executable(launches=3)
    unprepared.steps[0].prepared = None  # the simulator: launched through Numba
    assert not cuda_graph.capturable(unprepared)


def test_capture_after_warm_calls_then_replay(captures):
    ex = _executable(launches=15, gemms=8, n_in=8, n_out=7)
    replayer = cuda_graph.Replayer()
    got = [replayer.graph_for(ex) for _ in range(cuda_graph.WARM_CALLS + 3)]
    assert got[:cuda_graph.WARM_CALLS] == [None] * cuda_graph.WARM_CALLS
    assert all(g == ("graph of", ex) for g in got[cuda_graph.WARM_CALLS:])
    assert captures == [ex]  # captured once, replayed after


def test_no_capture_where_it_does_not_pay(captures):
    replayer = cuda_graph.Replayer()
    ex = _executable(launches=1, n_in=3)
    assert [replayer.graph_for(ex) for _ in range(6)] == [None] * 6
    assert captures == []


def test_switch_off_means_no_capture(captures, monkeypatch):
    monkeypatch.setattr(config, "cuda_graphs", False)
    replayer = cuda_graph.Replayer()
    ex = _executable(launches=15, gemms=8)
    assert [replayer.graph_for(ex) for _ in range(5)] == [None] * 5
    monkeypatch.setattr(config, "cuda_graphs", True)
    assert [replayer.graph_for(ex) for _ in range(3)][-1] == ("graph of", ex)


def test_failed_capture_warns_once_and_keeps_the_steps(monkeypatch):
    tries = []

    def failing(executable):
        tries.append(executable)
        raise cuda_driver.DriverError("cuStreamBeginCapture failed with CUDA error 900")
    monkeypatch.setattr(cuda_graph, "GraphReplay", failing)
    replayer = cuda_graph.Replayer()
    ex = _executable(launches=15, gemms=8)
    for _ in range(cuda_graph.WARM_CALLS):
        assert replayer.graph_for(ex) is None
    with pytest.warns(RuntimeWarning, match="could not be captured"):
        assert replayer.graph_for(ex) is None
    assert [replayer.graph_for(ex) for _ in range(3)] == [None] * 3
    assert len(tries) == 1
