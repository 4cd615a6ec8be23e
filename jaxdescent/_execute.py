"""`jd.execute`: runs a `SweepPlan` tile by tile into its store and returns the
`SweepResult`.

Tiles already finished in the store (a killed sweep's) are skipped. With several
processes (``jax.distributed``), every process runs every tile's program together
(one program over the global mesh) and receives the whole tile; process 0 alone
writes the store (the others never touch ``out`` until it is complete), and it
decides which tiles are left. The others then read the result back from ``out``,
which must therefore be on a filesystem every process sees.
"""

from __future__ import annotations

import os
import warnings

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxdescent import progress as progress_lib
from jaxdescent._plan import SweepPlan
from jaxdescent.results import SweepResult, axis_record, load, result_of
from jaxdescent.store import (
    FORMAT,
    Layout,
    MemoryStore,
    ZarrStore,
    check_stored,
    leaf_shapes,
    npz_fingerprint,
)
from jaxdescent.tiles import place, to_host
from jaxdescent.trace import Trace

__all__ = ["execute"]


def _tile_shapes(plan: SweepPlan) -> Trace:
    values, seeds = plan.tile_inputs(0)
    outs = plan.program.shapes(plan.problem, plan.oracle, values, seeds, plan.keyed_spec)
    return leaf_shapes(outs[0], len(outs), plan.tiling.n_points, plan.tiling.n_seeds)


def _store(plan: SweepPlan, shapes: Trace, meta: dict, writer: bool):
    if plan.store == "memory" or plan.out is None:
        return MemoryStore(shapes)
    path = plan.out + ".partial" if plan.store == "npz" else plan.out
    if not writer:  # writes nothing; reads ``out`` once process 0 has finished it
        return ZarrStore(path, None, writer=False)
    t = plan.tiling
    attrs = {
        "format": FORMAT,
        "fingerprint": plan.fingerprint,
        "tiling": [t.points, t.seeds],
        "axes": _axes_attrs(plan),
        "complete": False,
    }
    extras = {"step": (np.arange(0, meta["steps"] + 1, meta["log_every"]), ("step",))}
    for a in plan.grid.axes:
        if a.numeric:
            extras[f"axis/{a.name}"] = (np.asarray(a.values), (f"{a.name}_values",))
            extras[a.name] = (plan.grid.values[a.name], ("point",))
    extras["seed"] = (plan.seeds, ("seed",))
    return ZarrStore.open(path, shapes, attrs, (t.points, t.seeds), extras, writer=writer)


def _axes_attrs(plan: SweepPlan) -> list:
    return [axis_record(a.name, a.values) for a in plan.grid.axes]


