"""Momentum theory (heavy-ball stable step, rate, optimum), the Drori-Teboulle witness,
the sharpness metric and empirical rates, each against closed forms and runs (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import jaxdescent as jd

QUAD = jd.problems.quadratic(scales=(0.05, 0.5), init=(1.0, 1.0))  # eigenvalues 0.1, 1


def test_heavy_ball_optimal_gives_gohs_numbers():
    opt = jd.bounds.heavy_ball_optimal(0.01, 1.0)
    assert isinstance(opt, jd.bounds.HeavyBallOptimum)
    np.testing.assert_allclose([opt.lr, opt.momentum, opt.rate], [4 / 1.21, 0.81 / 1.21, 9 / 11])
    assert [round(float(v), 5) for v in opt] == [3.30579, 0.66942, 0.81818]
    # the optimum's rate is sqrt(beta*), reached by every eigenvalue in [mu, L]
    rates = jd.bounds.heavy_ball_rate(opt.lr, opt.momentum, np.linspace(0.01, 1.0, 50))
    assert np.isclose(float(rates), 9 / 11, rtol=1e-12)
    # from a problem: quadratic scales (0.005, 0.5) have Hessian eigenvalues 0.01, 1
    from_problem = jd.bounds.heavy_ball_optimal(problem=jd.problems.quadratic((0.005, 0.5)))
    np.testing.assert_allclose(from_problem, opt, rtol=1e-12)


def test_heavy_ball_rate_is_the_spectral_radius_of_optax_iteration():
    rng = np.random.default_rng(0)
    lr, beta, lam = rng.uniform(0, 3, 500), rng.uniform(0, 0.99, 500), rng.uniform(-0.5, 2, 500)
    M = np.array([[1 - lr * lam, -lr * beta], [lam, beta]]).transpose(2, 0, 1)  # (x, v) map
    expected = np.max(np.abs(np.linalg.eigvals(M)), axis=-1)
    got = jax.vmap(jd.bounds.heavy_ball_rate)(lr, beta, lam)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # the complex regime: sqrt(beta); beta = 0: gradient descent's max |1 - lr lam|
    assert float(jd.bounds.heavy_ball_rate(1.0, 0.25, [1.0, 2.0])) == 0.5
    assert np.isclose(float(jd.bounds.heavy_ball_rate(0.5, 0.0, [0.1, 1.0, 3.0])), 0.95)


def test_heavy_ball_functions_take_traced_values_and_broadcast():
    lam = jnp.array([0.1, 1.0])
    lrs, betas = jnp.array([0.5, 1.0, 2.0]), jnp.array([0.0, 0.5, 0.9])
    table = jd.bounds.heavy_ball_rate(lrs[:, None], betas[None, :], lam)
    assert table.shape == (3, 3)
    traced = jax.jit(
        jax.vmap(jax.vmap(jd.bounds.heavy_ball_rate, (None, 0, None)), (0, None, None))
    )
    np.testing.assert_allclose(traced(lrs, betas, lam), table, rtol=1e-14)
    edge = jax.jit(jax.vmap(jd.bounds.heavy_ball_stable_step, (None, 0)))(2.0, betas)
    np.testing.assert_allclose(edge, (2 + 2 * np.asarray(betas)) / 2.0)
    opt = jax.jit(jd.bounds.heavy_ball_optimal)(0.01, 1.0)
    assert np.isclose(float(opt.rate), 9 / 11)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: jd.bounds.heavy_ball_optimal(2.0, 1.0), "mu <= L"),
        (lambda: jd.bounds.heavy_ball_optimal(-0.1, 1.0), "`mu`"),
        (lambda: jd.bounds.heavy_ball_optimal(0.1, 0.0), "`L`"),
        (lambda: jd.bounds.heavy_ball_stable_step(-1.0, 0.5), "`L`"),
        (lambda: jd.bounds.heavy_ball_stable_step(1.0, 1.0), "`momentum`"),
        (lambda: jd.bounds.heavy_ball_rate(-0.1, 0.5, 1.0), "`lr`"),
        (lambda: jd.bounds.heavy_ball_rate(0.1, -0.5, 1.0), "`momentum`"),
        (lambda: jd.bounds.heavy_ball_rate(0.1, 0.5, np.ones((2, 2))), "`eigenvalues`"),
        (lambda: jd.bounds.heavy_ball_optimal(), "`mu` is required"),
    ],
)
def test_heavy_ball_bad_constants_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def edge_sgd(factor, momentum):
    """optax's heavy ball at ``factor`` times its stable edge (2 + 2 beta) / L (traced)."""
    return optax.sgd(factor * jd.bounds.heavy_ball_stable_step(1.0, momentum), momentum=momentum)


