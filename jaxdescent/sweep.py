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

import inspect
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent import chunks, compiler
from jaxdescent import oracles as _oracles
from jaxdescent.problem import Problem
from jaxdescent.results import SweepResult, axis_label, load
from jaxdescent.run import Spec as RunSpec
from jaxdescent.run import (
    Trace,
    as_oracle,
    check_against_problem,
    check_average,
    check_metrics,
    check_optimizer,
    check_problem,
    check_steps,
    check_unroll,
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
    unrolled: tuple  # ((name, values), ...) in grid order
    run: RunSpec


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


def _program(problem, oracle, values, seeds, spec: _Spec):
    """All grid points of ``values`` x all seeds, for every static combination.

    The program is ``vmap(vmap(trajectory))``: JAX batches only what depends on the
    batched inputs, so whatever depends on the key and step alone (samples, noise) is
    computed once per seed, and a deterministic run is computed once for all seeds.
    Logs leave the vmaps time-major, (n_log, points, seeds, ...), as the scan writes
    them (no transpose). Returns one ``(logs, final_params, diverged_at)`` per static
    combination.
    """
    keys = jax.vmap(jax.random.key)(seeds)
    names = [name for name, _ in spec.unrolled]
    # logs leave the vmaps with time first: (n_log, points, seeds, ...), as the scan
    # writes them; finals are (points, seeds, ...)
    out_axes = Trace(
        step=None,
        loss=1,
        grad_norm=1,
        params=1,
        metrics=1,
        final_params=0,
        final_loss=0,
        diverged=0,
        diverged_at=0,
    )
    outs = []
    for combo in _combos(spec.unrolled):
        fixed = dict(zip(names, combo))

        def cell(point, key, fixed=fixed):
            point = {k: v for k, v in point.items() if k != _POINT}
            prob, orc, opt = _build(spec, {**point, **fixed}, problem, oracle)
            return trajectory(prob, opt, orc, key, spec.run)

        inner = jax.vmap(cell, in_axes=(None, 0), out_axes=out_axes)
        tr = jax.vmap(inner, in_axes=(0, None), out_axes=out_axes)(values, keys)
        logs = {"loss": tr.loss, "grad_norm": tr.grad_norm, "metrics": tr.metrics}
        if spec.run.keep_params:
            logs["params"] = tr.params
        outs.append((logs, tr.final_params, tr.diverged_at))
    return tuple(outs)


_programs = compiler.jit(_program, static_argnames=("spec",))

_POINT = "__point__"


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
    memory_budget: float | None = None,
    devices=None,
    out=None,
    progress: bool | None = None,
    unroll: int = 1,
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
      chunk_size: at most this many runs (grid points x seeds) in memory at once:
        grid points are run in chunks by one compiled program (same results).
      memory_budget: bytes: picks ``chunk_size`` so a chunk's outputs and state fit.
      devices: ``None``, ``"all"`` (every local device) or a list of devices: each
        chunk's grid points are sharded over a 1-D mesh (padded to a multiple of the
        device count); results are identical to one device.
      out: a path: finished chunks stream to ``<out>.partial/`` and the result is saved
        to ``out``. If the process is killed, the same call again resumes from the last
        finished chunk (same results); a finished ``out`` is loaded, not recomputed.
        Settings that change the results (grid, seeds, data, factories' names, ...)
        start afresh.
      progress: a progress bar of steps, fed by host callbacks every ~2% of the steps
        (default: on in a terminal, off under CI; when off nothing is compiled in).
      unroll: steps per iteration of the compiled loop, as in `jd.run`.

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
    show_progress = chunks.progress_enabled(progress)
    run_spec = RunSpec(
        steps,
        log_every,
        bool(keep_params),
        metrics_t,
        average,
        check_unroll(unroll),
        progress=show_progress,
        draw_runs=n_seeds,
    )
    spec = _Spec(
        make_optimizer=make_optimizer,
        opt_names=taken["make_optimizer"],
        problem_factory=None if isinstance(problem, Problem) else problem,
        problem_names=taken.get("problem"),
        oracle_factory=oracle if oracle_is_factory else None,
        oracle_names=taken.get("oracle"),
        unrolled=unrolled,
        run=run_spec,
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
    n_points = int(np.prod([len(a.values) for a in axes if a.numeric], dtype=int))
    values[_POINT] = np.arange(n_points, dtype=np.int32)
    seeds_arr = np.asarray(seed_values)

    device_list = chunks.resolve_devices(devices)
    program = _programs(device_list[0].platform if device_list else jax.default_backend())

    def call(chunk):
        return program(problem_arg, oracle_arg, chunk, seeds_arr, spec=spec)

    def shapes(chunk):
        return program.eval_shape(problem_arg, oracle_arg, chunk, seeds_arr, spec=spec)

    def bytes_per_point():
        one = shapes({k: v[:1] for k, v in values.items()})
        out = sum(a.size * a.dtype.itemsize for a in jax.tree.leaves(one))
        state = sum(a.size * a.dtype.itemsize for o in one for a in jax.tree.leaves(o[1]))
        return 2 * out + 4 * state  # outputs (device and host copies) and the running state

    per_chunk = chunks.chunk_points(
        n_points,
        n_seeds,
        chunk_size=chunk_size,
        memory_budget=memory_budget,
        bytes_per_point=bytes_per_point,
        n_devices=len(device_list) if device_list else 1,
    )
    result_axes = {a.name: a.values for a in axes}
    result_axes["seed"] = seeds_arr
    store = None
    if out is not None:
        fp = chunks.fingerprint(
            [spec_label(spec), probe[0].name, repr(probe[1]), per_chunk],
            values,
            seeds_arr,
            jax.tree.leaves(problem_arg),
            jax.tree.leaves(oracle_arg),
        )
        if os.path.exists(out):
            done = load(out)
            if done.meta.get("fingerprint") == fp:  # finished before: the same result
                return done._replace(axes=result_axes)
        store = chunks.ChunkStore(out, fp)
    outs = chunks.execute(
        call,
        shapes,
        values,
        n_points,
        per_chunk,
        devices=device_list,
        store=store,
        progress=show_progress,
        steps_per_chunk=steps * len(_combos(unrolled)),
    )
    logs, final_params, diverged_at = _assemble(outs, axes)

    meta = {
        "problem": probe[0].name,
        "oracle": repr(probe[1]),
        "make_optimizer": getattr(make_optimizer, "__qualname__", repr(make_optimizer)),
        "steps": steps,
        "log_every": log_every,
        "average": average if average is None or isinstance(average, str) else axis_label(average),
        "static_axes": {n: [axis_label(v) for v in vals] for n, vals in unrolled},
        "chunk_size": chunk_size,
        "points_per_chunk": per_chunk,
    }
    result = SweepResult(
        axes=result_axes,
        step=np.arange(0, steps + 1, log_every),
        loss=logs["loss"],
        grad_norm=logs["grad_norm"],
        params=logs.get("params"),
        metrics=logs["metrics"],
        final_params=final_params,
        final_loss=logs["loss"][..., -1],
        diverged=diverged_at >= 0,
        diverged_at=diverged_at,
        meta=meta,
    )
    if store is not None:
        result = result._replace(meta={**meta, "fingerprint": store.fingerprint})
        result.save(out)
        store.clear()
    return result


def _name(f) -> str | None:
    if f is None:
        return None
    return f"{getattr(f, '__module__', '')}.{getattr(f, '__qualname__', repr(f))}"


def spec_label(spec: _Spec) -> list:
    """What identifies a sweep's static settings across processes (for resuming)."""
    average = spec.run.average
    return [
        _name(spec.make_optimizer),
        _name(spec.problem_factory),
        _name(spec.oracle_factory),
        [[n, [axis_label(v) for v in vals]] for n, vals in spec.unrolled],
        [spec.run.steps, spec.run.log_every, spec.run.keep_params, spec.run.unroll],
        [[n, f if isinstance(f, str) else _name(f)] for n, f in spec.run.metrics],
        average if average is None or isinstance(average, str) else _name(average),
    ]


def _assemble(outs, axes):
    """Host arrays in the result's layout: (*grid axes in order, seed, [step], ...).

    The program's logs are time-major, (n_log, points, seeds, ...); the result views
    them with time after the seed axis (a transpose of strides, no copy when there is
    no static axis).
    """
    static_names = [a.name for a in axes if not a.numeric]
    numeric = [a for a in axes if a.numeric]
    u_shape = tuple(len(a.values) for a in axes if not a.numeric)
    n_shape = tuple(len(a.values) for a in numeric)
    order = [a.name for a in axes]
    current = static_names + [a.name for a in numeric]
    grid_perm = [current.index(name) for name in order]
    n_grid = len(order)

    def stack(leaves):
        return leaves[0][None] if len(leaves) == 1 else np.stack(leaves)

    def timed(*leaves):  # (U, T, G, S, *rest) -> (*grid, S, T, *rest)
        a = stack(leaves)
        a = a.reshape(u_shape + a.shape[1:2] + n_shape + a.shape[3:])
        t_axis = len(u_shape)
        grid_axes = [i if i < t_axis else i + 1 for i in range(n_grid)]
        perm = [grid_axes[p] for p in grid_perm] + [n_grid + 1, t_axis]
        return a.transpose(perm + list(range(n_grid + 2, a.ndim)))

    def final(*leaves):  # (U, G, S, *rest) -> (*grid, S, *rest)
        a = stack(leaves)
        a = a.reshape(u_shape + n_shape + a.shape[2:])
        return a.transpose(grid_perm + list(range(n_grid, a.ndim)))

    logs = jax.tree.map(timed, *[o[0] for o in outs])
    final_params = jax.tree.map(final, *[o[1] for o in outs])
    diverged_at = final(*[o[2] for o in outs])
    return logs, final_params, diverged_at


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
