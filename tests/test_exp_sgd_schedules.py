"""The sgd_schedules experiment (quick): empirical RMS distances against the exact
moments, d2l's exponential stall near x1 = -0.83, and its printed iterates."""

import numpy as np

from experiments import _common

NAME = "sgd_schedules"


def test_sgd_schedules_matches_exact_moments_and_d2l(tmp_path, float32):
    record = _common.run(NAME, tmp_path, quick=True, verbose=False)
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    hl = record["summary"]
    assert hl["steps"] == 1000 and hl["seeds"] == 256
    rms = hl["final_rms_distance"]
    assert list(rms) == ["constant", "exponential", "polynomial", "piecewise"]
    # constant step: the stationary RMS sqrt(sum_i eta / (4 s_i (1 - eta s_i)))
    eta, s = 0.1, np.array([1.0, 2.0])
    assert abs(rms["constant"]["exact"] - np.sqrt(np.sum(eta / (4 * s * (1 - eta * s))))) < 1e-5
    # the decaying schedules end closer than the constant one; exponential stalls far out
    assert rms["piecewise"]["exact"] < rms["polynomial"]["exact"] < rms["constant"]["exact"]
    assert 0.8 < rms["exponential"]["exact"] < 0.86
    # empirical RMS over 256 seeds within ~3 standard errors of the exact value
    for name, tol in (
        ("constant", 0.1),
        ("exponential", 0.03),
        ("polynomial", 0.1),
        ("piecewise", 0.1),
    ):
        assert abs(rms[name]["rel_err"]) < tol, name
    ex = hl["exponential_final_x"]
    mean, std = np.array(ex["exact_mean"]), np.array(ex["exact_std"])
    assert -0.85 < mean[0] < -0.8 and abs(mean[1]) < 0.06
    n = hl["seeds"]
    assert np.all(np.abs(np.array(ex["empirical_mean"]) - mean) < 4 * std / np.sqrt(n))
    assert np.all(np.abs(np.array(ex["empirical_std"]) / std - 1) < 4 / np.sqrt(2 * n))
    # d2l's printed iterates are plausible draws from the exact distribution
    assert np.all(np.abs(ex["d2l_z_scores"]) < 2)
    for name in ("constant", "polynomial"):
        assert np.all(np.abs(hl["d2l_t50"][name]["d2l_z_scores"]) < 3.5), name
    for fig in record["figures"]:
        assert (tmp_path / NAME / fig["file"]).stat().st_size > 5000 and fig["caption"]
    assert [f["file"] for f in record["figures"]] == [
        "paths.png",
        "distance.png",
        "exponential_coordinates.png",
    ]