def test_stability_edge_at_099_and_101_times_for_three_momenta():
    betas = [0.0, 0.5, 0.9]
    res = jd.sweep(
        QUAD,
        edge_sgd,
        {"factor": [0.99, 1.01], "momentum": betas},
        seeds=1,
        steps=3000,
        log_every=100,
        metrics={"d": "distance"},
        keep_params=False,
    )
    d = np.asarray(res.metrics["d"])[:, :, 0]  # (factor, momentum, n_log)
    assert np.all(d[0, :, -1] < 1e-10)  # 0.99 x the edge: converges
    assert np.all(d[1, :, -1] > 1e10)  # 1.01 x the edge: blows up
    # and at the rate theory gives, on both sides of the edge
    rate = jd.rates.geometric_rate(d, res.step, start=500, stop=1000, block=3)
    lr = np.array([0.99, 1.01])[:, None] * (2 + 2 * np.array(betas))[None, :]
    theory = np.asarray(jd.bounds.heavy_ball_rate(lr, np.array(betas)[None, :], [0.1, 1.0]))
    assert np.all(theory[0] < 1) and np.all(theory[1] > 1)
    np.testing.assert_allclose(rate, theory, rtol=2e-3)


def test_empirical_rate_of_runs_equals_heavy_ball_rate():
    lrs, betas = [0.3, 1.0, 2.5], [0.0, 0.3, 0.7, 0.9]
    res = jd.sweep(
        QUAD,
        lambda lr, momentum: optax.sgd(lr, momentum=momentum),
        {"lr": lrs, "momentum": betas},
        seeds=1,
        steps=600,
        log_every=1,
        metrics={"d": "distance"},
        keep_params=False,
    )
    d = np.asarray(res.metrics["d"])[:, :, 0]
    rate = jd.rates.geometric_rate(d, res.step, start=300, stop=600, block=40)
    theory = np.asarray(
        jd.bounds.heavy_ball_rate(np.array(lrs)[:, None], np.array(betas)[None, :], [0.1, 1.0])
    )
    assert theory.min() < 0.84 and theory.max() > 1.4  # complex and real, stable and not
    np.testing.assert_allclose(rate, theory, rtol=2e-3)


def test_geometric_rate_on_curves_and_its_errors():
    t = np.arange(0, 201, 5)
    np.testing.assert_allclose(jd.rates.geometric_rate(3 * 0.9**t, t, start=50, stop=200), 0.9)
    # the loss of a quadratic decays like rho^(2t)
    r = jd.rates.geometric_rate(0.8 ** (2 * t), t, start=20, stop=100, power=2)
    assert np.isclose(float(r), 0.8)
    # an oscillating curve: the block's root mean square follows the envelope
    t1 = np.arange(0, 3001)
    wave = np.stack([0.995**t1 * np.cos(0.2 * t1 + 1), 1.01**t1 * np.sin(0.05 * t1)])
    r = jd.rates.geometric_rate(wave, t1, start=1000, stop=3000, block=200)
    np.testing.assert_allclose(r, [0.995, 1.01], rtol=2e-4)
    with pytest.raises(ValueError, match="not a logged step"):
        jd.rates.geometric_rate(wave, t1, start=1000, stop=3001)
    with pytest.raises(ValueError, match="start < stop"):
        jd.rates.geometric_rate(wave, t1, start=100, stop=100)
    with pytest.raises(ValueError, match="block"):
        jd.rates.geometric_rate(wave, t1, start=10, stop=100, block=20)


@pytest.mark.parametrize(
    "L, r, steps, gamma", [(3.0, 1.0, 4, 1 / 3), (1.0, 2.0, 10, 1.0), (5.0, 0.5, 7, 0.1)]
)
def test_huber_witness_attains_the_drori_teboulle_bound(L, r, steps, gamma):
    p = jd.problems.huber_worst_case(L, r, steps, gamma)
    tr = jd.run(p, optax.sgd(gamma), steps=steps)
    bound = float(jd.bounds.gd_smooth_convex(L, r, steps, gamma)[-1])
    assert abs(float(tr.final_loss - p.min_value) - bound) < 1e-12
    assert float(jd.bounds.constants(p)["r"]) == r and float(p.smoothness) == L
    # every iterate stays on the linear part: the steps are all h * delta long
    xs = np.asarray(tr.params)[:, 0]
    np.testing.assert_allclose(np.diff(xs), -gamma * L * r / (2 * steps * gamma * L + 1))
    if (L, r, steps) == (3.0, 1.0, 4):
        assert abs(bound - 1 / 6) < 1e-15


def test_huber_witness_is_sweepable_and_rejects_bad_constants():
    def problem(L):
        return jd.problems.huber_worst_case(L, 1.0, 8, 0.25)

    res = jd.sweep(problem, lambda L: optax.sgd(0.25), {"L": [1.0, 2.0, 4.0]}, seeds=1, steps=8)
    bound = [float(jd.bounds.gd_smooth_convex(L, 1.0, 8, 0.25)[-1]) for L in (1.0, 2.0, 4.0)]
    np.testing.assert_allclose(np.asarray(res.final_loss)[:, 0], bound, rtol=1e-13)
    with pytest.raises(ValueError, match="step_size"):
        jd.problems.huber_worst_case(1.0, 1.0, 4, 1.5)
    with pytest.raises(ValueError, match="`r`"):
        jd.problems.huber_worst_case(1.0, 0.0, 4)
    with pytest.raises(ValueError, match="`steps`"):
        jd.problems.huber_worst_case(1.0, 1.0, 0)


