"""dp.jacfwd / dp.jacrev / dp.hessian against closed forms and finite differences."""
import numpy as np
import pytest

import dprog as dp
import dprog.numpy as dnp

RNG = np.random.default_rng(2)
A = RNG.standard_normal((3, 4))


def rand(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def numeric_jacobian(f, x, eps=1e-6):
    """Central differences: out.shape + x.shape."""
    x = np.asarray(x, np.float64)
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        jac[(...,) + i] = (np.asarray(f(x + d)) - np.asarray(f(x - d))) / (2 * eps)
    return jac


def vector_fn(x):
    return dnp.sin(A @ x) * dnp.sum(x ** 2)


@pytest.mark.parametrize("jac", [dp.jacfwd, dp.jacrev])
def test_matches_finite_differences(jac):
    x = rand(4)
    got = jac(vector_fn)(x)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, numeric_jacobian(vector_fn, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jac", [dp.jacfwd, dp.jacrev])
def test_closed_forms_matrix_input(jac):
    x = rand(2, 3)
    # elementwise: the Jacobian is diagonal, leaf shape out.shape + in.shape
    got = jac(dnp.tanh)(x)
    want = np.zeros((2, 3, 2, 3))
    for i in np.ndindex(2, 3):
        want[i + i] = 1 - np.tanh(x[i]) ** 2
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # linear map: d(W x)/dx = W, and the scalar output has a Jacobian shaped like x
    np.testing.assert_allclose(jac(lambda v: A @ v)(rand(4)), A, rtol=1e-12)
    np.testing.assert_allclose(jac(lambda m: dnp.sum(m ** 3))(x), 3 * x ** 2, rtol=1e-12)


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("jac", [dp.jacfwd, dp.jacrev])
def test_dtypes_preserved(jac, dtype, rtol):
    x = rand(5, dtype=dtype)
    got = jac(lambda v: dnp.exp(v) * v[0])(x)
    assert got.dtype == dtype
    want = np.diag(np.exp(x) * x[0]).astype(np.float64)
    want[:, 0] += np.exp(x)
    np.testing.assert_allclose(got, want, rtol=rtol)


@pytest.mark.parametrize("jac", [dp.jacfwd, dp.jacrev])
def test_pytree_inputs_and_outputs(jac):
    p = {"w": rand(3), "b": np.float64(0.7)}
    x = rand(3)

    def f(p, x):
        return {"y": p["w"] * x + p["b"], "s": dnp.sum(p["w"] ** 2)}

    J = jac(f)(p, x)
    assert set(J) == {"y", "s"} and set(J["y"]) == {"w", "b"}
    np.testing.assert_allclose(J["y"]["w"], np.diag(x))
    np.testing.assert_allclose(J["y"]["b"], np.ones(3))
    np.testing.assert_allclose(J["s"]["w"], 2 * p["w"])
    assert np.shape(J["s"]["b"]) == ()
    np.testing.assert_allclose(J["s"]["b"], 0.0)
    # argnums tuple: the inner structure is the tuple of the chosen arguments
    Jp, Jx = jac(lambda p, x: p["w"] * x, argnums=(0, 1))(p, x)
    np.testing.assert_allclose(Jp["w"], np.diag(x))
    np.testing.assert_allclose(Jx, np.diag(p["w"]))
    # tuple outputs: the outer structure is the output's
    a, b = jac(lambda x: (x * 2.0, dnp.sum(x)), argnums=0)(x)
    np.testing.assert_allclose(a, 2 * np.eye(3))
    np.testing.assert_allclose(b, np.ones(3))


@pytest.mark.parametrize("jac", [dp.jacfwd, dp.jacrev])
def test_has_aux(jac):
    x = rand(3)
    J, aux = jac(lambda v: (v ** 2, {"n": dnp.sum(v), "i": dnp.argmax(v)}), has_aux=True)(x)
    np.testing.assert_allclose(J, np.diag(2 * x))
    np.testing.assert_allclose(aux["n"], x.sum())
    assert aux["i"] == np.argmax(x)
    with pytest.raises(dp.TransformError, match="pair"):
        jac(lambda v: v, has_aux=True)(x)


def test_hessian_closed_form_and_fd():
    x = rand(4)
    M = A.T @ A
    quad = lambda v: 0.5 * dnp.dot(v, dnp.dot(M, v)) + dnp.sum(dnp.sin(v))  # noqa: E731
    np.testing.assert_allclose(dp.hessian(quad)(x), M - np.diag(np.sin(x)), rtol=1e-10)
    f = lambda v: dnp.sum(dnp.tanh(A @ v) ** 2)  # noqa: E731
    H = dp.hessian(f)(x)
    np.testing.assert_allclose(H, H.T, rtol=1e-10)
    np.testing.assert_allclose(H, numeric_jacobian(dp.grad(f), x), rtol=1e-5, atol=1e-7)


def test_hessian_argnums_and_matrix_input():
    x, y = rand(2, 2), rand(3)
    f = lambda a, b: dnp.sum(a ** 2) * dnp.sum(b ** 3)  # noqa: E731
    H = dp.hessian(f, argnums=1)(x, y)
    np.testing.assert_allclose(H, np.diag(6 * y) * np.sum(x ** 2), rtol=1e-12)
    Hx = dp.hessian(f)(x, y)
    assert Hx.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(Hx.reshape(4, 4), 2 * np.eye(4) * np.sum(y ** 3), rtol=1e-12)


def test_composes_with_jit_vmap_and_mixed_modes():
    x = rand(4)
    np.testing.assert_allclose(dp.jit(dp.jacrev(vector_fn))(x), dp.jacfwd(vector_fn)(x), rtol=1e-12)
    xs = rand(3, 4)
    batched = dp.vmap(dp.jacrev(vector_fn))(xs)
    np.testing.assert_allclose(batched, np.stack([dp.jacfwd(vector_fn)(r) for r in xs]), rtol=1e-12)
    f = lambda v: dnp.sum(dnp.exp(v) * v)  # noqa: E731
    np.testing.assert_allclose(dp.jacrev(dp.jacrev(f))(x), dp.hessian(f)(x), rtol=1e-12)
    np.testing.assert_allclose(dp.jacfwd(dp.jacfwd(f))(x), np.diag(np.exp(x) * (x + 2)), rtol=1e-12)


def test_integer_input_rejected():
    with pytest.raises(dp.TransformError, match="float"):
        dp.jacrev(lambda v: v * 2)(np.arange(3))


def _node_count(jac, n, m):
    W = np.ones((m, n))
    return len(dp.make_graph(jac(lambda v: dnp.tanh(W @ v)))(np.ones(n)).nodes)


@pytest.mark.parametrize("jac", [dp.jacrev, dp.jacfwd])
def test_one_batched_pass_not_a_loop(jac):
    # One vmapped VJP/JVP: the graph does not grow with the number of basis vectors.
    counts = {_node_count(jac, n, m) for n in (2, 7, 31) for m in (3, 11)}
    assert len(counts) == 1, counts


def test_hessian_of_pytree_input():
    p = {"w": rand(3), "b": np.float64(0.3)}
    H = dp.hessian(lambda p: dnp.sum(p["w"] ** 2) * p["b"] ** 2)(p)
    np.testing.assert_allclose(H["w"]["w"], 2 * p["b"] ** 2 * np.eye(3), rtol=1e-12)
    np.testing.assert_allclose(H["w"]["b"], 4 * p["b"] * p["w"], rtol=1e-12)
    np.testing.assert_allclose(H["b"]["w"], 4 * p["b"] * p["w"], rtol=1e-12)
    np.testing.assert_allclose(H["b"]["b"], 2 * np.sum(p["w"] ** 2), rtol=1e-12)
