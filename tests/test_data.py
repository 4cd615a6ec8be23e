"""`jd.data`: bundled data sets without network, reproducible standardized splits,
synthetic generators, k-fold indices that partition the data exactly."""

import socket

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sklearn.datasets

import jaxdescent as jd
import jaxdescent.data as data

LOADERS = {
    "digits": (data.load_digits, sklearn.datasets.load_digits, 1797, 64, 10),
    "breast_cancer": (data.load_breast_cancer, sklearn.datasets.load_breast_cancer, 569, 30, 2),
    "iris": (data.load_iris, sklearn.datasets.load_iris, 150, 4, 3),
}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", list(LOADERS))
def test_bundled_sets_load_offline_split_and_standardize(name, no_network):
    load, raw_loader, n, d, classes = LOADERS[name]
    s = load(val=0.2, test=0.25, seed=3)
    n_test, n_val = round(0.25 * n), round(0.2 * n)
    assert s.classes == classes
    assert s.test.X.shape == (n_test, d) and s.val.X.shape == (n_val, d)
    assert s.train.X.shape == (n - n_test - n_val, d) and s.train.y.shape == (n - n_test - n_val,)
    assert s.train.X.dtype == jnp.float64 and jnp.issubdtype(s.train.y.dtype, jnp.integer)
    # the same rows as split_indices picks, standardized with the TRAINING statistics
    raw = raw_loader()
    tr, va, te = data.split_indices(n, val=0.2, test=0.25, seed=3, y=raw.target)
    assert sorted([*tr, *va, *te]) == list(range(n))
    train_raw = raw.data[tr]
    std = train_raw.std(0)
    np.testing.assert_allclose(s.mean, train_raw.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.scale, np.where(std > 0, std, 1.0), rtol=1e-12)
    for part, idx in ((s.train, tr), (s.val, va), (s.test, te)):
        np.testing.assert_allclose(part.X, (raw.data[idx] - s.mean) / s.scale, atol=1e-12)
        np.testing.assert_array_equal(part.y, raw.target[idx])
    live = std > 0
    np.testing.assert_allclose(np.asarray(s.train.X).mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(s.train.X)[:, live].std(0), 1.0, rtol=1e-12)
    # stratified: each part holds every class in proportion (within one example)
    counts = np.bincount(raw.target)
    for part in (s.train, s.val, s.test):
        expected = counts * len(part.y) / n
        assert np.all(np.abs(np.bincount(np.asarray(part.y), minlength=classes) - expected) <= 1)


def test_splits_are_reproducible_from_the_seed():
    a, b, c = data.load_iris(seed=5), data.load_iris(seed=5), data.load_iris(seed=6)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.test.y, c.test.y) or not np.array_equal(a.test.X, c.test.X)
    raw = data.load_iris(seed=5, standardize=False)
    np.testing.assert_array_equal(raw.scale, 1.0)
    np.testing.assert_allclose(raw.train.X * 1.0, a.train.X * a.scale + a.mean, rtol=1e-12)
    assert data.load_digits(val=0.0, test=0.1).val.X.shape == (0, 64)


def test_split_indices_partition_and_errors():
    for n, val, test in [(10, 0.2, 0.3), (7, 0.0, 0.0), (101, 0.15, 0.15)]:
        tr, va, te = data.split_indices(n, val=val, test=test, seed=0)
        assert (len(va), len(te)) == (round(val * n), round(test * n))
        assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(n))
    with pytest.raises(ValueError, match="no training examples"):
        data.split_indices(10, val=0.5, test=0.5)
    with pytest.raises(ValueError, match="fraction"):
        data.split_indices(10, val=1.2)
    with pytest.raises(ValueError, match="non-negative int"):
        data.split_indices(10, seed=-1)


