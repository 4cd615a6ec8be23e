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
        result._replace(loss=result.loss * 0).save(path)
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
