"""Tests for jaxdescent.bounds: hand computations and direct simulation."""

import jax

jax.config.update("jax_enable_x64", True)

import doctest  # noqa: E402
import math  # noqa: E402
import types  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from jaxdescent import bounds, schedules  # noqa: E402


def fake_problem(**changes):
    """The d2l problem f = x1^2 + 2 x2^2 (Hessian diag(2, 4)) as a bare attribute bag."""
    fields = dict(
        smoothness=4.0,
        strong_convexity=2.0,
        minimizer=jnp.zeros(2),
        min_value=0.0,
        init=jnp.array([-5.0, -2.0]),
    )
    fields.update(changes)
    return types.SimpleNamespace(**fields)


def d2l_objective(x):
    return x[..., 0] ** 2 + 2 * x[..., 1] ** 2


def gd_path(grad, x0, step_size, steps):
    """Iterates x_1, ..., x_steps of gradient descent with a constant step (lax.scan)."""

    def body(x, _):
        x = x - step_size * grad(x)
        return x, x

    return jax.lax.scan(body, jnp.asarray(x0, dtype=float), None, length=steps)[1]


# --------------------------------------------------------------------------- constants


def test_constants_from_problem():
    c = bounds.constants(fake_problem())
    assert c["L"] == 4.0 and c["mu"] == 2.0
    assert float(c["r"]) == pytest.approx(math.sqrt(29.0), rel=1e-15)
    assert set(bounds.constants(fake_problem(), names=("r",))) == {"r"}


def test_constants_callable_init_uses_key():
    init = lambda key: jax.random.normal(key, (3,))
    problem = fake_problem(init=init, minimizer=jnp.ones(3))
    default = bounds.constants(problem, names=["r"])["r"]
    expected = jnp.linalg.norm(init(jax.random.key(0)) - 1.0)
    assert float(default) == pytest.approx(float(expected), rel=1e-15)
    other = bounds.constants(problem, jax.random.key(5), names=["r"])["r"]
    assert float(other) == pytest.approx(float(jnp.linalg.norm(init(jax.random.key(5)) - 1)))


def test_constants_flattens_pytrees():
    problem = fake_problem(
        init={"w": jnp.array([[1.0, 2.0]]), "b": jnp.array(2.0)},
        minimizer={"w": jnp.array([[1.0, 0.0]]), "b": jnp.array(-1.0)},
    )
    assert float(bounds.constants(problem, names="r")["r"]) == pytest.approx(math.sqrt(13.0))


@pytest.mark.parametrize(
    "changes, names, match",
    [
        (dict(smoothness=None), ("L",), "problem.smoothness"),
        (dict(strong_convexity=None), ("mu",), "problem.strong_convexity"),
        (dict(minimizer=None), ("r",), "problem.minimizer"),
        (dict(init=None), ("r",), "problem.init"),
        (dict(minimizer={"w": jnp.zeros(2)}), ("r",), "pytree structures"),
        (dict(minimizer=jnp.zeros(3)), ("r",), "entries"),
        ({}, ("L", "kappa"), "may only contain"),
    ],
)
def test_constants_missing_attribute_raises(changes, names, match):
    with pytest.raises(ValueError, match=match):
        bounds.constants(fake_problem(**changes), names=names)


def test_constants_absent_attribute_raises():
    with pytest.raises(ValueError, match="problem.smoothness"):
        bounds.constants(types.SimpleNamespace(), names=("L",))


def test_only_needed_constants_are_read():
    problem = fake_problem(strong_convexity=None)
    out = bounds.gd_smooth_convex(problem=problem, steps=3)
    np.testing.assert_allclose(out, [4 * 29 / (4 * n + 2) for n in (1, 2, 3)], rtol=1e-15)
    with pytest.raises(ValueError, match="problem.strong_convexity"):
        bounds.gd_strongly_convex(problem=problem, steps=3)


def test_explicit_arguments_win_over_problem():
    problem = fake_problem()
    out = bounds.gd_smooth_convex_classical(L=8.0, problem=problem, steps=2)
    np.testing.assert_allclose(out, [8 * 29 / 2, 8 * 29 / 4], rtol=1e-15)
    out = bounds.gd_smooth_convex_classical(r=1.0, problem=problem, steps=1)
    np.testing.assert_allclose(out, [4 / 2], rtol=1e-15)
    assert float(bounds.gd_stable_step(problem=problem)) == 0.5
    assert float(bounds.gd_stable_step(8.0, problem=problem)) == 0.25


