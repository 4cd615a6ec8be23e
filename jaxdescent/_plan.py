"""`jd.plan`: everything a sweep decides before it runs -- checks, routing, the static
spec, the program, the grid, the seeds, the tiles, the devices, the store -- as one
inspectable record, `SweepPlan`. `jd.sweep` is ``execute(plan(...))``.

The memory rule (``memory_budget=B`` bytes): the result held in memory (unless it
streams to ``out=``) plus one tile's working set must fit in B. A tile's working set is
measured, not guessed: its program is compiled and XLA's own accounting of its
arguments, outputs and temporaries (drawn-ahead random numbers, the scan's state)
is read back, plus the host copy of its outputs; the tile is shrunk until that fits.
The runtime's and compiler's own memory (a few hundred MiB) comes on top.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent import checks, compiler, reuse
from jaxdescent import progress as progress_lib
from jaxdescent._run import Spec as RunSpec
from jaxdescent._run import draw_step_bytes
from jaxdescent.grid import Grid, make_grid, route
from jaxdescent.oracles import as_oracle
from jaxdescent.problem import Problem, rekeyed
from jaxdescent.program import POINT, Program, SweepSpec, program, shape_key
from jaxdescent.results import axis_label, axis_record
from jaxdescent.store import FORMAT, check_stored, fingerprint
from jaxdescent.structural import Keyed
from jaxdescent.tiles import Tiling, choose_tiling, place, resolve_devices

__all__ = ["DRAW_AHEAD_BYTES", "DRAW_AHEAD_TOTAL", "SweepPlan", "plan"]

# Random numbers a run may hold drawn ahead (half a million steps of a 2-d model's
# noise), and over a tile's seeds (under a memory budget: sized with the tile).
DRAW_AHEAD_BYTES = 1 << 22
DRAW_AHEAD_TOTAL = 1 << 28
# Results up to this size are not checked against the memory available (no budget).
SMALL_RESULT = 1 << 26


class SweepPlan(NamedTuple):
    """A sweep, decided and not yet run (`jd.plan`; run it with `jd.execute`).

    Attributes:
      spec: the program's static spec (factories, static axes, the run's settings).
      program: the compiled-program handle (``program.call(problem, oracle, values,
        seeds, spec)`` runs one tile; ``program.jitted`` is the ``jax.jit`` object).
      problem, oracle: the fixed problem / oracle (None when built per grid point).
      grid: the grid's axes and its flattened numeric points.
      seeds: (n_seeds,) the seed values.
      tiling: the tiles (`jaxdescent.tiles.Tiling`): points x seeds per tile, count.
      devices: the devices each tile runs on (None: the default device).
      out: where the result goes ("memory", or the path of an .npz file or a zarr
        store) and ``store``: "memory", "npz" or "zarr".
      result_bytes: the whole result's size; tile_bytes: one tile's measured working
        set (None until measured: with a budget it is, before anything runs);
        predicted_peak: what the sweep holds at once (result in memory + one tile).
      memory_budget: the budget, or None.
      overwrite: whether a result of another fingerprint under ``out`` is replaced.
      progress: whether a bar is shown.
      fingerprint: a hash of what decides the results (for resuming ``out``).
      meta: JSON-able facts stored with the result (problem, oracle, steps, tiles ...).
    """

    spec: SweepSpec
    program: Program
    problem: Any
    oracle: Any
    grid: Grid
    seeds: np.ndarray
    tiling: Tiling
    devices: list | None
    out: str | None
    store: str
    result_bytes: int
    tile_bytes: int | None
    predicted_peak: int | None
    memory_budget: int | None
    progress: bool
    fingerprint: str | None
    meta: dict
    overwrite: bool = False
    key: Keyed | None = None  # ``spec`` keyed by structure when planned (the jit cache key)

    @property
    def keyed_spec(self) -> Keyed:
        """The static spec as the program receives it: keyed by structure (`key`, computed
        once when planned; afresh for a plan built without one)."""
        return self.key if self.key is not None else Keyed(self.spec)

    def tile_inputs(self, i: int):
        """Tile ``i``'s grid values (dict name -> (P,)) and seeds ((S,)), padded."""
        take_p, take_s = self.tiling.take(i)
        values = {k: v[take_p] for k, v in self.grid.values.items()}
        return values, self.seeds[take_s]

    def lower(self, i: int = 0):
        """The lowered program of tile ``i`` (``.compile().memory_analysis()``, ...)."""
        values, seeds = self.tile_inputs(i)
        return self.program.lower(self.problem, self.oracle, values, seeds, self.keyed_spec)

    def __repr__(self) -> str:
        t = self.tiling
        mib = lambda b: "?" if b is None else f"{b / 2**20:.1f} MiB"  # noqa: E731
        return (
            f"SweepPlan(runs={t.n_points}x{t.n_seeds}, tiles={t.count} of {t.points}x"
            f"{t.seeds}, shard={t.shard}, store={self.store}, result={mib(self.result_bytes)}, "
            f"tile={mib(self.tile_bytes)}, peak={mib(self.predicted_peak)})"
        )


