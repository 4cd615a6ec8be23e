"""The first non-finite entry of a log (`jaxdescent.nonfinite`), and the divergence step
it gives runs and sweeps that log every step (checked once after the loop)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd
from jaxdescent.nonfinite import first_nonfinite


def reference(values: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(values)
    return np.where(bad.any(axis=0), bad.argmax(axis=0), -1)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 9, 17, 1001])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_first_nonfinite_equals_numpy(n, dtype):
    rng = np.random.default_rng(n)
    v = rng.normal(size=(n, 5, 3)).astype(dtype)
    for bad in (np.nan, np.inf, -np.inf):
        idx = rng.integers(0, n, size=4), rng.integers(0, 5, size=4), rng.integers(0, 3, size=4)
        v[idx] = bad
    with jax.enable_x64(dtype == np.float64):
        got = np.asarray(first_nonfinite(jnp.asarray(v)))
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, reference(v))
        clean = np.nan_to_num(v, nan=0.0, posinf=1.0, neginf=-1.0)
        np.testing.assert_array_equal(np.asarray(first_nonfinite(jnp.asarray(clean))), -1)


def test_huge_finite_values_are_finite():
    # a sum of the values themselves would overflow to inf; the check must not
    v = np.full((1001, 4), np.finfo(np.float32).max, np.float32)
    np.testing.assert_array_equal(np.asarray(first_nonfinite(v)), -1)


def test_integer_logs_are_finite():
    np.testing.assert_array_equal(np.asarray(first_nonfinite(np.arange(6).reshape(3, 2))), -1)


def test_scalar_is_refused():
    with pytest.raises(ValueError, match="series"):
        first_nonfinite(jnp.float32(1.0))


def test_under_nested_vmap_jit_and_grad():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(7, 4, 3)).astype(np.float32)
    v[3, 1, 2], v[6, 0, 0], v[0, 3, 1] = np.nan, np.inf, -np.inf
    want = reference(v)  # (4, 3)
    f = jax.vmap(jax.vmap(first_nonfinite, in_axes=1), in_axes=1)
    np.testing.assert_array_equal(np.asarray(f(v)), want)
    np.testing.assert_array_equal(np.asarray(jax.jit(f)(v)), want)
    # batched at other axes, and only one argument of a vmap batched
    g = jax.vmap(first_nonfinite, in_axes=2, out_axes=1)
    np.testing.assert_array_equal(np.asarray(g(v)), want)

    w = rng.normal(size=7).astype(np.float32)
    b = np.zeros(7, np.float32)
    b[4] = np.inf

    def loss(scale):
        series = scale * jnp.asarray(w) + b
        return jnp.sum(series[:4]) + first_nonfinite(series)  # the index adds no gradient

    assert float(jax.grad(loss)(2.0)) == pytest.approx(float(np.sum(w[:4])), rel=1e-6)
    assert float(loss(2.0)) == pytest.approx(float(2 * np.sum(w[:4]) + 4), rel=1e-6)


QUAD = jd.problems.quadratic()


def numpy_divergence(lr: float, steps: int) -> int:
    """The first t whose logged loss at x_t is not finite (float64 recursion of SGD)."""
    x, s = np.array([-5.0, -2.0]), np.array([1.0, 2.0])
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            if not np.isfinite(np.sum(s * x**2)):
                return t
            x = x - lr * 2 * s * x
    return -1


def test_every_step_logged_run_and_sweep_record_the_first_non_finite_loss():
    lrs = [0.1, 30.0, 1e3, 1e5]
    with jax.enable_x64(True):
        want = [numpy_divergence(lr, 300) for lr in lrs]
        assert want[0] == -1 and all(0 < w < 300 for w in want[1:])
        for lr, w in zip(lrs, want):
            tr = jd.run(QUAD, optax.sgd(lr), steps=300)
            assert int(tr.diverged_at) == w and bool(tr.diverged) == (w >= 0)
            bad = ~np.isfinite(np.asarray(tr.loss))
            assert (bad.argmax() if bad.any() else -1) == w
        res = jd.sweep(QUAD, lambda lr: optax.sgd(lr), {"lr": lrs}, seeds=3, steps=300)
        np.testing.assert_array_equal(np.asarray(res.diverged_at), np.repeat([want], 3, 0).T)
        noisy = jd.sweep(
            QUAD,
            lambda lr: optax.sgd(lr),
            {"lr": lrs},
            seeds=4,
            steps=300,
            oracle=jd.oracles.gaussian_noise(1.0),
        )
        loss = np.asarray(noisy.loss)  # (lr, seed, step)
        bad = ~np.isfinite(loss)
        np.testing.assert_array_equal(
            np.asarray(noisy.diverged_at), np.where(bad.any(-1), bad.argmax(-1), -1)
        )
        assert np.all(np.asarray(noisy.diverged_at)[1:] > 0)


def test_logged_and_unlogged_steps_combine_to_the_first():
    # log_every=50: a step that is not logged is still checked inside the loop; the
    # logged losses are checked after it, and the earlier of the two counts
    tr = jd.run(QUAD, optax.sgd(1e3), steps=200, log_every=50)
    every = jd.run(QUAD, optax.sgd(1e3), steps=200)
    assert 0 < int(every.diverged_at) <= int(tr.diverged_at)