def execute(plan: SweepPlan) -> SweepResult:
    """Runs every tile of ``plan`` not yet in its store; returns the result (arrays in
    memory, or lazy arrays over the zarr store).

    Example:
      >>> import optax, jaxdescent as jd
      >>> p = jd.plan(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
      ...             {"lr": [0.01, 0.1]}, seeds=3, steps=10, chunk_size=2)
      >>> jd.execute(p).loss.shape
      (2, 3, 11)
    """
    meta = plan.meta
    axes = {a.name: a.values for a in plan.grid.axes}
    axes["seed"] = plan.seeds
    writer = jax.process_index() == 0
    if plan.out is not None:
        _check_out(plan, writer)
    done = None
    if plan.store == "npz" and writer and os.path.exists(plan.out):
        try:
            done = load(plan.out)
        except ValueError as e:  # damaged: computed again (the plan checked it is ours)
            warnings.warn(f"{e} It is computed again.", stacklevel=2)
        if done is not None and done.meta.get("fingerprint") != plan.fingerprint:
            done = None  # another computation's, and overwrite=True
    if plan.store == "npz" and _from_process_0(done is not None):  # finished before
        return (done if writer else _read_back(plan)).replace(axes=axes)
    n_steps = plan.spec.run.steps * len(plan.grid.combos)
    bar = progress_lib.Bar(plan.tiling.count * n_steps) if plan.progress else None
    sink = plan.program.sink
    sink.attach(bar if plan.spec.in_loop_progress else None)

    def launch(i: int):
        values, seeds = plan.tile_inputs(i)
        values, seeds = place(values, seeds, plan.devices, plan.tiling.shard)
        return plan.program.call(plan.problem, plan.oracle, values, seeds, plan.keyed_spec)

    try:
        # in memory nothing is stored yet: the first tile starts now, and the store is
        # made while it runs (the program runs asynchronously)
        first = launch(0) if plan.out is None else None
        store = _store(plan, _tile_shapes(plan), meta, writer)
        bounds = [plan.tiling.bounds(i) for i in range(plan.tiling.count)]
        stored = store.done(bounds) if writer else np.zeros(len(bounds), bool)
        finished = _from_process_0(stored)
        for i in range(plan.tiling.count):
            if finished[i]:
                if bar is not None:
                    bar.update(n_steps)
                continue
            outs = first if i == 0 and first is not None else launch(i)
            first = None
            outs = to_host(outs)
            store.write(i, outs, plan.tiling.bounds(i))
            del outs
            if bar is not None:
                if plan.spec.in_loop_progress:
                    jax.effects_barrier()  # the program's own reports counted the steps
                else:
                    bar.update(n_steps)
    finally:
        sink.attach(None)
        if bar is not None:
            bar.close()
    layout = Layout.of(plan.grid.axes)
    meta = {**meta, "fingerprint": plan.fingerprint} if plan.out is not None else meta
    if isinstance(store, MemoryStore):
        return result_of(store.finish(), axes, layout, meta, in_memory=True)
    result = None
    if writer:
        store.finish(meta)
        result = result_of(store.arrays(), axes, layout, meta, in_memory=False)
        if plan.store == "npz":  # a result that fits in memory, saved as one file
            result = result.load()
            if not _saved(plan):  # (a twin process may have saved it meanwhile)
                result.save(plan.out)
            store.clear()
        else:
            store.release()
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices("jaxdescent.execute: out written")
        if not writer:
            result = _read_back(plan).replace(axes=axes)
    return result


def _check_out(plan: SweepPlan, writer: bool) -> None:
    """`check_stored` on process 0, its verdict raised on every process."""
    refused = None
    if writer:
        try:
            check_stored(plan.out, plan.store, plan.fingerprint, plan.overwrite)
        except ValueError as e:
            refused = str(e)
    if _from_process_0(refused is not None):
        raise ValueError(refused or f"process 0 refused out={plan.out!r}: see its error.")


def _saved(plan: SweepPlan) -> bool:
    """Whether ``plan.out`` holds this sweep's result, intact."""
    if npz_fingerprint(plan.out) != plan.fingerprint:
        return False
    try:
        load(plan.out)
    except ValueError:
        return False
    return True


def _from_process_0(x) -> np.ndarray:
    """``x`` as process 0 has it (the same on every process); ``x`` itself with one."""
    if jax.process_count() == 1:
        return np.asarray(x)
    return np.asarray(multihost_utils.broadcast_one_to_all(np.asarray(x)), np.asarray(x).dtype)


def _read_back(plan: SweepPlan) -> SweepResult:
    """The result process 0 wrote to ``plan.out``, read by another process."""
    result = load(plan.out) if os.path.exists(plan.out) else None
    if result is None or result.meta.get("fingerprint") != plan.fingerprint:
        raise FileNotFoundError(
            f"process {jax.process_index()} cannot read the sweep process 0 wrote to "
            f"{plan.out!r} ({'no such path' if result is None else 'another sweep is there'}): "
            "with several processes, give `out` a path on a filesystem every process sees, "
            "or out=None (every process then holds the whole result in memory)."
        )
    return result
