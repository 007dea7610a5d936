"""Each example run with reduced sizes, asserting the thing it demonstrates."""
import importlib.util
import os

import numpy as np
import pytest

import dprog as dp

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def digits():
    import sklearn  # noqa: F401  (a test extra: a missing install must fail, not skip)
    return load("train_digits")


def test_train_digits_reaches_accuracy_with_one_compiled_step(digits):
    result = digits.train(epochs=15, progress=False)
    history = result["history"]
    assert result["test_accuracy"] > 0.95
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert result["compiles"] == 1  # every step reused one executable
    assert len(history["test_accuracy"]) == 15


def test_train_digits_main_writes_plot(digits, tmp_path, capsys):
    import matplotlib  # noqa: F401
    path = tmp_path / "curve.png"
    rc = digits.main(["--epochs", "2", "--limit", "400", "--no-progress", "--plot", str(path)])
    assert rc == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "test accuracy" in capsys.readouterr().out


def test_train_digits_cuda_without_gpu_exits_nonzero(digits, capsys, monkeypatch):
    monkeypatch.setattr(digits, "cuda_available", lambda: False)
    assert digits.main(["--device", "cuda", "--no-progress"]) != 0
    assert "no CUDA GPU" in capsys.readouterr().err


def test_fit_spring_recovers_parameters(tmp_path):
    spring = load("fit_spring")
    result = spring.fit(steps=200, iterations=120)
    assert abs(result["k"] - spring.TRUE["k"]) < 0.05 * spring.TRUE["k"]
    assert abs(result["c"] - spring.TRUE["c"]) < 0.15 * spring.TRUE["c"]
    assert result["losses"][-1] < 0.01 * result["losses"][0]
    spring.plot(result, tmp_path / "spring.png")
    assert (tmp_path / "spring.png").stat().st_size > 0


def test_gmm_recovers_means_and_likelihood_increases(tmp_path):
    gmm = load("gmm")
    result = gmm.fit(n=300, iterations=200, seed=1)
    order = gmm.match_components(result["params"]["means"])
    assert len(set(order.tolist())) == 3  # one fitted component per true one
    np.testing.assert_allclose(result["params"]["means"][order], gmm.TRUE_MEANS, atol=0.25)
    np.testing.assert_allclose(result["weights"][order], gmm.TRUE_WEIGHTS, atol=0.05)
    assert result["history"][-1] > result["history"][0] + 0.5
    assert result["history"][-1] >= result["true_ll"] - 0.02  # at least as good as the truth
    gmm.plot(result, tmp_path / "gmm.png")


def test_newton_hvp_is_the_hessian_times_v():
    newton = load("newton")
    a = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    v = np.array([0.3, -1.0, 2.0])
    quad = lambda w: 0.5 * w @ (a @ w) + dp.numpy.sum(w ** 4)  # noqa: E731
    w = np.array([0.5, -0.2, 1.0])
    np.testing.assert_allclose(newton.hvp_of(quad)(w, v), a @ v + 12 * w ** 2 * v, rtol=1e-12)
    x = newton.conjugate_gradient(lambda p: a @ p, v)
    np.testing.assert_allclose(a @ x, v, atol=1e-10)


def test_newton_beats_gradient_descent(tmp_path):
    newton = load("newton")
    result = newton.run(iterations=8)
    nt, gd = result["logistic"]
    assert nt[-1] < 1e-9 and gd[-1] > 1e-3
    rb_newton, rb_gd = result["rosenbrock"]
    assert rb_newton[-1] < 1e-8 and rb_gd[-1] > 1e-2
    np.testing.assert_allclose(result["rosenbrock_solution"], [1.0, 1.0], atol=1e-6)
    newton.plot(result, tmp_path / "newton.png")
