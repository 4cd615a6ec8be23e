"""The grid of a sweep: its axes (numeric ones vmapped, static ones unrolled), the
flattened grid points, and which factory each grid name goes to."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from jaxdescent import checks
from jaxdescent.oracles import Oracle, as_oracle
from jaxdescent.problem import Problem
from jaxdescent.structural import Keyed

__all__ = ["Axis", "Grid", "Routes", "combos", "make_grid", "route", "static", "traced_values"]


class static:  # noqa: N801 - reads as a marker: grid={"size": jd.static([1, 8])}
    """Marks a grid axis as static: its values are unrolled while tracing, not vmapped.

    Use it for values that decide shapes or Python control flow (batch sizes, layer
    widths, optimizer choices). Non-numeric axes (e.g. a list of schedule functions)
    are static without the marker.

    Example:
      >>> import jaxdescent as jd
      >>> grid = {"lr": [0.01, 0.1], "size": jd.static([1, 3])}
    """

    __slots__ = ("values",)

    def __init__(self, values: Sequence):
        if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
            raise ValueError(f"jd.static: pass a 1-D sequence of values, got {values!r}.")
        self.values = tuple(v.item() if isinstance(v, np.generic) else v for v in values)

    def __repr__(self):
        return f"static({list(self.values)!r})"


class Axis(NamedTuple):
    """One grid axis: its name and its values exactly as the user gave them (labels): a
    float64 / int64 / bool array when numeric, else a tuple of the original objects."""

    name: str
    values: Any
    numeric: bool


class Grid(NamedTuple):
    """A grid's axes in the user's order; numeric axes flattened into grid points.

    ``values[name]`` holds the numeric axis ``name``'s value, in the traced dtype, at
    each of the ``n_points`` points (C order over the numeric axes); ``unrolled`` the static
    axes, whose ``n_combos`` combinations are unrolled inside one program.
    """

    axes: tuple
    values: dict
    unrolled: tuple  # ((name, values), ...) in grid order

    @property
    def n_points(self) -> int:
        return int(np.prod([len(a.values) for a in self.axes if a.numeric], dtype=int))

    @property
    def combos(self) -> list:
        """Every combination of the static axes' values, in C order."""
        return combos(self.unrolled)

    @property
    def shape(self) -> tuple:
        return tuple(len(a.values) for a in self.axes)


def combos(unrolled) -> list:
    """Every combination of static axes ``((name, values), ...)``, in C order."""
    return list(itertools.product(*[v for _, v in unrolled]))


def parse_axis(name, values) -> Axis:
    """Checks one grid entry. Numeric values become the axis' labels, exactly as given:
    float64 for floats, int64 for integers, bool for bools (`traced_values` makes the
    numbers the program computes with)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"grid: axis names must be identifiers (factory keywords), got {name!r}.")
    if name == "seed":
        raise ValueError("grid: 'seed' is reserved for the seed axis; pass seeds=... instead.")
    if not isinstance(values, static):
        checks.check_axis_values(name, values)
    if isinstance(values, static):
        vals = values.values
        numeric = False
    elif isinstance(values, str) or np.ndim(values) == 0 and not isinstance(values, Sequence):
        raise ValueError(
            f"grid[{name!r}] must be a 1-D sequence of values, got {values!r}; "
            f"wrap a single value in a list: [{values!r}]."
        )
    else:
        try:
            arr = np.asarray(values)
        except ValueError:  # ragged
            arr = np.asarray(list(values), dtype=object)
        numeric = arr.dtype.kind in "biuf"
        if numeric and arr.ndim != 1:
            raise ValueError(
                f"grid[{name!r}] must be 1-D, got shape {arr.shape}; give one value "
                "per grid point (a 2-D table is two axes: use two grid names)."
            )
        if numeric:
            vals = _labels(name, arr)
        else:
            vals = tuple(values)
    if len(vals) == 0:
        raise ValueError(f"grid[{name!r}] is empty; give at least one value.")
    if not numeric:
        for v in vals:
            try:
                hash(v)
            except TypeError:
                raise TypeError(
                    f"grid[{name!r}]: static (unrolled) axis values must be hashable, "
                    f"got {type(v).__name__}; use tuples instead of lists."
                ) from None
    return Axis(name, vals, numeric)


def _labels(name: str, arr: np.ndarray) -> np.ndarray:
    """A numeric axis' labels: float64 / int64 / bool, exactly the values given."""
    if arr.dtype.kind == "b":
        return arr.astype(bool)
    if arr.dtype.kind == "f":
        return arr.astype(np.float64)
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(
            f"grid[{name!r}]: integer value {int(arr.max())} does not fit in int64; "
            "give smaller integers."
        )
    return arr.astype(np.int64)


