"""The k-fold experiment (quick): 5-fold validation accuracy over an L2 grid, one program
per data set; good at moderate strengths, underfitting at the largest."""

import numpy as np

from experiments import _common

NAME = "kfold"


def test_kfold_validation_accuracy_over_strengths(tmp_path, float32):
    record = _common.run(NAME, tmp_path, quick=True, verbose=False)
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    strengths = np.array(h["strengths"])
    assert h["folds"] == 5 and len(strengths) == 7
    assert h["breast_cancer_examples"] == 455 and h["digits_examples"] == 1438
    for name, good in (("breast_cancer", 0.95), ("digits", 0.95)):
        val = np.array(h[f"{name}_val_mean"])
        train = np.array(h[f"{name}_train_mean"])
        # well fitted at a sensible strength, and that is what is chosen
        at = int(np.argmin(np.abs(strengths - 1e-2)))
        assert val[at] > good, name
        assert abs(h[f"{name}_chosen_val_mean"] - val.max()) < 1e-4 and val.max() > good
        assert 1e-4 <= h[f"{name}_chosen_strength"] <= 0.1
        assert 0 < h[f"{name}_chosen_val_std"] < 0.05
        # underfitting: validation accuracy falls at the largest strengths, towards the
        # majority-class rate, and training accuracy with it
        assert val[-1] < val[-2] < val[at] - 0.1, name
        assert val[-1] < h[f"{name}_majority_rate"] + 0.15, name
        assert train[-1] < train[at] - 0.2, name
        # small strengths fit the training folds better than the validation folds
        assert train[0] > val[0], name
        # the runs reached the penalized minimizers (full-batch Nesterov at 1 / (L + lambda))
        assert h[f"{name}_max_final_grad_norm"] < 0.02, name
    assert [f["file"] for f in record["figures"]] == ["cv_accuracy.png"]
    for fig in record["figures"]:
        assert (tmp_path / NAME / fig["file"]).stat().st_size > 5000 and fig["caption"]
