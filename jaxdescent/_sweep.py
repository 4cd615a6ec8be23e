"""`jd.sweep`: a grid of configurations x seeds as one compiled program, run in tiles.

``sweep`` is ``execute(plan(...))``: `jd.plan` decides everything (checks,
routing, program, tiles, devices, store, memory), `jd.execute` runs the tiles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jaxdescent._execute import execute
from jaxdescent._plan import plan
from jaxdescent.problem import Problem
from jaxdescent.results import SweepResult

__all__ = ["sweep"]


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
    overwrite: bool = False,
    progress: bool | None = None,
    unroll: int = 1,
) -> SweepResult:
    """Runs every grid point x seed as one jit-compiled, vmapped program, in tiles.

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
      steps, log_every, keep_params, metrics, average, unroll: as in `jd.run`.
      oracle: an oracle, a function-oracle, or a function of grid names returning
        an oracle (e.g. ``lambda noise: jd.oracles.gaussian_noise(noise)``).
      chunk_size: at most this many runs (grid points x seeds) per tile; tiles split
        seeds when a point's seeds do not fit. Results are bitwise the same.
      memory_budget: bytes: tiles are sized from a measured tile so that the result
        held in memory plus one tile fit (see `jd.plan`); raises before compiling if
        the result alone does not fit (then pass ``out='x.zarr'``).
      devices: ``None``, ``"all"`` (every device, of every process after
        ``jax.distributed.initialize``) or a list: each tile's runs are sharded over a
        1-D mesh (over seeds or points, whichever the tile has more of); results are
        bitwise the same as on one device.
      out: a path. ``'x.zarr'`` (any name not ending in .npz): tiles stream into a zarr
        store and the result comes back lazily, never held in memory whole;
        ``'x.npz'``: tiles stream to ``x.npz.partial`` and the result is saved as one
        file. Either way a killed sweep resumes: the same call computes only the
        missing tiles; a finished ``out`` is read back, not recomputed. Whether a
        stored result is this sweep's is decided by its fingerprint: a hash of the
        compiled program's text (the traced code and every constant it closes over),
        every argument array, seeds, labels, tiling, x64 mode and versions.
      overwrite: replace a result stored under ``out`` by another computation
        (another fingerprint); by default that is a ``ValueError`` and the stored
        result is kept.
      progress: a bar of steps (default: on in a terminal, off under CI), advanced
        per tile; in-loop reports only for long tiles (`jaxdescent.progress`).

    Returns:
      A `SweepResult` of arrays shaped (*grid_shape, n_seeds, ...). Every cell
      equals ``jd.run(problem_at_point, make_optimizer(**point), key=key(s), ...)``.

    Example:
      >>> import optax, jaxdescent as jd
      >>> res = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
      ...                {"lr": [0.01, 0.1, 0.3]}, seeds=4, steps=50,
      ...                oracle=jd.oracles.gaussian_noise(1.0))
      >>> res.loss.shape
      (3, 4, 51)
    """
    decided = plan(
        problem, make_optimizer, grid, seeds=seeds, steps=steps, oracle=oracle,
        log_every=log_every, keep_params=keep_params, metrics=metrics, average=average,
        chunk_size=chunk_size, memory_budget=memory_budget, devices=devices, out=out,
        overwrite=overwrite, progress=progress, unroll=unroll,
    )  # fmt: skip
    return execute(decided)
