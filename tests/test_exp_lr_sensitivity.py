"""The learning-rate sensitivity experiment against the stability theory of a quadratic."""

import numpy as np

from experiments import _common


def test_lr_sensitivity(tmp_path, float32):
    record = _common.run("lr_sensitivity", tmp_path, quick=True, verbose=False)
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    two_over_L = h["quadratic_2_over_L"]
    assert np.isclose(two_over_L, 0.01)  # L = 2 * 100 for f = x1^2 + 100 x2^2
    # The fine sweep (2.5% steps) brackets the theoretical edge 2 (1 + beta) / L.
    edges = {"0.0": h["quadratic_sgd_edge"], **h["quadratic_momentum_edges"]}
    for beta, e in edges.items():
        assert np.isclose(e["theory"], 2 * (1 + float(beta)) * 0.01 / 2), beta
        lo, hi = e["largest_stable"], e["smallest_unstable"]
        assert lo <= e["theory"] * (1 + 1e-6) and hi >= e["theory"] * (1 - 1e-6), (beta, e)
        assert hi / lo < 1.03, (beta, e)
    # On the coarse grid SGD never diverges up to 2/L, momentum 0.9 up to 2 (1.9) / L,
    # and Adam (steps bounded by its rate) at no rate tried.
    safe, best = h["largest_lr_never_diverged"], h["best_lr"]
    assert 0.0075 <= safe["quadratic"]["sgd"] <= two_over_L * (1 + 1e-6)
    assert two_over_L < safe["quadratic"]["momentum"] <= 1.9 * two_over_L
    assert safe["quadratic"]["adam"] == h["largest_lr_tried"]
    # The best SGD rate is the largest grid rate below 2/L (the optimum is 2/(L + mu)).
    assert 0.5 * two_over_L < best["quadratic"]["sgd"]["lr"] < two_over_L
    assert h["quadratic_2_over_L_plus_mu"] < two_over_L
    assert best["quadratic"]["momentum"]["lr"] < 1.9 * two_over_L
    assert best["quadratic"]["adam"]["lr"] > 0.05
    # Rosenbrock's walls are far steeper: SGD must stay below 2e-3, and momentum,
    # whose quadratic edge is larger, diverges no later than SGD here.
    assert safe["rosenbrock"]["sgd"] < 2e-3
    assert safe["rosenbrock"]["momentum"] <= safe["rosenbrock"]["sgd"]
    assert safe["rosenbrock"]["adam"] > 100 * safe["rosenbrock"]["sgd"]
    assert best["rosenbrock"]["adam"]["median_loss"] < 1e-9
    assert best["rosenbrock"]["sgd"]["median_loss"] > 1e-4  # SGD is still in the valley
    # The best (lr, momentum) cell sits next to Polyak's heavy-ball optimum.
    opt = h["heavy_ball_optimum"]
    assert np.isclose(opt["momentum"], (9 / 11) ** 2) and np.isclose(opt["lr"], 4 / 11**2 / 2)
    assert 0.5 <= h["heatmap_best"]["momentum"] <= 0.8
    assert 0.01 <= h["heatmap_best"]["lr"] < 2 * 1.7 / 200
    assert h["heatmap_best"]["median_loss"] < 1e-9
    files = {f["file"] for f in record["figures"]}
    assert files == {"lr_sensitivity.png", "momentum_heatmap.png", "stability_edge.png"}
    for name in files:
        assert (tmp_path / "lr_sensitivity" / name).stat().st_size > 5000
