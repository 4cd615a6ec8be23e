"""Search before gradients: the objective on a grid, and coarse-to-fine refinement.

The seeds start by evaluating the MSE of y = w*x at ``w = 0.0, 0.1, ..., 4.0`` and
then suggest a "divide and conquer" search: a coarse grid, then a finer grid around
the best point, and so on. Both are vmapped evaluations of ``problem.objective``.
The book's caveats hold and are tested: refinement can zoom into the basin of a local
minimum and miss the global one, and each level costs ``points ** dim`` evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent import checks
from jaxdescent.problem import Problem

__all__ = ["SearchResult", "RefineResult", "grid_search", "refine_search"]


class SearchResult(NamedTuple):
    """The objective on a grid.

    Attributes:
      axes: tuple of 1-D coordinate arrays, one per searched coordinate.
      values: objective values, shape ``tuple(len(a) for a in axes)``.
      best_params: params (in the problem's structure) at the smallest value.
      best_value: the smallest value.
      best_index: its index into ``values``.
      kind: "scalar", "vector" or "dict" (how coordinates map to params).
      names: coordinate names (dict keys, or "x0", "x1", ... / "w").
    """

    axes: tuple
    values: np.ndarray
    best_params: Any
    best_value: float
    best_index: tuple
    kind: str
    names: tuple

    @property
    def evaluations(self) -> int:
        return int(np.prod(self.values.shape))


class RefineResult(NamedTuple):
    """Coarse-to-fine search: every level's grid, and the final best point."""

    levels: tuple  # of SearchResult, coarse first
    best_params: Any
    best_value: float
    evaluations: int


def _layout(problem: Problem, ranges):
    """(kind, names, list of 1-D arrays) for ``ranges`` against the params' structure."""
    init = problem.initial_params()
    if isinstance(ranges, Mapping):
        if not isinstance(init, Mapping) or set(ranges) != set(init):
            raise ValueError(
                f"grid_search: dict `ranges` must name exactly the params' keys "
                f"{sorted(init) if isinstance(init, Mapping) else '(params are not a dict)'}."
            )
        names = tuple(init)
        return "dict", names, [np.asarray(ranges[k], dtype=float) for k in names]
    arrays = (
        [np.asarray(r, dtype=float) for r in ranges]
        if _is_sequence_of_ranges(ranges)
        else [np.asarray(ranges, dtype=float)]
    )
    shape = jnp.shape(init)
    if len(arrays) == 1 and shape == ():
        return "scalar", ("w",), arrays
    if len(shape) == 1 and shape[0] == len(arrays):
        return "vector", tuple(f"x{i}" for i in range(len(arrays))), arrays
    raise ValueError(
        f"grid_search: got {len(arrays)} range(s) for params of shape {shape}; give "
        "one 1-D range per coordinate (a single range for scalar params)."
    )


def _is_sequence_of_ranges(ranges) -> bool:
    return isinstance(ranges, Sequence | tuple) and len(ranges) > 0 and np.ndim(ranges[0]) == 1


def _params(kind, names, coords, dtype):
    """Params for stacked coordinates ``coords`` (list of arrays)."""
    if kind == "scalar":
        return coords[0].astype(dtype)
    if kind == "dict":
        return {k: c.astype(dtype) for k, c in zip(names, coords)}
    return jnp.stack(coords, axis=-1).astype(dtype)


@jax.jit
def _evaluate(problem, points):
    return jax.vmap(problem.objective)(points)


def grid_search(problem: Problem, ranges) -> SearchResult:
    """Evaluates ``problem.objective`` on the Cartesian grid of ``ranges`` (one vmapped call).

    Args:
      problem: a `jd.Problem` with scalar params, (d,) params or a dict of scalars.
      ranges: one 1-D array for scalar params (e.g. ``np.arange(0.0, 4.1, 0.1)``), a
        sequence of d 1-D arrays for (d,) params, or a dict name -> 1-D array.

    Returns:
      A `SearchResult`; ties resolve to the first grid point, as the seeds' loop would.

    Example:
      >>> import numpy as np, jaxdescent as jd
      >>> p = jd.problems.linear_regression([1., 2, 3], [2., 4, 6])
      >>> res = jd.search.grid_search(p, np.arange(0.0, 4.1, 0.1))
      >>> round(float(res.best_params), 6)
      2.0
    """
    checks.check_problem(problem)
    checks.check_loss(problem)
    try:
        kind, names, arrays = _layout(problem, ranges)
    except (TypeError, ValueError) as err:
        if "grid_search" in str(err):
            raise
        raise TypeError(
            f"grid_search: `ranges` must hold real numbers (1-D arrays), got {ranges!r}."
        ) from None
    for name, a in zip(names, arrays):
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"grid_search: the range of {name} must be a non-empty 1-D array.")
        if not np.all(np.isfinite(a)):
            raise ValueError(
                f"grid_search: the range of {name} holds non-finite values; give finite "
                "coordinates."
            )
    dtype = jnp.result_type(float)
    mesh = np.meshgrid(*arrays, indexing="ij")
    flat = [jnp.asarray(m.reshape(-1)) for m in mesh]
    values = np.asarray(_evaluate(problem, _params(kind, names, flat, dtype)))
    values = values.reshape(mesh[0].shape)
    masked = np.where(np.isfinite(values), values, np.inf)
    best = np.unravel_index(int(np.argmin(masked)), values.shape)
    best_coords = [jnp.asarray(a[i]) for a, i in zip(arrays, best)]
    return SearchResult(
        axes=tuple(arrays),
        values=values,
        best_params=_params(kind, names, best_coords, dtype),
        best_value=float(values[best]),
        best_index=tuple(int(i) for i in best),
        kind=kind,
        names=names,
    )


