"""`jd.plots`: the artists each figure draws (lines, bands, scales, markers, labels)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import jaxdescent as jd  # noqa: E402

QUAD = jd.problems.quadratic()
NOISY = jd.oracles.gaussian_noise(1.0)


def sgd_m(lr, momentum):
    return optax.sgd(lr, momentum=momentum)


@pytest.fixture(scope="module")
def result():
    return jd.sweep(
        QUAD,
        sgd_m,
        {"lr": [0.01, 0.1, 0.3, 100.0], "momentum": [0.0, 0.9]},
        seeds=5,
        steps=60,
        oracle=NOISY,
        log_every=5,
    )


def bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_smooth_is_an_ewma():
    x = np.array([[0.0, 1.0, 1.0, 1.0], [2.0, 2.0, 0.0, 0.0]])
    s = np.asarray(jd.smooth(x, 0.5))
    np.testing.assert_allclose(s[0], [0.0, 0.5, 0.75, 0.875])
    np.testing.assert_allclose(s[1], [2.0, 2.0, 1.0, 0.5])
    np.testing.assert_array_equal(np.asarray(jd.smooth(x, 1.0)), x)
    with pytest.raises(ValueError, match="alpha"):
        jd.smooth(x, 0.0)


def test_loss_curves_lines_bands_scales(result):
    fig = jd.plots.loss_curves(result, select={"momentum": 0.0}, title="SGD")
    assert isinstance(fig.figure, Figure) and fig.ax is fig.axes[0]
    ax = fig.axes[0]
    assert fig.artists["lines"] == ax.get_lines() and len(fig.artists["bands"]) == 4
    assert len(ax.get_lines()) == 4 and len(bands(ax)) == 4
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "lr=0.01",
        "lr=0.1",
        "lr=0.3",
        "lr=100",
        "10-90% of seeds",
    ]
    assert ax.get_xlabel() == "step" and "median" in ax.get_ylabel() and ax.get_title() == "SGD"
    # the line is the median over seeds of the selected cell
    np.testing.assert_allclose(
        ax.get_lines()[1].get_ydata(),
        np.median(np.asarray(result.sel(lr=0.1, momentum=0.0).loss), 0),
    )
    fig = jd.plots.loss_curves(
        result,
        select={"lr": 0.1},
        band=None,
        smoothing=0.3,
        logx=True,
        x="examples",
        examples_per_step=1,
    )
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 and not bands(ax) and ax.get_xscale() == "log"
    assert ax.get_xlabel() == "examples seen"


def test_trace_2d_contours_and_paths(result):
    fig = jd.plots.trace_2d(QUAD, result, select={"lr": 0.1, "momentum": 0.9}, markers=[[0, 0]])
    ax = fig.axes[0]
    paths = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert len(paths) == 5  # one path per seed
    np.testing.assert_allclose(paths[0].get_xydata()[0], [-5.0, -2.0])
    assert ax.collections, "contour lines are drawn"
    tr = jd.run(QUAD, optax.sgd(0.1), steps=20)
    fig = jd.plots.trace_2d(QUAD, tr)
    assert len(fig.axes[0].get_lines()) == 1


def test_lr_sensitivity_marks_divergence(result):
    fig = jd.plots.lr_sensitivity(result)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "lr"
    assert len(ax.get_lines()) == 2 and len(bands(ax)) == 2  # momentum 0 and 0.9
    marks = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert marks, "diverged learning rates are marked"
    assert np.asarray(result.diverged)[3].all()
    xs = np.concatenate([m.get_offsets()[:, 0] for m in marks])
    assert 100.0 in xs
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("diverged" in t for t in labels)


def test_bound_vs_empirical(result):
    bound = np.linspace(10, 1, 60)
    fig = jd.plots.bound_vs_empirical(
        result, bound, metric="loss", select={"lr": 0.1, "momentum": 0.0}, bound_label="d2l 12.4.17"
    )
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 and len(bands(ax)) == 1
    assert ax.get_lines()[1].get_linestyle() == "--"
    assert "d2l 12.4.17" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_landscape_1d_2d_and_refinement():
    line = jd.problems.linear_regression([1.0, 2, 3], [2.0, 4, 6])
    fig = jd.plots.landscape(jd.search.grid_search(line, np.arange(0.0, 4.1, 0.1)))
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 and ax.get_xlabel() == "w"
    np.testing.assert_allclose(ax.get_lines()[1].get_xydata()[0], [2.0, 0.0], atol=1e-12)
    fig = jd.plots.landscape(jd.search.refine_search(line, (0.0, 4.0), levels=3, points=5))
    assert len(fig.axes[0].get_lines()) == 3 + 1  # the levels as points, and the best
    grid = jd.search.grid_search(jd.problems.himmelblau(), [np.linspace(-6, 6, 50)] * 2)
    fig = jd.plots.landscape(grid, log=True)
    assert len(fig.axes) == 2  # the map and its colorbar


def test_heatmap_over_two_axes(result):
    fig = jd.plots.heatmap(result, x="lr", y="momentum")
    ax = fig.axes[0]
    img = ax.get_images()[0]
    assert img.get_array().shape == (2, 4)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.01", "0.1", "0.3", "100"]
    # lr=100 diverged for every seed: hatched cells, not a colour of the scale
    assert sorted(r.get_xy() for r in fig.artists["diverged"]) == [(2.5, -0.5), (2.5, 0.5)]
    with pytest.raises(ValueError, match="select"):
        jd.plots.heatmap(result, x="lr", y="seed")


def test_marks_can_flag_unstable_runs():
    r = jd.sweep(QUAD, lambda lr: optax.sgd(lr), {"lr": [0.1, 0.6]}, seeds=2, steps=30)
    ax = jd.plots.lr_sensitivity(r).axes[0]
    assert not [c for c in ax.collections if isinstance(c, PathCollection)]
    ax = jd.plots.lr_sensitivity(r, mark="unstable").axes[0]
    marks = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(marks[0].get_offsets()[:, 0], [0.6])
    with pytest.raises(ValueError, match="mark"):
        jd.plots.lr_sensitivity(r, mark="exploded")


def test_axes_options(result):
    ax = jd.plots.loss_curves(
        result, select={"momentum": 0.0}, x="epochs", examples_per_step=1, n_examples=10
    ).axes[0]
    assert ax.get_xlabel() == "epoch"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata()[-1], 6.0)  # 60 steps / 10
    with pytest.raises(ValueError, match="n_examples"):
        jd.plots.loss_curves(result, x="epochs", examples_per_step=1)
    ax = jd.plots.lr_sensitivity(result, ymax=100.0).axes[0]
    assert ax.get_ylim()[1] == 100.0
    ax = jd.plots.bound_vs_empirical(
        result, np.ones(60), metric="loss", xlabel="n", select={"lr": 0.1, "momentum": 0.0}
    ).axes[0]
    assert ax.get_xlabel() == "n"


def test_ymax_keeps_a_sensible_log_range(result):
    ax = jd.plots.lr_sensitivity(result, ymax=1e3).axes[0]
    lo, hi = ax.get_ylim()
    assert hi == 1e3 and 0 < lo < 1


def fake_result(final, diverged=None, axes=None):
    """A SweepResult whose final losses (grid..., seeds) are given: loss = [1, final]."""
    final = np.asarray(final, dtype=float)
    loss = np.stack([np.ones_like(final), final], -1)
    div = ~np.isfinite(final) if diverged is None else np.asarray(diverged)
    trace = jd.Trace(
        step=np.array([0, 1]),
        loss=loss,
        grad_norm=loss,
        params=None,
        metrics={},
        final_params=np.zeros(final.shape + (2,)),
        final_loss=final,
        diverged=div,
        diverged_at=np.where(div, 1, -1),
    )
    return jd.SweepResult(axes, trace, {})


def test_heatmap_draws_nan_inf_and_zero_cells_apart():
    # (momentum 2) x (lr 3) x seeds 3: one NaN cell, one inf cell, one exactly-0 cell
    final = np.array(
        [
            [[1e-2, 1e-2, 1e-2], [0.0, 0.0, 0.0], [np.nan, np.nan, 1.0]],
            [[1e-1, 1e-1, 1e-1], [1.0, 1.0, np.inf], [np.inf, np.inf, np.inf]],
        ]
    )
    r = fake_result(final, axes={"momentum": [0.0, 0.9], "lr": [0.1, 0.2, 0.3], "seed": [0, 1, 2]})
    p = jd.plots.heatmap(r, x="lr", y="momentum")
    img = p.artists["image"][0]
    arr = img.get_array()
    # the colour scale shows only the finite cells; its limits are theirs
    np.testing.assert_array_equal(arr.mask, [[False, True, True], [False, False, True]])
    assert img.get_clim() == (-2.0, 0.0)
    # the diverged cells (NaN and inf medians) are hatched rectangles named "diverged",
    # never a colour of the scale
    div = p.artists["diverged"]
    assert sorted(r.get_xy() for r in div) == [(1.5, -0.5), (1.5, 0.5)]
    assert all(r.get_hatch() == "xxx" for r in div)
    assert div[0].get_facecolor()[:3] != tuple(img.cmap(0.0)[:3])
    zero = p.artists["zero"]
    assert [r.get_xy() for r in zero] == [(0.5, -0.5)] and zero[0].get_hatch() == "..."
    texts = [t.get_text() for t in p.ax.get_legend().get_texts()]
    assert texts == [
        "diverged (median not finite)",
        "exactly 0 (below the log scale)",
        "some seeds diverged",
    ]
    # a partly diverged cell keeps its colour and gets a cross
    np.testing.assert_array_equal(p.artists["marks"][0].get_offsets(), [[1, 1]])
    # annotate: the cell's median at the cell's centre
    p = jd.plots.heatmap(r, x="lr", y="momentum", annotate=True)
    assert [(t.get_position(), t.get_text()) for t in p.artists["text"]][:2] == [
        ((0, 0), "0.01"),
        ((0, 1), "0.1"),
    ]


def test_lr_sensitivity_every_diverged_series_is_visible():
    # three series (opt) x 4 rates x 2 seeds; each series diverges at a different rate
    final = np.ones((3, 4, 2))
    final[0, 3] = np.inf
    final[1, 2:] = np.inf
    final[2, 3, 0] = np.nan
    r = fake_result(
        final, axes={"opt": ["a", "b", "c"], "lr": [0.1, 1.0, 10.0, 100.0], "seed": [0, 1]}
    )
    p = jd.plots.lr_sensitivity(r, label=["SGD", "momentum", "Adam"])
    marks = p.artists["marks"]
    assert all(m is not None for m in marks)
    rows = [float(m.get_offsets()[0, 1]) for m in marks]
    assert len(set(rows)) == 1  # y = 1 (the top of the axes) plus an offset per row
    offsets = [m.get_offset_transform().transform((0.1, 1.0))[1] for m in marks]
    assert len(set(np.round(offsets, 3))) == 3  # each series on its own row
    np.testing.assert_allclose(marks[1].get_offsets()[:, 0], [10.0, 100.0])
    for m, line in zip(marks, p.artists["lines"]):
        assert np.allclose(m.get_facecolor()[0][:3], matplotlib.colors.to_rgb(line.get_color()))
    texts = [t.get_text() for t in p.ax.get_legend().get_texts()]
    assert texts.count("diverged: SGD") == 1 and "diverged: Adam" in texts
    # nothing flagged: no mark and no legend entry for it
    final[:] = 1.0
    p = jd.plots.lr_sensitivity(fake_result(final, axes=r.axes), label=["x", "y", "z"])
    assert p.artists["marks"] == [None, None, None]
    assert not any("diverged" in t.get_text() for t in p.ax.get_legend().get_texts())


def test_style_label_and_best_star(result):
    p = jd.plots.lr_sensitivity(
        result, label=["plain", "heavy ball"], style=[{"color": "k"}, {"ls": ":"}], best=True
    )
    assert p.artists["lines"][0].get_color() == "k"
    assert p.artists["lines"][1].get_linestyle() == ":"
    assert p.ax.get_ylabel() == "final loss (median over seeds)"
    star = p.artists["best"][0]
    assert star.get_xdata()[0] in (0.01, 0.1, 0.3)  # never the diverged rate 100
    with pytest.raises(ValueError, match="label"):
        jd.plots.lr_sensitivity(result, label=["one"])


def test_log_axes_never_draw_zero():
    final = np.array([[1.0, 1.0], [0.0, 0.0]])
    r = fake_result(final, axes={"lr": [0.1, 1.0], "seed": [0, 1]})
    p = jd.plots.lr_sensitivity(r, band=None)
    y = p.artists["lines"][0].get_ydata()
    assert y[0] == 1.0 and np.isnan(y[1]) and "not drawn" in p.ax.get_ylabel()


def test_landscape_draws_samples_as_points_over_the_dense_objective():
    ras = jd.problems.rastrigin(dim=1)
    ref = jd.search.refine_search(ras, [(-4.5, 5.5)], levels=2, points=5)
    p = jd.plots.landscape(ref, problem=ras)
    obj = p.artists["objective"][0]
    assert len(obj.get_xdata()) == 500 and min(obj.get_ydata()) < 0.05  # the minimum at 0
    assert all(line.get_linestyle() == "None" for line in p.artists["levels"])
    grid = jd.search.grid_search(jd.problems.himmelblau(), [np.linspace(-6, 6, 40)] * 2)
    p = jd.plots.landscape(grid, log=True)
    lo, hi = p.artists["objective"][0].get_clim()
    assert lo > -6.5 and "floored" in p.axes[1].get_ylabel()


def test_bands_are_named_once_and_survive_a_callers_legend(result):
    p = jd.plots.loss_curves(result, select={"momentum": 0.0}, band=(0.0, 1.0))
    jd.plots.loss_curves(result, select={"momentum": 0.9}, ax=p.ax, band_label="ignored twice")
    p.ax.legend()  # a caller's own legend keeps the band's entry
    texts = [t.get_text() for t in p.ax.get_legend().get_texts()]
    assert texts.count("min-max of seeds") == 1 and "ignored twice" in texts
    p = jd.plots.lr_sensitivity(result, band_label="min-max over folds")
    assert [t.get_text() for t in p.ax.get_legend().get_texts()][-1] == "min-max over folds"


def test_labels_is_the_former_name_of_label(result):
    p = jd.plots.loss_curves(result, select={"momentum": 0.0}, labels=["a", "b", "c", "d"])
    assert [line.get_label() for line in p.artists["lines"]] == ["a", "b", "c", "d"]