def test_missing_constant_without_problem_raises():
    with pytest.raises(ValueError, match="`L` is required"):
        bounds.gd_smooth_convex(r=1.0, steps=3)
    with pytest.raises(ValueError, match="`r` is required"):
        bounds.sgd_convex(G=1.0, etas=jnp.ones(3))
    with pytest.raises(ValueError, match="`G` is required"):
        bounds.sgd_convex(r=1.0, etas=jnp.ones(3))


# --------------------------------------------------------------------------- SGD, convex


def test_sgd_convex_hand_values():
    r, G, etas = 2.0, 1.5, [1.0, 0.5, 0.25]
    expected = [
        (r**2 + G**2 * 1.0) / (2 * 1.0),
        (r**2 + G**2 * (1.0 + 0.25)) / (2 * 1.5),
        (r**2 + G**2 * (1.0 + 0.25 + 0.0625)) / (2 * 1.75),
    ]
    out = bounds.sgd_convex(r, G, jnp.array(etas))
    assert out.shape == (3,)
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    # r from the problem: sqrt(29).
    out = bounds.sgd_convex(G=G, etas=jnp.array(etas), problem=fake_problem())
    assert float(out[0]) == pytest.approx((29.0 + G**2) / 2, rel=1e-14)


def test_sgd_convex_accepts_schedule_values_and_vmaps():
    counts = jnp.arange(50)
    rates = jnp.array([0.0, 0.05, 0.2])
    batched = jax.vmap(
        lambda rate: bounds.sgd_convex(1.0, 2.0, schedules.exponential(0.1, rate)(counts))
    )(rates)
    for i, rate in enumerate(rates.tolist()):
        direct = bounds.sgd_convex(1.0, 2.0, schedules.exponential(0.1, rate)(counts))
        np.testing.assert_allclose(batched[i], direct, rtol=1e-14)


def test_sgd_convex_optimal_values_and_minimality():
    r, G, T = 3.0, 2.0, 50
    step, bound = bounds.sgd_convex_optimal(r, G, T)
    assert float(step) == pytest.approx(r / (G * math.sqrt(T)), rel=1e-15)
    assert float(bound) == pytest.approx(r * G / math.sqrt(T), rel=1e-15)
    at_optimum = bounds.sgd_convex(r, G, jnp.full(T, step))[-1]
    assert float(at_optimum) == pytest.approx(float(bound), rel=1e-13)
    for factor in (0.5, 0.9, 0.99, 1.01, 1.1, 2.0):
        nearby = bounds.sgd_convex(r, G, jnp.full(T, step * factor))[-1]
        assert float(nearby) > float(bound)
    # The matching schedule gives the same constant step.
    assert float(schedules.optimal_convex(r, G, T)(0)) == pytest.approx(float(step), rel=1e-15)


def test_sgd_convex_optimal_traced_horizon():
    horizons = jnp.array([1.0, 4.0, 100.0])
    steps, bound = jax.vmap(lambda T: bounds.sgd_convex_optimal(1.0, 1.0, T))(horizons)
    np.testing.assert_allclose(steps, [1.0, 0.5, 0.1], rtol=1e-15)
    np.testing.assert_allclose(bound, [1.0, 0.5, 0.1], rtol=1e-15)


def test_sgd_convex_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        bounds.sgd_convex(1.0, 1.0, jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="non-empty"):
        bounds.sgd_convex(1.0, 1.0, jnp.ones(0))
    with pytest.raises(ValueError, match="positive"):
        bounds.sgd_convex_optimal(1.0, 1.0, 0)


# --------------------------------------------------------------------------- GD, smooth convex


def test_gd_smooth_convex_hand_values():
    # L = 2, r = 3, step 0.25 -> L * gamma = 0.5.
    out = bounds.gd_smooth_convex(2.0, 3.0, 3, 0.25)
    np.testing.assert_allclose(out, [18 / 4, 18 / 6, 18 / 8], rtol=1e-15)
    # Default step 1/L: L r^2 / (4 n + 2).
    out = bounds.gd_smooth_convex(2.0, 3.0, 2)
    np.testing.assert_allclose(out, [18 / 6, 18 / 10], rtol=1e-15)
    out = bounds.gd_smooth_convex_classical(2.0, 3.0, 3)
    np.testing.assert_allclose(out, [9.0, 4.5, 3.0], rtol=1e-15)


def test_gd_smooth_convex_is_below_classical():
    tight = bounds.gd_smooth_convex(3.0, 2.0, 100)
    classical = bounds.gd_smooth_convex_classical(3.0, 2.0, 100)
    assert np.all(tight < classical)


