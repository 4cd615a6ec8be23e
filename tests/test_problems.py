"""Built-in problems: values, minimizers and constants against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdescent as jd

X_DATA, Y_DATA = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]


def test_seed_mse_values():
    # Seed 002 prints MSE for w = 0.0, 0.1, ..., 0.6.
    p = jd.problems.linear_regression(X_DATA, Y_DATA)
    printed = {
        0.0: 18.6666666667,
        0.1: 16.8466666667,
        0.2: 15.12,
        0.3: 13.4866666667,
        0.4: 11.9466666667,
        0.5: 10.5,
        0.6: 9.14666666667,
    }
    for w, mse in printed.items():
        assert float(p.objective(w)) == pytest.approx(mse, abs=1e-10)
    assert float(p.objective(0.0)) == 56.0 / 3
    assert float(p.minimizer) == 2.0 and float(p.min_value) == 0.0
    # f''(w) = 2 mean(x^2) = 28/3
    assert float(p.smoothness) == pytest.approx(28 / 3) == float(p.strong_convexity)


def test_linear_regression_with_bias_matches_lstsq():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20)
    y = 3 * x - 1 + 0.1 * rng.normal(size=20)
    p = jd.problems.linear_regression(x, y, bias=True)
    A = np.stack([x, np.ones_like(x)], 1)
    (w, b), *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose([p.minimizer["w"], p.minimizer["b"]], [w, b], rtol=1e-12)
    hess = jax.hessian(lambda q: p.objective({"w": q[0], "b": q[1]}))(jnp.zeros(2))
    eig = np.linalg.eigvalsh(np.asarray(hess))
    np.testing.assert_allclose([p.strong_convexity, p.smoothness], eig, rtol=1e-12)
    assert set(p.init) == {"w", "b"} and float(p.init["w"]) == 1.0 and float(p.init["b"]) == 0.0
    g = jax.grad(p.objective)(p.minimizer)
    assert abs(float(g["w"])) < 1e-12 and abs(float(g["b"])) < 1e-12


def test_least_squares_constants_from_spectrum():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    p = jd.problems.least_squares(X, y)
    hess = np.asarray(jax.hessian(p.objective)(jnp.zeros(4)))
    eig = np.linalg.eigvalsh(hess)
    np.testing.assert_allclose([p.strong_convexity, p.smoothness], [eig[0], eig[-1]], rtol=1e-10)
    np.testing.assert_allclose(p.minimizer, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)
    assert np.allclose(jax.grad(p.objective)(p.minimizer), 0, atol=1e-12)
    assert p.init.shape == (4,) and p.n_examples == 30


def test_quadratic_is_d2l_function():
    p = jd.problems.quadratic()
    x = jnp.array([-5.0, -2.0])
    assert float(p.objective(x)) == 25 + 2 * 4
    np.testing.assert_array_equal(jax.grad(p.objective)(x), [2 * -5.0, 4 * -2.0])
    assert float(p.smoothness) == 4.0 and float(p.strong_convexity) == 2.0
    np.testing.assert_array_equal(p.init, [-5.0, -2.0])
    q = jd.problems.quadratic(scales=(0.5, 3.0, 7.0), init=(1.0, 1.0, 1.0))
    assert float(q.smoothness) == 14.0 and float(q.strong_convexity) == 1.0


@pytest.mark.parametrize(
    "problem, point",
    [(jd.problems.himmelblau(), m) for m in jd.problems.HIMMELBLAU_MINIMA]
    + [
        (jd.problems.rosenbrock(), (1.0, 1.0)),
        (jd.problems.rosenbrock(a=2.0, b=10.0), (2.0, 4.0)),
        (jd.problems.rosenbrock(init=(0.0, 0.0, 0.0, 0.0)), (1.0, 1.0, 1.0, 1.0)),
        (jd.problems.rastrigin(dim=3), (0.0, 0.0, 0.0)),
    ],
)
def test_minima_are_stationary_with_value_zero(problem, point):
    x = jnp.asarray(point)
    assert abs(float(problem.objective(x))) < 1e-20
    assert float(jnp.max(jnp.abs(jax.grad(problem.objective)(x)))) < 1e-12
    if problem.minimizer is not None:
        np.testing.assert_allclose(problem.minimizer, x)


def test_rastrigin_has_local_minima_and_smoothness():
    p = jd.problems.rastrigin(dim=1, init=(1.0,))
    # Near x = 1 there is a local minimum with value ~ 1 > 0.
    x = jnp.array([0.99496])
    assert abs(float(jax.grad(p.objective)(x)[0])) < 1e-3 and 0.9 < float(p.objective(x)) < 1.1
    h = jax.hessian(p.objective)(jnp.zeros(1))[0, 0]
    assert float(h) == pytest.approx(float(p.smoothness))


def test_random_init_per_key():
    p = jd.problems.quadratic(init=lambda key: jax.random.normal(key, (2,)))
    a, b = p.initial_params(jax.random.key(0)), p.initial_params(jax.random.key(1))
    assert a.shape == (2,) and not np.allclose(a, b)


def test_problem_is_a_pytree_with_static_loss():
    p1 = jd.problems.linear_regression(X_DATA, Y_DATA)
    p2 = jd.problems.linear_regression([4.0, 5.0, 6.0], [1.0, 2.0, 3.0], init=3.0)
    assert jax.tree.structure(p1) == jax.tree.structure(p2)
    leaves = jax.tree.leaves(p1)
    assert all(isinstance(leaf, jax.Array) for leaf in leaves)
    traces = []

    @jax.jit
    def f(problem):
        traces.append(1)
        return problem.objective(problem.initial_params())

    assert float(f(p1)) == pytest.approx(float(p1.objective(1.0)))
    assert float(f(p2)) == pytest.approx(float(p2.objective(3.0)))
    assert len(traces) == 1


def test_problem_replace_and_immutability():
    p = jd.problems.quadratic()
    with pytest.raises(AttributeError):
        p.name = "x"
    q = p.replace(init=jnp.array([1.0, 1.0]), name="other")
    assert q.name == "other" and float(q.objective(q.init)) == 3.0 and p.name == "quadratic"
