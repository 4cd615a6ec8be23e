"""Running a sweep's program over chunks of grid points: memory, devices, disk, progress.

One compiled program handles a fixed number of grid points (all seeds each); the host
loops over chunks of that size (the last one padded with copies of its last point and
trimmed), so chunking never recompiles. Around that loop:

* ``memory_budget`` picks the chunk size from the program's output shapes;
* ``devices`` shards each chunk's points over a 1-D ``jax.sharding.Mesh`` (padded to a
  multiple of the device count), the same program on one or many devices;
* a `ChunkStore` streams finished chunks to disk, so a killed sweep resumes from the
  last finished chunk;
* a progress bar counts steps, from host callbacks the program makes every ~2% of its
  steps (compiled in only when the bar is on).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence

import jax
import numpy as np

__all__ = [
    "ChunkStore",
    "chunk_points",
    "execute",
    "place",
    "process_slice",
    "progress_enabled",
    "progress_tick",
    "resolve_devices",
]


def process_slice(n: int, index: int, count: int) -> slice:
    """The share of ``n`` configurations that process ``index`` of ``count`` runs.

    Contiguous, in order, sizes differing by at most one; the shares partition range(n).
    For multi-host sweeps: each process sweeps its share of the flattened grid.

    Example:
      >>> from jaxdescent.chunks import process_slice
      >>> [process_slice(10, i, 3) for i in range(3)]
      [slice(0, 4, None), slice(4, 7, None), slice(7, 10, None)]
    """
    if count < 1 or not 0 <= index < count:
        raise ValueError(
            f"process_slice: need 0 <= index < count, got index={index}, count={count}."
        )
    base, extra = divmod(n, count)
    lo = index * base + min(index, extra)
    return slice(lo, lo + base + (index < extra))


def resolve_devices(devices) -> list | None:
    """``None`` (default placement), ``"all"`` (every local device) or a list of devices."""
    if devices is None:
        return None
    if devices == "all":
        return list(jax.local_devices())
    if (
        isinstance(devices, Sequence)
        and devices
        and all(isinstance(d, jax.Device) for d in devices)
    ):
        return list(devices)
    raise ValueError(
        f"`devices` must be None, 'all' or a non-empty list of jax devices (e.g. jax.devices()), "
        f"got {devices!r}."
    )


def place(values: dict, devices: list | None):
    """Puts a chunk's per-point arrays on ``devices``, sharded along the point axis."""
    if not devices or len(devices) == 1:
        return values if not devices else jax.device_put(values, devices[0])
    mesh = jax.sharding.Mesh(np.asarray(devices), ("configs",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("configs"))
    return jax.device_put(values, sharding)


def chunk_points(
    n_points: int,
    n_seeds: int,
    *,
    chunk_size=None,
    memory_budget=None,
    bytes_per_point: Callable[[], int] | None = None,
    n_devices: int = 1,
) -> int:
    """Grid points per compiled call, from ``chunk_size`` (runs) or ``memory_budget``
    (bytes), rounded up to a multiple of the device count."""
    if chunk_size is not None and memory_budget is not None:
        raise ValueError("give `chunk_size` or `memory_budget`, not both.")
    per = n_points
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < n_seeds:
            raise ValueError(
                f"`chunk_size` must be an int >= the number of seeds ({n_seeds}): a "
                f"chunk holds whole grid points with all their seeds; got {chunk_size!r}."
            )
        per = chunk_size // n_seeds
    elif memory_budget is not None:
        if not isinstance(memory_budget, int | float) or memory_budget <= 0:
            raise ValueError(
                f"`memory_budget` must be a positive number of bytes, got {memory_budget!r}."
            )
        need = bytes_per_point()
        per = int(memory_budget // need)
        if per < 1:
            raise ValueError(
                f"`memory_budget`={int(memory_budget)} bytes cannot hold one grid point with all "
                f"its "
                f"seeds (~{need} bytes); raise it, or use fewer seeds, a larger log_every or "
                "keep_params=False."
            )
    per = max(1, min(per, n_points))
    return -(-per // n_devices) * n_devices


class ChunkStore:
    """Finished chunks on disk, under ``<path>.partial/``, for resuming a killed sweep.

    A chunk file is written atomically (temporary name, then rename), so a file that
    exists is complete; the folder is tied to the sweep by a fingerprint of everything
    that determines its results, and a folder of another sweep is never reused.
    """

    def __init__(self, path, fingerprint: str):
        self.path = os.fspath(path)
        self.folder = self.path + ".partial"
        self.fingerprint = fingerprint
        manifest = os.path.join(self.folder, "manifest.json")
        if os.path.isdir(self.folder):
            try:
                with open(manifest) as f:
                    same = json.load(f).get("fingerprint") == fingerprint
            except (OSError, ValueError):
                same = False
            if not same:
                shutil.rmtree(self.folder)
        os.makedirs(self.folder, exist_ok=True)
        with open(manifest + ".tmp", "w") as f:
            json.dump({"fingerprint": fingerprint}, f)
        os.replace(manifest + ".tmp", manifest)

    def _file(self, lo: int) -> str:
        return os.path.join(self.folder, f"chunk_{lo:010d}.npz")

    def load(self, lo: int, treedef):
        try:
            with np.load(self._file(lo)) as z:
                return jax.tree.unflatten(treedef, [z[str(i)] for i in range(len(z.files))])
        except (OSError, ValueError, KeyError):
            return None

    def save(self, lo: int, outs) -> None:
        leaves = jax.tree.leaves(outs)
        tmp = self._file(lo) + ".tmp"
        with open(tmp, "wb") as f:
            np.savez(f, **{str(i): np.asarray(a) for i, a in enumerate(leaves)})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._file(lo))

    def finished(self) -> int:
        return sum(1 for f in os.listdir(self.folder) if f.endswith(".npz"))

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def fingerprint(*parts) -> str:
    """A hash of arrays and JSON-able facts (what decides a sweep's results)."""
    h = hashlib.sha256()
    for part in parts:
        for leaf in jax.tree.leaves(part):
            if isinstance(leaf, str | int | float | bool):
                h.update(json.dumps(leaf).encode())
            else:
                a = np.asarray(leaf)
                h.update(str((a.dtype, a.shape)).encode())
                h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def progress_enabled(progress) -> bool:
    """``progress=None`` means: on in a terminal, off under CI or when tqdm is missing."""
    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    if not progress:
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:  # progress is a nicety
        return False
    return True


_BAR: dict = {"bar": None, "done": 0}


def progress_tick(done) -> None:
    """Host side of the in-program callbacks: the running run has taken ``done`` steps
    (a count lower than the last one means the next run -- static combination or
    chunk -- has begun)."""
    bar = _BAR["bar"]
    if bar is not None:
        done, last = int(done), _BAR["done"]
        bar.update(done - last if done > last else done)
        _BAR["done"] = done


def execute(
    call,
    shapes,
    values: dict,
    n_points: int,
    per_chunk: int,
    *,
    devices=None,
    store=None,
    progress: bool = False,
    steps_per_chunk: int = 0,
):
    """Runs ``call(chunk_values) -> outs`` on every chunk; gathers time-major host arrays.
    ``shapes(chunk_values)`` gives the shapes of ``outs`` without running anything.

    ``outs`` is a tuple over static combinations of ``(logs, final_params, diverged_at)``
    with points on axis 1 of the logs and axis 0 of the rest. With ``progress`` the
    program's callbacks advance a bar of ``steps_per_chunk`` steps per chunk.
    """
    starts = list(range(0, n_points, per_chunk))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(starts) * steps_per_chunk, desc="jd.sweep", unit="step")
    _BAR["bar"], _BAR["done"] = bar, 0
    try:
        return _run_chunks(
            call, shapes, values, n_points, per_chunk, starts, devices, store, bar, steps_per_chunk
        )
    finally:
        _BAR["bar"] = None
        if bar is not None:
            bar.close()


def _run_chunks(
    call, shapes, values, n_points, per_chunk, starts, devices, store, bar, steps_per_chunk
):
    if len(starts) == 1 and store is None and not (devices and len(devices) > 1):
        return jax.tree.map(np.asarray, call(values))
    take0 = np.minimum(np.arange(per_chunk), n_points - 1)
    out_shapes = shapes({k: v[take0] for k, v in values.items()})
    treedef = jax.tree.structure(out_shapes)
    gathered = [
        (
            jax.tree.map(
                lambda a: np.empty(a.shape[:1] + (n_points,) + a.shape[2:], a.dtype), logs
            ),
            jax.tree.map(lambda a: np.empty((n_points,) + a.shape[1:], a.dtype), finals),
            np.empty((n_points,) + div.shape[1:], div.dtype),
        )
        for logs, finals, div in out_shapes
    ]
    for lo in starts:
        hi = min(lo + per_chunk, n_points)
        outs = store.load(lo, treedef) if store is not None else None
        if outs is None:
            take = np.minimum(np.arange(lo, lo + per_chunk), hi - 1)
            chunk = place({k: v[take] for k, v in values.items()}, devices)
            outs = jax.tree.map(np.asarray, call(chunk))
            if store is not None:
                store.save(lo, outs)
        elif bar is not None:  # finished in an earlier process
            bar.update(steps_per_chunk)
        for (g_logs, g_finals, g_div), (logs, finals, div) in zip(gathered, outs):
            for g, a in zip(jax.tree.leaves(g_logs), jax.tree.leaves(logs)):
                g[:, lo:hi] = a[:, : hi - lo]
            for g, a in zip(jax.tree.leaves(g_finals), jax.tree.leaves(finals)):
                g[lo:hi] = a[: hi - lo]
            g_div[lo:hi] = div[: hi - lo]
    return tuple(gathered)
