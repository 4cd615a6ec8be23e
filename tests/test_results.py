"""Saving and loading sweep results: exact round trip, atomic writes."""

import os

import jax
import numpy as np
import optax
import pytest

import jaxdescent as jd

LINE = jd.problems.linear_regression([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], bias=True)


def with_schedule(lr, schedule):
    return optax.sgd(lambda t: lr * schedule(t))


def flat(t):
    return 1.0


def decay(t):
    return 1.0 / (1.0 + t)


@pytest.fixture(scope="module")
def result():
    return jd.sweep(
        LINE,
        with_schedule,
        {"lr": [0.01, 0.05], "schedule": [flat, decay]},
        seeds=[2, 4],
        steps=12,
        log_every=3,
        oracle=jd.oracles.per_sample("shuffle"),
        metrics={"w": lambda p: p["w"]},
    )


def assert_same(a, b):
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


def test_round_trip_is_exact(result, tmp_path):
    path = tmp_path / "sweep.npz"
    result.save(path)
    back = jd.load(path)
    for field in (
        "step",
        "loss",
        "grad_norm",
        "params",
        "metrics",
        "final_params",
        "final_loss",
        "diverged",
        "diverged_at",
    ):
        assert_same(getattr(result, field), getattr(back, field))
    assert list(back.axes) == ["lr", "schedule", "seed"]
    np.testing.assert_array_equal(back.axes["lr"], result.axes["lr"])
    assert back.axes["lr"].dtype == result.axes["lr"].dtype
    assert back.axes["schedule"] == ("flat", "decay")
    np.testing.assert_array_equal(back.axes["seed"], [2, 4])
    assert back.meta == result.meta and back.meta["steps"] == 12
    # selection works the same on the loaded result (static axes by label)
    assert_same(
        back.sel(lr=0.05, schedule="decay", seed=4).loss,
        result.sel(lr=0.05, schedule=decay, seed=4).loss,
    )
    assert [f.name for f in tmp_path.iterdir()] == ["sweep.npz"]


def test_crash_mid_save_leaves_the_old_file(result, tmp_path, monkeypatch):
    path = tmp_path / "sweep.npz"
    result.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        result.replace(loss=result.loss * 0).save(path)
    assert path.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["sweep.npz"]  # no temporary left over
    monkeypatch.undo()
    np.testing.assert_array_equal(jd.load(path).loss, result.loss)


def test_load_rejects_other_files(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.ones(2), __meta__=np.frombuffer(b'{"x": 1}', np.uint8))
    with pytest.raises(ValueError, match="not a saved"):
        jd.load(tmp_path / "other.npz")


def test_repr_is_a_summary(result):
    text = repr(result)
    assert "lr=2" in text and "schedule=2" in text and "seed=2" in text and "n_log=5" in text


def sgd_m(lr, momentum):
    return optax.sgd(lr, momentum=momentum)


@pytest.fixture(scope="module")
def grid_result():
    quad = jd.problems.quadratic()
    return jd.sweep(
        quad,
        sgd_m,
        {"lr": [0.01, 0.1, 0.3, 100.0], "momentum": [0.0, 0.9]},
        seeds=4,
        steps=60,
        oracle=jd.oracles.gaussian_noise(1.0),
        log_every=20,
    )


def test_mean_and_quantile_over_seeds(grid_result):
    r = grid_result
    m = r.mean("seed")
    assert list(m.axes) == ["lr", "momentum"] and m.loss.shape == (4, 2, 4)
    np.testing.assert_allclose(m.loss, np.asarray(r.loss).mean(axis=2), rtol=1e-12)
    np.testing.assert_array_equal(m.diverged, np.asarray(r.diverged).any(axis=2))
    assert np.all(np.asarray(m.diverged)[3]) and not np.any(np.asarray(m.diverged)[:3])
    np.testing.assert_array_equal(m.diverged_at[3], np.asarray(r.diverged_at)[3].min(axis=-1))
    q = r.quantile([0.1, 0.5, 0.9])
    assert list(q.axes) == ["quantile", "lr", "momentum"] and q.loss.shape == (3, 4, 2, 4)
    np.testing.assert_allclose(q.loss[1][:3], np.median(np.asarray(r.loss)[:3], axis=2), rtol=1e-12)
    cell = r.sel(lr=0.1, momentum=0.9).mean("seed")
    assert isinstance(cell, jd.Trace) and cell.loss.shape == (4,)


def test_best_ignores_diverged_runs(grid_result):
    r = grid_result
    b = r.best("lr")
    final = np.asarray(r.final_loss)
    med = np.median(final[:3], axis=2)  # lr = 100 diverged for every seed
    np.testing.assert_array_equal(b.index, np.argmin(med, axis=0))
    np.testing.assert_allclose(b.score, med.min(axis=0), rtol=1e-12)
    np.testing.assert_allclose(b.values, np.asarray(r.axes["lr"])[b.index])
    assert list(b.result.axes) == ["momentum", "seed"] and b.result.loss.shape == (2, 4, 4)
    np.testing.assert_array_equal(b.result.loss[1], np.asarray(r.loss)[b.index[1], 1])
    with pytest.raises(ValueError, match="seed"):
        r.best("seed")


def test_to_xarray_and_dataframe(grid_result):
    r = grid_result
    ds = r.to_xarray()
    assert ds["loss"].dims == ("lr", "momentum", "seed", "step")
    np.testing.assert_array_equal(ds["loss"].values, np.asarray(r.loss))
    np.testing.assert_array_equal(ds["params"].values, np.asarray(r.params))
    df = r.to_dataframe()
    assert len(df) == 4 * 2 * 4 * 4
    assert list(df.columns[:4]) == ["lr", "momentum", "seed", "step"]
    row = df[
        np.isclose(df.momentum, 0.9) & (df.seed == 2) & (df.step == 20) & np.isclose(df.lr, 0.1)
    ]
    assert len(row) == 1
    assert float(row.loss.iloc[0]) == float(r.sel(lr=0.1, momentum=0.9, seed=2).loss[1])


def test_missing_extras_name_the_install(grid_result, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "xarray", None)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"jaxdescent\[xarray\]"):
        grid_result.to_xarray()
    with pytest.raises(ImportError, match=r"jaxdescent\[pandas\]"):
        grid_result.to_dataframe()


def test_unstable_catches_growth_before_overflow():
    quad = jd.problems.quadratic()
    r = jd.sweep(quad, lambda lr: optax.sgd(lr), {"lr": [0.1, 0.6, 1e6]}, seeds=2, steps=30)
    # lr 0.6 > 2/L = 0.5 grows like 1.4^t: finite after 30 steps, but unstable
    np.testing.assert_array_equal(np.asarray(r.diverged)[:, 0], [False, False, True])
    np.testing.assert_array_equal(r.unstable()[:, 0], [False, True, True])