@pytest.mark.parametrize("n, k", [(10, 3), (12, 4), (1797, 5), (7, 7), (5, 2)])
def test_kfold_validation_folds_partition_the_data_exactly(n, k):
    f = data.kfold(n, k, seed=2)
    m, t = -(-n // k), n - n // k
    assert f.val.shape == f.val_weight.shape == (k, m)
    assert f.train.shape == f.train_weight.shape == (k, t)
    val, vw = np.asarray(f.val), np.asarray(f.val_weight)
    train, tw = np.asarray(f.train), np.asarray(f.train_weight)
    assert set(np.unique(vw)) <= {0.0, 1.0} and set(np.unique(tw)) <= {0.0, 1.0}
    real_val = val[vw == 1]
    assert sorted(real_val.tolist()) == list(range(n))  # every example validated exactly once
    sizes = vw.sum(1)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == n
    for i in range(k):
        fold = set(val[i][vw[i] == 1].tolist())
        rest = train[i][tw[i] == 1].tolist()
        assert len(rest) == len(set(rest)) == n - len(fold)  # no duplicates
        assert set(rest) == set(range(n)) - fold  # the complement, exactly
        assert set(val[i].tolist()) == fold and set(train[i].tolist()) <= set(rest)  # pads valid
    if n % k == 0:
        assert vw.all() and tw.all()
    g = data.kfold(n, k, seed=2)
    np.testing.assert_array_equal(f.val, g.val)
    if n > 5:
        assert not np.array_equal(f.val, data.kfold(n, k, seed=3).val)


def test_kfold_errors():
    for k in (1, 11, 2.0):
        with pytest.raises(ValueError, match="2 <= k <= n"):
            data.kfold(10, k)


def test_linearly_separable_is_separated_by_a_trained_classifier():
    d = data.linearly_separable(80, dim=3, margin=0.1, seed=4)
    assert d.X.shape == (80, 3) and set(np.unique(d.y)) == {0, 1}
    p = jd.problems.logistic_regression(*d)
    tr = jd.run(p, optax.sgd(2.0), steps=400, log_every=400)
    assert float(jd.problems.accuracy(p, tr.final_params)) == 1.0
    # a margin of 0.1 on each side: points of different classes are >= 0.2 apart
    X, y = np.asarray(d.X), np.asarray(d.y)
    gaps = np.linalg.norm(X[y == 1][:, None] - X[y == 0][None], axis=-1)
    assert gaps.min() >= 0.2 - 1e-12
    noisy = data.linearly_separable(2000, flip=0.1, seed=4)
    clean = data.linearly_separable(2000, seed=4)
    assert np.mean(np.asarray(noisy.y) != np.asarray(clean.y)) == pytest.approx(0.1, abs=0.02)


def test_xor_and_spirals():
    d = data.xor(300, seed=1)
    X, y = np.asarray(d.X), np.asarray(d.y)
    np.testing.assert_array_equal(y, (X[:, 0] > 0) != (X[:, 1] > 0))
    assert np.all(np.abs(X) <= 1) and abs(y.mean() - 0.5) < 0.1
    s = data.spirals(301, classes=3, noise=0.0, turns=1.5, seed=2)
    X, y = np.asarray(s.X), np.asarray(s.y)
    assert np.bincount(y).tolist() == [100, 101, 100]
    r = np.linalg.norm(X, axis=1)
    assert r.max() == pytest.approx(1.0) and r.min() == 0.0
    # without noise each point sits on its arm: angle = 2 pi (turns r + c / classes)
    on = r > 0
    angle = np.arctan2(X[on, 0], X[on, 1])
    expected = 2 * np.pi * (1.5 * r[on] + y[on] / 3)
    np.testing.assert_allclose(np.cos(angle - expected), 1.0, atol=1e-12)
    np.testing.assert_array_equal(data.spirals(50, seed=9).X, data.spirals(50, seed=9).X)


def test_docstring_examples():
    import doctest

    failures, tried = doctest.testmod(data)
    assert tried > 10 and failures == 0
