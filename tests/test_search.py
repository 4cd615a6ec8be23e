"""`jd.search`: the seeds' exhaustive and coarse-to-fine searches."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxdescent as jd

LINE = jd.problems.linear_regression([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])


def test_seed_grid_search_numbers():
    res = jd.search.grid_search(LINE, np.arange(0.0, 4.1, 0.1))
    assert res.values.shape == (41,) and res.kind == "scalar"
    assert res.values[0] == pytest.approx(18.666666666666668, rel=1e-15)
    assert res.values[5] == pytest.approx(10.5, rel=1e-15)
    assert float(res.best_params) == pytest.approx(2.0, abs=1e-12) and res.best_value < 1e-25
    # the same numbers as the seed's loop, point by point
    loop = [
        sum((x * w - y) ** 2 for x, y in zip([1.0, 2, 3], [2.0, 4, 6])) / 3
        for w in np.arange(0.0, 4.1, 0.1)
    ]
    np.testing.assert_allclose(res.values, loop, rtol=1e-14, atol=1e-28)


def test_two_dimensional_landscape():
    res = jd.search.grid_search(jd.problems.himmelblau(), [np.arange(-6, 6, 0.1)] * 2)
    assert res.values.shape == (120, 120) and res.kind == "vector"
    np.testing.assert_allclose(res.best_params, [3.0, 2.0], atol=1e-9)
    x, y = np.meshgrid(*res.axes, indexing="ij")
    np.testing.assert_allclose(res.values, (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2, rtol=1e-12)
    with_bias = jd.problems.linear_regression([1.0, 2, 3], [3.0, 5, 7], bias=True)
    res = jd.search.grid_search(
        with_bias, {"w": np.linspace(0, 4, 41), "b": np.linspace(-2, 2, 41)}
    )
    assert res.kind == "dict" and float(res.best_params["w"]) == pytest.approx(2.0)
    assert float(res.best_params["b"]) == pytest.approx(1.0)


def test_refine_zooms_in_on_the_minimum():
    res = jd.search.refine_search(LINE, (0.0, 3.3), levels=6, points=5)
    assert len(res.levels) == 6 and res.evaluations == 30
    widths = [lvl.axes[0][-1] - lvl.axes[0][0] for lvl in res.levels]
    assert all(b < a for a, b in zip(widths, widths[1:]))
    assert abs(float(res.best_params) - 2.0) < widths[-1]
    assert res.best_value < jd.search.grid_search(LINE, np.linspace(0.0, 3.3, 5)).best_value


def test_refine_can_miss_the_global_minimum_and_costs_points_to_the_dim():
    # Rastrigin has a local minimum near every integer; a coarse first grid on
    # [-4.5, 5.5] lands best at -2 and every finer level stays in that basin.
    ras = jd.problems.rastrigin(dim=1)
    res = jd.search.refine_search(ras, [(-4.5, 5.5)], levels=6, points=5)
    assert float(res.best_value) > 3.9  # a local minimum (f(-1.99) ~ 3.98), not the global 0
    assert abs(float(res.best_params[0]) + 2.0) < 0.1
    fine = jd.search.refine_search(ras, [(-4.5, 5.5)], levels=6, points=21)
    assert float(fine.best_value) < 1e-6  # a finer first grid does find it
    for dim in (1, 2, 3):
        r = jd.search.refine_search(
            jd.problems.rastrigin(dim=dim), [(-1.0, 1.0)] * dim, levels=2, points=4
        )
        assert r.evaluations == 2 * 4**dim


def test_bad_search_input():
    with pytest.raises(ValueError, match="range"):
        jd.search.grid_search(jd.problems.quadratic(), [np.arange(3.0)])
    with pytest.raises(ValueError, match="low < high"):
        jd.search.refine_search(LINE, (2.0, 1.0))
    with pytest.raises(ValueError, match="points"):
        jd.search.refine_search(LINE, (0.0, 1.0), points=1)
    assert jnp.shape(jd.search.grid_search(LINE, [0.5]).best_params) == ()
