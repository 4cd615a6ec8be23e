"""Gradient oracles: which examples each step reads, and the noise it adds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdescent as jd

N = 10
PROBLEM = jd.problems.least_squares(
    np.arange(2 * N, dtype=float).reshape(N, 2) / N, np.arange(N, dtype=float)
)
KEY = jax.random.key(7)


def indices(oracle, steps, n=N):
    return np.asarray(jax.vmap(lambda t: oracle.indices(n, t, KEY))(jnp.arange(steps)))


def test_full_batch_is_the_exact_gradient():
    w = jnp.array([0.3, -1.0])
    loss, g = jd.oracles.full_batch()(PROBLEM, w, 0, KEY)
    assert float(loss) == float(PROBLEM.objective(w))
    np.testing.assert_array_equal(g, jax.grad(PROBLEM.objective)(w))


def test_cyclic_visits_examples_in_order():
    idx = indices(jd.oracles.per_sample("cyclic"), 25)
    np.testing.assert_array_equal(idx[:, 0], np.arange(25) % N)
    batches = indices(jd.oracles.minibatch(3, cyclic=True), 6)
    np.testing.assert_array_equal(batches[:3], [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(batches[3], [0, 1, 2])  # 10 % 3 = 1 example dropped per epoch


def test_shuffle_is_a_fresh_permutation_every_epoch():
    idx = indices(jd.oracles.per_sample("shuffle"), 5 * N)[:, 0].reshape(5, N)
    for epoch in idx:
        np.testing.assert_array_equal(np.sort(epoch), np.arange(N))
    assert len({tuple(e) for e in idx}) == 5


def test_minibatch_without_replacement_partitions_each_epoch():
    ora = jd.oracles.minibatch(5)
    idx = indices(ora, 8).reshape(4, 2, 5)
    for epoch in idx:
        np.testing.assert_array_equal(np.sort(epoch.ravel()), np.arange(N))
    # the batch gradient is the gradient of the loss on exactly those rows
    w = jnp.array([1.0, 2.0])
    rows = indices(ora, 1)[0]
    sub = jd.Problem(PROBLEM.loss, w, data=jax.tree.map(lambda a: a[rows], PROBLEM.data))
    np.testing.assert_allclose(ora(PROBLEM, w, 0, KEY)[1], jax.grad(sub.objective)(w), rtol=1e-14)


def test_with_replacement_is_uniform():
    idx = indices(jd.oracles.minibatch(50, replace=True), 400).ravel()  # 20,000 draws
    counts = np.bincount(idx, minlength=N) / idx.size
    assert np.all(np.abs(counts - 0.1) < 0.01)
    rep = indices(jd.oracles.per_sample("replace"), 1000)[:, 0]
    # With replacement some example repeats within an epoch (prob 1 - 10!/10^10 ~ 0.9996).
    assert any(len(set(rep[i : i + N])) < N for i in range(0, 1000, N))


def test_gaussian_noise_has_the_right_moments():
    ora = jd.oracles.gaussian_noise(0.5)
    w = jnp.array([0.3, -1.0])
    exact = jax.grad(PROBLEM.objective)(w)
    g = jax.vmap(lambda t: ora(PROBLEM, w, t, KEY)[1])(jnp.arange(20000))
    noise = np.asarray(g - exact)
    assert np.all(np.abs(noise.mean(0)) < 0.02)
    np.testing.assert_allclose(noise.std(0), 0.5, rtol=0.03)
    assert abs(np.corrcoef(noise.T)[0, 1]) < 0.03
    # on top of a minibatch oracle the noise is added to the minibatch gradient
    base = jd.oracles.minibatch(2)
    _, g0 = base(PROBLEM, w, 3, KEY)
    _, g1 = jd.oracles.gaussian_noise(0.0, base)(PROBLEM, w, 3, KEY)
    np.testing.assert_array_equal(g0, g1)


def test_examples_per_step():
    assert jd.oracles.full_batch().examples_per_step(PROBLEM) == N
    assert jd.oracles.minibatch(4).examples_per_step(PROBLEM) == 4
    assert jd.oracles.gaussian_noise(1.0).examples_per_step(jd.problems.quadratic()) == 1


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda: jd.oracles.per_sample("random"), "order"),
        (lambda: jd.oracles.minibatch(0), "size"),
        (lambda: jd.oracles.minibatch(2.5), "size"),
        (lambda: jd.oracles.gaussian_noise(1.0, base="full"), "base"),
    ],
)
def test_bad_oracle_arguments(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bad()


def test_shuffle_permutations_are_close_to_uniform():
    # all 24 orders of 4 examples, over 24,000 epochs: each ~1/24 (chi-square test)
    keys = jax.random.split(jax.random.key(11), 24_000)
    perms = np.asarray(jax.vmap(lambda k: jd.oracles.shuffled_positions(k, jnp.arange(4), 4))(keys))
    codes = perms @ np.array([64, 16, 4, 1])
    counts = np.unique(codes, return_counts=True)[1]
    assert len(counts) == 24
    chi2 = ((counts - 1000) ** 2 / 1000).sum()
    assert chi2 < 49.7  # the 0.999 quantile of chi-square with 23 degrees of freedom
    for n in (1, 2, 3, 7, 100, 257, 1000, 1797, 4096):
        p = np.asarray(jd.oracles.shuffled_positions(jax.random.key(n), jnp.arange(n), n))
        np.testing.assert_array_equal(np.sort(p), np.arange(n))


def test_large_shuffles_are_close_to_uniform():
    # the O(1) Feistel path (n > 256): where positions 0 and 1 land, over 20,000 epochs
    n = 300
    keys = jax.random.split(jax.random.key(5), 20_000)
    img = np.asarray(jax.vmap(lambda k: jd.oracles.shuffled_positions(k, jnp.arange(2), n))(keys))
    for col in img.T:  # position -> 10 bins of 30 targets, each expected 2,000 times
        counts = np.bincount(col // 30, minlength=10)
        assert ((counts - 2000) ** 2 / 2000).sum() < 27.9  # chi-square, 9 dof, 0.999
    assert abs((img[:, 0] < img[:, 1]).mean() - 0.5) < 0.015
    assert np.all(img[:, 0] != img[:, 1])
