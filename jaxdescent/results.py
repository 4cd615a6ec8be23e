"""`SweepResult`: the arrays of a sweep with labeled axes; selection, saving, loading."""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from typing import Any, NamedTuple

import jax
import numpy as np
import zarr

from jaxdescent.checks import positive_finite
from jaxdescent.grid import Axis
from jaxdescent.store import FORMAT as STORE_FORMAT
from jaxdescent.store import Layout, LazyArray, trace_of, write_file
from jaxdescent.trace import FINAL, LOGGED, Trace

__all__ = [
    "Best",
    "CriticalBatch",
    "SweepResult",
    "axis_label",
    "axis_record",
    "axis_values",
    "critical_batch_size",
    "index_on_axis",
    "load",
    "result_of",
    "steps_to_target",
]

_FORMAT = "jaxdescent.SweepResult/1"


def axis_label(value) -> str:
    """The label of a non-numeric axis value (a schedule function, a string ...)."""
    if isinstance(value, str):
        return value
    return getattr(value, "__name__", None) or repr(value)


def _numeric(values) -> bool:
    return isinstance(values, np.ndarray) and values.dtype.kind in "biuf"


def _is_many(value) -> bool:
    return isinstance(value, list | tuple | np.ndarray) and np.ndim(value) > 0


def _equal(a, b) -> bool:
    try:
        eq = a == b
    except Exception:  # noqa: BLE001 - objects whose == raises are not equal
        return False
    return bool(eq) if isinstance(eq, bool | np.bool_) else False


def _static_hits(values, value, exact: bool = False) -> list:
    """Positions of ``value`` on a static axis: by identity, else by equality, else (not
    ``exact``) by label."""
    for same in (lambda v: v is value, lambda v: _equal(v, value)):
        hits = [i for i, v in enumerate(values) if same(v)]
        if hits or exact:
            return hits
    label = axis_label(value)
    return [i for i, v in enumerate(values) if axis_label(v) == label]


def index_on_axis(name: str, values, value) -> int:
    """The position of ``value`` on the axis ``name`` whose labels are ``values``.

    Numeric axes (float64 / int64 / bool labels): the label equal to ``value``, or
    within 64 units in the last place of the label's dtype (float rounding of the
    user's own arithmetic). Static axes (a tuple of objects): identity, then equality,
    then the label (`axis_label`). Raises ValueError when nothing or more than one
    entry matches, naming the axis and its labels.

    Example:
      >>> import numpy as np
      >>> index_on_axis("lr", np.array([1e-3, 0.1, 0.3]), 0.1 * 3)
      2
    """
    if _numeric(values):
        if isinstance(value, str | bool) and values.dtype.kind != "b" or np.ndim(value) != 0:
            raise ValueError(f"sel: axis {name!r} is numeric; pass a number, got {value!r}.")
        v = np.asarray(value)
        if v.dtype.kind not in "biuf":
            raise ValueError(f"sel: axis {name!r} is numeric; pass a number, got {value!r}.")
        hits = np.flatnonzero(values == v)
        if hits.size == 0 and values.dtype.kind == "f" and np.isfinite(v):
            with np.errstate(all="ignore"):  # inf labels
                ulp = np.spacing(np.abs(values).astype(values.dtype))
                hits = np.flatnonzero(np.abs(values - v.astype(float)) <= 64 * ulp)
        if hits.size == 1:
            return int(hits[0])
        if hits.size:
            raise ValueError(
                f"sel: {name}={value!r} is ambiguous: it matches positions {hits.tolist()} "
                f"of {values.tolist()}; use isel({name}=position)."
            )
        with np.errstate(all="ignore"):
            gaps = np.abs(values.astype(float) - float(v))
        near = (
            f" (nearest: {values[int(np.nanargmin(gaps))].item()!r})"
            if np.any(np.isfinite(gaps))
            else ""
        )
        raise ValueError(
            f"sel: {name}={value!r} is not on the axis; its labels are {values.tolist()}"
            f"{near}. Pass a label exactly, or use isel({name}=position)."
        )
    hits = _static_hits(values, value)
    if len(hits) == 1:
        return hits[0]
    labels = [axis_label(v) for v in values]
    if hits:
        raise ValueError(
            f"sel: {name}={axis_label(value)!r} is ambiguous: it matches positions {hits} "
            f"of {labels}; pass the object itself (matched by identity) or use "
            f"isel({name}=position)."
        )
    raise ValueError(f"sel: {name}={axis_label(value)!r} is not on the axis; values are {labels}.")


