"""`jd.sweep`: a grid of configurations x seeds as ONE compiled program.

The program is ``jit(vmap over grid points (vmap over seeds (trajectory)))``:
numeric grid axes are flattened into one vmapped axis, non-numeric axes (schedule
functions, `jd.static` values) are unrolled while tracing inside the same program,
and every seed s runs with ``jax.random.key(s)``. Random draws depend only on the
key, so they are made once per seed and shared by all grid points (common random
numbers). Grid values, data and init are arguments of the program, never constants:
a second sweep with the same factories and shapes compiles nothing.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent import oracles as _oracles
from jaxdescent.problem import Problem
from jaxdescent.results import SweepResult, axis_label
from jaxdescent.run import (
    as_oracle,
    check_against_problem,
    check_average,
    check_metrics,
    check_optimizer,
    check_problem,
    check_steps,
    trajectory,
)

__all__ = ["sweep", "static"]


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


class _Axis(NamedTuple):
    name: str
    values: Any  # np.ndarray for numeric axes, tuple for static ones
    numeric: bool


def _parse_axis(name, values) -> _Axis:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"grid: axis names must be identifiers (factory keywords), got {name!r}.")
    if name == "seed":
        raise ValueError("grid: 'seed' is reserved for the seed axis; pass seeds=... instead.")
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
            dtype = jnp.result_type(float) if arr.dtype.kind == "f" else jnp.result_type(int)
            vals = arr.astype(dtype if arr.dtype.kind != "b" else bool)
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
    return _Axis(name, vals, numeric)


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


class _Spec(NamedTuple):
    """Everything static about a sweep program (its jit cache key)."""

    make_optimizer: Callable
    opt_names: Any
    problem_factory: Callable | None
    problem_names: Any
    oracle_factory: Callable | None
    oracle_names: Any
    numeric: tuple  # names of vmapped axes, in grid order
    unrolled: tuple  # ((name, values), ...) in grid order
    order: tuple  # all grid names in grid order
    shape: tuple  # their sizes
    steps: int
    log_every: int
    keep_params: bool
    metrics: tuple
    average: Any
    points_per_chunk: int | None


def _resolve_names(axes, make_optimizer, problem, oracle):
    """Routes grid names to the factories that take them, checking both directions."""
    grid_names = {a.name for a in axes}
    factories = {"make_optimizer": make_optimizer}
    if callable(problem) and not isinstance(problem, Problem):
        factories["problem"] = problem
    oracle_is_factory = False
    if callable(oracle) and not isinstance(oracle, _oracles.Oracle):
        names, _ = _signature_names(oracle, "oracle")
        # A function of grid names builds an oracle; any other function IS an oracle.
        if names is None or (names and names <= grid_names):
            factories["oracle"] = oracle
            oracle_is_factory = True
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
    return taken, oracle_is_factory


def _combos(unrolled):
    return list(itertools.product(*[vals for _, vals in unrolled])) if unrolled else [()]


def _build(spec: _Spec, kwargs: dict, problem, oracle):
    """The problem, oracle and optimizer of one grid point (traced or concrete values)."""
    if spec.problem_factory is not None:
        problem = spec.problem_factory(**_pick(kwargs, spec.problem_names))
    if spec.oracle_factory is not None:
        oracle = as_oracle(spec.oracle_factory(**_pick(kwargs, spec.oracle_names)))
    optimizer = spec.make_optimizer(**_pick(kwargs, spec.opt_names))
    return problem, oracle, optimizer


@functools.partial(jax.jit, static_argnames=("spec",))
def _program(problem, oracle, values, seeds, spec: _Spec):
    keys = jax.vmap(jax.random.key)(seeds)
    unrolled_names = [name for name, _ in spec.unrolled]
    outs = []
    for combo in _combos(spec.unrolled):
        fixed = dict(zip(unrolled_names, combo))

        def cell(point, key, fixed=fixed):
            prob, orc, opt = _build(spec, {**point, **fixed}, problem, oracle)
            tr = trajectory(
                prob,
                opt,
                orc,
                key,
                steps=spec.steps,
                log_every=spec.log_every,
                keep_params=spec.keep_params,
                metrics=spec.metrics,
                average=spec.average,
            )
            return tr._replace(step=None)

        def over_seeds(point, cell=cell):
            return jax.vmap(cell, in_axes=(None, 0))(point, keys)

        if not spec.numeric:
            out = jax.tree.map(lambda a: a[None], over_seeds({}))
        elif spec.points_per_chunk is None:
            out = jax.vmap(over_seeds)(values)
        else:
            out = jax.lax.map(over_seeds, values, batch_size=spec.points_per_chunk)
        outs.append(out)
    out = jax.tree.map(lambda *xs: jnp.stack(xs), *outs)  # (n_combos, n_points, n_seeds, ...)

    # Unflatten to one axis per grid name, then put the axes in grid order.
    sizes = dict(zip(spec.order, spec.shape))
    current = unrolled_names + [n for n in spec.order if n in spec.numeric]
    perm = [current.index(n) for n in spec.order]

    def arrange(a):
        a = a.reshape(tuple(sizes[n] for n in current) + a.shape[2:])
        return jnp.transpose(a, perm + list(range(len(perm), a.ndim)))

    return jax.tree.map(arrange, out)


def sweep(
    problem: Problem | Callable[..., Problem],
    make_optimizer: Callable[..., Any],
    grid: Mapping[str, Any],
    *,
    seeds: int | Sequence[int] = 1,
    steps: int,
    oracle=None,
    log_every: int = 1,
    keep_params: bool = True,
    metrics: Mapping[str, Callable] | None = None,
    average=None,
    chunk_size: int | None = None,
) -> SweepResult:
    """Runs every grid point x seed as one jit-compiled, vmapped program.

    Args:
      problem: a `jd.Problem`, or a function of grid names returning one (e.g.
        ``lambda l2: jd.problems.l2(base, l2)``).
      make_optimizer: ``make_optimizer(**point)`` returns an optax optimizer for one
        grid point, e.g. ``lambda lr: optax.sgd(lr)``; it receives traced scalars.
      grid: dict name -> 1-D values; the sweep covers their Cartesian product.
        Numeric axes are vmapped; other axes (functions, strings, `jd.static`
        values) are unrolled inside the same program. Each name is passed to every
        factory (make_optimizer, problem, oracle) whose signature names it.
      seeds: n (seeds 0..n-1) or a sequence of distinct non-negative ints; seed s
        runs with ``jax.random.key(s)``, the same stream at every grid point.
      steps, log_every, keep_params, metrics, average: as in `jd.run`.
      oracle: an oracle, a function-oracle, or a function of grid names returning
        an oracle (e.g. ``lambda noise: jd.oracles.gaussian_noise(noise)``).
      chunk_size: at most this many runs (grid points x seeds) in memory at once
        (grid points are processed in chunks with ``lax.map``; same results).

    Returns:
      A `SweepResult` of NumPy arrays shaped (*grid_shape, n_seeds, ...). Every cell
      equals ``jd.run(problem_at_point, make_optimizer(**point), key=key(s), ...)``.

    Example:
      >>> import optax, jaxdescent as jd
      >>> res = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
      ...                {"lr": [0.01, 0.1, 0.3]}, seeds=4, steps=50,
      ...                oracle=jd.oracles.gaussian_noise(1.0))
      >>> res.loss.shape
      (3, 4, 51)
    """
    check_steps(steps, log_every)
    if not isinstance(grid, Mapping):
        raise TypeError(f"`grid` must be a dict name -> 1-D values, got {type(grid).__name__}.")
    axes = [_parse_axis(name, values) for name, values in grid.items()]
    seed_values = _parse_seeds(seeds)
    metrics_t = check_metrics(metrics)
    average = check_average(average)
    if isinstance(make_optimizer, tuple) and hasattr(make_optimizer, "update"):
        opt = make_optimizer
        make_optimizer = lambda: opt  # noqa: E731 - a fixed optimizer for every point
    if not callable(make_optimizer):
        raise TypeError(
            "`make_optimizer` must be a function of grid names returning an optax "
            f"optimizer (e.g. lambda lr: optax.sgd(lr)), got {make_optimizer!r}."
        )
    if not (isinstance(problem, Problem) or callable(problem)):
        check_problem(problem)
    taken, oracle_is_factory = _resolve_names(axes, make_optimizer, problem, oracle)

    numeric = tuple(a.name for a in axes if a.numeric)
    unrolled = tuple((a.name, a.values) for a in axes if not a.numeric)
    n_seeds = len(seed_values)
    points_per_chunk = None
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < n_seeds:
            raise ValueError(
                f"`chunk_size` must be an int >= the number of seeds ({n_seeds}): a "
                f"chunk holds whole grid points with all their seeds; got {chunk_size!r}."
            )
        points_per_chunk = chunk_size // n_seeds

    spec = _Spec(
        make_optimizer=make_optimizer,
        opt_names=taken["make_optimizer"],
        problem_factory=None if isinstance(problem, Problem) else problem,
        problem_names=taken.get("problem"),
        oracle_factory=oracle if oracle_is_factory else None,
        oracle_names=taken.get("oracle"),
        numeric=numeric,
        unrolled=unrolled,
        order=tuple(a.name for a in axes),
        shape=tuple(len(a.values) for a in axes),
        steps=steps,
        log_every=log_every,
        keep_params=bool(keep_params),
        metrics=metrics_t,
        average=average,
        points_per_chunk=points_per_chunk,
    )
    problem_arg = problem if isinstance(problem, Problem) else None
    oracle_arg = None if oracle_is_factory else as_oracle(oracle)

    # Build every unrolled combination once, eagerly, at the first numeric values: this
    # checks factories, oracles and optimizers before anything is traced or compiled.
    first = {a.name: jnp.asarray(a.values[0]) for a in axes if a.numeric}
    probe = None
    for combo in _combos(unrolled):
        kwargs = {**first, **dict(zip((n for n, _ in unrolled), combo))}
        prob, orc, opt = _build(spec, kwargs, problem_arg, oracle_arg)
        if not isinstance(prob, Problem):
            raise TypeError(f"the `problem` factory must return a jd.Problem, got {prob!r}.")
        check_optimizer(opt, "`make_optimizer(...)`")
        orc.validate(prob)
        check_against_problem(prob, metrics_t, average)
        probe = probe or (prob, orc)

    mesh = np.meshgrid(*[a.values for a in axes if a.numeric], indexing="ij")
    values = {name: m.reshape(-1) for name, m in zip(numeric, mesh)}
    out = _program(problem_arg, oracle_arg, values, np.asarray(seed_values), spec=spec)
    out = jax.tree.map(np.asarray, out)  # host arrays (zero-copy on CPU): analysis compiles nothing

    result_axes = {a.name: a.values for a in axes}
    result_axes["seed"] = np.asarray(seed_values)
    meta = {
        "problem": probe[0].name,
        "oracle": repr(probe[1]),
        "make_optimizer": getattr(make_optimizer, "__qualname__", repr(make_optimizer)),
        "steps": steps,
        "log_every": log_every,
        "average": average if average is None or isinstance(average, str) else axis_label(average),
        "static_axes": {n: [axis_label(v) for v in vals] for n, vals in unrolled},
        "chunk_size": chunk_size,
    }
    return SweepResult(
        axes=result_axes,
        step=np.arange(0, steps + 1, log_every),
        loss=out.loss,
        grad_norm=out.grad_norm,
        params=out.params,
        metrics=out.metrics,
        final_params=out.final_params,
        final_loss=out.final_loss,
        diverged=out.diverged,
        diverged_at=out.diverged_at,
        meta=meta,
    )


def _parse_seeds(seeds) -> list[int]:
    if isinstance(seeds, bool):
        raise TypeError("`seeds` must be an int or a sequence of ints, got a bool.")
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise ValueError(f"`seeds` must be >= 1 (the number of seeds), got {seeds}.")
        return list(range(int(seeds)))
    try:
        values = [int(s) for s in seeds]
        if any(not float(s).is_integer() for s in seeds):
            raise ValueError
    except (TypeError, ValueError):
        raise TypeError(f"`seeds` must be an int n or a sequence of ints, got {seeds!r}.") from None
    if not values:
        raise ValueError("`seeds` is empty; give at least one seed.")
    if min(values) < 0 or len(set(values)) != len(values):
        raise ValueError(f"`seeds` must be distinct non-negative ints, got {values}.")
    if max(values) >= 2**31:
        raise ValueError("`seeds` must be < 2**31.")
    return values
