"""The Himmelblau experiment: seed 004's Adam run, and the basins of three optimizers."""

import numpy as np

from experiments import _common
from experiments.himmelblau_optimizers import SEED_LOSSES, SEED_STEPS


def test_himmelblau_optimizers(tmp_path, float32):
    record = _common.run("himmelblau_optimizers", tmp_path, quick=True, verbose=False)
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    # Seed 004: Adam, lr 1e-3, 20000 steps from (0, 0) ends at x = [3.0, 2.0], f = 0.0.
    assert h["adam_seed_distance_to_3_2"] < 1e-3
    assert np.allclose(h["adam_seed_final"], [3.0, 2.0], atol=1e-3)
    assert h["adam_seed_final_loss"] < 1e-9
    # ... and passes through the printed losses on the way (PyTorch float32 vs optax).
    for step, printed in zip(SEED_STEPS, SEED_LOSSES):
        assert np.isclose(h["adam_seed_losses_at"][str(step)], printed, rtol=1e-2)
    # Every start on [-5, 5]^2 reaches one of the four minima, each minimum from a
    # quarter of the starts or so, for all three optimizers.
    for opt, counts in h["counts"].items():
        assert counts["diverged"] == 0 and counts["unconverged"] == 0, opt
        assert h["fraction_converged"][opt] == 1.0
        per_minimum = [v for k, v in counts.items() if k.startswith("(")]
        assert len(per_minimum) == 4 and sum(per_minimum) == h["starts"]
        assert min(per_minimum) > 0.15 * h["starts"], (opt, per_minimum)
    # SGD and momentum settle to rounding error; Adam keeps making small excursions.
    assert h["max_final_distance"]["sgd"] < 1e-5 and h["max_final_distance"]["momentum"] < 1e-5
    assert h["median_final_distance"]["adam"] < 1e-5 < h["max_final_distance"]["adam"] < 0.1
    # Momentum overshoots into other basins more often than Adam does.
    assert h["agree_with_sgd"]["momentum"] < h["agree_with_sgd"]["adam"] < 1.0
    for fig in record["figures"]:
        assert (tmp_path / "himmelblau_optimizers" / fig["file"]).stat().st_size > 5000
    assert {f["file"] for f in record["figures"]} == {"paths.png", "basins.png", "adam_seed.png"}