def _check_index(name: str, i, n: int):
    """An `isel` index checked: an int in range, a slice, or a list of ints in range."""
    if isinstance(i, slice):
        return i
    if isinstance(i, bool | np.bool_) or not isinstance(
        i, int | np.integer | list | tuple | np.ndarray
    ):
        raise TypeError(
            f"isel: {name}= takes an int, a slice or a list of ints (positions), got "
            f"{i!r}; to select by value use sel({name}=...)."
        )
    many = np.asarray(i) if not isinstance(i, int | np.integer) else None
    if many is not None and (many.ndim != 1 or (many.size and (many.dtype.kind not in "iu"))):
        raise TypeError(
            f"isel: {name}= takes an int, a slice or a 1-D list of ints, got {i!r}; "
            f"to select by value use sel({name}=...)."
        )
    positions = [int(i)] if many is None else [int(j) for j in many]
    for j in positions:
        if not -n <= j < n:
            raise IndexError(f"isel: {name}={j} is out of range for {n} values.")
    return positions[0] if many is None else positions


def _json_scalar(v) -> bool:
    return v is None or type(v) in (str, int, float, bool)


def axis_record(name: str, values) -> dict:
    """How an axis is stored: ``{"name", "kind"}`` with kind "numeric" (the labels go
    in an array ``axis/<name>``, exact), "static" (every value a JSON scalar -- str,
    int, float, bool, None -- kept in ``values``, exact) or "labels" (other objects,
    e.g. functions: their `axis_label` s)."""
    if _numeric(values):
        return {"name": name, "kind": "numeric"}
    if all(_json_scalar(v) for v in values):
        return {"name": name, "kind": "static", "values": list(values)}
    return {"name": name, "kind": "labels", "labels": [axis_label(v) for v in values]}


def axis_values(record: dict, read):
    """The axis values of a stored `axis_record`; ``read(key)`` reads an array."""
    kind = record.get("kind")
    if kind == "numeric":
        return np.asarray(read(f"axis/{record['name']}"))
    if kind == "static":
        return tuple(record["values"])
    if kind == "labels":
        return tuple(record["labels"])
    raise ValueError(f"load: unknown kind of axis {record!r}.")


class Best(NamedTuple):
    """What `SweepResult.best` chose: per combination of the other grid axes."""

    values: Any  # the best axis value
    index: Any  # its position on the axis
    score: Any  # its score (median final loss over seeds, diverged runs ignored)
    result: Any  # the SweepResult restricted to those choices


