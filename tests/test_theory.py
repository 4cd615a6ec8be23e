"""Theory against runs: the convex SGD bound, exact noisy-quadratic moments, the 2/L
threshold, averaged iterates, and sweeps over schedule parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxdescent as jd

SCALES, INIT, NOISE = np.array([1.0, 2.0]), np.array([-5.0, -2.0]), 1.0
QUAD = jd.problems.quadratic(SCALES, INIT)
NOISY = jd.oracles.gaussian_noise(NOISE)


def constant_family(lr):
    return jd.schedules.constant(lr)


def polynomial_family(lr):
    return jd.schedules.polynomial(lr, alpha=0.5, beta=0.1)


def sgd_family(lr, family):
    return optax.sgd(family(lr))


def test_mean_averaged_suboptimality_stays_under_the_convex_bound():
    steps, log_every, seeds = 200, 10, 1024
    res = jd.sweep(
        QUAD,
        sgd_family,
        {"lr": [0.02, 0.1], "family": [constant_family, polynomial_family]},
        seeds=seeds,
        steps=steps,
        oracle=NOISY,
        log_every=log_every,
        average="step",
        keep_params=False,
    )
    emp = np.asarray(res.metrics["avg_suboptimality"]).mean(axis=2)  # (lr, family, n_log)
    r = float(jd.bounds.constants(QUAD)["r"])
    assert r == np.sqrt(29.0)
    t = np.arange(steps)
    for i, lr in enumerate(res.axes["lr"]):
        for j, family in enumerate(res.axes["family"]):
            etas = np.asarray(family(lr)(t))
            # G^2 = max_t E||g_t||^2 at x_0 .. x_{T-1}, exact from the linear-Gaussian moments
            mom = jd.bounds.quadratic_sgd_moments(SCALES, INIT, etas, NOISE)
            second = np.concatenate(
                [INIT[None] ** 2, np.asarray(mom.mean) ** 2 + np.asarray(mom.std) ** 2]
            )[:steps]
            G = np.sqrt(np.max(((2 * SCALES) ** 2 * second).sum(1)) + len(SCALES) * NOISE**2)
            assert np.isclose(
                G, float(jd.bounds.quadratic_sgd_grad_bound(SCALES, INIT, etas, NOISE))
            )
            bound = np.asarray(jd.bounds.sgd_convex(r, G, etas))
            logged = emp[i, j, 1:]  # T = 10, 20, ..., 200
            assert np.all(logged <= bound[log_every - 1 :: log_every]), (lr, family.__name__)
            assert np.all(logged > 0)


def test_d2l_exponential_schedule_matches_exact_moments():
    # d2l 12.4: eta * exp(-0.1 t), t = 2, 3, ... (its global counter), 1000 steps, noise 1
    n, steps = 2048, 1000
    res = jd.sweep(
        QUAD,
        lambda eta: optax.sgd(jd.schedules.exponential(eta, 0.1, offset=2)),
        {"eta": [0.1]},
        seeds=n,
        steps=steps,
        oracle=NOISY,
        log_every=steps,
        keep_params=False,
    )
    x = np.asarray(res.final_params[0])  # (n, 2)
    etas = jd.schedules.exponential(0.1, 0.1, offset=2)(jnp.arange(steps))
    mom = jd.bounds.quadratic_sgd_moments(SCALES, INIT, etas, NOISE)
    mean, std = np.asarray(mom.mean[-1]), np.asarray(mom.std[-1])
    assert np.all(np.abs(x.mean(0) - mean) < 4 * std / np.sqrt(n))
    assert np.all(np.abs(x.std(0) / std - 1) < 4 / np.sqrt(2 * n))
    # d2l's point: with exponential decay x1 stalls far from 0 (~ -0.8 in its printout)
    assert -1.0 < mean[0] < -0.7


def test_gd_diverges_just_above_two_over_l():
    eta = float(jd.bounds.gd_stable_step(problem=QUAD))
    assert eta == 0.5
    res = jd.sweep(
        QUAD,
        lambda lr: optax.sgd(lr),
        {"lr": [0.99 * eta, 1.01 * eta]},
        seeds=1,
        steps=20_000,
        log_every=20_000,
        keep_params=False,
    )
    np.testing.assert_array_equal(np.asarray(res.diverged)[:, 0], [False, True])
    assert float(res.final_loss[0, 0]) < 1e-100
    # |1 - 1.01 * 2| = 1.02 per step: the loss 2 x2^2 with |x2| = 2 * 1.02^t overflows
    # float64 (1.8e308) once 1.02^t > 4.7e153, i.e. after ~17,870 steps
    t_overflow = np.ceil(np.log(np.sqrt(np.finfo(float).max / 2) / 2) / np.log(1.02))
    assert abs(int(res.diverged_at[1, 0]) - t_overflow) <= 2


def test_schedule_parameters_sweep_in_one_program(compiles):
    def make(rate):
        return optax.sgd(jd.schedules.exponential(0.1, rate))

    rates = np.geomspace(1e-3, 0.3, 32)
    kw = dict(seeds=32, steps=100, oracle=NOISY, log_every=50, keep_params=False)
    with compiles.count():
        res = jd.sweep(QUAD, make, {"rate": rates}, **kw)
    assert compiles.n <= 2 and res.loss.shape == (32, 32, 3)
    with compiles.count():
        res2 = jd.sweep(QUAD, make, {"rate": rates * 1.5}, **kw)
    assert compiles.n == 0
    tr = jd.run(
        QUAD, make(rates[7] * 1.5), steps=100, oracle=NOISY, key=jax.random.key(5), log_every=50
    )
    np.testing.assert_allclose(res2.loss[7, 5], tr.loss, rtol=1e-12)
    assert not np.allclose(res.loss, res2.loss)


def test_averaged_iterate_and_distance_by_hand():
    sched = jd.schedules.polynomial(0.2, alpha=0.5, beta=0.1)
    tr = jd.run(
        QUAD,
        optax.sgd(sched),
        steps=40,
        oracle=NOISY,
        key=jax.random.key(1),
        average="step",
        metrics={"dist": "distance", "gap": "suboptimality"},
    )
    x = np.asarray(tr.params)
    w = np.asarray(sched(jnp.arange(40)))
    for t in (1, 7, 40):
        x_bar = (w[:t, None] * x[:t]).sum(0) / w[:t].sum()
        np.testing.assert_allclose(tr.metrics["avg_distance"][t], np.linalg.norm(x_bar), rtol=1e-10)
        np.testing.assert_allclose(tr.metrics["avg_loss"][t], (SCALES * x_bar**2).sum(), rtol=1e-10)
    np.testing.assert_allclose(tr.metrics["avg_loss"][0], tr.loss[0])
    np.testing.assert_allclose(tr.metrics["dist"], np.linalg.norm(x, axis=1), rtol=1e-12)
    np.testing.assert_allclose(tr.metrics["gap"], tr.loss, rtol=1e-12)
    uni = jd.run(QUAD, optax.sgd(0.1), steps=10, average="uniform")
    xu = np.asarray(uni.params)
    np.testing.assert_allclose(
        uni.metrics["avg_distance"][10], np.linalg.norm(xu[:10].mean(0)), rtol=1e-12
    )


def test_distance_needs_a_known_minimizer():
    import pytest

    with pytest.raises(ValueError, match="minimizer"):
        jd.run(jd.problems.himmelblau(), optax.adam(0.1), steps=5, metrics={"d": "distance"})
    with pytest.raises(ValueError, match="average"):
        jd.run(QUAD, optax.adam(0.1), steps=5, average="mean")
