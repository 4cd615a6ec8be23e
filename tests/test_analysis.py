"""`jd.analysis` (first flagged, steps to target, best by a divergence rule) and the
momentum stability edge, checked by hand and on a real sweep."""

import numpy as np
import optax
import pytest

import jaxdescent as jd


def test_first_flagged_and_last_clear_by_hand():
    flags = np.array([[0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    assert jd.first_flagged(flags).tolist() == [2, 1, -1, 0]
    assert jd.last_clear(flags).tolist() == [1, 0, 3, -1]
    assert jd.first_flagged(flags, axis=0).tolist() == [3, 1, 0, 0]


def test_first_below_skips_nonfinite_and_broadcasts_targets():
    loss = np.array([[5.0, np.inf, 0.5, 0.1], [5.0, 4.0, 3.0, 2.0]])
    assert jd.first_below(loss, 1.0).tolist() == [2, -1]
    assert jd.first_below(loss, np.array([0.1, 3.0])).tolist() == [3, 2]
    assert jd.first_below(loss.T, 1.0, axis=0).tolist() == [2, -1]


def test_best_index_by_a_stated_rule():
    scores = np.array([[3.0, 1.0, 0.5, np.nan], [np.inf, np.inf, 2.0, 1.0]])
    flagged = np.array([[0, 0, 1, 0], [0, 0, 0, 1]], bool)
    assert jd.best_index(scores, flagged).tolist() == [1, 2]
    assert jd.best_index(scores).tolist() == [2, 3]
    assert int(jd.best_index([1.0, 2.0], [True, True])) == -1


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_momentum_edge_matches_the_sweep(beta):
    # f = x1^2 + 100 x2^2: L = 200; heavy ball is stable below 2 (1 + beta) / L
    problem = jd.problems.quadratic(scales=(1.0, 100.0))
    edge = float(jd.bounds.heavy_ball_stable_step(problem=problem, momentum=beta))
    assert edge == pytest.approx(2 * (1 + beta) / 200.0)
    ratios = np.array([0.9, 0.98, 1.02, 1.1])
    r = jd.sweep(
        problem,
        lambda ratio: optax.sgd(ratio * edge, momentum=beta),
        {"ratio": ratios},
        steps=400,
        log_every=400,
    )
    unstable = r.unstable().any(-1)  # (ratio,): some seed blew up
    assert jd.first_flagged(unstable).item() == 2  # the first ratio above 1
    assert jd.last_clear(unstable).item() == 1


def test_heavy_ball_optimal_contracts_at_sqrt_beta():
    lr, beta = (float(v) for v in jd.bounds.heavy_ball_optimal(2.0, 200.0)[:2])
    assert lr == pytest.approx(4 / (np.sqrt(200) + np.sqrt(2)) ** 2)
    # the iteration matrix on both extreme curvatures has spectral radius sqrt(beta)
    for h in (200.0, 2.0):
        m = np.array([[1 + beta - lr * h, -beta], [1.0, 0.0]])
        assert np.max(np.abs(np.linalg.eigvals(m))) == pytest.approx(np.sqrt(beta), rel=1e-6)