@pytest.mark.parametrize(
    "scales, expected", [((1.0, 3.0), 6.0), ((0.5, 0.5, 0.2), 1.0), ((1.0, -3.0), 2.0)]
)
def test_sharpness_is_exact_on_quadratics(scales, expected):
    p = jd.problems.quadratic(scales, init=(1.0,) * len(scales))
    tr = jd.run(p, optax.sgd(0.01), steps=6, log_every=2, metrics={"s": "sharpness"})
    np.testing.assert_allclose(tr.metrics["s"], expected, rtol=1e-10)


def _dense_top_eigenvalues(problem, params_stack):
    """The largest eigenvalue of the dense Hessian at each of a stack of params."""
    _, unravel = ravel_pytree(jax.tree.map(lambda a: a[0], params_stack))
    flats = jax.vmap(lambda x: ravel_pytree(x)[0])(params_stack)
    hessians = jax.jit(jax.vmap(jax.hessian(lambda f: problem.objective(unravel(f)))))(flats)
    return np.linalg.eigvalsh(np.asarray(hessians))[:, -1]


def test_sharpness_on_an_mlp_is_within_one_percent_of_the_dense_hessian():
    X, y = jd.data.load_digits(seed=0).train
    p = jd.problems.mlp_classifier(
        X[:100], y[:100], hidden=(8,), activation=jax.nn.tanh, init_key=0, loss="mse"
    )
    tr = jd.run(p, optax.sgd(0.5), steps=40, log_every=10, metrics={"s": "sharpness"})
    exact = _dense_top_eigenvalues(p, tr.params)
    assert exact.shape == (5,) and exact.min() > 0.5
    np.testing.assert_allclose(tr.metrics["s"], exact, rtol=0.01)


def test_sharpness_in_a_sweep_equals_runs_and_leaves_the_run_unchanged():
    make = lambda lr, momentum: optax.sgd(lr, momentum=momentum)  # noqa: E731
    metric = {"s": jd.metrics.sharpness(iters=5), "d": "distance"}
    res = jd.sweep(
        QUAD,
        make,
        {"lr": [0.5, 1.5], "momentum": [0.0, 0.5]},
        seeds=2,
        steps=20,
        log_every=5,
        metrics=metric,
    )
    np.testing.assert_allclose(np.asarray(res.metrics["s"]), 1.0, rtol=1e-6)  # 5 products: 1e-7
    cell = res.sel(lr=1.5, momentum=0.5, seed=1)
    run = jd.run(QUAD, optax.sgd(1.5, momentum=0.5), steps=20, log_every=5, metrics=metric)
    np.testing.assert_allclose(cell.metrics["s"], run.metrics["s"], rtol=1e-12)
    plain = jd.run(QUAD, optax.sgd(1.5, momentum=0.5), steps=20, log_every=5)
    assert np.array_equal(plain.loss, run.loss) and np.array_equal(plain.params, run.params)


def test_sharpness_arguments_are_checked():
    with pytest.raises(ValueError, match="iters"):
        jd.metrics.sharpness(iters=0)
    assert jd.metrics.stateful("sharpness") == jd.metrics.sharpness(20)
    assert jd.metrics.stateful("distance") is None
    with pytest.raises(TypeError, match="state"):
        jd.metrics.resolve("sharpness", QUAD)


def test_mlp_classifier_mse_loss():
    X = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    layer = {"w": jnp.eye(2), "b": jnp.zeros(2)}
    p = jd.problems.mlp_classifier(
        X, jnp.array([0, 0]), hidden=(), classes=2, init=[layer], loss="mse"
    )
    # logits = X: example 0 hits its target, example 1 misses by (1, 1): 1/2 * 2 / 2
    assert float(p.objective(p.init)) == 0.5
    with pytest.raises(ValueError, match="loss"):
        jd.problems.mlp_classifier(X, jnp.array([0, 1]), hidden=(2,), loss="hinge")


class LogCounter:
    """A user's stateful metric: how many logged iterates came before, plus f(x)."""

    def init(self, params, problem):
        return jnp.zeros((), jnp.int32)

    def update(self, params, problem, state):
        return state + problem.objective(params), state + 1


def test_a_stateful_metric_of_ones_own_is_carried_between_logs():
    tr = jd.run(QUAD, optax.sgd(0.5), steps=6, log_every=2, metrics={"c": LogCounter()})
    np.testing.assert_allclose(tr.metrics["c"], np.arange(4) + np.asarray(tr.loss))
    with pytest.raises(TypeError, match="stateful metric"):
        jd.run(QUAD, optax.sgd(0.5), steps=2, metrics={"c": 3})