def test_gd_smooth_convex_holds_on_quadratics():
    L, steps = 4.0, 40
    # The 1-D quadratic L/2 x^2 with step 1/L (GD lands on the minimiser at once).
    x0 = jnp.array([3.0])
    path = gd_path(lambda x: L * x, x0, 1 / L, steps)
    gaps = L / 2 * jnp.sum(path**2, axis=-1)
    assert np.all(gaps <= bounds.gd_smooth_convex(L, 3.0, steps))
    # A quadratic with a spread of curvatures in (0, L], steps 1/L and 0.3/L.
    curv = jnp.array([L, 1.0, 0.1, 0.01, 1e-3])
    x0 = jnp.array([1.0, -2.0, 3.0, -4.0, 5.0])
    r = float(jnp.linalg.norm(x0))
    for gamma in (1 / L, 0.3 / L):
        path = gd_path(lambda x: curv * x, x0, gamma, steps)
        gaps = 0.5 * jnp.sum(curv * path**2, axis=-1)
        assert np.all(gaps <= bounds.gd_smooth_convex(L, r, steps, gamma))


@pytest.mark.parametrize("h", [1.0, 0.5, 0.1])
def test_gd_smooth_convex_is_attained_by_huber(h):
    """Drori & Teboulle's worst case: a Huber function attains the bound at step N."""
    L, r = 2.0, 1.5
    bound = bounds.gd_smooth_convex(L, r, 8, h / L)
    for N in range(1, 9):
        delta = r / (2 * N * h + 1)

        def f(x, delta=delta):
            return L / 2 * x**2 if abs(x) <= delta else L * delta * abs(x) - L * delta**2 / 2

        def grad(x, delta=delta):
            return L * x if abs(x) <= delta else L * delta * math.copysign(1.0, x)

        x = r
        for n in range(1, N + 1):
            x = x - h / L * grad(x)
            assert f(x) <= float(bound[n - 1]) * (1 + 1e-12)
        assert f(x) == pytest.approx(float(bound[N - 1]), rel=1e-12)


def test_gd_smooth_convex_vmaps_over_step_sizes():
    gammas = jnp.array([0.01, 0.1, 0.25])
    batched = jax.vmap(lambda g: bounds.gd_smooth_convex(4.0, 1.0, 10, g))(gammas)
    for i, g in enumerate(gammas.tolist()):
        np.testing.assert_allclose(batched[i], bounds.gd_smooth_convex(4.0, 1.0, 10, g), rtol=0)


def test_gd_smooth_convex_step_size_validity():
    with pytest.raises(ValueError, match=r"\(0, 1/L\]"):
        bounds.gd_smooth_convex(4.0, 1.0, 10, 0.3)
    with pytest.raises(ValueError, match=r"\(0, 1/L\]"):
        bounds.gd_smooth_convex(4.0, 1.0, 10, 0.0)
    # Traced out-of-range steps cannot raise; they give NaN instead of a wrong bound.
    batched = jax.vmap(lambda g: bounds.gd_smooth_convex(4.0, 1.0, 5, g))(jnp.array([0.2, 0.3]))
    assert np.all(np.isfinite(batched[0])) and np.all(np.isnan(batched[1]))
    # 1/L computed in floating point is accepted.
    L = 3.0
    assert np.all(np.isfinite(bounds.gd_smooth_convex(L, 1.0, 3, 1 / L)))


@pytest.mark.parametrize("steps", [0, -1, 2.0, None, jnp.array(3)])
def test_bad_steps_raise(steps):
    with pytest.raises(ValueError, match="`steps`"):
        bounds.gd_smooth_convex(1.0, 1.0, steps)
    with pytest.raises(ValueError, match="`steps`"):
        bounds.gd_strongly_convex(2.0, 1.0, 1.0, steps)


# --------------------------------------------------------------------------- GD, strongly convex


def test_gd_strongly_convex_hand_values():
    # L = 4, mu = 1, step 0.4: |1 - 0.4| = |1 - 1.6| = 0.6.
    dist = bounds.gd_strongly_convex(4.0, 1.0, 2.0, 3, 0.4)
    np.testing.assert_allclose(dist, [1.2, 0.72, 0.432], rtol=1e-14)
    value = bounds.gd_strongly_convex(4.0, 1.0, 2.0, 2, 0.4, measure="value")
    np.testing.assert_allclose(value, [2 * 0.36 * 4, 2 * 0.1296 * 4], rtol=1e-14)
    # Default step 1/L: rho = 1 - mu / L = 0.75.
    np.testing.assert_allclose(bounds.gd_strongly_convex(4.0, 1.0, 1.0, 2), [0.75, 0.5625])


