"""`jd.run`: the trace, determinism, dtypes, divergence, metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd

QUAD = jd.problems.quadratic()
SGD = optax.sgd(0.1)
NOISY = jd.oracles.gaussian_noise(1.0)


def test_trace_layout_and_logged_values():
    tr = jd.run(
        QUAD,
        SGD,
        steps=12,
        log_every=4,
        metrics={"dist": lambda x: jnp.linalg.norm(x), "x1": lambda x: x[0]},
    )
    np.testing.assert_array_equal(tr.step, [0, 4, 8, 12])
    assert tr.loss.shape == tr.grad_norm.shape == (4,) and tr.params.shape == (4, 2)
    # GD on sum s_i x_i^2 with step eta: x_t = (1 - 2 eta s)^t x_0, exactly
    factors = np.array([1 - 0.2 * 1.0, 1 - 0.2 * 2.0])
    expected = np.array([-5.0, -2.0]) * factors ** np.array([[0], [4], [8], [12]])
    np.testing.assert_allclose(tr.params, expected, rtol=1e-13)
    np.testing.assert_allclose(tr.loss, (expected**2 * [1, 2]).sum(1), rtol=1e-13)
    np.testing.assert_allclose(tr.grad_norm, np.linalg.norm(expected * [2, 4], axis=1), rtol=1e-13)
    np.testing.assert_allclose(tr.metrics["dist"], np.linalg.norm(expected, axis=1), rtol=1e-13)
    np.testing.assert_array_equal(tr.metrics["x1"], tr.params[:, 0])
    np.testing.assert_array_equal(tr.final_params, tr.params[-1])
    assert float(tr.final_loss) == float(tr.loss[-1])
    assert not bool(tr.diverged) and int(tr.diverged_at) == -1


def test_keep_params_false_drops_the_path():
    tr = jd.run(QUAD, SGD, steps=10, keep_params=False)
    assert tr.params is None and tr.final_params.shape == (2,)


def test_same_key_gives_bitwise_the_same_trace():
    a = jd.run(QUAD, SGD, steps=50, oracle=NOISY, key=jax.random.key(3))
    b = jd.run(QUAD, SGD, steps=50, oracle=NOISY, key=jax.random.key(3))
    c = jd.run(QUAD, SGD, steps=50, oracle=NOISY, key=jax.random.key(4))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.params, c.params)
    # an int seed and a raw PRNGKey mean the same key
    d = jd.run(QUAD, SGD, steps=50, oracle=NOISY, key=3)
    e = jd.run(QUAD, SGD, steps=50, oracle=NOISY, key=jax.random.PRNGKey(3))
    np.testing.assert_array_equal(a.params, d.params)
    np.testing.assert_array_equal(a.params, e.params)


def test_dtype_follows_init():
    p64 = jd.problems.linear_regression([1.0, 2.0], [2.0, 4.0])
    assert jd.run(p64, SGD, steps=3).final_params.dtype == jnp.float64
    p32 = p64.replace(init=jnp.float32(1.0))
    tr = jd.run(p32, SGD, steps=3)
    assert tr.final_params.dtype == jnp.float32 and tr.params.dtype == jnp.float32


def test_divergence_is_recorded_at_the_first_non_finite_step():
    lr = 1e3
    tr = jd.run(QUAD, optax.sgd(lr), steps=200, log_every=50)
    # the same recursion in NumPy float64: step t reads loss and gradient at x_{t-1}
    # and makes x_t = (1 - 2 lr s) x_{t-1}; the first non-finite one of the three counts
    x, s = np.array([-5.0, -2.0]), np.array([1.0, 2.0])
    first = -1
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, 201):
            loss, g = np.sum(s * x**2), 2 * s * x
            x = x - lr * g
            if first < 0 and not np.all(np.isfinite(np.r_[loss, g, x])):
                first = t
    assert 0 < first < 200
    assert bool(tr.diverged) and int(tr.diverged_at) == first
    assert not np.isfinite(tr.final_loss)


def test_function_oracle_and_random_init():
    def half_gradient(problem, params, step, key):
        loss, g = jax.value_and_grad(problem.objective)(params)
        return loss, jax.tree.map(lambda a: 0.5 * a, g)

    p = jd.problems.quadratic(init=lambda key: jax.random.normal(key, (2,)))
    tr = jd.run(p, optax.sgd(0.2), steps=3, oracle=half_gradient, key=jax.random.key(1))
    x0 = p.initial_params(jax.random.split(jax.random.key(1))[0])
    np.testing.assert_allclose(tr.params[0], x0)
    np.testing.assert_allclose(tr.params[1], x0 - 0.1 * np.array([2.0, 4.0]) * x0, rtol=1e-14)


def test_run_reuses_its_program(compiles):
    opt = optax.adam(0.05)
    jd.run(QUAD, opt, steps=20, oracle=NOISY)
    with compiles.count():
        jd.run(
            QUAD.replace(init=jnp.array([1.0, 1.0])),
            opt,
            steps=20,
            oracle=NOISY,
            key=jax.random.key(9),
        )
    assert compiles.n == 0


def test_any_optax_transformation_works():
    chain = optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.scale_by_adam(),
        optax.scale_by_schedule(optax.cosine_decay_schedule(0.1, 100)),
        optax.scale(-1.0),
    )
    for opt in (chain, optax.lbfgs(), optax.sgd(lambda t: 0.1 / (1 + t), momentum=0.9)):
        tr = jd.run(QUAD, opt, steps=100, log_every=100)
        assert float(tr.final_loss) < 1e-2 * float(tr.loss[0]), opt


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=0), "steps"),
        (dict(steps=-3), "steps"),
        (dict(steps=10, log_every=3), "log_every"),
        (dict(steps=10, log_every=0), "log_every"),
        (dict(steps=10, oracle=jd.oracles.per_sample()), "data"),
        (dict(steps=10, key="seed"), "key"),
        (dict(steps=10, metrics={"loss": lambda x: x}), "reserved"),
    ],
)
def test_bad_run_arguments_fail_before_compiling(kwargs, match, compiles):
    with compiles.count(), pytest.raises((ValueError, TypeError), match=match):
        jd.run(QUAD, SGD, **kwargs)
    assert compiles.programs == 0


def test_bad_problem_inputs():
    with pytest.raises(ValueError, match="leading"):
        jd.Problem(lambda p, b: 0.0, 1.0, data={"x": np.ones(3), "y": np.ones(4)})
    with pytest.raises(ValueError, match="non-finite"):
        jd.problems.quadratic(init=(np.nan, 1.0))
    with pytest.raises(ValueError, match="non-finite"):
        jd.problems.linear_regression([1.0], [2.0], init=np.inf)
    with pytest.raises(TypeError, match="optax"):
        jd.run(QUAD, lambda g: g, steps=3)
    with pytest.raises(TypeError, match="Problem"):
        jd.run(lambda x: x, SGD, steps=3)
    with pytest.raises(ValueError, match="larger than the data set"):
        jd.run(
            jd.problems.linear_regression([1.0, 2.0], [2.0, 4.0]),
            SGD,
            steps=3,
            oracle=jd.oracles.minibatch(5),
        )