def plan(
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
    overwrite: bool = False,
    progress: bool | None = None,
    unroll: int = 1,
) -> SweepPlan:
    """Decides a sweep without running it: the same arguments as `jd.sweep`.

    Everything is checked here, before anything is compiled; with ``memory_budget``
    the tile program is compiled (once: `jd.sweep` reuses it) to measure a tile.

    Example:
      >>> import optax, jaxdescent as jd
      >>> p = jd.plan(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
      ...             {"lr": [0.01, 0.1]}, seeds=1000, steps=10, chunk_size=500)
      >>> p.tiling.count, p.tiling.points, p.tiling.seeds
      (4, 1, 500)
    """
    if compiler.tracing():
        raise TypeError(
            "jd.sweep / jd.plan cannot run inside a JAX transformation (jax.jit, vmap, grad, "
            "...): a sweep compiles and runs its own programs and returns host arrays. "
            "Call it at the top level; to transform a run, use jd.run (it composes with "
            "jax.jit/vmap/grad) or jd.hypergrad."
        )
    arguments = dict(
        problem=problem, make_optimizer=make_optimizer, grid=grid, seeds=seeds, steps=steps,
        oracle=oracle, log_every=log_every, keep_params=keep_params, metrics=metrics,
        average=average, chunk_size=chunk_size, memory_budget=memory_budget, devices=devices,
        out=out, overwrite=overwrite, progress=progress, unroll=unroll,
        limits=(DRAW_AHEAD_BYTES, DRAW_AHEAD_TOTAL, SMALL_RESULT),
    )  # fmt: skip
    memo = program(jax.default_backend()).memo
    same, pending = reuse.previous(memo, arguments)
    if same is not None:
        return same  # the previous call's plan: every argument and setting equal
    checks.check_steps(steps, log_every)
    g = make_grid(grid)
    seed_values = np.asarray(checks.parse_seeds(seeds), dtype=np.int32)
    metrics_t = checks.check_metrics(metrics)
    average = checks.check_average(average)
    make_optimizer = _as_factory(make_optimizer)
    if not (isinstance(problem, Problem) or callable(problem)):
        checks.check_problem(problem)
    routes = route(g.axes, make_optimizer, problem, oracle)
    problem_arg = rekeyed(problem) if isinstance(problem, Problem) else None
    oracle_arg = None if routes.oracle_factory is not None else as_oracle(oracle)
    keep_params = checks.check_flag("keep_params", keep_params)
    if progress is not None:
        checks.check_flag("progress", progress)
    out = checks.check_out(out)
    run_spec = RunSpec(
        steps, log_every, keep_params, metrics_t, average, checks.check_unroll(unroll)
    )
    spec = SweepSpec(routes, g.unrolled, run_spec)
    device_list = resolve_devices(devices)
    n_devices = len(device_list) if device_list else 1
    platform = device_list[0].platform if device_list else jax.default_backend()
    handle = program(platform)
    probe = _probe(handle, spec, g, problem_arg, oracle_arg)
    store, out = _store_kind(out)
    budget = _check_budget(memory_budget, chunk_size)
    values = {**g.values, POINT: np.arange(g.n_points, dtype=np.int32)}
    g = g._replace(values=values)
    n_params = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(probe.params))
    show = progress_lib.enabled(progress)

    def planned(max_runs, total=DRAW_AHEAD_TOTAL):
        tiling = choose_tiling(g.n_points, len(seed_values), max_runs, n_devices)
        # drawn-ahead numbers are per seed: at most ``total`` bytes over a tile's seeds
        draw = max(1, min(DRAW_AHEAD_BYTES, total // tiling.seeds))
        long = show and progress_lib.in_loop(tiling.runs, steps * len(g.combos), n_params)
        s = spec._replace(run=run_spec._replace(draw_bytes=draw), in_loop_progress=long)
        return tiling, s

    max_runs = chunk_size
    tiling, spec = planned(max_runs)
    key = Keyed(spec)  # once per call (`jaxdescent.structural`): what the program runs with
    run_bytes = _run_bytes(handle, key, problem_arg, oracle_arg, g, seed_values)
    result_bytes = run_bytes * g.n_points * len(seed_values)
    in_memory = store != "zarr"
    _check_fits(result_bytes, budget, in_memory)
    tile_bytes = peak = None
    result_held = result_bytes if in_memory else 0
    if budget is not None:
        room = budget - result_held
        # a first guess that usually fits (one compile): a tile holds its outputs on
        # the device, their host copy and about as much again in the scan's buffers
        per_run = max(1, 3 * run_bytes + probe.draw_bytes_per_step)
        max_runs = max(1, room // per_run)
        # drawing numbers ahead takes ~7x their size in temporaries: 1/16 of the room
        draw_total = max(1, room // 16)
        for _ in range(6):  # measure the tile; shrink it until it fits
            tiling, spec = planned(max_runs, draw_total)
            candidate = _plan(
                spec, handle, problem_arg, oracle_arg, g, seed_values, tiling, device_list
            )
            key = candidate.key
            tile_bytes = _measure(candidate, run_bytes, n_devices)
            if tile_bytes <= room or tiling.runs <= 2:
                break
            shrink = room / tile_bytes * 0.9
            max_runs = max(1, int(tiling.runs * shrink))
            draw_total = max(1, int(draw_total * shrink))
        if tile_bytes > room:
            raise ValueError(
                f"`memory_budget`={budget} bytes cannot hold a tile of this sweep "
                f"({tile_bytes} bytes measured for {tiling.runs} runs"
                + (f", besides the {result_bytes}-byte result held in memory" if in_memory else "")
                + "); raise it, stream the result with out='path.zarr', or log less "
                "(a larger log_every, keep_params=False)."
            )
        peak = result_held + tile_bytes
    fp = None
    if out is not None:
        fp = _fingerprint(
            _plan(spec, handle, problem_arg, oracle_arg, g, seed_values, tiling, device_list)
        )
        if jax.process_count() == 1:  # with several, `execute` checks on process 0
            check_stored(out, store, fp, overwrite)
    for a in (seed_values, *g.values.values(), *(a.values for a in g.axes)):
        if isinstance(a, np.ndarray):  # shared by every result of this plan: never written
            a.flags.writeable = False
    decided = SweepPlan(
        spec=spec,
        program=handle,
        problem=problem_arg,
        oracle=oracle_arg,
        grid=g,
        seeds=seed_values,
        tiling=tiling,
        devices=device_list,
        out=out,
        store=store,
        result_bytes=result_bytes,
        tile_bytes=tile_bytes,
        predicted_peak=peak,
        memory_budget=budget,
        progress=show,
        fingerprint=fp,
        overwrite=bool(overwrite),
        key=key,
        meta={
            "problem": probe.problem.name,
            "oracle": repr(probe.oracle),
            "make_optimizer": getattr(make_optimizer, "__qualname__", repr(make_optimizer)),
            "steps": steps,
            "log_every": log_every,
            "average": average
            if average is None or isinstance(average, str)
            else axis_label(average),
            "static_axes": {n: [axis_label(v) for v in vals] for n, vals in g.unrolled},
            "chunk_size": chunk_size,
            "memory_budget": budget,
            "tile": [tiling.points, tiling.seeds],
            "tiles": tiling.count,
        },
    )
    if result_bytes <= SMALL_RESULT:  # (a larger one read the memory available)
        reuse.remember(memo, pending, decided)
    return decided


def _as_factory(make_optimizer):
    if isinstance(make_optimizer, tuple) and hasattr(make_optimizer, "update"):
        opt = make_optimizer
        return lambda: opt  # a fixed optimizer for every point
    if not callable(make_optimizer):
        raise TypeError(
            "`make_optimizer` must be a function of grid names returning an optax "
            f"optimizer (e.g. lambda lr: optax.sgd(lr)), got {make_optimizer!r}."
        )
    return make_optimizer


class _Probe(NamedTuple):
    problem: Problem
    oracle: Any
    params: Any
    draw_bytes_per_step: int


def _probe(handle: Program, spec: SweepSpec, g: Grid, problem, oracle) -> _Probe:
    """Builds every static combination once, eagerly, at the first numeric values: this
    checks factories, oracles and optimizers before anything is traced or compiled.
    The shapes it derives are remembered by the program handle."""
    first = {a.name: jnp.asarray(g.values[a.name][0]) for a in g.axes if a.numeric}
    names = [n for n, _ in spec.unrolled]
    found = None
    for combo in g.combos:
        fixed = dict(zip(names, combo))
        try:
            prob, orc, opt = spec.routes.build({**first, **fixed}, problem, oracle)
        except (TypeError, ValueError) as err:
            if first and checks.mentions_array(err):
                err.add_note(checks.static_axis_note(None, sorted(first)))
            raise
        if not isinstance(prob, Problem):
            raise TypeError(f"the `problem` factory must return a jd.Problem, got {prob!r}.")
        checks.check_optimizer(opt, "`make_optimizer(...)`")

        def traced(prob=prob, orc=orc, fixed=fixed):  # from shapes alone: remembered
            checks.check_traced_factories(spec.routes, first, fixed)
            params = checks.params_shape(prob)
            checks.check_loss(prob, params)
            return params, draw_step_bytes(prob, orc, params)

        avals = shape_key((prob, orc, first))
        key = None if avals is None else ("probe", spec.routes, tuple(fixed.items()), avals)
        params, draw = handle.remember(key, traced)
        orc.validate(prob)
        checks.check_against_problem(prob, spec.run.metrics, spec.run.average)
        if found is None:
            found = _Probe(prob, orc, params, draw)
    return found


def _store_kind(out) -> tuple[str, str | None]:
    path = checks.check_out(out)
    if path is None:
        return "memory", None
    return ("npz" if path.endswith(".npz") else "zarr"), path


def _check_budget(memory_budget, chunk_size):
    if chunk_size is not None and memory_budget is not None:
        raise ValueError("give `chunk_size` or `memory_budget`, not both.")
    if chunk_size is not None and (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int | np.integer)
        or chunk_size < 1
    ):
        raise ValueError(
            f"`chunk_size` must be a positive int (runs held at once), got {chunk_size!r}."
        )
    if memory_budget is None:
        return None
    if not checks.positive_finite(memory_budget):
        raise ValueError(
            f"`memory_budget` must be a positive, finite number of bytes, got {memory_budget!r}."
        )
    return int(memory_budget)


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_fits(result_bytes: int, budget, in_memory: bool) -> None:
    if not in_memory:
        return
    limit, what = budget, f"`memory_budget`={budget} bytes"
    if budget is None:
        if result_bytes <= SMALL_RESULT:  # not worth reading /proc/meminfo for
            return
        limit, what = _available_memory(), "the memory available"
    if limit is not None and result_bytes > limit:
        raise ValueError(
            f"the result of this sweep is {result_bytes / 2**20:.1f} MiB, more than {what} "
            f"({(limit or 0) / 2**20:.1f} MiB): pass out='path.zarr' to stream it to disk, "
            "tile by tile, and read it back lazily (or log less: a larger log_every, "
            "keep_params=False)."
        )


def _run_bytes(handle, spec, problem, oracle, g: Grid, seeds) -> int:
    """Bytes of one run's outputs (all static combinations), from shapes alone."""
    values = {k: v[:1] for k, v in g.values.items()}
    shapes = handle.shapes(problem, oracle, values, seeds[:1], spec)
    return sum(int(np.prod(a.shape)) * a.dtype.itemsize for a in jax.tree.leaves(shapes))


def _plan(spec, handle, problem, oracle, g, seeds, tiling, devices):
    return SweepPlan(
        spec=spec,
        program=handle,
        problem=problem,
        oracle=oracle,
        grid=g,
        seeds=seeds,
        tiling=tiling,
        devices=devices,
        out=None,
        store="memory",
        result_bytes=0,
        tile_bytes=None,
        predicted_peak=None,
        memory_budget=None,
        progress=False,
        fingerprint=None,
        meta={},
        key=Keyed(spec),
    )


def _measure(p: SweepPlan, run_bytes: int, n_devices: int) -> int:
    """One tile's working set: XLA's accounting of the compiled tile program (summed
    over the devices of this process), plus the host copy of its outputs."""
    values, seeds = p.tile_inputs(0)
    values, seeds = place(values, seeds, p.devices, p.tiling.shard)
    compiled = p.program.lower(p.problem, p.oracle, values, seeds, p.keyed_spec).compile()
    stats = compiled.memory_analysis()
    local = max(1, min(n_devices, jax.local_device_count()))
    device = 0
    if stats is not None:
        device = (
            stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
        ) * (local if n_devices > 1 else 1)
    return int(device + run_bytes * p.tiling.runs)


def _name(f) -> str | None:
    if f is None:
        return None
    f = f.value if isinstance(f, Keyed) else f
    return f"{getattr(f, '__module__', '')}.{getattr(f, '__qualname__', repr(f))}"


def _spec_label(spec: SweepSpec) -> list:
    """What identifies a sweep's static settings across processes (for resuming)."""
    run, r = spec.run, spec.routes
    average = run.average
    return [
        _name(r.make_optimizer),
        _name(r.problem_factory),
        _name(r.oracle_factory),
        [[n, [axis_label(v) for v in vals]] for n, vals in spec.unrolled],
        [run.steps, run.log_every, run.keep_params, run.unroll],
        [[n, f if isinstance(f, str) else _name(f)] for n, f in run.metrics],
        average if average is None or isinstance(average, str) else _name(average),
    ]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _fingerprint(p: SweepPlan) -> str:
    """What decides the numbers of ``p``: the text of its tile program (lowered, not
    compiled; without progress reports, which change no number), every argument
    array, the seeds, the axes' labels, the tiling, x64 mode and the versions."""
    values, seeds = p.tile_inputs(0)
    spec = Keyed(p.spec._replace(in_loop_progress=False))
    avals = shape_key((p.problem, p.oracle, values, seeds))
    text = p.program.remember(
        None if avals is None else ("text", spec, avals),
        lambda: p.program.lower(p.problem, p.oracle, values, seeds, spec).as_text(),
    )
    t = p.tiling
    return fingerprint(
        [FORMAT, text, *(_version(n) for n in ("jax", "jaxlib", "jaxdescent"))],
        [bool(jax.config.jax_enable_x64), t.points, t.seeds, t.shard or ""],
        [json.dumps(axis_record(a.name, a.values), default=repr) for a in p.grid.axes],
        {a.name: np.asarray(a.values) for a in p.grid.axes if a.numeric},
        dict(p.grid.values),
        p.seeds,
        jax.tree.leaves(p.problem),
        jax.tree.leaves(p.oracle),
    )
