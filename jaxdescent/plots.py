"""Figures of sweeps: loss curves, paths on contours, learning-rate sensitivity, bounds.

Every function returns a matplotlib ``Figure`` (never calls ``plt.show()``), draws into
``ax=`` when one is given, and works headless (Agg). Curves over seeds are summarized
by their median with a quantile band (10-90% by default); diverged runs are marked,
never dropped silently.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent.results import SweepResult, axis_label
from jaxdescent.trace import Trace

__all__ = [
    "smooth",
    "loss_curves",
    "trace_2d",
    "lr_sensitivity",
    "bound_vs_empirical",
    "landscape",
    "heatmap",
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


# --- helpers -----------------------------------------------------------------------


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


def _band(values, band):
    """median and (lo, hi) quantiles over axis 0, ignoring non-finite seeds."""
    v = np.where(np.isfinite(values), values, np.nan)
    with np.errstate(all="ignore"), _quiet():
        med = np.nanmedian(v, axis=0)
        lo, hi = np.nanquantile(v, band, axis=0) if band else (None, None)
    return med, lo, hi


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


# --- figures -----------------------------------------------------------------------


def loss_curves(
    result: SweepResult | Trace,
    metric: str = "loss",
    *,
    select: dict | None = None,
    band: Sequence[float] | None = (0.1, 0.9),
    smoothing: float | None = None,
    x: str = "step",
    examples_per_step: float | None = None,
    n_examples: int | None = None,
    logx: bool = False,
    logy: bool = True,
    ax=None,
    title: str | None = None,
    labels: Sequence[str] | None = None,
):
    """A logged metric against step: one line per configuration, median over seeds with
    a quantile band.

    Args:
      result: a `SweepResult` (or a `Trace`).
      metric: "loss", "grad_norm" or a logged metric name.
      select: ``result.sel(**select)`` first (e.g. ``{"momentum": 0.9}``).
      band: quantiles of the band over seeds, or None.
      smoothing: EWMA ``alpha`` (see `smooth`) applied per seed before summarizing.
      x: "step", "examples" (step x ``examples_per_step``: compare GD and SGD by data
        read; see ``oracle.examples_per_step(problem)``) or "epochs" (examples /
        ``n_examples``).
      logx, logy: log scales.
      labels: legend labels, one per configuration (default: axis=value).
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
    names = list(labels) if labels is not None else _labels(axes)
    keep = steps > 0 if logx else np.ones(len(steps), bool)
    for i, vals in enumerate(values):
        med, lo, hi = _band(vals[:, keep], band)
        (line,) = ax.plot(steps[keep], med, label=names[i] or metric, lw=1.6)
        if band is not None and vals.shape[0] > 1:
            ax.fill_between(steps[keep], lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel({"examples": "examples seen", "epochs": "epoch"}.get(x, "step"))
    ax.set_ylabel(metric + (" (median over seeds)" if values.shape[1] > 1 else ""))
    if logx:
        ax.set_xscale("log")  # step 0 is not drawn on a log axis
    if logy:
        ax.set_yscale("log")
    if len(values) > 1 or any(names):
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig


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
    ax=None,
    title: str | None = None,
    labels: Sequence[str] | None = None,
):
    """d2l's ``show_trace_2d``: contours of a 2-D objective with optimization paths.

    Args:
      problem: a `jd.Problem` on R^2 (params of shape (2,)).
      result_or_trace: a `Trace`, or a `SweepResult` with kept params; after
        ``select`` every remaining cell (configurations x seeds) is a path, at most
        ``max_paths`` of them.
      levels: contour levels (log-spaced for a positive objective).
      bounds: ((x0, x1), (y0, y1)); default: the paths' box, padded.
      markers: optional (k, 2) points to mark (e.g. known minima).
    """
    paths = _paths(_select(result_or_trace, select))[:max_paths]
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
    ax.contour(X, Y, Z, levels=lv, cmap="Greys", linewidths=0.7)
    names = list(labels) if labels is not None else [None] * len(paths)
    for p, name in zip(paths, names):
        ax.plot(p[:, 0], p[:, 1], "-o", ms=2, lw=1, label=name)
    if markers is not None:
        m = np.asarray(markers)
        ax.plot(m[:, 0], m[:, 1], "*", color="k", ms=10, label="minima")
    ax.set_xlim(*bounds[0])
    ax.set_ylim(*bounds[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if any(n for n in names) or markers is not None:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig


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


def lr_sensitivity(
    result: SweepResult,
    axis: str = "lr",
    *,
    metric: str = "final_loss",
    select: dict | None = None,
    band: Sequence[float] | None = (0.1, 0.9),
    logy: bool = True,
    mark: str = "diverged",
    ymax: float | None = None,
    ax=None,
    title: str | None = None,
    labels: Sequence[str] | None = None,
):
    """Final (or best) loss against the learning rate on a log axis.

    The median over seeds with a quantile band; one line per combination of the other
    grid axes. A learning rate at which some seed diverged is marked with an ``x`` at
    the top of the axes (labelled "diverged"), never hidden; the size of the mark grows
    with the fraction of seeds. ``mark="unstable"`` also marks runs whose final loss
    ended above their initial loss (see `SweepResult.unstable`), which does not depend
    on whether the blow-up reached the float limit. ``ymax`` caps the y axis.

    Args:
      metric: "final_loss" (the loss at the last step) or "best_loss" (the minimum
        logged loss), or any logged metric name (its last value).
    """
    result = _select(result, select)
    if axis not in result.axes:
        raise ValueError(f"lr_sensitivity: no axis {axis!r}; axes are {list(result.axes)}.")
    order = [a for a in result.axes if a not in (axis, "seed")] + [axis, "seed"]
    perm = [list(result.axes).index(a) for a in order]
    if metric == "final_loss":
        values = np.asarray(result.final_loss)
    elif metric == "best_loss":
        loss = np.asarray(result.loss, dtype=float)
        values = np.nanmin(np.where(np.isfinite(loss), loss, np.nan), axis=-1)
    else:
        values = np.asarray(result.metrics[metric])[..., -1]
    values = np.transpose(values, perm)
    diverged = np.transpose(np.asarray(result.diverged), perm)
    xs = np.asarray(result.axes[axis], dtype=float)
    other = {a: result.axes[a] for a in order[:-2]}
    values = values.reshape(-1, len(xs), values.shape[-1])
    diverged = diverged.reshape(-1, len(xs), diverged.shape[-1])
    fig, ax = _axes(ax)
    names = list(labels) if labels is not None else _labels(other)
    flagged = np.transpose(_flags(result, mark), perm).reshape(diverged.shape)
    top_of_axes = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for i in range(values.shape[0]):
        med, lo, hi = _band(np.moveaxis(values[i], -1, 0), band)
        (line,) = ax.plot(xs, med, "-o", ms=3, label=names[i] or metric)
        if band is not None and values.shape[-1] > 1:
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        frac = flagged[i].mean(-1)
        hit = frac > 0
        if np.any(hit):
            ax.scatter(
                xs[hit],
                np.full(hit.sum(), 0.97),
                transform=top_of_axes,
                marker="x",
                s=30 + 60 * frac[hit],
                color=line.get_color(),
                label=f"{mark} ({names[i]})" if names[i] else mark,
                zorder=3,
            )
    ax.set_xscale("log")
    ax.set_xlim(xs.min() / 1.3, xs.max() * 1.3)  # marks of fully diverged rates stay inside
    if logy:
        ax.set_yscale("log")
    if ymax is not None:  # a huge but finite blow-up would squash every other curve
        finite = values[np.isfinite(values) & (values > 0 if logy else True)]
        bottom = finite.min() / 2 if finite.size and logy else None
        ax.set_ylim(bottom=bottom, top=ymax)
    ax.set_xlabel(axis)
    ax.set_ylabel(f"{metric} (median over seeds)")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def bound_vs_empirical(
    result: SweepResult | Trace,
    bound,
    *,
    metric: str = "avg_suboptimality",
    select: dict | None = None,
    band: Sequence[float] | None = (0.1, 0.9),
    bound_label: str = "bound",
    logx: bool = True,
    logy: bool = True,
    xlabel: str = "step T",
    ax=None,
    title: str | None = None,
):
    """The empirical mean of a logged suboptimality (with a quantile band over seeds)
    against a bound curve from `jd.bounds` (element i = the bound after i + 1 steps).

    ``bound`` may be one array (drawn against steps 1..len) or a dict label -> array.
    """
    result = _select(result, select)
    values, axes = _series(result, metric)
    steps = np.asarray(result.step)
    keep = steps > 0
    fig, ax = _axes(ax)
    names = _labels(axes)
    for i, vals in enumerate(values):
        v = np.where(np.isfinite(vals), vals, np.nan)[:, keep]
        mean = np.nanmean(v, axis=0)
        (line,) = ax.plot(
            steps[keep],
            mean,
            lw=1.8,
            label=(("empirical mean " if v.shape[0] > 1 else "empirical ") + names[i]).strip(),
        )
        if band is not None and v.shape[0] > 1:
            lo, hi = np.nanquantile(v, band, axis=0)
            ax.fill_between(steps[keep], lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    curves = bound if isinstance(bound, dict) else {bound_label: bound}
    for label, curve in curves.items():
        curve = np.asarray(curve)
        ax.plot(np.arange(1, len(curve) + 1), curve, "--", lw=1.6, label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(metric)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def landscape(
    search_result, *, ax=None, log: bool = False, title: str | None = None, levels: int = 30
):
    """The loss landscape from `jd.search`: a 1-D curve (loss against w) or a 2-D
    contour map, with the best point marked. A `RefineResult` shows every level's grid
    points, coarse to fine, so the zooming in is visible."""
    from jaxdescent.search import RefineResult

    refine = search_result if isinstance(search_result, RefineResult) else None
    base = refine.levels[0] if refine else search_result
    fig, ax = _axes(ax, figsize=(6.0, 4.0) if len(base.axes) == 1 else (5.5, 4.5))
    if len(base.axes) == 1:
        xs, ys = base.axes[0], base.values
        if refine:  # every evaluated point, in order, traces the objective
            xs = np.concatenate([lvl.axes[0] for lvl in refine.levels])
            ys = np.concatenate([lvl.values for lvl in refine.levels])
            order = np.argsort(xs)
            xs, ys = xs[order], ys[order]
        ax.plot(xs, ys, "-", lw=1.2, color="0.6" if refine else None, label="objective")
        if refine:
            for i, lvl in enumerate(refine.levels):
                ax.plot(lvl.axes[0], lvl.values, "o", ms=4, label=f"level {i}")
        best = refine.best_params if refine else base.best_params
        best_v = refine.best_value if refine else base.best_value
        ax.plot([float(np.asarray(best).ravel()[0])], [best_v], "*", color="k", ms=12, label="best")
        ax.set_xlabel(base.names[0])
        ax.set_ylabel("loss")
        if log:
            ax.set_yscale("log")
    elif len(base.axes) == 2:
        X, Y = np.meshgrid(base.axes[0], base.axes[1], indexing="ij")
        Z = np.log10(np.maximum(base.values, 1e-12)) if log else base.values
        cs = ax.contourf(X, Y, Z, levels=levels, cmap="viridis")
        fig.colorbar(cs, ax=ax, label="log10 loss" if log else "loss")
        if refine:
            for i, lvl in enumerate(refine.levels[1:], start=1):
                gx, gy = np.meshgrid(lvl.axes[0], lvl.axes[1], indexing="ij")
                ax.plot(gx.ravel(), gy.ravel(), ".", ms=3, label=f"level {i}")
        best = np.asarray(refine.best_params if refine else base.best_params).ravel()
        ax.plot([best[0]], [best[1]], "*", color="r", ms=12, label="best")
        ax.set_xlabel(base.names[0])
        ax.set_ylabel(base.names[1])
    else:
        raise ValueError("landscape: only 1-D and 2-D searches can be drawn.")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig


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
    ax=None,
    title: str | None = None,
):
    """The median over seeds of ``metric`` over two grid axes (e.g. lr x momentum).

    Cells are at integer positions labelled with the axis values. Cells where any seed
    diverged (``mark="unstable"``: or ended above its initial loss) get a red ``x``.
    ``vmin``/``vmax`` clip the color scale (in log10 units when ``log``).
    """
    result = _select(result, select)
    rest = [a for a in result.axes if a not in (x, y, "seed")]
    if rest:
        raise ValueError(f"heatmap: select a value for the other axes {rest} (select={{...}}).")
    perm = [list(result.axes).index(a) for a in (y, x, "seed")]
    if metric == "final_loss":
        values = np.asarray(result.final_loss)
    else:
        values = np.asarray(result.metrics[metric])[..., -1]
    values = np.transpose(values, perm).astype(float)
    diverged = np.transpose(_flags(result, mark), perm).any(-1)
    with np.errstate(all="ignore"), _quiet():
        med = np.nanmedian(np.where(np.isfinite(values), values, np.nan), axis=-1)
    if log:
        shown = np.log10(np.where(med > 0, med, np.finfo(float).tiny))
    else:
        shown = med
    fig, ax = _axes(ax, figsize=(6.0, 4.5))
    im = ax.imshow(shown, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    fig.colorbar(im, ax=ax, label=f"log10 {metric}" if log else metric)
    xs, ys = result.axes[x], result.axes[y]
    ax.set_xticks(range(len(xs)), [_tick(v) for v in xs], rotation=45, fontsize="small")
    ax.set_yticks(range(len(ys)), [_tick(v) for v in ys], fontsize="small")
    iy, ix = np.nonzero(diverged)
    if iy.size:
        ax.scatter(ix, iy, marker="x", color="red", s=40, label=mark)
        ax.legend(fontsize="small", loc="upper right")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if title:
        ax.set_title(title)
    return fig


def _flags(result, mark: str):
    if mark == "diverged":
        return np.asarray(result.diverged)
    if mark == "unstable":
        return np.asarray(result.unstable())
    raise ValueError(f"`mark` must be 'diverged' or 'unstable', got {mark!r}.")


def _tick(v) -> str:
    return f"{v:.3g}" if isinstance(v, float | np.floating) else axis_label(v)