def refine_search(problem: Problem, ranges, levels: int = 4, points: int = 5) -> RefineResult:
    """Coarse-to-fine ("divide and conquer") search, as the seeds describe it.

    Level 0 evaluates ``points`` values per coordinate spanning ``ranges`` (given as
    (low, high) pairs, in the layouts `grid_search` accepts); each next level spans one
    grid cell on either side of the previous best point, clipped to the original box.

    Args:
      problem: the problem to search.
      ranges: (low, high) for scalar params; a sequence of (low, high) pairs for (d,)
        params; or a dict name -> (low, high).
      levels: number of levels (>= 1).
      points: grid points per coordinate per level (>= 2); a level costs points ** d.

    Returns:
      A `RefineResult` with each level's `SearchResult` (to plot the zooming in).
    """
    if not isinstance(levels, int) or levels < 1:
        raise ValueError(f"refine_search: `levels` must be an int >= 1, got {levels!r}.")
    if not isinstance(points, int) or points < 2:
        raise ValueError(f"refine_search: `points` must be an int >= 2, got {points!r}.")
    is_dict = isinstance(ranges, Mapping)
    if is_dict:
        keys = list(ranges)
        boxes = [tuple(map(float, ranges[k])) for k in keys]
    elif np.ndim(ranges) == 1 and len(ranges) == 2 and np.ndim(ranges[0]) == 0:
        boxes = [tuple(map(float, ranges))]
    else:
        boxes = [tuple(map(float, r)) for r in ranges]
    for lo, hi in boxes:
        if not lo < hi:
            raise ValueError(
                f"refine_search: each range must be (low, high) with low < high, got {(lo, hi)}."
            )
    outer = list(boxes)
    found = []
    for _ in range(levels):
        grids = [np.linspace(lo, hi, points) for lo, hi in boxes]
        arg = (
            dict(zip(keys, grids))
            if is_dict
            else (grids if len(grids) > 1 or _vector(problem) else grids[0])
        )
        res = grid_search(problem, arg)
        found.append(res)
        new = []
        for (lo, hi), (olo, ohi), g, i in zip(boxes, outer, grids, res.best_index):
            step = (hi - lo) / (points - 1)
            new.append((max(olo, g[i] - step), min(ohi, g[i] + step)))
        boxes = new
    best = min(found, key=lambda r: r.best_value)
    return RefineResult(
        levels=tuple(found),
        best_params=best.best_params,
        best_value=best.best_value,
        evaluations=sum(r.evaluations for r in found),
    )


def _vector(problem: Problem) -> bool:
    return jnp.ndim(problem.initial_params()) == 1
