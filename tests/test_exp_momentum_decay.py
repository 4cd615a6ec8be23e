"""The momentum / learning-rate decay experiment (quick): the four variants in one sweep,
ordered as heavy-ball theory says at a stable rate, and decay rescuing a too-large one."""

import numpy as np

from experiments import _common

NAME = "momentum_decay"


def test_momentum_and_decay_on_the_digits_mlp(tmp_path, float32):
    record = _common.run(NAME, tmp_path, quick=True, verbose=False)
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    assert np.allclose(h["lrs"], [0.03, 0.2]) and h["seeds"] == 3 and h["steps"] == 600
    loss = {k: h[f"{k}_train_loss_at_lr0.03"] for k in ("sgd", "sgd_decay", "momentum")}
    loss["momentum_decay"] = h["momentum_decay_train_loss_at_lr0.03"]
    # momentum 0.9 (a step ~10x longer) is far ahead of plain SGD at the same rate
    assert loss["momentum"] < 0.2 * loss["sgd"]
    assert loss["momentum_decay"] < 0.2 * loss["sgd_decay"]
    # at a stable rate decay only slows the end of the run (no noise floor here)
    assert loss["sgd"] < loss["sgd_decay"] and loss["momentum"] < loss["momentum_decay"]
    assert h["momentum_val_accuracy_at_lr0.03"] > 0.95
    assert h["momentum_val_accuracy_at_lr0.03"] > h["sgd_val_accuracy_at_lr0.03"]
    # at lr 0.2 momentum blows up without decay (every seed) and survives with it
    assert h["momentum_unstable_fraction_per_lr"] == [0.0, 1.0]
    assert h["momentum_decay_unstable_fraction_per_lr"] == [0.0, 0.0]
    assert abs(h["momentum_unstable_from_lr"] - 0.2) < 1e-6
    assert h["momentum_decay_val_accuracy_per_lr"][1] > 0.9
    # plain SGD is stable at both rates and better at the larger one
    assert h["sgd_unstable_fraction_per_lr"] == [0.0, 0.0]
    assert h["sgd_train_loss_per_lr"][1] < h["sgd_train_loss_per_lr"][0]
    assert [f["file"] for f in record["figures"]] == ["curves.png", "lr_sweep.png"]
    for fig in record["figures"]:
        assert (tmp_path / NAME / fig["file"]).stat().st_size > 5000 and fig["caption"]