class SweepResult(NamedTuple):
    """Everything a sweep logged, with one array axis per grid axis and one for seeds.

    It holds one `Trace` (``trace``) whose arrays have leading axes (*grid_shape,
    n_seeds); its fields read as the result's own (``result.loss`` is
    ``result.trace.loss``):

      step: (n_log,) logged step counts.
      loss, grad_norm: (*grid_shape, n_seeds, n_log).
      params: pytree with leaves (*grid_shape, n_seeds, n_log, *leaf_shape), or None.
      metrics: dict name -> array shaped like ``loss``.
      final_params: pytree with leaves (*grid_shape, n_seeds, *leaf_shape).
      final_loss, diverged, diverged_at: (*grid_shape, n_seeds).

    A result streamed to a zarr store (``out='x.zarr'``) holds `LazyArray` leaves that
    read only what is selected (``isel``/``sel`` or indexing); ``load()`` reads it all.

    Attributes:
      axes: dict name -> values: the grid axes in order, then ``"seed"``; numeric axes
        as the labels given to the grid (float64 / int64 arrays, whatever precision
        the sweep computed in), static axes as a tuple of the objects themselves.
      trace: the `Trace` of arrays.
      meta: dict of JSON-able facts about the sweep (problem, oracle, steps ...).
    """

    axes: dict
    trace: Trace
    meta: dict

    @classmethod
    def of(cls, axes: dict, meta: dict, **fields) -> SweepResult:
        """A result from its axes, its meta and every `Trace` field (``step=``, ``loss=``,
        ...), e.g. to draw arrays computed elsewhere with `jd.plots`."""
        return cls(axes=axes, trace=Trace(**fields), meta=meta)

    def __getattr__(self, name):
        if name in Trace._fields:
            return getattr(self.trace, name)
        raise AttributeError(f"'SweepResult' object has no attribute {name!r}")

    def replace(self, **changes) -> SweepResult:
        """A copy with fields replaced: ``axes``, ``trace``, ``meta``, or any `Trace`
        field (``loss=...``), which goes to ``trace``."""
        own = {k: changes.pop(k) for k in list(changes) if k in ("axes", "trace", "meta")}
        trace = own.pop("trace", self.trace)
        if changes:
            trace = trace._replace(**changes)
        return self._replace(trace=trace, **own)

    @property
    def lazy(self) -> bool:
        """Whether the arrays are read on demand from a store on disk."""
        return isinstance(self.trace.loss, LazyArray)

    def load(self) -> SweepResult:
        """The result with every array read into memory (NumPy)."""
        return self._replace(trace=_map(np.asarray, self.trace))

    # -- shape -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        """(*grid_shape, n_seeds): one entry per axis of ``axes``."""
        return tuple(len(v) for v in self.axes.values())

    def __repr__(self) -> str:
        axes = ", ".join(f"{k}={len(v)}" for k, v in self.axes.items())
        diverged = (
            "on disk"
            if self.lazy
            else (f"{int(np.sum(np.asarray(self.diverged)))}/{np.size(self.diverged)}")
        )
        return (
            f"SweepResult({axes}, n_log={len(self.step)}, metrics={list(self.metrics)}, "
            f"params={'kept' if self.params is not None else 'dropped'}, "
            f"diverged={diverged})"
        )

    # -- selection ---------------------------------------------------------------------
    def _index_of(self, name: str, value) -> int:
        return index_on_axis(name, self.axes[name], value)

    def sel(self, **by_value):
        """Selects by axis values, e.g. ``result.sel(lr=0.1, seed=3)``.

        A single value drops the axis; a list keeps it with those values. When every
        axis is dropped the cell is returned as a `Trace` (equal to the `jd.run` of
        that configuration).

        Numeric axes match the labels exactly as given to the grid (float64 / int64,
        whatever precision the sweep computed in); a value within 64 units in the last
        place of one label (float rounding, e.g. ``0.1 * 3`` for ``0.3``) matches it
        too. Static axes match by identity, then equality, then label (the name of a
        function, e.g. ``"decay"``); a value matching two entries raises ValueError.

        Example:
          >>> import optax, jaxdescent as jd
          >>> r = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
          ...              {"lr": [1e-3, 0.1]}, seeds=2, steps=5)
          >>> r.sel(lr=1e-3, seed=1).loss.shape
          (6,)
        """
        idx = {}
        for name, value in by_value.items():
            self._check_axis(name)
            values = self.axes[name]
            if _is_many(value) and not (
                not _numeric(values) and _static_hits(values, value, exact=True)
            ):
                idx[name] = [self._index_of(name, v) for v in value]
            else:
                idx[name] = self._index_of(name, value)
        return self.isel(**idx)

    def _check_axis(self, name):
        if not isinstance(name, str):
            raise TypeError(
                f"axis names are strings, got {name!r}; the axes are {list(self.axes)}."
            )
        if name not in self.axes:
            raise ValueError(f"unknown axis {name!r}; the axes are {list(self.axes)}.")

    def isel(self, **by_index):
        """Selects by integer positions along axes: an int drops the axis; a slice, or a
        list / 1-D integer array of positions, keeps it (negative positions count from
        the end). Anything else (floats, bools, strings) raises TypeError; a position
        out of range raises IndexError.

        Example:
          >>> import optax, jaxdescent as jd
          >>> r = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
          ...              {"lr": [1e-3, 0.1]}, seeds=2, steps=5)
          >>> r.isel(lr=[1]).axes["lr"].tolist(), r.isel(lr=-1, seed=0).loss.shape
          ([0.1], (6,))
        """
        for name in by_index:
            self._check_axis(name)
        index = []
        axes = {}
        for name, values in self.axes.items():
            i = _check_index(name, by_index.get(name, slice(None)), len(values))
            index.append(i)
            if isinstance(i, int):
                continue
            if isinstance(values, np.ndarray):
                axes[name] = values[i]
            else:
                positions = range(len(values))[i] if isinstance(i, slice) else i
                axes[name] = tuple(values[j] for j in positions)

        # Apply one axis at a time so list indices never broadcast against each other.
        def take(a):
            if a is None:
                return None
            if isinstance(a, LazyArray):  # reads only the selection, orthogonally
                return a[tuple(index)]
            a = np.asarray(a)  # index on the host: no gather is compiled per selection
            pos = 0
            for i in index:
                lead = (slice(None),) * pos
                if isinstance(i, int):
                    a = a[lead + (i,)]
                else:
                    a = a[lead + (i if isinstance(i, slice) else np.asarray(i),)]
                    pos += 1
            return a

        picked = {f: _map(take, getattr(self, f)) for f in LOGGED + FINAL}
        if not axes:
            return Trace(step=self.step, **picked)
        return self.replace(axes=axes, **picked)

    def unstable(self, factor: float = 1.0):
        """Runs that diverged (non-finite) or whose final loss ended above ``factor`` times
        their initial loss: a blow-up criterion that does not depend on the precision
        (float32 overflows long before float64).

        Args:
          factor: a positive, finite number.

        Returns:
          A bool array shaped like ``final_loss`` (one entry per run).

        Example:
          >>> import optax, jaxdescent as jd
          >>> r = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
          ...              {"lr": [0.1, 5.0]}, seeds=1, steps=5)
          >>> r.unstable().tolist()
          [[False], [True]]
        """
        if not positive_finite(factor):
            raise ValueError(
                f"unstable: `factor` must be a positive, finite number, got {factor!r}."
            )
        loss = np.asarray(self.loss, dtype=float)
        with np.errstate(invalid="ignore"):
            grew = ~(loss[..., -1] <= factor * loss[..., 0])
        return np.asarray(self.diverged) | grew

    # -- reductions --------------------------------------------------------------------
    _PER_RUN = tuple(f for f in LOGGED + FINAL if f not in ("diverged", "diverged_at"))

    def _reduce(self, axis: str, fn, new_axes: dict):
        pos = list(self.axes).index(axis)

        def red(a):
            if a is None:
                return None
            a = np.asarray(a)
            return fn(a, pos) if np.issubdtype(a.dtype, np.floating) else fn(a.astype(float), pos)

        with np.errstate(all="ignore"):
            picked = {f: _map(red, getattr(self, f)) for f in self._PER_RUN}
        div = np.asarray(self.diverged)
        at = np.asarray(self.diverged_at)
        picked["diverged"] = np.any(div, axis=pos)
        picked["diverged_at"] = np.where(
            picked["diverged"], np.min(np.where(div, at, np.iinfo(at.dtype).max), axis=pos), -1
        )
        if not new_axes:
            return Trace(step=self.step, **picked)
        return self.replace(axes=new_axes, **picked)

    def mean(self, axis: str = "seed"):
        """The mean over one axis (e.g. ``"seed"``); ``diverged`` becomes "any run diverged"
        and ``diverged_at`` the earliest such step. Non-finite values propagate.

        Returns a `SweepResult` without ``axis``, or a `Trace` when it was the last axis.

        Example:
          >>> import optax, jaxdescent as jd
          >>> r = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
          ...              {"lr": [0.01, 0.1]}, seeds=3, steps=5)
          >>> list(r.mean("seed").axes), r.mean("lr").loss.shape
          (['lr'], (3, 6))
        """
        self._check_axis(axis)
        axes = {k: v for k, v in self.axes.items() if k != axis}
        return self._reduce(axis, lambda a, p: np.mean(a, axis=p), axes)

    def quantile(self, q, axis: str = "seed"):
        """Quantile(s) ``q`` (in [0, 1]) over one axis. A list of q adds a leading
        ``"quantile"`` axis; a single q drops ``axis`` (a `Trace` when it was the last).

        Example:
          >>> import optax, jaxdescent as jd
          >>> r = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
          ...              {"lr": [0.01, 0.1]}, seeds=3, steps=5)
          >>> r.quantile([0.1, 0.9]).final_loss.shape
          (2, 2)
        """
        self._check_axis(axis)
        try:
            qs = np.asarray(q, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                f"quantile: `q` must be a number or a list of numbers, got {q!r}."
            ) from None
        if isinstance(q, bool) or qs.ndim > 1 or qs.size == 0 or not np.all((qs >= 0) & (qs <= 1)):
            raise ValueError(
                f"quantile: `q` must be a number in [0, 1] or a 1-D list of them, got {q!r}."
            )
        if "quantile" in self.axes and qs.ndim:
            raise ValueError(
                "quantile: the result already has a 'quantile' axis; select one first."
            )
        axes = {k: v for k, v in self.axes.items() if k != axis}
        if qs.ndim:
            axes = {"quantile": qs, **axes}
        return self._reduce(axis, lambda a, p: np.quantile(a, qs, axis=p), axes)

    def best(self, axis: str = "lr", metric: str = "final_loss", reduce: str = "median"):
        """The best value of ``axis`` for every combination of the other grid axes.

        The score of a configuration is the ``reduce`` ("median" or "mean") over seeds of
        ``metric`` ("final_loss", "best_loss" = the lowest logged loss, or the last value
        of a logged metric), ignoring runs that diverged; a configuration whose every
        seed diverged scores +inf (lower is better). A result without a seed axis (one
        seed selected) scores each configuration by its one run.

        Args:
          axis: a grid axis (numeric or static), not ``"seed"``.
          metric: "final_loss", "best_loss" or the name of a logged metric.
          reduce: "median" or "mean".

        Returns:
          A `Best`: ``values`` the chosen labels, ``index`` their positions and
          ``score`` their scores, each shaped like the other grid axes (0-d, or the
          label itself for a static axis, when ``axis`` is the only grid axis), and
          ``result`` the result restricted to them (``axis`` removed).

        Example:
          >>> import optax, jaxdescent as jd
          >>> r = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
          ...              {"lr": [0.01, 0.1, 0.3]}, seeds=2, steps=20)
          >>> float(r.best("lr").values)
          0.3
        """
        self._check_axis(axis)
        if axis == "seed":
            raise ValueError("best: `axis` must be a grid axis; 'seed' is averaged over.")
        choices = ("final_loss", "best_loss", *self.metrics)
        if not isinstance(metric, str) or metric not in choices:
            raise ValueError(f"best: unknown `metric` {metric!r}; choose one of {list(choices)}.")
        if reduce not in ("median", "mean"):
            raise ValueError(f"best: `reduce` must be 'median' or 'mean', got {reduce!r}.")
        if metric == "final_loss":
            score = np.asarray(self.final_loss, dtype=float)
        elif metric == "best_loss":
            loss = np.asarray(self.loss, dtype=float)
            score = np.min(np.where(np.isfinite(loss), loss, np.inf), axis=-1)
        else:
            metric_values = np.asarray(self.metrics[metric])
            if metric_values.shape[: len(self.shape) + 1] != self.shape + (len(self.step),):
                raise ValueError(
                    f"best: metric {metric!r} is not one number per logged step "
                    f"(shape {metric_values.shape}); choose a scalar metric."
                )
            score = metric_values.astype(float)[..., -1]
            if score.ndim != len(self.shape):
                raise ValueError(f"best: metric {metric!r} is not a scalar per step.")
        score = np.where(np.asarray(self.diverged) | ~np.isfinite(score), np.nan, score)
        names = list(self.axes)
        if "seed" in self.axes:
            seed_pos = names.index("seed")
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                agg = (np.nanmedian if reduce == "median" else np.nanmean)(score, axis=seed_pos)
            names.remove("seed")
        else:
            agg = score
        agg = np.where(np.isnan(agg), np.inf, agg)
        pos = names.index(axis)
        index = np.asarray(np.argmin(agg, axis=pos))
        chosen = np.take_along_axis(agg, np.expand_dims(index, pos), pos).squeeze(pos)
        labels = self.axes[axis]
        if isinstance(labels, np.ndarray):
            values = labels[index]
        else:
            values = np.empty(index.shape, dtype=object)
            for at in np.ndindex(index.shape):
                values[at] = labels[int(index[at])]
            if values.ndim == 0:
                values = values[()]

        def pick(a):
            if a is None:
                return None
            a = np.asarray(a)
            idx = np.expand_dims(index, pos)
            idx = idx.reshape(idx.shape + (1,) * (a.ndim - idx.ndim))
            return np.take_along_axis(a, idx, pos).squeeze(pos)

        fields = LOGGED + FINAL
        picked = {f: _map(pick, getattr(self, f)) for f in fields}
        axes = {k: v for k, v in self.axes.items() if k != axis}
        result = self.replace(axes=axes, **picked) if axes else Trace(step=self.step, **picked)
        return Best(values=values, index=index, score=chosen, result=result)

    # -- interop -----------------------------------------------------------------------
    def to_xarray(self):
        """An ``xarray.Dataset`` with dims (grid axes..., seed, step) and, for params,
        extra dims per leaf (needs ``pip install jaxdescent[xarray]``)."""
        try:
            import xarray as xr
        except ImportError:
            raise ImportError("to_xarray needs xarray: pip install 'jaxdescent[xarray]'") from None
        dims = list(self.axes)
        coords = {
            k: (np.asarray(v) if isinstance(v, np.ndarray) else [axis_label(x) for x in v])
            for k, v in self.axes.items()
        }
        coords["step"] = np.asarray(self.step)
        data = {
            "loss": (dims + ["step"], np.asarray(self.loss)),
            "grad_norm": (dims + ["step"], np.asarray(self.grad_norm)),
            "final_loss": (dims, np.asarray(self.final_loss)),
            "diverged": (dims, np.asarray(self.diverged)),
            "diverged_at": (dims, np.asarray(self.diverged_at)),
        }
        for name, v in self.metrics.items():
            data[name] = (dims + ["step"], np.asarray(v))
        for field, extra in (("params", ["step"]), ("final_params", [])):
            tree = getattr(self, field)
            if tree is None:
                continue
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
                name = field + jax.tree_util.keystr(path)
                leaf = np.asarray(leaf)
                n_extra = leaf.ndim - len(dims) - len(extra)
                data[name] = (dims + extra + [f"{name}_dim{i}" for i in range(n_extra)], leaf)
        return xr.Dataset(data, coords=coords, attrs={"meta": repr(self.meta)})

    def to_dataframe(self):
        """A tidy ``pandas.DataFrame``: one row per (grid point, seed, logged step) with
        columns for the axes, step, loss, grad_norm, metrics and diverged (needs
        ``pip install jaxdescent[pandas]``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "to_dataframe needs pandas: pip install 'jaxdescent[pandas]'"
            ) from None
        shape = self.shape + (len(self.step),)
        index = np.indices(shape).reshape(len(shape), -1)
        cols = {}
        for i, (name, values) in enumerate(self.axes.items()):
            vals = (
                np.asarray(values)
                if isinstance(values, np.ndarray)
                else np.asarray([axis_label(v) for v in values], dtype=object)
            )
            cols[name] = vals[index[i]]
        cols["step"] = np.asarray(self.step)[index[-1]]
        cols["loss"] = np.asarray(self.loss).reshape(-1)
        cols["grad_norm"] = np.asarray(self.grad_norm).reshape(-1)
        for name, v in self.metrics.items():
            cols[name] = np.asarray(v).reshape(-1)
        cols["diverged"] = np.repeat(np.asarray(self.diverged).reshape(-1), len(self.step))
        return pd.DataFrame(cols)

    # -- saving ------------------------------------------------------------------------
    def save(self, path) -> None:
        """Writes the result to ``path`` (an .npz file) atomically: a crash mid-save never
        leaves a truncated file under ``path``. `jd.load` reads it back exactly, and
        checks every array against the checksum saved with it."""
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {"format": _FORMAT, "meta": self.meta, "axes": []}
        for name, values in self.axes.items():
            record = axis_record(name, values)
            if record["kind"] == "numeric":
                arrays[f"axis/{name}"] = np.asarray(values)
            meta["axes"].append(record)
        for field in ("step", "loss", "grad_norm", "final_loss", "diverged", "diverged_at"):
            arrays[field] = np.asarray(getattr(self, field))
        for field in ("params", "final_params"):
            meta[field] = _encode_tree(getattr(self, field), field, arrays)
        meta["metrics"] = list(self.metrics)
        for name, values in self.metrics.items():
            arrays[f"metrics/{name}"] = np.asarray(values)
        meta["checksums"] = {k: _checksum(a) for k, a in arrays.items()}
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        _atomic_write(os.fspath(path), arrays)


def _encode_tree(tree, prefix: str, arrays: dict):
    """JSON structure of a pytree of dicts/lists/tuples/None, leaves stored in ``arrays``."""
    if tree is None:
        return None
    if isinstance(tree, dict):
        return {"dict": {str(k): _encode_tree(v, f"{prefix}/{k}", arrays) for k, v in tree.items()}}
    if isinstance(tree, list | tuple) and not hasattr(tree, "_fields"):
        return {
            "list" if isinstance(tree, list) else "tuple": [
                _encode_tree(v, f"{prefix}/{i}", arrays) for i, v in enumerate(tree)
            ]
        }
    if isinstance(tree, jax.Array | np.ndarray | np.generic | float | int):
        arrays[prefix] = np.asarray(tree)
        return {"leaf": prefix}
    raise TypeError(
        f"save: cannot store params of type {type(tree).__name__}; params must be "
        "arrays nested in dicts, lists or tuples."
    )


def _decode_tree(spec, arrays):
    if spec is None:
        return None
    if "leaf" in spec:
        return arrays[spec["leaf"]]
    if "dict" in spec:
        return {k: _decode_tree(v, arrays) for k, v in spec["dict"].items()}
    if "list" in spec:
        return [_decode_tree(v, arrays) for v in spec["list"]]
    return tuple(_decode_tree(v, arrays) for v in spec["tuple"])


def _atomic_write(path: str, arrays: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_file(path, buf.getbuffer())  # no copy of the archive


def _checksum(a: np.ndarray) -> str:
    a = np.asarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _map(fn, tree):
    """``jax.tree.map`` that treats a `LazyArray` as one leaf."""
    return jax.tree.map(fn, tree, is_leaf=lambda x: isinstance(x, LazyArray))


def result_of(arrays: Trace, axes: dict, layout: Layout, meta: dict, in_memory: bool):
    """A `SweepResult` over stored arrays (`jaxdescent.store` layout): views of NumPy
    arrays, or `LazyArray` s over a zarr store."""

    def view(field):
        logged = field in LOGGED
        if in_memory:
            return lambda a: layout.view(a, logged)
        return lambda a: LazyArray(a, layout, logged)

    fields = {f: _map(view(f), getattr(arrays, f)) for f in LOGGED + FINAL}
    step = np.arange(0, meta["steps"] + 1, meta["log_every"])
    return SweepResult(axes=axes, trace=Trace(step=step, **fields), meta=meta)


def _load_store(path: str) -> SweepResult:
    group = zarr.open_group(path, mode="r")
    attrs = dict(group.attrs)
    if not attrs.get("complete"):
        raise ValueError(
            f"load: {path} is an unfinished sweep store; run the same jd.sweep(..., out=...) "
            "call again to finish it."
        )
    axes = {ax["name"]: axis_values(ax, lambda key: group[key][...]) for ax in attrs["axes"]}
    layout = Layout.of(
        [Axis(ax["name"], axes[ax["name"]], ax["kind"] == "numeric") for ax in attrs["axes"]]
    )
    axes["seed"] = np.asarray(group["seed"][...])
    return result_of(trace_of(group), axes, layout, attrs["meta"], in_memory=False)


def load(path) -> SweepResult:
    """Reads a `SweepResult` written by ``SweepResult.save`` (an .npz file: arrays come
    back as NumPy) or streamed by ``jd.sweep(..., out='x.zarr')`` (a store: arrays come
    back lazily, `LazyArray`).

    Numeric axes (their labels as given: float64 / int64), static axes of plain
    values (str, int, float, bool, None) and all arrays round-trip exactly; other
    static values (e.g. schedule functions) come back as their labels (names).
    """
    if os.path.isdir(os.fspath(path)):
        try:
            fmt = dict(zarr.open_group(os.fspath(path), mode="r").attrs).get("format")
        except Exception:  # not a zarr store
            fmt = None
        if fmt != STORE_FORMAT:
            raise ValueError(f"load: {path} is not a jaxdescent sweep store.")
        return _load_store(os.fspath(path))
    arrays, meta = _read_npz(os.fspath(path))
    axes = {ax["name"]: axis_values(ax, arrays.__getitem__) for ax in meta["axes"]}
    trace = Trace(
        step=arrays["step"],
        loss=arrays["loss"],
        grad_norm=arrays["grad_norm"],
        params=_decode_tree(meta["params"], arrays),
        metrics={name: arrays[f"metrics/{name}"] for name in meta["metrics"]},
        final_params=_decode_tree(meta["final_params"], arrays),
        final_loss=arrays["final_loss"],
        diverged=arrays["diverged"],
        diverged_at=arrays["diverged_at"],
    )
    _check_shapes(path, axes, trace)
    return SweepResult(axes=axes, trace=trace, meta=meta["meta"])


def _read_npz(path: str) -> tuple[dict, dict]:
    """The arrays and meta of a saved result, checked: a file that is not one, or
    whose arrays do not match their checksums, raises a ValueError naming it."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}.")
    not_ours = (
        f"load: {path} is not a readable jaxdescent result (an .npz written by "
        "SweepResult.save, or a store written by jd.sweep(..., out=...)); it may be "
        "damaged or another program's file"
    )
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError("a single array, not an .npz archive")
            arrays = {k: z[k] for k in z.files}
    except Exception as err:  # zip, zlib, CRC, pickle, format errors alike
        raise ValueError(f"{not_ours} ({type(err).__name__}: {err}).") from None
    if "__meta__" not in arrays:
        raise ValueError(f"{not_ours} (no jaxdescent metadata in it).")
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{not_ours} (its metadata does not decode: {err}).") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"load: {path} is not a saved jaxdescent SweepResult.")
    sums = meta.get("checksums")
    if sums is not None:
        bad = sorted(
            k
            for k in set(sums) | set(arrays)
            if k not in arrays or sums.get(k) != _checksum(arrays[k])
        )
        if bad:
            raise ValueError(
                f"load: {path} is damaged: {bad[:5]} do not match the checksums saved with "
                "them; run the sweep again (or restore the file)."
            )
    return arrays, meta


