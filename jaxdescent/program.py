"""The compiled program of a sweep: one tile of runs (grid points x seeds) for every
combination of the static axes, as ``vmap over points (vmap over seeds (trajectory))``.

JAX batches only what depends on the batched inputs, so whatever depends on the key
and the step alone (samples, noise) is computed once per seed, and a deterministic run
once for all seeds. Grid values, data, init and seeds are arguments, never constants:
another tile, or another sweep with the same factories and shapes, compiles nothing.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent import compiler
from jaxdescent._run import Spec as RunSpec
from jaxdescent._run import trajectory
from jaxdescent.grid import Routes, combos
from jaxdescent.progress import ProgressSink
from jaxdescent.structural import Keyed
from jaxdescent.trace import FINAL, LOGGED, Trace

__all__ = ["OUT_AXES", "POINT", "Program", "SweepSpec", "program", "shape_key", "tile_program"]

# The grid point's index, always among a tile's values (so vmap sees the point axis
# even when the grid has no numeric axis); not passed to the factories.
POINT = "__point__"


MEMO_SIZE = 512  # shapes remembered per program handle


class SweepSpec(NamedTuple):
    """Everything static about a sweep's program (its jit cache key)."""

    routes: Routes
    unrolled: tuple  # ((name, values), ...) of the static axes, in grid order
    run: RunSpec
    in_loop_progress: bool = False


# Where the vmaps put the runs' axes: logs stay time-major, (n_log, points, seeds, ...),
# as the scan writes them; one value per run is (points, seeds, ...); the logged step
# counts are the same for every run.
OUT_AXES = Trace(**{f: (1 if f in LOGGED else 0) for f in Trace._fields})._replace(step=None)


def tile_program(problem, oracle, values: dict, seeds, spec: SweepSpec, tick=None) -> tuple:
    """All points of ``values`` (dict name -> (P,)) x all ``seeds`` ((S,) ints), for
    every static combination: a tuple of `Trace`, one per combination, with logs
    (n_log, P, S, ...) and final values (P, S, ...). ``tick``: the host function that
    receives in-loop progress reports (``spec.in_loop_progress``). ``spec`` may come
    as a `Keyed` spec (what `Program` passes: the compiled program's cache key)."""
    spec = spec.value if isinstance(spec, Keyed) else spec
    keys = jax.vmap(jax.random.key)(seeds)
    names = [name for name, _ in spec.unrolled]
    tick = tick if spec.in_loop_progress else None
    outs = []
    for combo in combos(spec.unrolled):
        fixed = dict(zip(names, combo))

        def cell(point, key, fixed=fixed):
            point = {k: v for k, v in point.items() if k != POINT}
            prob, orc, opt = spec.routes.build({**point, **fixed}, problem, oracle)
            return trajectory(prob, opt, orc, key, spec.run, tick)

        if _same_for_every_seed(spec, problem, oracle, values, fixed):
            # the run reads no key: computed once per point, then repeated over the seeds
            # (as vmap would, without the transposed copy it makes of seed-free outputs)
            shared = jax.vmap(lambda point, cell=cell: cell(point, keys[0]), out_axes=OUT_AXES)
            outs.append(_over_seeds(shared(values), seeds.shape[0]))
            continue
        inner = jax.vmap(cell, in_axes=(None, 0), out_axes=OUT_AXES)
        outs.append(jax.vmap(inner, in_axes=(0, None), out_axes=OUT_AXES)(values, keys))
    return tuple(outs)


def _same_for_every_seed(spec: SweepSpec, problem, oracle, values: dict, fixed: dict) -> bool:
    """Whether a run of this combination reads no key: a start given as arrays, and an
    oracle that draws nothing (`Oracle.uses_key`), e.g. full-batch gradient descent or
    per-sample SGD in data order on a deterministic loss."""
    point = {k: v[0] for k, v in values.items() if k != POINT}
    prob, orc, _ = spec.routes.build({**point, **fixed}, problem, oracle)
    return prob.init_fn is None and not orc.uses_key(prob)


