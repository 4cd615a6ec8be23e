"""The digits MLP experiment (quick): one lr x weight-decay x seed sweep, the configuration
chosen on validation and its test accuracy, overfitting under label noise."""

import numpy as np

from experiments import _common

NAME = "mlp_digits"


def test_mlp_digits_chooses_on_validation_and_generalizes(tmp_path, float32):
    record = _common.run(NAME, tmp_path, quick=True, verbose=False)
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    assert h["split_sizes"] == [1079, 359, 359]
    assert h["runs"] == 4 * 2 * 2 and h["steps"] == 600
    # the chosen configuration: high validation accuracy, and as high on the test split
    assert h["best_val_accuracy"] > 0.95
    assert h["test_accuracy_early_stopped"] > 0.94
    assert h["test_accuracy_final"] > 0.94
    assert 0 < h["early_stopping_step"] <= h["steps"]
    # the choice is the best cell of the validation table
    table = np.array(h["val_accuracy_at_es"])
    assert table.shape == (4, 2) and abs(table.max() - h["best_val_accuracy"]) < 1e-4
    # the largest quick rate is unstable without decay: worse than with it
    assert table[-1, 0] < 0.9 and table[-1, 0] < table[-1, 1]
    # clean data: the training loss falls far below the validation loss
    assert h["clean_final_train_loss"] < 0.1 * h["clean_min_val_loss"]
    # 30% wrong labels: the network memorizes them, validation accuracy falls after a peak
    assert h["noisy_final_train_accuracy"] > 0.95
    assert h["noisy_peak_val_accuracy"] > h["noisy_final_val_accuracy"] + 0.05
    assert h["noisy_final_val_loss"] > h["noisy_min_val_loss"]
    assert h["noisy_peak_step"] < h["steps"] // 2
    assert [f["file"] for f in record["figures"]] == ["overfitting.png", "lr_wd_heatmap.png"]
    for fig in record["figures"]:
        assert (tmp_path / NAME / fig["file"]).stat().st_size > 5000 and fig["caption"]
