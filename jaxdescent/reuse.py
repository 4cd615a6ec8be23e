"""When a sweep call may reuse the plan of the call before it.

A notebook or a benchmark calls ``jd.sweep`` again and again with the same arguments.
Planning checks every argument, builds the factories once eagerly, derives shapes and
chooses tiles: on a small sweep that host work costs a noticeable share of the run.
`reuse_key` is a key that decides every field of a plan; a call whose key equals the
previous call's (kept by the program handle, one plan per platform) takes that plan.

What the key holds, so that no decision of a plan can differ under an equal key:

* every argument, keyed by `jaxdescent.structural`: functions by their code, closures,
  defaults and the globals they read (read at this call, never remembered), arrays by
  their bytes, numbers by type and repr; the grid and the metrics as ordered items (an
  axis order is a result's layout);
* the environment a plan reads: x64 mode, the PRNG implementation, dtype promotion
  rules, the default backend, the process count and index, and whether a progress bar
  shows.

Plans that read the disk (``out=``), measure memory (``memory_budget=``) or whose
inputs hold more than `MAX_KEYED_BYTES` of arrays (hashing them would cost more than
planning) are never reused; neither is a plan whose result needs the memory check
(`jaxdescent._plan.SMALL_RESULT`): the caller decides that after planning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxdescent import progress as progress_lib
from jaxdescent.structural import structural_key

__all__ = ["MAX_KEYED_BYTES", "reuse_key"]

MAX_KEYED_BYTES = 1 << 20  # arrays hashed per call at most (problem, oracle, grid, seeds)


def _array_bytes(tree) -> int:
    total = 0
    for leaf in jax.tree.leaves(tree):
        if isinstance(leaf, np.ndarray | jax.Array | np.generic):
            total += int(np.size(leaf)) * np.dtype(leaf.dtype).itemsize
    return total


def _environment(progress) -> tuple:
    config = jax.config
    return (
        bool(config.jax_enable_x64),
        str(config.jax_default_prng_impl),
        str(config.jax_numpy_dtype_promotion),
        str(config.jax_numpy_rank_promotion),
        jax.default_backend(),
        jax.process_count(),
        jax.process_index(),
        progress_lib.enabled(progress),
    )


def reuse_key(args: Mapping[str, Any]) -> tuple | None:
    """The key of a `jd.plan` call given as ``{argument name: value}`` (every argument
    of `jd.plan`), or None when its plan must be made afresh."""
    if args["out"] is not None or args["memory_budget"] is not None:
        return None
    grid, metrics = args["grid"], args["metrics"]
    if not isinstance(grid, Mapping) or not (metrics is None or isinstance(metrics, Mapping)):
        return None  # refused by planning, with the message
    arrays = (args["problem"], args["oracle"], list(grid.values()), args["seeds"])
    if _array_bytes(arrays) > MAX_KEYED_BYTES:
        return None
    ordered = {
        "grid": tuple(grid.items()),
        "metrics": None if metrics is None else tuple(metrics.items()),
    }
    key = tuple(
        (name, structural_key(ordered.get(name, value))) for name, value in sorted(args.items())
    )
    return key + (("environment", _environment(args["progress"])),)