def test_gd_strongly_convex_exact_on_quadratic():
    L, mu, r, steps = 4.0, 1.0, 2.0, 30
    curv = jnp.array([mu, L])
    grad = lambda x: curv * x
    # Small step: the mu axis is the slow one.
    path = gd_path(grad, jnp.array([r, 0.0]), 1 / L, steps)
    np.testing.assert_allclose(
        jnp.linalg.norm(path, axis=-1), bounds.gd_strongly_convex(L, mu, r, steps), rtol=1e-12
    )
    # Large step (> 2 / (L + mu)): the L axis is the slow one; the value bound is exact too.
    gamma = 1.8 / L
    path = gd_path(grad, jnp.array([0.0, r]), gamma, steps)
    np.testing.assert_allclose(
        jnp.linalg.norm(path, axis=-1),
        bounds.gd_strongly_convex(L, mu, r, steps, gamma),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        0.5 * jnp.sum(curv * path**2, axis=-1),
        bounds.gd_strongly_convex(L, mu, r, steps, gamma, measure="value"),
        rtol=1e-12,
    )


def test_gd_bounds_hold_on_d2l_problem():
    problem = fake_problem()
    grad = lambda x: jnp.array([2.0, 4.0]) * x
    for gamma in (0.05, 0.1, 0.25):
        path = gd_path(grad, problem.init, gamma, 25)
        dist = jnp.linalg.norm(path, axis=-1)
        gap = d2l_objective(path)
        assert np.all(dist <= bounds.gd_strongly_convex(problem=problem, steps=25, step_size=gamma))
        assert np.all(
            gap
            <= bounds.gd_strongly_convex(
                problem=problem, steps=25, step_size=gamma, measure="value"
            )
        )
        assert np.all(gap <= bounds.gd_smooth_convex(problem=problem, steps=25, step_size=gamma))


def test_gd_strongly_convex_vmaps_over_step_sizes():
    gammas = jnp.linspace(0.05, 0.6, 7)
    batched = jax.vmap(lambda g: bounds.gd_strongly_convex(4.0, 1.0, 1.0, 12, g))(gammas)
    for i, g in enumerate(gammas.tolist()):
        np.testing.assert_allclose(batched[i], bounds.gd_strongly_convex(4.0, 1.0, 1.0, 12, g))


def test_gd_strongly_convex_bad_input():
    with pytest.raises(ValueError, match="0 <= mu <= L"):
        bounds.gd_strongly_convex(1.0, 2.0, 1.0, 3)
    with pytest.raises(ValueError, match="measure"):
        bounds.gd_strongly_convex(2.0, 1.0, 1.0, 3, measure="gap")
    with pytest.raises(ValueError, match="positive"):
        bounds.gd_strongly_convex(2.0, 1.0, 1.0, 3, step_size=-0.1)


def test_gd_stable_step_threshold():
    L = 4.0
    stable = bounds.gd_stable_step(L)
    assert float(stable) == 0.5
    curv = jnp.array([0.4, L])
    x0 = jnp.array([1.0, 1.0])
    above = gd_path(lambda x: curv * x, x0, stable * 1.01, 200)
    below = gd_path(lambda x: curv * x, x0, stable * 0.99, 200)
    assert float(jnp.linalg.norm(above[-1])) > 10 * float(jnp.linalg.norm(x0))
    assert float(jnp.linalg.norm(below[-1])) < 0.1 * float(jnp.linalg.norm(x0))
    # Growth is monotone above the threshold, decay monotone below it.
    assert np.all(np.diff(np.abs(above[:, 1])) > 0)
    assert np.all(np.diff(np.abs(below[:, 1])) < 0)


# --------------------------------------------------------------------------- SGD on a quadratic


def test_quadratic_sgd_moments_hand_values():
    mom = bounds.quadratic_sgd_moments(
        jnp.array([0.5]), jnp.array([2.0]), jnp.array([0.5, 0.25]), 2.0
    )
    # Step 1: factor 1 - 2 * 0.5 * 0.5 = 0.5, variance 0.25 * 4 = 1.
    # Step 2: factor 1 - 2 * 0.25 * 0.5 = 0.75, variance 0.5625 * 1 + 0.0625 * 4 = 0.8125.
    np.testing.assert_allclose(mom.mean, [[1.0], [0.75]], rtol=1e-15)
    np.testing.assert_allclose(mom.std, [[1.0], [math.sqrt(0.8125)]], rtol=1e-15)
    np.testing.assert_allclose(mom.sq_dist, [1.0 + 1.0, 0.5625 + 0.8125], rtol=1e-15)