def _check_shapes(path, axes: dict, trace: Trace) -> None:
    """Every stored array is shaped (*axes, ...) as the axes say."""
    shape = tuple(len(v) for v in axes.values())
    n_log = len(trace.step)
    for field in LOGGED + FINAL:
        for a in jax.tree.leaves(getattr(trace, field)):
            head = tuple(a.shape[: len(shape)])
            logged = field in LOGGED
            if head != shape or (logged and (a.ndim <= len(shape) or a.shape[len(shape)] != n_log)):
                raise ValueError(
                    f"load: {path} is damaged: {field} has shape {tuple(a.shape)}, but its axes "
                    f"{list(axes)} give {shape}"
                    + (f" and {n_log} logged steps" if logged else "")
                    + "."
                )


def steps_to_target(values, steps, target, *, axis: int = -1) -> np.ndarray:
    """The first logged step at which a curve is at or below ``target``; inf where never.

    ``values[..., k]`` (along ``axis``) is a curve logged at ``steps[k]`` (e.g. a sweep's
    ``loss`` with ``result.step``, or its mean over seeds); the answer is
    ``min{steps[k] : values[k] <= target}``, read on the logged steps only (with
    ``log_every > 1`` the true first step may be earlier, by less than ``log_every``).
    Non-finite values (a diverged run) never count as reached. ``target`` broadcasts
    against the other axes (one target per curve). Host (NumPy) arithmetic: compiles
    nothing.

    Args:
      values: array of curves, the logged-step axis at ``axis``.
      steps: 1-D array of the logged step counts (length of that axis).
      target: the level, a number or an array broadcastable against ``values`` without
        its step axis.
      axis: the logged-step axis of ``values``.

    Returns:
      A float array shaped like ``values`` without ``axis``: the step count, or ``inf``.

    Example:
      >>> import numpy as np, jaxdescent as jd
      >>> jd.steps_to_target(np.array([[4.0, 2.0, 1.0, 0.5], [4.0, 3.0, 3.0, 3.0]]),
      ...                    np.array([0, 10, 20, 30]), 1.0).tolist()
      [20.0, inf]
    """
    values = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    steps = np.asarray(steps, dtype=float)
    if steps.ndim != 1 or steps.shape[0] != values.shape[-1]:
        raise ValueError(
            f"steps_to_target: `steps` must be 1-D with one entry per logged value "
            f"({values.shape[-1]}), got shape {steps.shape}."
        )
    reached = np.isfinite(values) & (values <= np.asarray(target, dtype=float)[..., None])
    return np.where(reached, steps, np.inf).min(axis=-1)