def _over_seeds(trace: Trace, n_seeds: int) -> Trace:
    """A tile's `Trace` computed per point, repeated along a seed axis: logs (n_log, P)
    -> (n_log, P, S), final values (P, ...) -> (P, S, ...)."""

    def widen(a, axis):
        a = jnp.expand_dims(a, axis)
        return jnp.broadcast_to(a, a.shape[:axis] + (n_seeds,) + a.shape[axis + 1 :])

    return trace._replace(
        **{
            f: jax.tree.map(lambda a, f=f: widen(a, 2 if f in LOGGED else 1), getattr(trace, f))
            for f in LOGGED + FINAL
        }
    )


def shape_key(tree) -> tuple | None:
    """What decides the shapes a function of ``tree`` computes: its structure (static
    fields included) and every leaf's shape and dtype; None when that cannot be hashed
    (the caller then computes afresh)."""
    leaves, treedef = jax.tree.flatten(tree)
    try:
        key = (treedef, tuple((np.shape(x), getattr(x, "dtype", None), type(x)) for x in leaves))
        hash(key)
    except TypeError:
        return None
    return key


class Program(NamedTuple):
    """A compiled-program handle: the jitted tile program, the sink its in-loop
    progress reports go to, and a memo of shapes. ``call(problem, oracle, values,
    seeds, spec)`` runs a tile; ``jitted`` is the ``jax.jit`` object (``.lower(...)``,
    ``.eval_shape(...)``).

    ``memo`` holds what `shapes` and `remember` computed from shapes alone (output
    shapes, bytes drawn per step), keyed on the static spec and the arguments'
    structure and shapes: a sweep called again with the same structure re-derives
    nothing (jax's own tracing cache still sees every call; these are the host's
    sizes, not the program)."""

    jitted: Any
    sink: ProgressSink
    memo: dict

    def remember(self, key, compute):
        """``compute()``, memoized under ``key`` (computed afresh when key is None)."""
        if key is None:
            return compute()
        if key not in self.memo:
            if len(self.memo) >= MEMO_SIZE:  # a bound, not a policy: start afresh
                self.memo.clear()
            self.memo[key] = compute()
        return self.memo[key]

    def shapes(self, problem, oracle, values, seeds, spec: SweepSpec):
        """The tile program's output shapes (`eval_shape`), memoized."""
        avals = shape_key((problem, oracle, values, seeds))
        return self.remember(
            None if avals is None else ("tile", self.keyed(spec), avals),
            lambda: self.eval_shape(problem, oracle, values, seeds, spec),
        )

    def keyed(self, spec: SweepSpec) -> Keyed:
        """``spec`` keyed by its structure (`jaxdescent.structural`): a spec built from
        fresh but identical factories (a notebook cell run again) finds the program
        compiled for its twin; one whose code, closed-over values or globals differ
        does not. Keyed afresh at every call, never remembered by the factories'
        identity: the same function reading a changed global is another program."""
        return spec if isinstance(spec, Keyed) else Keyed(spec)

    def call(self, problem, oracle, values, seeds, spec: SweepSpec):
        spec = self.keyed(spec)
        return self.jitted(problem, oracle, values, seeds, spec=spec, tick=self.sink.tick)

    def lower(self, problem, oracle, values, seeds, spec: SweepSpec):
        spec = self.keyed(spec)
        return self.jitted.lower(problem, oracle, values, seeds, spec=spec, tick=self.sink.tick)

    def eval_shape(self, problem, oracle, values, seeds, spec: SweepSpec):
        spec = self.keyed(spec)
        return self.jitted.eval_shape(
            problem, oracle, values, seeds, spec=spec, tick=self.sink.tick
        )


_jitted = compiler.jit(tile_program, static_argnames=("spec", "tick"))


@functools.cache
def program(platform: str) -> Program:
    """The tile program for ``platform`` (one handle per platform, cached)."""
    return Program(_jitted(platform), ProgressSink(), {})
