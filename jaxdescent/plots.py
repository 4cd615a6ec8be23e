"""Figures of sweeps: loss curves, paths on contours, learning-rate sensitivity, bounds.

Every function draws into ``ax=`` when one is given (a new figure otherwise), never
calls ``plt.show()``, works headless (Agg) and returns a `Plot`: the figure, the axes
and the artists it drew by role, so a caller adds to a figure without restyling it.
Series take ``label=`` (one label, or one per series) and ``style=`` (matplotlib line
keywords, one dict for all series or one per series). Curves over seeds are summarized
by their median with a quantile band (10-90% by default) that the legend names;
diverged runs are marked, never dropped silently; a log axis never draws log 0 (values
<= 0 are left out, and the axis label says so).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent.results import SweepResult, axis_label
from jaxdescent.trace import Trace

__all__ = [
    "Plot",
    "smooth",
    "loss_curves",
    "trace_2d",
    "lr_sensitivity",
    "bound_vs_empirical",
    "landscape",
    "heatmap",
    "cell_position",
    "words",
]


def smooth(x, alpha: float, axis: int = -1):
    """Exponentially weighted moving average along ``axis`` (the material's smoothing).

    s_0 = x_0,  s_t = (1 - alpha) s_{t-1} + alpha x_t, with ``alpha`` in (0, 1] the
    weight of the newest value (``alpha=1`` returns ``x``). Non-finite values pass
    through (a diverged curve stays visibly diverged).

    Example:
      >>> import numpy as np, jaxdescent as jd
      >>> np.asarray(jd.smooth(np.array([0.0, 1.0, 1.0]), 0.5)).tolist()
      [0.0, 0.5, 0.75]
    """
    if not 0 < float(alpha) <= 1:
        raise ValueError(f"smooth: `alpha` must be in (0, 1], got {alpha}.")
    x = jnp.moveaxis(jnp.asarray(x), axis, 0)

    def step(s, xt):
        s = (1 - alpha) * s + alpha * xt
        return s, s

    _, out = jax.lax.scan(step, x[0], x[1:])
    return jnp.moveaxis(jnp.concatenate([x[:1], out]), 0, axis)


# --- the returned record and helpers ------------------------------------------------


class Plot(NamedTuple):
    """What a `jd.plots` function drew.

    Attributes:
      figure: the matplotlib ``Figure`` (``ax.figure`` when ``ax=`` was given).
      ax: the ``Axes`` drawn into.
      artists: dict role -> list of artists, e.g. ``{"lines": [...], "bands": [...],
        "marks": [...]}``: one entry per series, in the order of the series.

    ``plot.savefig(...)`` and ``plot.axes`` read through to the figure.
    """

    figure: Any
    ax: Any
    artists: dict

    def savefig(self, *args, **kwargs):
        """``figure.savefig``."""
        return self.figure.savefig(*args, **kwargs)

    @property
    def axes(self) -> list:
        """The figure's axes (the drawing axes first, then colour bars)."""
        return self.figure.axes


#: Axis labels in words for the metrics a sweep logs.
METRIC_WORDS = {
    "loss": "loss",
    "final_loss": "final loss",
    "best_loss": "lowest loss reached",
    "grad_norm": "gradient norm",
    "suboptimality": "suboptimality f(x) - f*",
    "avg_suboptimality": "suboptimality of the averaged iterate",
    "accuracy": "accuracy",
    "test_accuracy": "test accuracy",
    "dist": "distance to the minimizer",
}


def words(metric: str) -> str:
    """A metric's name in words (``"final_loss"`` -> ``"final loss"``).

    Example:
      >>> from jaxdescent import plots
      >>> plots.words("avg_suboptimality"), plots.words("val_error")
      ('suboptimality of the averaged iterate', 'val error')
    """
    return METRIC_WORDS.get(metric, metric.replace("_", " "))


def _axes(ax, figsize=(6.0, 4.0)):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _select(result, select):
    if select:
        result = result.sel(**select)
    return result


def _series(result, metric):
    """(array with the seed axis last-but-one and steps last, grid axes dict) for a metric."""
    if isinstance(result, Trace):
        values = (
            result.loss
            if metric == "loss"
            else (result.grad_norm if metric == "grad_norm" else result.metrics[metric])
        )
        return np.asarray(values)[None, None], {}
    values = {"loss": result.loss, "grad_norm": result.grad_norm}.get(metric)
    if values is None:
        if metric not in result.metrics:
            raise ValueError(
                f"unknown metric {metric!r}; logged: loss, grad_norm, {', '.join(result.metrics)}."
            )
        values = result.metrics[metric]
    values = np.asarray(values)
    axes = {k: v for k, v in result.axes.items() if k != "seed"}
    if "seed" not in result.axes:  # a seed was selected: keep a seed axis of 1
        values = values[..., None, :]
    grid_shape = tuple(len(v) for v in axes.values())
    return values.reshape((int(np.prod(grid_shape, dtype=int)),) + values.shape[-2:]), axes


def _labels(axes: dict) -> list[str]:
    if not axes:
        return [""]
    out = []
    for combo in itertools.product(*axes.values()):
        parts = []
        for name, v in zip(axes, combo):
            v = v if not isinstance(v, np.generic) else v.item()
            parts.append(f"{name}={v:.3g}" if isinstance(v, float) else f"{name}={axis_label(v)}")
        out.append(", ".join(parts))
    return out


def _names(label, axes: dict, n: int) -> list[str]:
    """One legend label per series: ``label`` (a string for one series, or a sequence)
    or the grid values."""
    if label is None:
        return _labels(axes) if n > 1 or axes else [""] * n
    names = [label] if isinstance(label, str) else list(label)
    if len(names) != n:
        raise ValueError(f"`label` needs {n} entries (one per series), got {len(names)}.")
    return names


def _styles(style, n: int) -> list[dict]:
    """One dict of line keywords per series from ``style`` (a dict, or a sequence)."""
    if style is None:
        return [{}] * n
    if isinstance(style, dict):
        return [dict(style)] * n
    styles = [dict(s) for s in style]
    if len(styles) != n:
        raise ValueError(f"`style` needs {n} dicts (one per series), got {len(styles)}.")
    return styles


def _band(values, band):
    """median and (lo, hi) quantiles over axis 0, ignoring non-finite seeds."""
    v = np.where(np.isfinite(values), values, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(v, axis=0)
        lo, hi = np.nanquantile(v, band, axis=0) if band else (None, None)
    return med, lo, hi


def _positive(*arrays):
    """The arrays with values <= 0 replaced by NaN (not drawn on a log axis), and
    whether any was."""
    out = [None if a is None else np.where(np.asarray(a) > 0, a, np.nan) for a in arrays]
    dropped = any(a is not None and np.any(np.asarray(a) <= 0) for a in arrays)
    return out, dropped


def _name_once(ax, artist, text: str) -> None:
    """Labels ``artist`` for the legend unless an artist of ``ax`` already carries
    ``text`` (several calls drawing into one axes name a band or a mark once), so the
    entry survives a caller's own ``ax.legend()``."""
    drawn = [*ax.collections, *ax.lines, *ax.patches]
    if artist is not None and not any(a.get_label() == text for a in drawn):
        artist.set_label(text)


def _band_entry(ax, band, bands: list, text: str | None = None) -> None:
    """Names the band in the legend: ``text``, by default "10-90% of seeds" (on the
    first band drawn)."""
    if text is None:
        lo, hi = band
        text = "min-max of seeds" if (lo, hi) == (0, 1) else f"{100 * lo:g}-{100 * hi:g}% of seeds"
    _name_once(ax, bands[0], text)


def _legend(ax, extra=(), **kwargs):
    """A legend of the labelled artists plus ``extra`` handles, without duplicates;
    none when nothing is labelled."""
    handles, labels = ax.get_legend_handles_labels()
    seen, hs, ls = set(), [], []
    for h, lab in list(zip(handles, labels)) + [(h, h.get_label()) for h in extra]:
        if lab and not lab.startswith("_") and lab not in seen:
            seen.add(lab)
            hs.append(h)
            ls.append(lab)
    from matplotlib.collections import PolyCollection

    last = [isinstance(h, PolyCollection) for h in hs]  # the band's entry after the series
    hs = [h for h, b in zip(hs, last) if not b] + [h for h, b in zip(hs, last) if b]
    ls = [x for x, b in zip(ls, last) if not b] + [x for x, b in zip(ls, last) if b]
    if hs:
        ax.legend(hs, ls, fontsize="small", **kwargs)


# --- figures -----------------------------------------------------------------------


def loss_curves(
    result: SweepResult | Trace,
    metric: str = "loss",
    *,
    select: dict | None = None,
    band: Sequence[float] | None = (0.1, 0.9),
    band_label: str | None = None,
    smoothing: float | None = None,
    x: str = "step",
    examples_per_step: float | None = None,
    n_examples: int | None = None,
    logx: bool = False,
    logy: bool = True,
    label: str | Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    style: dict | Sequence[dict] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    ax=None,
    title: str | None = None,
) -> Plot:
    """A logged metric against step: one line per configuration, median over seeds with
    a quantile band (named in the legend).

    Args:
      result: a `SweepResult` (or a `Trace`).
      metric: "loss", "grad_norm" or a logged metric name.
      select: ``result.sel(**select)`` first (e.g. ``{"momentum": 0.9}``).
      band: quantiles of the band over seeds, or None.
      band_label: the band's legend entry (default "10-90% of seeds").
      smoothing: EWMA ``alpha`` (see `smooth`) applied per seed before summarizing.
      x: "step", "examples" (step x ``examples_per_step``: compare GD and SGD by data
        read; see ``oracle.examples_per_step(problem)``) or "epochs" (examples /
        ``n_examples``).
      logx, logy: log scales; on a log y axis values <= 0 are not drawn (the y label
        says so), on a log x axis step 0 is not drawn.
      label: legend label(s), one per configuration (default: axis=value);
        ``labels=`` is the same (the former name).
      style: line keywords, one dict for all or one per configuration.
      xlabel, ylabel: axis labels (default: the x quantity; the metric in words).

    Returns:
      A `Plot` with artists ``"lines"`` and ``"bands"`` (one per configuration).
    """
    result = _select(result, select)
    values, axes = _series(result, metric)
    if smoothing is not None:
        values = np.asarray(smooth(values, smoothing, axis=-1))
    steps = np.asarray(result.step, dtype=float)
    if x in ("examples", "epochs"):
        if examples_per_step is None:
            raise ValueError(f"loss_curves: x={x!r} needs examples_per_step=.")
        steps = steps * examples_per_step
        if x == "epochs":
            if not n_examples:
                raise ValueError("loss_curves: x='epochs' needs n_examples= (the data set size).")
            steps = steps / n_examples
    elif x != "step":
        raise ValueError(f"loss_curves: x must be 'step', 'examples' or 'epochs', got {x!r}.")
    fig, ax = _axes(ax)
    names = _names(label if labels is None else labels, axes, len(values))
    styles = _styles(style, len(values))
    keep = steps > 0 if logx else np.ones(len(steps), bool)
    lines, bands, dropped, extra = [], [], False, []
    for i, vals in enumerate(values):
        med, lo, hi = _band(vals[:, keep], band)
        if logy:
            (med, lo, hi), d = _positive(med, lo, hi)
            dropped |= d
        (line,) = ax.plot(steps[keep], med, **{"lw": 1.6, "label": names[i], **styles[i]})
        lines.append(line)
        if band is not None and vals.shape[0] > 1:
            bands.append(
                ax.fill_between(steps[keep], lo, hi, color=line.get_color(), alpha=0.2, lw=0)
            )
    if bands:
        _band_entry(ax, band, bands, band_label)
    ax.set_xlabel(xlabel or {"examples": "examples seen", "epochs": "epoch"}.get(x, "step"))
    text = ylabel if ylabel is not None else words(metric)
    text += " (median over seeds)" if ylabel is None and values.shape[1] > 1 else ""
    ax.set_ylabel(text + (" (values <= 0 not drawn)" if dropped and text else ""))
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    _legend(ax, extra)
    if title:
        ax.set_title(title)
    return Plot(fig, ax, {"lines": lines, "bands": bands})


def trace_2d(
    problem,
    result_or_trace,
    *,
    select: dict | None = None,
    max_paths: int = 16,
    levels: int = 30,
    bounds: tuple | None = None,
    points: int = 200,
    markers: Any = None,
    every: int = 1,
    label: str | Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    style: dict | Sequence[dict] | None = None,
    ax=None,
    title: str | None = None,
) -> Plot:
    """d2l's ``show_trace_2d``: contours of a 2-D objective with optimization paths.

    Args:
      problem: a `jd.Problem` on R^2 (params of shape (2,)).
      result_or_trace: a `Trace`, or a `SweepResult` with kept params; after
        ``select`` every remaining cell (configurations x seeds) is a path, at most
        ``max_paths`` of them.
      levels: contour levels (log-spaced for a positive objective).
      bounds: ((x0, x1), (y0, y1)); default: the paths' box, padded.
      markers: optional (k, 2) points to mark (e.g. known minima).
      every: draw every ``every``-th logged point of each path (the last one always),
        so that many paths stay readable.
      label, style: legend label(s) and line keywords per path.

    Returns:
      A `Plot` with artists ``"paths"``, ``"contours"`` and ``"markers"``.
    """
    paths = _paths(_select(result_or_trace, select))[:max_paths]
    if every > 1:
        paths = [np.concatenate([p[::every], p[-1:]]) for p in paths]
    pts = np.concatenate([p[np.all(np.isfinite(p), axis=1)] for p in paths])
    if bounds is None:
        lo, hi = pts.min(0), pts.max(0)
        pad = 0.15 * np.maximum(hi - lo, 1e-3) + 0.1
        bounds = ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
    gx = np.linspace(*bounds[0], points)
    gy = np.linspace(*bounds[1], points)
    X, Y = np.meshgrid(gx, gy)
    grid = jnp.stack([X.ravel(), Y.ravel()], axis=1).astype(jnp.result_type(float))
    Z = np.asarray(jax.jit(jax.vmap(problem.objective))(grid)).reshape(X.shape)
    fig, ax = _axes(ax, figsize=(5.5, 4.5))
    zmin = np.nanmin(Z)
    if zmin >= 0 and np.nanmax(Z) > 100 * max(zmin, 1e-12):
        lv = np.geomspace(max(zmin, np.nanmax(Z) * 1e-6), np.nanmax(Z), levels)
    else:
        lv = levels
    contours = ax.contour(X, Y, Z, levels=lv, cmap="Greys", linewidths=0.7)
    label = label if labels is None else labels
    names = [None] * len(paths) if label is None else _names(label, {}, len(paths))
    styles = _styles(style, len(paths))
    drawn = [
        ax.plot(p[:, 0], p[:, 1], **{"marker": "o", "ms": 2, "lw": 1, "label": n, **s})[0]
        for p, n, s in zip(paths, names, styles)
    ]
    marks = []
    if markers is not None:
        m = np.asarray(markers)
        marks = ax.plot(m[:, 0], m[:, 1], "*", color="k", ms=10, label="minima")
    ax.set_xlim(*bounds[0])
    ax.set_ylim(*bounds[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    _legend(ax)
    if title:
        ax.set_title(title)
    return Plot(fig, ax, {"paths": drawn, "contours": [contours], "markers": marks})


def _paths(result) -> list:
    if isinstance(result, Trace):
        if result.params is None:
            raise ValueError("trace_2d needs the path: run with keep_params=True.")
        return [np.asarray(result.params)]
    if result.params is None:
        raise ValueError("trace_2d needs the paths: sweep with keep_params=True.")
    params = np.asarray(result.params)
    if params.shape[-1] != 2:
        raise ValueError(f"trace_2d needs params of shape (2,), got {params.shape[-1:]}.")
    return list(params.reshape(-1, *params.shape[-2:]))


def _final_values(result, metric):
    if metric == "final_loss":
        return np.asarray(result.final_loss, dtype=float)
    if metric == "best_loss":
        loss = np.asarray(result.loss, dtype=float)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmin(np.where(np.isfinite(loss), loss, np.nan), axis=-1)
    if metric not in result.metrics:
        raise ValueError(f"unknown metric {metric!r}; logged: {', '.join(result.metrics)}.")
    return np.asarray(result.metrics[metric], dtype=float)[..., -1]


def lr_sensitivity(
    result: SweepResult,
    axis: str = "lr",
    *,
    metric: str = "final_loss",
    select: dict | None = None,
    band: Sequence[float] | None = (0.1, 0.9),
    band_label: str | None = None,
    logy: bool = True,
    mark: str = "diverged",
    best: bool = False,
    ymax: float | None = None,
    label: str | Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    style: dict | Sequence[dict] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    ax=None,
    title: str | None = None,
) -> Plot:
    """Final (or best) loss against the learning rate on a log axis.

    The median over seeds with a quantile band; one line per combination of the other
    grid axes. A rate at which some seed diverged is marked with an ``x`` in the
    series' colour on its own row in a strip just above the axes (series 0 lowest), so
    the marks of every series stay visible and never read as data; the mark grows with
    the fraction of seeds, and the legend names the row ("diverged: <series>") only for
    series that have marks.
    ``mark="unstable"`` also marks runs whose final loss ended above their initial loss
    (see `SweepResult.unstable`). ``best=True`` stars each series' best rate by
    `best_index` (lowest median among rates where no seed is flagged). ``ymax`` caps
    the y axis.

    Args:
      metric: "final_loss" (the loss at the last step) or "best_loss" (the minimum
        logged loss), or any logged metric name (its last value).
      label, style: legend label(s) and line keywords per series.

    Returns:
      A `Plot` with artists ``"lines"``, ``"bands"``, ``"marks"`` (one scatter per
      series, None where nothing was flagged) and ``"best"``.
    """
    from jaxdescent.analysis import best_index

    result = _select(result, select)
    if axis not in result.axes:
        raise ValueError(f"lr_sensitivity: no axis {axis!r}; axes are {list(result.axes)}.")
    order = [a for a in result.axes if a not in (axis, "seed")] + [axis, "seed"]
    perm = [list(result.axes).index(a) for a in order]
    values = np.transpose(_final_values(result, metric), perm)
    xs = np.asarray(result.axes[axis], dtype=float)
    other = {a: result.axes[a] for a in order[:-2]}
    values = values.reshape(-1, len(xs), values.shape[-1])
    flagged = np.transpose(_flags(result, mark), perm).reshape(values.shape)
    fig, ax = _axes(ax)
    names = _names(label if labels is None else labels, other, values.shape[0])
    styles = _styles(style, values.shape[0])
    from matplotlib.transforms import offset_copy

    top = ax.get_xaxis_transform()  # x in data, y in axes fraction
    rows = 0
    out = {"lines": [], "bands": [], "marks": [], "best": []}
    extra, dropped = [], False
    for i in range(values.shape[0]):
        med, lo, hi = _band(np.moveaxis(values[i], -1, 0), band)
        if logy:
            (med, lo, hi), d = _positive(med, lo, hi)
            dropped |= d
        s = {"marker": "o", "ms": 3, "label": names[i] or words(metric), **styles[i]}
        (line,) = ax.plot(xs, med, **s)
        out["lines"].append(line)
        if band is not None and values.shape[-1] > 1:
            out["bands"].append(
                ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
            )
        frac = flagged[i].mean(-1)
        hit = frac > 0
        marks = None
        if np.any(hit):
            row = offset_copy(top, fig=fig, y=6 + 9 * rows, units="points")
            rows += 1
            marks = ax.scatter(
                xs[hit],
                np.ones(hit.sum()),
                transform=row,
                marker="x",
                s=25 + 50 * frac[hit],
                color=line.get_color(),
                label=f"{mark}: {names[i]}" if names[i] else mark,
                zorder=3,
                clip_on=False,
            )
        out["marks"].append(marks)
        if best:
            j = int(best_index(np.median(values[i], -1), flagged[i].any(-1)))
            if j >= 0:
                out["best"] += ax.plot(
                    xs[j], np.median(values[i, j]), "*", ms=13, mec="k", color=line.get_color()
                )
                _name_once(ax, out["best"][-1], "best rate without divergence")
    if out["bands"]:
        _band_entry(ax, band, out["bands"], band_label)
    ax.set_xscale("log")
    ax.set_xlim(xs.min() / 1.3, xs.max() * 1.3)  # marks of fully diverged rates stay inside
    if len(xs) <= 8:  # few values: label each one, and nothing else
        ax.set_xticks(xs, [_tick(v) for v in xs])
        ax.minorticks_off()
    if logy:
        ax.set_yscale("log")
    if ymax is not None:  # a huge but finite blow-up would squash every other curve
        finite = values[np.isfinite(values) & (values > 0 if logy else True)]
        bottom = finite.min() / 2 if finite.size and logy else None
        ax.set_ylim(bottom=bottom, top=ymax)
    ax.set_xlabel(xlabel or axis)
    text = ylabel if ylabel is not None else f"{words(metric)} (median over seeds)"
    ax.set_ylabel(text + (" (values <= 0 not drawn)" if dropped and text else ""))
    _legend(ax, extra)
    if title or rows:
        ax.set_title(title or "", pad=6 + 9 * rows + (4 if rows else 0))
    return Plot(fig, ax, out)


def bound_vs_empirical(
    result: SweepResult | Trace,
    bound,
    *,
    metric: str = "avg_suboptimality",
    select: dict | None = None,
    band: Sequence[float] | None = (0.1, 0.9),
    band_label: str | None = None,
    bound_label: str = "bound",
    logx: bool = True,
    logy: bool = True,
    xlabel: str = "step T",
    ylabel: str | None = None,
    label: str | Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    style: dict | Sequence[dict] | None = None,
    bound_style: dict | Sequence[dict] | None = None,
    ax=None,
    title: str | None = None,
) -> Plot:
    """The empirical mean of a logged suboptimality (with a quantile band over seeds)
    against a bound curve from `jd.bounds` (element i = the bound after i + 1 steps).

    ``bound`` may be one array or a dict label -> array; each is drawn from the first
    logged step on, so bound and measurement cover the same range of T.

    Returns:
      A `Plot` with artists ``"lines"`` (empirical), ``"bands"`` and ``"bounds"``.
    """
    from matplotlib.ticker import LogLocator

    result = _select(result, select)
    values, axes = _series(result, metric)
    steps = np.asarray(result.step)
    keep = steps > 0
    fig, ax = _axes(ax)
    many = values.shape[1] > 1
    default = [("empirical mean " if many else "empirical ") + n for n in _labels(axes)]
    label = label if labels is None else labels
    names = [n.strip() for n in default] if label is None else _names(label, axes, len(values))
    styles = _styles(style, len(values))
    out, extra = {"lines": [], "bands": [], "bounds": []}, []
    for i, vals in enumerate(values):
        v = np.where(np.isfinite(vals), vals, np.nan)[:, keep]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(v, axis=0)
        (line,) = ax.plot(steps[keep], mean, **{"lw": 1.8, "label": names[i], **styles[i]})
        out["lines"].append(line)
        if band is not None and v.shape[0] > 1:
            lo, hi = np.nanquantile(v, band, axis=0)
            out["bands"].append(
                ax.fill_between(steps[keep], lo, hi, color=line.get_color(), alpha=0.2, lw=0)
            )
    if out["bands"]:
        _band_entry(ax, band, out["bands"], band_label)
    curves = bound if isinstance(bound, dict) else {bound_label: bound}
    bstyles = _styles(bound_style, len(curves))
    first = int(steps[keep].min()) if keep.any() else 1
    for (text, curve), s in zip(curves.items(), bstyles):
        curve = np.asarray(curve)
        t = np.arange(first, len(curve) + 1)
        out["bounds"] += ax.plot(t, curve[t - 1], **{"ls": "--", "lw": 1.6, "label": text, **s})
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel if ylabel is not None else words(metric))
    _legend(ax, extra)
    if title:
        ax.set_title(title)
    return Plot(fig, ax, out)


def landscape(
    search_result,
    *,
    problem=None,
    ax=None,
    log: bool = False,
    title: str | None = None,
    levels: int = 30,
    floor: float | None = None,
) -> Plot:
    """The loss landscape from `jd.search`: a 1-D curve (loss against w) or a 2-D
    contour map, with the best point marked.

    A `RefineResult` shows every level's grid points, coarse to fine, as points (never
    joined: a line through samples would hide what lies between them). Pass
    ``problem`` to draw the true objective of a 1-D search on a dense grid (500
    points) under them. A 2-D map with ``log=True`` floors the loss at ``floor``
    (default: the smallest positive value, but at most 6 decades below the largest)
    and says so on its colour bar.

    Returns:
      A `Plot` with artists ``"objective"``, ``"levels"`` and ``"best"``.
    """
    from jaxdescent.search import RefineResult

    refine = search_result if isinstance(search_result, RefineResult) else None
    base = refine.levels[0] if refine else search_result
    fig, ax = _axes(ax, figsize=(6.0, 4.0) if len(base.axes) == 1 else (5.5, 4.5))
    out = {"objective": [], "levels": [], "best": []}
    if len(base.axes) == 1:
        if problem is not None:
            xs = np.linspace(base.axes[0].min(), base.axes[0].max(), 500)
            pts = jnp.asarray(xs, jnp.result_type(float))
            if problem.init.ndim:
                pts = pts[:, None]
            ys = np.asarray(jax.vmap(problem.objective)(pts))
            out["objective"] = ax.plot(xs, ys, "-", lw=1.2, color="0.5", label="objective")
        elif not refine:
            out["objective"] = ax.plot(base.axes[0], base.values, "-", lw=1.2, label="objective")
        for i, lvl in enumerate(refine.levels if refine else ()):
            out["levels"] += ax.plot(lvl.axes[0], lvl.values, "o", ms=4, label=f"level {i}")
        best = refine.best_params if refine else base.best_params
        best_v = refine.best_value if refine else base.best_value
        out["best"] = ax.plot(
            [float(np.asarray(best).ravel()[0])], [best_v], "*", color="k", ms=12, label="best"
        )
        ax.set_xlabel(base.names[0])
        ax.set_ylabel("loss")
        if log:
            ax.set_yscale("log")
    elif len(base.axes) == 2:
        X, Y = np.meshgrid(base.axes[0], base.axes[1], indexing="ij")
        Z = np.asarray(base.values, dtype=float)
        text = "loss"
        if log:
            pos = Z[Z > 0]
            low = floor if floor is not None else max(pos.min(), pos.max() * 1e-6)
            Z = np.log10(np.maximum(Z, low))
            text = f"log10 loss (floored at {low:.2g})"
        cs = ax.contourf(X, Y, Z, levels=levels, cmap="viridis")
        fig.colorbar(cs, ax=ax, label=text)
        out["objective"] = [cs]
        for i, lvl in enumerate(refine.levels[1:] if refine else (), start=1):
            gx, gy = np.meshgrid(lvl.axes[0], lvl.axes[1], indexing="ij")
            out["levels"] += ax.plot(gx.ravel(), gy.ravel(), ".", ms=3, label=f"level {i}")
        best = np.asarray(refine.best_params if refine else base.best_params).ravel()
        out["best"] = ax.plot([best[0]], [best[1]], "*", color="r", ms=12, label="best")
        ax.set_xlabel(base.names[0])
        ax.set_ylabel(base.names[1])
    else:
        raise ValueError("landscape: only 1-D and 2-D searches can be drawn.")
    _legend(ax)
    if title:
        ax.set_title(title)
    return Plot(fig, ax, out)


#: How `heatmap` draws the cells that the colour scale cannot show.
DIVERGED_STYLE = {"facecolor": "#f2f2f2", "edgecolor": "#c0392b", "hatch": "xxx", "lw": 0}
ZERO_STYLE = {"facecolor": "white", "edgecolor": "#1f4e79", "hatch": "...", "lw": 0}


def heatmap(
    result: SweepResult,
    x: str,
    y: str,
    *,
    metric: str = "final_loss",
    select: dict | None = None,
    log: bool = True,
    mark: str = "diverged",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    annotate: bool | str = False,
    colorbar: dict | bool = True,
    points: dict | None = None,
    ax=None,
    title: str | None = None,
) -> Plot:
    """The median over seeds of ``metric`` over two grid axes (e.g. lr x momentum).

    Cells are at integer positions labelled with the axis values. The colour scale
    covers only finite values (its limits are the finite data's, or ``vmin``/``vmax``
    in log10 units when ``log``); cells it cannot show are drawn apart and named in the
    legend:

    * a cell whose median is not finite (most seeds diverged): hatched red on grey,
      "diverged";
    * with ``log``, a cell whose median is exactly 0 (converged to the float limit):
      dotted white, "exactly 0";
    * a cell where some but not all seeds are flagged (``mark="unstable"``: or ended
      above their initial loss) keeps its colour and gets a red ``x``.

    ``annotate=True`` writes each cell's median in its centre (``annotate=".3f"``: in
    that format).

    Args:
      cmap: a colormap or its name (a `ListedColormap` for categories).
      colorbar: True, False (none), or keywords: ``label``, ``ticks`` and ``ticklabels``.
      points: label -> ``(xs, ys)`` or ``(xs, ys, line keywords)`` in the axes' own units
        (e.g. a theory curve over lr x momentum), placed between the cells by
        interpolating along each axis (in log10 where the axis values are positive and
        evenly spaced in log).

    Returns:
      A `Plot` with artists ``"image"``, ``"diverged"`` and ``"zero"`` (rectangles),
      ``"marks"``, ``"text"`` and ``"points"``.
    """
    from matplotlib.patches import Rectangle

    result = _select(result, select)
    rest = [a for a in result.axes if a not in (x, y, "seed")]
    if rest:
        raise ValueError(f"heatmap: select a value for the other axes {rest} (select={{...}}).")
    perm = [list(result.axes).index(a) for a in (y, x, "seed")]
    values = np.transpose(_final_values(result, metric), perm)
    flagged = np.transpose(_flags(result, mark), perm).any(-1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        finite_share = np.isfinite(values).mean(-1)
        med = np.nanmedian(np.where(np.isfinite(values), values, np.nan), axis=-1)
    diverged = ~(finite_share > 0.5) | ~np.isfinite(med)
    zero = (med == 0) & ~diverged if log else np.zeros_like(diverged)
    with np.errstate(all="ignore"):
        shown = np.log10(med) if log else med
    hidden = diverged | zero | ~np.isfinite(shown)
    data = np.ma.masked_array(np.where(hidden, 0.0, shown), mask=hidden)
    ok = data.compressed()
    lo = vmin if vmin is not None else (ok.min() if ok.size else 0.0)
    hi = vmax if vmax is not None else (ok.max() if ok.size else 1.0)
    fig, ax = _axes(ax, figsize=(6.0, 4.5))
    im = ax.imshow(data, origin="lower", aspect="auto", cmap=cmap, vmin=lo, vmax=hi)
    cbar = {} if colorbar is True else dict(colorbar or {})
    if colorbar is not False:
        bar = fig.colorbar(
            im, ax=ax, label=cbar.get("label", f"log10 {words(metric)}" if log else words(metric))
        )
        if "ticks" in cbar:
            bar.set_ticks(cbar["ticks"], labels=cbar.get("ticklabels"))
    out = {"image": [im], "diverged": [], "zero": [], "marks": [], "text": [], "points": []}
    for key, cells, style, text in (
        ("diverged", diverged, DIVERGED_STYLE, "diverged (median not finite)"),
        ("zero", zero, ZERO_STYLE, "exactly 0 (below the log scale)"),
    ):
        for k, (iy, ix) in enumerate(zip(*np.nonzero(cells))):
            rect = Rectangle((ix - 0.5, iy - 0.5), 1, 1, **style, label=text if k == 0 else None)
            out[key].append(ax.add_patch(rect))
    iy, ix = np.nonzero(flagged & ~diverged)
    if iy.size:
        out["marks"] = [
            ax.scatter(ix, iy, marker="x", color="red", s=40, label=f"some seeds {mark}")
        ]
    if annotate:
        spec = annotate if isinstance(annotate, str) else ".2g"
        for (iy, ix), v in np.ndenumerate(med):
            if not hidden[iy, ix]:
                dark = im.norm(shown[iy, ix]) < 0.5  # viridis-like: dark at the low end
                out["text"].append(
                    ax.text(
                        ix,
                        iy,
                        format(v, spec),
                        ha="center",
                        va="center",
                        fontsize="x-small",
                        color="white" if dark else "black",
                    )
                )
    xs, ys = result.axes[x], result.axes[y]
    for text, spec in (points or {}).items():
        px, py, style = (*spec, {}) if len(spec) == 2 else spec
        cx, cy = cell_position(xs, px), cell_position(ys, py)
        out["points"] += ax.plot(cx, cy, **{"marker": "*", "ms": 12, "label": text, **style})
    for setter, vals, rot in ((ax.set_xticks, xs, 45), (ax.set_yticks, ys, 0)):
        every = max(1, int(np.ceil(len(vals) / 12)))  # at most ~12 labelled ticks
        at = range(0, len(vals), every)
        setter(at, [_tick(vals[i]) for i in at], rotation=rot, fontsize="small")
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    _legend(
        ax,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncol=2,
        facecolor="0.85",
        markerscale=0.6,
    )
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if title:
        ax.set_title(title)
    return Plot(fig, ax, out)


def cell_position(axis_values, v) -> np.ndarray:
    """Where value(s) ``v`` of a grid axis sit on a `heatmap` (cells at 0, 1, 2, ...):
    interpolated between the cells, in log10 when the axis values are positive and
    evenly spaced in log.

    Example:
      >>> from jaxdescent import plots
      >>> plots.cell_position([0.001, 0.01, 0.1], [0.001, 0.03]).round(3).tolist()
      [0.0, 1.477]
    """
    a = np.asarray(axis_values, dtype=float)
    v = np.asarray(v, dtype=float)
    if a.size > 2 and np.all(a > 0) and np.allclose(np.diff(np.log(a)), np.log(a[1] / a[0])):
        a, v = np.log10(a), np.log10(v)
    return np.interp(v, a, np.arange(a.size))


def _flags(result, mark: str):
    if mark == "diverged":
        return np.asarray(result.diverged)
    if mark == "unstable":
        return np.asarray(result.unstable())
    raise ValueError(f"`mark` must be 'diverged' or 'unstable', got {mark!r}.")


def _tick(v) -> str:
    return f"{v:.3g}" if isinstance(v, float | np.floating) else axis_label(v)