class CriticalBatch(NamedTuple):
    """The fit ``S(B) = steps_min * (1 + batch_noise / B)`` of steps-to-target against the
    batch size (McCandlish et al. 2018): ``steps_min`` the steps with an exact gradient,
    ``batch_noise`` the critical batch size (where ``S = 2 steps_min``; below it doubling
    ``B`` almost halves the steps, above it the gain fades)."""

    steps_min: float
    batch_noise: float


def critical_batch_size(batch_sizes, steps) -> CriticalBatch:
    """Fits ``S(B) = S_min (1 + B_noise / B)`` to steps-to-target ``steps`` at ``batch_sizes``.

    Least squares in relative error: ``sum_k ((a + b / B_k) / S_k - 1)**2`` over the finite
    ``S_k`` (a batch size that never reached the target is left out), linear in
    ``a = S_min`` and ``b = S_min B_noise``; returns ``(a, b / a)``.

    Args:
      batch_sizes: 1-D array of batch sizes ``B_k > 0``.
      steps: 1-D array of steps to the target at each (``inf`` where never reached),
        e.g. `steps_to_target` minimized over learning rates.

    Returns:
      A `CriticalBatch`.

    Raises:
      ValueError: if fewer than two batch sizes reached the target or shapes differ.

    Example:
      >>> import numpy as np, jaxdescent as jd
      >>> B = np.array([1, 2, 4, 8, 16, 32])
      >>> fit = jd.results.critical_batch_size(B, 10 * (1 + 8 / B))
      >>> round(fit.steps_min, 6), round(fit.batch_noise, 6)
      (10.0, 8.0)
    """
    B = np.asarray(batch_sizes, dtype=float)
    S = np.asarray(steps, dtype=float)
    if B.ndim != 1 or B.shape != S.shape:
        raise ValueError(
            f"critical_batch_size: `batch_sizes` and `steps` must be 1-D of one length, got "
            f"shapes {B.shape} and {S.shape}."
        )
    ok = np.isfinite(S) & (S > 0)
    if ok.sum() < 2:
        raise ValueError(
            "critical_batch_size: fewer than two batch sizes reached the target (finite "
            "steps); lower the target or run longer."
        )
    B, S = B[ok], S[ok]
    design = np.stack([1 / S, 1 / (B * S)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(S), rcond=None)
    return CriticalBatch(float(a), float(b / a))