def test_quadratic_sgd_moments_noiseless_is_gd_exactly():
    scales = jnp.array([1.0, 2.0, 0.3])
    init = jnp.array([-5.0, -2.0, 4.0])
    etas = schedules.exponential(0.2, 0.05)(jnp.arange(40))
    mom = bounds.quadratic_sgd_moments(scales, init, etas, 0.0)

    # GD with the step-size sequence, as a scanned program: bit-for-bit the same iterates.
    def body(x, eta):
        x = x - eta * (2 * scales * x)
        return x, x

    np.testing.assert_array_equal(mom.mean, jax.lax.scan(body, init, etas)[1])
    np.testing.assert_array_equal(mom.std, 0.0)
    # An eager Python loop agrees up to rounding (XLA may contract to fused multiply-adds).
    x, path = init, []
    for eta in etas:
        x = x - eta * (2 * scales * x)
        path.append(x)
    np.testing.assert_allclose(mom.mean, jnp.stack(path), rtol=1e-13)
    np.testing.assert_allclose(mom.sq_dist, jnp.sum(mom.mean**2, axis=-1), rtol=1e-15)
    assert mom.mean.shape == mom.std.shape == (40, 3) and mom.sq_dist.shape == (40,)


def test_quadratic_sgd_moments_monte_carlo():
    """d2l's setting: f = x1^2 + 2 x2^2, unit gradient noise, from (-5, -2)."""
    scales, init, noise = jnp.array([1.0, 2.0]), jnp.array([-5.0, -2.0]), 1.0
    steps, samples = 30, 20_000
    etas = schedules.polynomial(0.1, 0.5, 0.1)(jnp.arange(steps))
    mom = bounds.quadratic_sgd_moments(scales, init, etas, noise)

    z = jax.random.normal(jax.random.key(42), (steps, samples, 2))

    def body(x, inputs):
        eta, zt = inputs
        x = x - eta * (2 * scales * x + noise * zt)
        return x, x

    x0 = jnp.broadcast_to(init, (samples, 2))
    _, xs = jax.lax.scan(body, x0, (etas, z))  # (steps, samples, 2)

    mc_mean = jnp.mean(xs, axis=1)
    mc_std = jnp.std(xs, axis=1)
    mc_sq = jnp.sum(xs**2, axis=-1)  # (steps, samples)
    tol = 5.0 / math.sqrt(samples)
    assert np.all(jnp.abs(mc_mean - mom.mean) <= tol * mom.std + 1e-12)
    assert np.all(jnp.abs(mc_std - mom.std) <= tol / math.sqrt(2) * mom.std + 1e-12)
    sq_err = jnp.abs(jnp.mean(mc_sq, axis=1) - mom.sq_dist)
    assert np.all(sq_err <= tol * jnp.std(mc_sq, axis=1))
    # The distance to the optimum first shrinks, then levels off at the noise floor.
    assert float(mom.sq_dist[-1]) < 0.5 * float(d2l_objective(init))


def test_quadratic_sgd_moments_vmaps_over_noise_and_etas():
    scales, init = jnp.array([1.0, 2.0]), jnp.array([-5.0, -2.0])
    etas = jnp.full(20, 0.1)
    noises = jnp.array([0.0, 0.5, 2.0])
    batched = jax.vmap(lambda s: bounds.quadratic_sgd_moments(scales, init, etas, s))(noises)
    for i, s in enumerate(noises.tolist()):
        direct = bounds.quadratic_sgd_moments(scales, init, etas, s)
        np.testing.assert_allclose(batched.std[i], direct.std, rtol=1e-14)
        np.testing.assert_allclose(batched.sq_dist[i], direct.sq_dist, rtol=1e-14)
    rates = jnp.array([0.0, 0.1])
    batched = jax.vmap(
        lambda rate: bounds.quadratic_sgd_moments(
            scales, init, schedules.exponential(0.1, rate)(jnp.arange(20)), 1.0
        )
    )(rates)
    assert batched.mean.shape == (2, 20, 2)
    np.testing.assert_allclose(
        batched.sq_dist[0], bounds.quadratic_sgd_moments(scales, init, etas, 1.0).sq_dist
    )


def test_quadratic_sgd_moments_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        bounds.quadratic_sgd_moments(jnp.ones(2), jnp.ones(2), jnp.ones((3, 2)), 1.0)
    with pytest.raises(ValueError, match="broadcast"):
        bounds.quadratic_sgd_moments(jnp.ones(3), jnp.ones(2), jnp.ones(3), 1.0)


def test_docstring_examples_run():
    failures, tried = doctest.testmod(bounds)
    assert tried > 0
    assert failures == 0
