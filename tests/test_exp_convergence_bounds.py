"""The convergence_bounds experiment (quick): the convex SGD bound lies above the
empirical averaged-iterate suboptimality, the Drori-Teboulle bound is attained by
Huber functions, and GD blows up at the first grid step above 2/L."""

import numpy as np

from experiments import _common

NAME = "convergence_bounds"


def test_convergence_bounds_hold_and_are_tight_where_theory_says(tmp_path, float32):
    record = _common.run(NAME, tmp_path, quick=True, verbose=False)
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    hl = record["summary"]

    cv = hl["convex"]
    r, G, T = np.sqrt(29.0), np.sqrt(166.0), 1000  # ||x_0||, E||g_0||^2 = 10^2 + 8^2 + 2
    assert abs(cv["r"] - r) < 1e-5 and abs(cv["G"] - G) < 1e-5
    assert np.allclose(cv["G_range_over_configs"], G, rtol=1e-5)  # the start dominates
    assert abs(cv["eta_star"] - r / (G * np.sqrt(T))) < 1e-6
    assert abs(cv["bound_at_eta_star"] - r * G / np.sqrt(T)) < 1e-4
    assert cv["min_ratio_bound_over_empirical"] > 1.5  # above everywhere, with room
    assert cv["empirical_at_eta_star"] < cv["bound_at_eta_star"]
    assert cv["best_constant_step_empirical"] > 10 * cv["eta_star"]  # the bound is loose

    gd = hl["gd"]
    assert abs(gd["L"] - 1) < 1e-5 and abs(gd["r"] - 1) < 1e-5
    for h in ("0.25", "0.5", "1.0"):
        assert gd["least_squares_min_ratio_tight_over_empirical"][h] > 1
        assert np.allclose(gd["huber_value_over_tight_bound_at_n_target"][h], 1, atol=1e-4)
        assert gd["huber_max_over_n_of_value_over_bound"][h] < 1 + 1e-4

    st = hl["stability"]
    assert st["L"] == [2.0, 6.0, 20.0, 60.0, 200.0]
    ratio = np.array(st["ratio_empirical_over_theory"])
    assert np.all(ratio > 1) and np.all(ratio <= st["grid_ratio"] * (1 + 1e-9))
    assert all(st["blown_up_set_is_upper_interval"])
    assert np.all(np.array(st["nonfinite_threshold_ratio"]) >= ratio)

    files = [f["file"] for f in record["figures"]]
    assert files == [
        "bound_vs_step.png",
        "bound_over_T.png",
        "gd_smooth_convex.png",
        "gd_threshold.png",
    ]
    for f in files:
        assert (tmp_path / NAME / f).stat().st_size > 5000
