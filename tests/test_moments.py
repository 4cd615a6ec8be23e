"""Exact moments of SGD / heavy ball / Nesterov on quadratics (jd.bounds.quadratic_moments)
against a NumPy recursion, noiseless runs and sweeps of 4096 seeds; the noisy quadratic
model; per-coordinate Gaussian noise; batch size as a traced grid axis; saddles."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd

SCALES = np.array([0.5, 2.0, -0.3])  # one saddle direction
INIT = np.array([1.0, -2.0, 0.5])
NOISE = np.array([0.5, 1.0, 0.2])  # per coordinate
ETAS = 0.1 * 0.97 ** np.arange(20)  # a decaying schedule
METHODS = [(0.0, False), (0.5, False), (0.5, True), (0.9, True)]


def numpy_moments(scales, init, etas, noise, beta, nesterov):
    """Mean and covariance of the state (x, v) per coordinate, propagated as 2x2 matrices."""
    d = len(init)
    mean = np.zeros((d, 2))
    mean[:, 0] = init
    cov = np.zeros((d, 2, 2))
    means, variances = [init.copy()], [np.zeros(d)]
    for eta in etas:
        for i in range(d):
            a = 2 * scales[i]
            v_row, v_noise = np.array([a, beta]), noise[i]  # v' = a x + beta v + noise z
            if nesterov:  # x' = x - eta ((1 + beta) g + beta^2 v)
                x_row = np.array([1 - eta * (1 + beta) * a, -eta * beta**2])
                x_noise = -eta * (1 + beta) * noise[i]
            else:  # x' = x - eta v'
                x_row, x_noise = np.array([1 - eta * a, -eta * beta]), -eta * noise[i]
            P, q = np.stack([x_row, v_row]), np.array([x_noise, v_noise])
            mean[i] = P @ mean[i]
            cov[i] = P @ cov[i] @ P.T + np.outer(q, q)
        means.append(mean[:, 0].copy())
        variances.append(cov[:, 0, 0].copy())
    return np.array(means), np.array(variances)


@pytest.mark.parametrize("beta, nesterov", METHODS)
def test_against_numpy_recursion(beta, nesterov):
    mom = jd.bounds.quadratic_moments(SCALES, INIT, ETAS, NOISE, momentum=beta, nesterov=nesterov)
    mean, var = numpy_moments(SCALES, INIT, ETAS, NOISE, beta, nesterov)
    assert mom.mean.shape == mom.std.shape == (21, 3) and mom.loss.shape == (21,)
    np.testing.assert_allclose(mom.mean, mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mom.std**2, var, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mom.loss, ((mean**2 + var) * SCALES).sum(1), rtol=1e-12)
    np.testing.assert_allclose(mom.sq_dist, (mean**2 + var).sum(1), rtol=1e-12)


@pytest.mark.parametrize("beta, nesterov", METHODS)
def test_noiseless_mean_is_the_run(beta, nesterov):
    # rows aligned with Trace.step: row t is x_t, t = 0..T
    problem = jd.problems.quadratic(SCALES, INIT)
    schedule = lambda count: 0.1 * 0.97**count  # noqa: E731
    tr = jd.run(problem, optax.sgd(schedule, momentum=beta, nesterov=nesterov), steps=20)
    mom = jd.bounds.quadratic_moments(SCALES, INIT, ETAS, 0.0, momentum=beta, nesterov=nesterov)
    np.testing.assert_array_equal(tr.step, np.arange(21))
    np.testing.assert_allclose(tr.params, mom.mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tr.loss, mom.loss, rtol=1e-12, atol=1e-15)
    assert np.all(mom.std == 0)


def test_sgd_wrapper_keeps_its_rows():
    full = jd.bounds.quadratic_moments(SCALES, INIT, ETAS, NOISE)
    old = jd.bounds.quadratic_sgd_moments(SCALES, INIT, ETAS, NOISE)  # row t: x_{t+1}
    for a, b in zip(old, full):
        np.testing.assert_array_equal(a, b[1:])


def test_sweeps_of_4096_seeds():
    n = 4096
    problem = jd.problems.quadratic(SCALES, INIT)
    res = jd.sweep(
        problem,
        lambda momentum, nesterov: optax.sgd(lambda c: 0.1 * 0.97**c, momentum, nesterov),
        {"momentum": [0.0, 0.5, 0.9], "nesterov": jd.static([False, True])},
        seeds=n,
        steps=20,
        log_every=5,
        oracle=jd.oracles.gaussian_noise(jnp.asarray(NOISE)),
    )
    for beta in res.axes["momentum"]:
        for nesterov in (False, True):
            cell = res.sel(momentum=beta, nesterov=nesterov)
            mom = jd.bounds.quadratic_moments(
                SCALES, INIT, ETAS, NOISE, momentum=beta, nesterov=nesterov
            )
            x = np.asarray(cell.params)[:, 1:]  # (seed, logged step 5, 10, 15, 20, d)
            mean, std = np.asarray(mom.mean)[5::5], np.asarray(mom.std)[5::5]
            assert np.all(np.abs(x.mean(0) - mean) < 4 * std / np.sqrt(n)), (beta, nesterov)
            assert np.all(np.abs(x.std(0) / std - 1) < 4 / np.sqrt(2 * n)), (beta, nesterov)
            loss = np.asarray(cell.loss)[:, 1:]
            err = np.abs(loss.mean(0) - np.asarray(mom.loss)[5::5])
            assert np.all(err < 4 * loss.std(0) / np.sqrt(n)), (beta, nesterov)


def test_traced_arguments_vmap_and_jit():
    betas = jnp.array([0.0, 0.5, 0.9])
    f = jax.jit(
        jax.vmap(lambda b, s: jd.bounds.quadratic_moments(SCALES, INIT, ETAS, s, momentum=b).loss)
    )
    batched = f(betas, jnp.array([0.1, 0.2, 0.3]))
    for i, (b, s) in enumerate(zip([0.0, 0.5, 0.9], [0.1, 0.2, 0.3])):
        direct = jd.bounds.quadratic_moments(SCALES, INIT, ETAS, s, momentum=b).loss
        np.testing.assert_allclose(batched[i], direct, rtol=1e-13)


def test_bad_input():
    with pytest.raises(ValueError, match="noise"):
        jd.bounds.quadratic_moments(SCALES, INIT, ETAS, np.ones(2))
    with pytest.raises(ValueError, match="noise"):
        jd.bounds.quadratic_moments(SCALES, INIT, ETAS, -1.0)
    with pytest.raises(ValueError, match="momentum"):
        jd.bounds.quadratic_moments(SCALES, INIT, ETAS, 1.0, momentum=np.ones(2))
    with pytest.raises(ValueError, match="scales"):
        jd.bounds.quadratic_moments([1.0, np.nan, 1.0], INIT, ETAS, 1.0)
    with pytest.raises(ValueError, match="nesterov"):
        jd.bounds.quadratic_moments(SCALES, INIT, ETAS, 1.0, nesterov=1)


# --- the noisy quadratic model (Zhang et al. 2019) ------------------------------------

H = 1.0 / np.arange(1, 101)  # curvatures h_i; per-example noise variances c_i = h_i


def test_nqm_exact_value():
    # f = 1/2 sum h_i x_i^2 is quadratic(scales=h / 2); batch B: noise std sqrt(c / B)
    mom = jd.bounds.quadratic_moments(H / 2, np.ones(100), np.full(200, 0.5), np.sqrt(H / 8))
    assert abs(float(mom.loss[-1]) - 0.1127264) < 1e-6


def test_nqm_sweep_over_batch_size_compiles_once(compiles):
    n, c = 512, jnp.asarray(H)
    problem = jd.problems.quadratic(H / 2, np.ones(100))
    with compiles.count():
        res = jd.sweep(
            problem,
            lambda: optax.sgd(0.5),
            {"batch": [8, 32]},
            seeds=n,
            steps=200,
            log_every=200,
            keep_params=False,
            oracle=lambda batch: jd.oracles.gaussian_noise(jnp.sqrt(c / batch)),
        )
    assert compiles.programs == 1
    for batch in (8, 32):
        exact = jd.bounds.quadratic_moments(
            H / 2, np.ones(100), np.full(200, 0.5), np.sqrt(H / batch)
        ).loss[-1]
        final = np.asarray(res.sel(batch=batch).final_loss)
        assert abs(final.mean() - exact) < 4 * final.std() / np.sqrt(n), batch
        if batch == 8:
            assert abs(float(exact) - 0.1127264) < 1e-6


# --- per-coordinate Gaussian noise ----------------------------------------------------


def test_gaussian_noise_per_coordinate_and_pytree():
    z_key = jax.random.key(3)
    p = jd.problems.quadratic(SCALES, INIT)
    orc = jd.oracles.gaussian_noise(jnp.asarray(NOISE))
    _, g = orc(p, p.init, 4, z_key)
    _, g_unit = jd.oracles.gaussian_noise(1.0)(p, p.init, 4, z_key)
    exact = 2 * SCALES * INIT
    np.testing.assert_allclose(g - exact, NOISE * (g_unit - exact), rtol=1e-13, atol=1e-15)
    # a pytree shaped like the params: one scale per leaf
    tree = jd.Problem(lambda w, b: jnp.sum(w["a"] ** 2) + w["b"] ** 2, {"a": jnp.ones(2), "b": 1.0})
    _, gt = jd.oracles.gaussian_noise({"a": jnp.array([0.0, 1.0]), "b": 0.0})(
        tree, tree.init, 0, z_key
    )
    assert float(gt["a"][0]) == 2.0 and float(gt["b"]) == 2.0 and float(gt["a"][1]) != 2.0


def test_gaussian_noise_bad_scale():
    p = jd.problems.quadratic(SCALES, INIT)
    with pytest.raises(ValueError, match="broadcast"):
        jd.run(p, optax.sgd(0.1), steps=2, oracle=jd.oracles.gaussian_noise(jnp.ones(2)))
    tree = jd.Problem(lambda w, b: jnp.sum(w["a"] ** 2), {"a": jnp.ones(2), "b": jnp.ones(3)})
    with pytest.raises(ValueError, match="pytree shaped like the parameters"):
        jd.run(tree, optax.sgd(0.1), steps=1, oracle=jd.oracles.gaussian_noise([1.0, 2.0]))
    with pytest.raises(ValueError, match=">= 0"):
        jd.run(
            p, optax.sgd(0.1), steps=2, oracle=jd.oracles.gaussian_noise(jnp.array([1, -1, 1.0]))
        )


# --- batch size as a traced grid value ------------------------------------------------


def _lsq(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n)
    return jd.problems.least_squares(X, y)


@pytest.mark.parametrize("n", [40, 300])  # a sorted permutation and the Feistel network
def test_masked_minibatch_draws_minibatch_indices(n):
    key, steps = jax.random.key(7), jnp.array([0, 1, 5, 13, 40, 97])
    cases = [(kind, size) for kind in ("shuffle", "replace", "cyclic") for size in (1, 3, 8)]

    @jax.jit
    def draws(steps):  # for each case: the 8 masked indices and minibatch(size)'s
        out = []
        for kind, size in cases:
            opts = dict(replace=kind == "replace", cyclic=kind == "cyclic")
            masked = jd.oracles.minibatch(size, max_size=8, **opts)
            ref = jd.oracles.minibatch(size, **opts)
            out.append(
                (
                    jax.vmap(lambda t, o=masked: o.indices(n, t, key))(steps),
                    jax.vmap(lambda t, o=ref: o.indices(n, t, key))(steps),
                )
            )
        return out

    for (kind, size), (full, ref) in zip(cases, draws(steps)):
        full = np.asarray(full)
        assert full.shape == (6, 8) and full.min() >= 0 and full.max() < n
        np.testing.assert_array_equal(full[:, :size], ref, err_msg=f"{kind} {size}")


def test_traced_batch_size_compiles_once_and_equals_minibatch(compiles):
    problem = _lsq()
    sizes = [1, 3, 8]
    with compiles.count():
        res = jd.sweep(
            problem,
            lambda lr: optax.sgd(lr),
            {"lr": [0.02, 0.05], "size": sizes},
            seeds=3,
            steps=30,
            oracle=lambda size: jd.oracles.minibatch(size, max_size=8),
        )
    assert compiles.programs == 1
    opt = optax.sgd(0.05)
    for size in sizes:
        ref = jd.run(problem, opt, steps=30, oracle=jd.oracles.minibatch(size), key=2)
        cell = res.sel(lr=0.05, size=size, seed=2)
        # the same examples at every step; only the rounding of the mean differs
        np.testing.assert_allclose(cell.loss, ref.loss, rtol=1e-13)
        np.testing.assert_allclose(cell.final_params, ref.final_params, rtol=1e-13)
        other = res.sel(lr=0.05, size=8 if size < 8 else 1, seed=2)
        assert np.max(np.abs(other.loss - ref.loss)) > 1e-3  # a different batch size differs


def test_masked_minibatch_checks():
    with pytest.raises(ValueError, match="max_size"):
        jd.oracles.minibatch(9, max_size=8)
    with pytest.raises(ValueError, match="1 <= size"):
        jd.oracles.minibatch(0, max_size=8)
    with pytest.raises(ValueError, match="integer"):
        jd.oracles.minibatch(jnp.asarray(2.0), max_size=8)
    with pytest.raises(ValueError, match="max_size"):
        jd.oracles.minibatch(2, max_size=2.5)
    with pytest.raises(ValueError, match="max_size"):  # larger than the data, no replacement
        jd.run(_lsq(n=6), optax.sgd(0.1), steps=1, oracle=jd.oracles.minibatch(2, max_size=8))
    with pytest.raises(ValueError, match="max_size="):  # the old error names the new option
        jd.oracles.minibatch(jnp.asarray(2))
    # a traced size outside [1, max_size] is a NaN loss, recorded as diverged
    res = jd.sweep(
        _lsq(),
        lambda: optax.sgd(0.01),
        {"size": [4, 9]},
        seeds=2,
        steps=3,
        oracle=lambda size: jd.oracles.minibatch(size, max_size=8),
    )
    assert not res.sel(size=4).diverged.any() and res.sel(size=9).diverged.all()


# --- saddles --------------------------------------------------------------------------


def test_quadratic_saddle_constants():
    saddle = jd.problems.quadratic((1.0, -3.0), init=(1.0, 0.0))
    assert float(saddle.smoothness) == 6.0
    assert saddle.strong_convexity is None and saddle.minimizer is None
    assert saddle.min_value is None
    flat = jd.problems.quadratic((1.0, 0.0))
    assert float(flat.strong_convexity) == 0.0 and float(flat.min_value) == 0.0
    with pytest.raises(ValueError, match="finite"):
        jd.problems.quadratic((1.0, np.inf))
    with pytest.raises(ValueError, match="finite"):
        jd.problems.quadratic((np.nan, 1.0))
    with pytest.raises(ValueError, match="minimizer"):
        jd.bounds.gd_smooth_convex(steps=3, problem=saddle)
    with pytest.raises(ValueError, match="strong_convexity"):
        jd.bounds.gd_strongly_convex(steps=3, r=1.0, problem=saddle)
    with pytest.raises(ValueError, match="minimizer"):
        jd.run(saddle, optax.sgd(0.1), steps=2, metrics={"d": "distance"})
    # traced scales: NaN marks the saddle's unknown constants
    traced = jax.jit(lambda s: jd.problems.quadratic(s).strong_convexity)
    assert np.isnan(traced(jnp.array([1.0, -1.0]))) and traced(jnp.array([1.0, 2.0])) == 2.0


def test_gd_stays_at_the_saddle_and_escape_probability():
    s, eta, sigma, delta, T = 0.5, 0.1, 1.0, 1.0, 40
    p = jd.bounds.saddle_escape_probability(s, eta, sigma, delta, steps=T)
    mom = jd.bounds.quadratic_moments([1.0, -s], [1.0, 0.0], np.full(T, eta), sigma)
    std = np.asarray(mom.std[:, 1])
    np.testing.assert_allclose(
        p, jax.scipy.special.erfc(delta / np.sqrt(2) / np.maximum(std, 1e-300)), rtol=1e-12
    )
    r = 1 + 2 * eta * s
    var = eta**2 * sigma**2 * (r ** (2 * np.arange(T + 1)) - 1) / (r**2 - 1)
    np.testing.assert_allclose(std**2, var, rtol=1e-12)
    assert p[0] == 0 and np.all(np.diff(p) > 0)
    gd = jd.run(jd.problems.quadratic((1.0, -s), (1.0, 0.0)), optax.sgd(eta), steps=T)
    assert np.all(np.asarray(gd.params)[:, 1] == 0)  # on the stable manifold for ever
    with pytest.raises(ValueError, match="`s`"):
        jd.bounds.saddle_escape_probability(-1.0, eta, sigma, delta, steps=T)


def test_steps_to_target():
    loss = np.array([[[4.0, 2.0, np.nan, 0.5]], [[4.0, 0.9, 3.0, 0.1]]])  # (2, 1, 4)
    got = jd.steps_to_target(loss, [0, 10, 20, 30], [[1.0], [0.5]])
    np.testing.assert_array_equal(got, [[30.0], [30.0]])
    np.testing.assert_array_equal(jd.steps_to_target(loss, np.arange(4), 1.0), [[3.0], [1.0]])
    far = jd.steps_to_target(np.moveaxis(loss, -1, 0), np.arange(4), 0.05, axis=0)
    assert far.tolist() == [[np.inf], [np.inf]]
    with pytest.raises(ValueError, match="steps"):
        jd.steps_to_target(loss, np.arange(3), 1.0)


def test_critical_batch_size():
    B = np.array([1, 2, 4, 8, 16, 32, 64])
    fit = jd.critical_batch_size(B, 40 * (1 + 12 / B))
    assert abs(fit.steps_min - 40) < 1e-9 and abs(fit.batch_noise - 12) < 1e-9
    steps = np.array([np.inf, 1000.0, 500, 250, 126, 66, 40])  # B = 1 never reached
    fit = jd.critical_batch_size(B, steps)
    model = fit.steps_min * (1 + fit.batch_noise / B[1:])
    assert np.all(np.abs(model / steps[1:] - 1) < 0.05)  # 2000 / B + 8.5 fits within 5%
    with pytest.raises(ValueError, match="fewer than two"):
        jd.critical_batch_size(B[:2], [np.inf, 5.0])