def traced_values(axis: Axis) -> np.ndarray:
    """The values of a numeric axis in the dtype the program computes with: the default
    float or int dtype (float32 / int32 unless ``jax_enable_x64``), bool for bools.

    Raises ValueError, naming the axis, for an integer outside the traced int range
    (it would wrap: 2**32 -> 0 in int32) and for a finite float that overflows the
    traced float dtype (-> inf) or is nonzero but below its smallest normal number
    (-> 0 or a denormal, which XLA may flush to 0).

    Example:
      >>> import jax
      >>> with jax.enable_x64(False):
      ...     traced_values(make_grid({"lr": [1e-3]}).axes[0]).dtype
      dtype('float32')
    """
    labels = np.asarray(axis.values)
    if labels.dtype.kind == "b":
        return labels
    if labels.dtype.kind == "f":
        dtype = np.dtype(jnp.result_type(float))
        info = np.finfo(dtype)
        top, tiny = float(info.max), float(info.tiny)
        finite = np.isfinite(labels)
        size = np.abs(np.where(finite, labels, 0.0))
        bad = finite & ((size > top) | ((size > 0) & (size < tiny)))
        if np.any(bad):
            v = float(labels[bad][0])
            raise ValueError(
                f"grid[{axis.name!r}]: {v!r} is outside the range of {dtype.name} "
                f"(normal magnitudes {tiny:.3g} to {top:.3g}), "
                f"the precision this sweep computes in; it would become "
                f"{'inf' if abs(v) > top else '0'}. Rescale the axis, or enable "
                "float64 with jax.config.update('jax_enable_x64', True)."
            )
        return labels.astype(dtype)
    dtype = np.dtype(jnp.result_type(int))
    info = np.iinfo(dtype)
    bad = (labels < info.min) | (labels > info.max)
    if np.any(bad):
        raise ValueError(
            f"grid[{axis.name!r}]: integer {int(labels[bad][0])} does not fit in "
            f"{dtype.name} ({info.min} to {info.max}), the integer type this sweep "
            "computes in (it would wrap around). Give smaller integers, floats, or "
            "enable 64-bit integers with jax.config.update('jax_enable_x64', True)."
        )
    return labels.astype(dtype)


def make_grid(grid: Mapping[str, Any]) -> Grid:
    """The `Grid` of a ``{name: values}`` dict (checked): the axes hold the labels as
    given, ``values`` the flattened points in the traced dtypes (`traced_values`)."""
    if not isinstance(grid, Mapping):
        raise TypeError(f"`grid` must be a dict name -> 1-D values, got {type(grid).__name__}.")
    axes = tuple(parse_axis(name, values) for name, values in grid.items())
    numeric = [a for a in axes if a.numeric]
    mesh = np.meshgrid(*[traced_values(a) for a in numeric], indexing="ij")
    values = {a.name: m.reshape(-1) for a, m in zip(numeric, mesh)}
    unrolled = tuple((a.name, a.values) for a in axes if not a.numeric)
    return Grid(axes, values, unrolled)


# --- routing grid names to factories ----------------------------------------------------


class Routes(NamedTuple):
    """Which grid names each factory takes (None: all, it has ``**kwargs``); the
    problem and oracle factories are None when a fixed problem / oracle was given."""

    make_optimizer: Callable  # each factory a `Keyed` function (called like the function)
    opt_names: Any
    problem_factory: Callable | None
    problem_names: Any
    oracle_factory: Callable | None
    oracle_names: Any

    def build(self, point: dict, problem, oracle):
        """The problem, oracle and optimizer of one grid point (traced or concrete)."""
        if self.problem_factory is not None:
            problem = self.problem_factory(**_pick(point, self.problem_names))
        if self.oracle_factory is not None:
            oracle = as_oracle(self.oracle_factory(**_pick(point, self.oracle_names)))
        optimizer = self.make_optimizer(**_pick(point, self.opt_names))
        return problem, oracle, optimizer


def _signature_names(fn, what: str):
    """(names it takes, or None for **kwargs; names it requires)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None, set()
    names, required = set(), set()
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None, required
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
            if p.default is p.empty:
                required.add(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            continue
        else:
            raise TypeError(
                f"{what} takes positional-only parameters; grid values are passed by "
                "keyword, so use ordinary parameters named like the grid axes."
            )
    return frozenset(names), required


def _pick(kwargs: dict, names):
    if names is None:
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in names}


def route(axes, make_optimizer, problem, oracle) -> Routes:
    """Routes grid names to the factories that take them, checking both directions: a
    factory's required name must be a grid axis, and every axis must be taken."""
    grid_names = {a.name for a in axes}
    factories = {"make_optimizer": make_optimizer}
    if callable(problem) and not isinstance(problem, Problem):
        factories["problem"] = problem
    if callable(oracle) and not isinstance(oracle, Oracle):
        names, _ = _signature_names(oracle, "oracle")
        # A function of grid names builds an oracle; any other function IS an oracle.
        if names is None or (names and names <= grid_names):
            factories["oracle"] = oracle
    taken = {}
    for what, fn in factories.items():
        names, required = _signature_names(fn, what)
        missing = required - grid_names
        if missing:
            raise ValueError(
                f"`{what}` needs {sorted(missing)} but the grid has no such axis "
                f"(grid axes: {sorted(grid_names)}); add them to the grid or give "
                "them defaults."
            )
        taken[what] = names
    untaken = [
        n for n in grid_names if not any(names is None or n in names for names in taken.values())
    ]
    if untaken:
        raise ValueError(
            f"grid axes {sorted(untaken)} are not parameters of make_optimizer, problem or oracle "
            f"(make_optimizer takes {sorted(taken['make_optimizer'] or [])}); rename the axes or "
            "add keyword parameters with those names to a factory."
        )
    # Each factory is keyed by its structure now, at this call: the routes (and the
    # sweep's static spec holding them) hash by what the factories compute, so a
    # factory reading a global that changed since an earlier sweep is another program.
    keyed = {what: Keyed(fn) for what, fn in factories.items()}
    return Routes(
        keyed["make_optimizer"],
        taken["make_optimizer"],
        keyed.get("problem"),
        taken.get("problem"),
        keyed.get("oracle"),
        taken.get("oracle"),
    )
