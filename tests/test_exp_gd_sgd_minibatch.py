"""The GD / SGD / minibatch experiment against the seeds' printed numbers and theory."""

import jax
import pytest

from experiments import _common


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with jax.enable_x64(False):  # as users run it
        rec = _common.run("gd_sgd_minibatch", out, quick=True, verbose=False)
    rec["folder"] = out / "gd_sgd_minibatch"
    return rec


def test_predictions_match_the_seeds(record):
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    assert h["predict4_before"] == 4.0
    assert abs(h["w_gd_100_steps"] - 1.9999444396553017) < 1e-5  # seed 000, GD 100 steps
    assert abs(h["predict4_sgd_10_epochs"] - 7.804863933862125) < 1e-5  # seed 002, 10 epochs
    # per example read, SGD gets closest to 8 after 30 examples, minibatches next, GD last
    gd, sgd, mb = (h[f"predict4_after_30_examples_{k}"] for k in ("gd", "sgd", "minibatch2"))
    assert gd < mb < sgd < 8.0
    # at lr 0.01 one-example steps reach MSE 1e-4 with about a third of GD's examples
    assert (
        h["line_examples_to_mse_1e-4_at_lr0.01_sgd"]
        < 0.5 * h["line_examples_to_mse_1e-4_at_lr0.01_gd"]
    )


def test_regression_per_example_read(record):
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    for k in ("sgd", "minibatch32"):
        assert h[f"lsq_examples_to_threshold_{k}"] < h["lsq_examples_to_threshold_gd"] / 5
        assert h[f"lsq_final_suboptimality_{k}"] < h["lsq_final_suboptimality_gd"]
        assert h[f"lsq_final_loss_{k}"] >= h["lsq_min_value"] - 1e-6
    # GD's best step is below the stability limit 2 / L (L ~ 2.02 here)
    assert h["lsq_best_lr_gd"] < 1.0
    # SGD's best final value needs a small step (its noise floor grows with the step)
    assert h["lsq_best_lr_sgd"] < 0.05


def test_figures_are_written(record):
    assert len(record["figures"]) == 3
    for fig in record["figures"]:
        assert (record["folder"] / fig["file"]).stat().st_size > 5000
        assert fig["caption"]
