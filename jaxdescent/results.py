"""`SweepResult`: the arrays of a sweep with labeled axes; selection, saving, loading."""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from typing import Any, NamedTuple

import jax
import numpy as np
import zarr

from jaxdescent.grid import Axis
from jaxdescent.store import FORMAT as STORE_FORMAT
from jaxdescent.store import Layout, LazyArray, trace_of
from jaxdescent.trace import FINAL, LOGGED, Trace

__all__ = [
    "Best",
    "CriticalBatch",
    "SweepResult",
    "axis_label",
    "critical_batch_size",
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
      axes: dict name -> values: the grid axes in order, then ``"seed"``.
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
        values = self.axes[name]
        if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
            if isinstance(value, str) or not np.isscalar(value) and np.ndim(value) != 0:
                raise ValueError(f"sel: axis {name!r} is numeric; pass a number, got {value!r}.")
            hits = np.flatnonzero(values == value)
            if hits.size == 0:
                hits = np.flatnonzero(np.isclose(values, value, rtol=1e-5, atol=0.0))
            if hits.size == 1:
                return int(hits[0])
            raise ValueError(
                f"sel: {name}={value!r} is {'ambiguous' if hits.size else 'not on the axis'}; "
                f"values are {values.tolist()}. Use isel({name}=index) for positions."
            )
        for i, v in enumerate(values):
            if v is value or axis_label(v) == axis_label(value):
                return i
        raise ValueError(
            f"sel: {name}={axis_label(value)!r} is not on the axis; values are "
            f"{[axis_label(v) for v in values]}."
        )

    def sel(self, **by_value):
        """Selects by axis values, e.g. ``result.sel(lr=0.1, seed=3)``.

        A single value drops the axis; a list keeps it with those values. When every
        axis is dropped the cell is returned as a `Trace` (equal to the `jd.run` of
        that configuration).
        """
        idx = {}
        for name, value in by_value.items():
            self._check_axis(name)
            if isinstance(value, list | tuple | np.ndarray) and not isinstance(value, str):
                idx[name] = [self._index_of(name, v) for v in value]
            else:
                idx[name] = self._index_of(name, value)
        return self.isel(**idx)

    def _check_axis(self, name):
        if name not in self.axes:
            raise ValueError(f"unknown axis {name!r}; the axes are {list(self.axes)}.")

    def isel(self, **by_index):
        """Selects by integer positions along axes (an int drops the axis; a list keeps it)."""
        for name in by_index:
            self._check_axis(name)
        index = []
        axes = {}
        for name, values in self.axes.items():
            i = by_index.get(name, slice(None))
            if isinstance(i, int | np.integer):
                if not -len(values) <= i < len(values):
                    raise IndexError(f"isel: {name}={i} is out of range for {len(values)} values.")
                index.append(int(i))
            else:
                if not isinstance(i, slice):
                    i = list(i)
                index.append(i)
                axes[name] = (
                    np.asarray(values)[i]
                    if isinstance(values, np.ndarray)
                    else tuple(np.asarray(values, dtype=object)[i].tolist())
                )

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
        (float32 overflows long before float64)."""
        loss = np.asarray(self.loss, dtype=float)
        with np.errstate(invalid="ignore"):
            grew = ~(loss[..., -1] <= factor * loss[..., 0])
        return np.asarray(self.diverged) | grew

    # -- reductions --------------------------------------------------------------------
    _PER_RUN = tuple(f for f in LOGGED + FINAL if f not in ("diverged", "diverged_at"))

    def _reduce(self, axis: str, fn, new_axes: dict):
        self._check_axis(axis)
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
        and ``diverged_at`` the earliest such step. Non-finite values propagate."""
        axes = {k: v for k, v in self.axes.items() if k != axis}
        return self._reduce(axis, lambda a, p: np.mean(a, axis=p), axes)

    def quantile(self, q, axis: str = "seed"):
        """Quantile(s) ``q`` over one axis. A list of q adds a leading ``"quantile"`` axis."""
        axes = {k: v for k, v in self.axes.items() if k != axis}
        if np.ndim(q):
            axes = {"quantile": np.asarray(q, dtype=float), **axes}
        return self._reduce(axis, lambda a, p: np.quantile(a, q, axis=p), axes)

    def best(self, axis: str = "lr", metric: str = "final_loss", reduce: str = "median"):
        """The best value of ``axis`` for every combination of the other grid axes.

        The score of a configuration is the ``reduce`` ("median" or "mean") over seeds of
        ``metric`` ("final_loss", "best_loss" = the lowest logged loss, or the last value
        of a logged metric), ignoring runs that diverged; a configuration whose every
        seed diverged scores +inf. Returns a `Best` with the chosen values, their scores,
        and the result restricted to them (``axis`` removed).
        """
        self._check_axis(axis)
        if axis == "seed" or "seed" not in self.axes:
            raise ValueError("best: choose a grid axis of a result that still has its seed axis.")
        if metric == "final_loss":
            score = np.asarray(self.final_loss, dtype=float)
        elif metric == "best_loss":
            loss = np.asarray(self.loss, dtype=float)
            score = np.min(np.where(np.isfinite(loss), loss, np.inf), axis=-1)
        else:
            score = np.asarray(self.metrics[metric], dtype=float)[..., -1]
        score = np.where(np.asarray(self.diverged) | ~np.isfinite(score), np.nan, score)
        seed_pos = list(self.axes).index("seed")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            agg = (np.nanmedian if reduce == "median" else np.nanmean)(score, axis=seed_pos)
        agg = np.where(np.isnan(agg), np.inf, agg)
        names = [n for n in self.axes if n != "seed"]
        pos = names.index(axis)
        index = np.argmin(agg, axis=pos)
        chosen = np.take_along_axis(agg, np.expand_dims(index, pos), pos).squeeze(pos)
        values = np.asarray(self.axes[axis], dtype=object)[index]
        if isinstance(self.axes[axis], np.ndarray):
            values = values.astype(self.axes[axis].dtype)

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
        return Best(
            values=values, index=index, score=chosen, result=self.replace(axes=axes, **picked)
        )

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
        leaves a truncated file under ``path``. `jd.load` reads it back exactly."""
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {"format": _FORMAT, "meta": self.meta, "axes": []}
        for name, values in self.axes.items():
            if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
                arrays[f"axis/{name}"] = np.asarray(values)
                meta["axes"].append({"name": name, "kind": "numeric"})
            else:
                meta["axes"].append(
                    {"name": name, "kind": "labels", "labels": [axis_label(v) for v in values]}
                )
        for field in ("step", "loss", "grad_norm", "final_loss", "diverged", "diverged_at"):
            arrays[field] = np.asarray(getattr(self, field))
        for field in ("params", "final_params"):
            meta[field] = _encode_tree(getattr(self, field), field, arrays)
        meta["metrics"] = list(self.metrics)
        for name, values in self.metrics.items():
            arrays[f"metrics/{name}"] = np.asarray(values)
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
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    axes = {}
    for ax in attrs["axes"]:
        name = ax["name"]
        axes[name] = (
            np.asarray(group[f"axis/{name}"][...])
            if ax["kind"] == "numeric"
            else tuple(ax["labels"])
        )
    layout = Layout.of(
        [Axis(ax["name"], axes[ax["name"]], ax["kind"] == "numeric") for ax in attrs["axes"]]
    )
    axes["seed"] = np.asarray(group["seed"][...])
    return result_of(trace_of(group), axes, layout, attrs["meta"], in_memory=False)


def load(path) -> SweepResult:
    """Reads a `SweepResult` written by ``SweepResult.save`` (an .npz file: arrays come
    back as NumPy) or streamed by ``jd.sweep(..., out='x.zarr')`` (a store: arrays come
    back lazily, `LazyArray`).

    Numeric axes and all arrays round-trip exactly; non-numeric axis values (e.g.
    schedule functions) come back as their labels (names).
    """
    if os.path.isdir(os.fspath(path)):
        try:
            fmt = dict(zarr.open_group(os.fspath(path), mode="r").attrs).get("format")
        except Exception:  # not a zarr store
            fmt = None
        if fmt != STORE_FORMAT:
            raise ValueError(f"load: {path} is not a jaxdescent sweep store.")
        return _load_store(os.fspath(path))
    with np.load(os.fspath(path), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    if meta.get("format") != _FORMAT:
        raise ValueError(f"load: {path} is not a saved jaxdescent SweepResult.")
    axes = {}
    for ax in meta["axes"]:
        axes[ax["name"]] = (
            arrays[f"axis/{ax['name']}"] if ax["kind"] == "numeric" else tuple(ax["labels"])
        )
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
    return SweepResult(axes=axes, trace=trace, meta=meta["meta"])


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
