"""Tiles of runs: how a sweep's grid points x seeds are cut into equal tiles, placed on
devices (one process or many) and brought back to the host.

Every tile has the same shape (the last ones padded with copies, trimmed on the way
back), so one compiled program serves them all, and padding never costs more than one
tile. A seed's random numbers depend on its value only, so a run computes the same
numbers in whichever tile it lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import numpy as np
from jax.experimental import multihost_utils

__all__ = ["Tiling", "choose_tiling", "place", "process_slice", "resolve_devices", "to_host"]


class Tiling(NamedTuple):
    """Tiles of ``points`` grid points x ``seeds`` seeds over an ``n_points`` x
    ``n_seeds`` sweep; ``shard``: which tile axis is split over devices ("points",
    "seeds" or None)."""

    n_points: int
    n_seeds: int
    points: int
    seeds: int
    shard: str | None = None

    @property
    def runs(self) -> int:
        """Runs per tile."""
        return self.points * self.seeds

    @property
    def point_tiles(self) -> int:
        return -(-self.n_points // self.points)

    @property
    def seed_tiles(self) -> int:
        return -(-self.n_seeds // self.seeds)

    @property
    def count(self) -> int:
        return self.point_tiles * self.seed_tiles

    @property
    def padded_runs(self) -> int:
        """Runs computed over all tiles, padding included."""
        return self.count * self.runs

    def bounds(self, i: int) -> tuple[int, int, int, int]:
        """``(p0, p1, s0, s1)``: the points and seeds tile ``i`` holds (unpadded)."""
        pi, si = divmod(i, self.seed_tiles)
        p0, s0 = pi * self.points, si * self.seeds
        return p0, min(p0 + self.points, self.n_points), s0, min(s0 + self.seeds, self.n_seeds)

    def take(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices of tile ``i``'s points and seeds, padded with the last ones."""
        p0, p1, s0, s1 = self.bounds(i)
        return (
            np.minimum(np.arange(p0, p0 + self.points), p1 - 1),
            np.minimum(np.arange(s0, s0 + self.seeds), s1 - 1),
        )


def _balanced(n: int, per: int) -> int:
    """The smallest tile extent that needs as many tiles as ``per`` does."""
    return -(-n // -(-n // per))


def _multiples(x: int, d: int) -> list[int]:
    """``x`` rounded to a multiple of ``d``: up, and down when that stays >= d."""
    up = -(-x // d) * d
    return [up] + ([(x // d) * d] if x >= d and x % d else [])


def choose_tiling(n_points: int, n_seeds: int, max_runs: int | None, n_devices: int = 1) -> Tiling:
    """Tiles of at most ``max_runs`` runs (None: one tile of everything): whole seed
    sets per point when they fit, else one point and part of its seeds; balanced, so
    the padding is less than one tile. A tile never holds a single run unless the
    sweep has one (XLA compiles a batch of one differently: a matrix product becomes a
    matrix-vector product, with other rounding). With several devices, the tile's
    larger axis is a multiple of the device count and is split over them.

    Padding: when tiles hold whole seed sets, fewer than one tile's points are padded;
    when they split a point's seeds, fewer than one tile's seeds per point (the tile
    size in [max_runs/2, max_runs] that pads least)."""
    total = n_points * n_seeds
    per = total if max_runs is None else max(1, min(int(max_runs), total))
    if per >= total:
        points, seeds = n_points, n_seeds
    elif per >= n_seeds:
        points, seeds = _balanced(n_points, per // n_seeds), n_seeds
    else:  # one point's seeds in tiles: the size in [per/2, per] that pads least
        sizes = range(max(2, -(-per // 2)), max(2, per) + 1)
        points, seeds = 1, min(sizes, key=lambda s: (-(-n_seeds // s) * s - n_seeds, -s))
    if points * seeds == 1 and total > 1:
        points, seeds = (1, 2) if n_seeds > 1 else (2, 1)
    if n_devices == 1:
        return Tiling(n_points, n_seeds, points, seeds)
    # split the axis that pads least (within max_runs when it can), the larger on a tie
    options = [Tiling(n_points, n_seeds, points, s, "seeds") for s in _multiples(seeds, n_devices)]
    options += [
        Tiling(n_points, n_seeds, p, seeds, "points") for p in _multiples(points, n_devices)
    ]
    fits = [t for t in options if max_runs is None or t.runs <= max(per, n_devices)] or options
    return min(fits, key=lambda t: (t.padded_runs, -max(t.points, t.seeds)))


def resolve_devices(devices) -> list | None:
    """``None`` (default placement), ``"all"`` (every device of every process, after
    ``jax.distributed.initialize``) or a list of devices."""
    if devices is None:
        return None
    if isinstance(devices, str) and devices == "all":
        return list(jax.devices())
    if (
        isinstance(devices, Sequence)
        and not isinstance(devices, str)
        and devices
        and all(isinstance(d, jax.Device) for d in devices)
    ):
        return list(devices)
    raise ValueError(
        f"`devices` must be None, 'all' or a non-empty list of jax devices (e.g. jax.devices()), "
        f"got {devices!r}."
    )


def place(values: dict, seeds: np.ndarray, devices: list | None, shard: str | None):
    """A tile's inputs on ``devices``: the sharded axis split over a 1-D mesh, the other
    replicated. Works across processes: each process holds the same host arrays and
    supplies its own devices' shards."""
    if not devices:
        return values, seeds
    if len(devices) == 1:
        return jax.device_put((values, seeds), devices[0])
    mesh = jax.sharding.Mesh(np.asarray(devices), ("runs",))
    split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
    whole = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

    def put(a, sharding):
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    values = {k: put(v, split if shard == "points" else whole) for k, v in values.items()}
    return values, put(seeds, split if shard == "seeds" else whole)


def to_host(tree):
    """A program's outputs as NumPy arrays, gathered from every process when they are
    spread over several (each process gets the whole)."""
    leaves = [a for a in jax.tree.leaves(tree) if isinstance(a, jax.Array)]
    if all(a.is_fully_addressable for a in leaves):
        return jax.tree.map(np.asarray, tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def process_slice(n: int, index: int, count: int) -> slice:
    """The share of ``n`` configurations that process ``index`` of ``count`` runs.

    Contiguous, in order, sizes differing by at most one; the shares partition range(n).

    Example:
      >>> from jaxdescent.tiles import process_slice
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
