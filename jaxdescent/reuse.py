"""When a sweep call may reuse the plan of a recent identical call.

A notebook or a benchmark calls ``jd.sweep`` again and again with the same arguments.
Planning checks every argument, builds the factories once eagerly, derives shapes and
chooses tiles: on a small sweep that host work costs a noticeable share of the run.
`reuse_key` is a key that decides every field of a plan; a call whose key equals a
recent call's (the program handle keeps the `RECENT` last plans) takes that plan
(`previous`, `remember`).

What the key holds, so that no decision of a plan can differ under an equal key:

* every argument, keyed by `jaxdescent.structural`: functions by their code, closures,
  defaults and the globals they read (read at this call, never remembered), NumPy
  arrays by their bytes (they can be written in place), JAX arrays, which cannot
  change, by identity in a first key (the key holds them, so an identity is never
  reused) and by their bytes in a second one, tried when the first misses (equal
  arrays built afresh: a notebook cell run again), numbers by type and repr; the grid
  and the metrics as ordered items (an axis order is a result's layout);
* the environment a plan reads: x64 mode, the PRNG implementation, dtype promotion
  rules, the default backend, the process count and index, whether a progress bar
  shows and when it reports from inside the loop, and the planner's own limits (the
  caller passes them as the argument ``limits``).

Plans that read the disk (``out=``), measure memory (``memory_budget=``) or whose
inputs would hash more than `MAX_KEYED_BYTES` (NumPy arrays, long lists: hashing them
would cost more than planning) are never reused; neither is a plan whose result needs
the memory check (`jaxdescent._plan.SMALL_RESULT`): the caller decides that after
planning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxdescent import progress as progress_lib
from jaxdescent.structural import structural_key

__all__ = [
    "KEEP_BYTES",
    "MAX_KEYED_BYTES",
    "RECENT",
    "Pending",
    "Remembered",
    "previous",
    "remember",
    "reuse_key",
]

MAX_KEYED_BYTES = 1 << 20  # bytes hashed per call at most (problem, oracle, grid, seeds)
KEEP_BYTES = 1 << 26  # array bytes a remembered plan may keep alive


def _hashed_size(items, jax_arrays: bool) -> int:
    """What keying ``items`` hashes: bytes of NumPy arrays (and of JAX arrays when
    ``jax_arrays``; else they are keyed by identity and cost nothing), plus a generous
    64 per plain number (a list of numbers is keyed number by number)."""
    total = 0
    for item in items:
        for leaf in jax.tree.leaves(item):
            if isinstance(leaf, np.ndarray | np.generic) or (
                jax_arrays and isinstance(leaf, jax.Array)
            ):
                total += int(np.size(leaf)) * np.dtype(leaf.dtype).itemsize
            elif isinstance(leaf, int | float | complex):
                total += 64
    return total


def _arrays(args: Mapping[str, Any]) -> tuple:
    grid = args["grid"]
    return (args["problem"], args["oracle"], list(grid.values()), args["seeds"])


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
        progress_lib.IN_LOOP_WORK,  # when tiles report from inside their loop
    )


def reuse_key(args: Mapping[str, Any], *, jax_arrays_by_identity: bool) -> tuple | None:
    """The key of a `jd.plan` call given as ``{argument name: value}`` (every argument
    of `jd.plan`), or None when its plan must be made afresh. With
    ``jax_arrays_by_identity`` JAX arrays are keyed by identity (cheap: the same objects
    again), else by their bytes (equal arrays built afresh, a notebook cell run again)."""
    if args["out"] is not None or args["memory_budget"] is not None:
        return None
    grid, metrics = args["grid"], args["metrics"]
    if not isinstance(grid, Mapping) or not (metrics is None or isinstance(metrics, Mapping)):
        return None  # refused by planning, with the message
    if _hashed_size(_arrays(args), not jax_arrays_by_identity) > MAX_KEYED_BYTES:
        return None
    ordered = {
        "grid": tuple(grid.items()),
        "metrics": None if metrics is None else tuple(metrics.items()),
    }
    by_identity = jax_arrays_by_identity
    key = tuple(
        (name, structural_key(ordered.get(name, value), jax_arrays_by_identity=by_identity))
        for name, value in sorted(args.items())
    )
    return key + (("environment", _environment(args["progress"])),)


def _key(args, by_identity: bool):
    try:
        return reuse_key(args, jax_arrays_by_identity=by_identity)
    except Exception:  # noqa: BLE001 - an argument that cannot be keyed: plan afresh
        return None


class Remembered(NamedTuple):
    """A recent call's plan and its two keys (JAX arrays by identity; by content)."""

    by_identity: tuple
    by_content: tuple | None
    plan: Any


class Pending(NamedTuple):
    """A call planned afresh, to be remembered with its plan (`remember`)."""

    args: Mapping[str, Any]
    by_identity: tuple
    by_content: tuple | None


RECENT = 8  # plans a program handle keeps (calls alternating between a few sweeps)
_SLOT = ("recent plans",)  # where ``memo`` (a program handle's) keeps them, newest first


def _find(recent: tuple, field: str, key) -> int | None:
    h = hash(key)
    for i, r in enumerate(recent):
        other = getattr(r, field)
        if other is not None and hash(other) == h and other == key:
            return i
    return None


def previous(memo: dict, args: Mapping[str, Any]) -> tuple[Any, Pending | None]:
    """``(plan, None)`` when this call is identical to a recent one (the cheap key
    first: the same objects; then the content key: equal ones), else ``(None, pending)``
    with ``pending`` None when the call cannot be keyed."""
    fast = _key(args, True)
    if fast is None:
        return None, None
    recent = memo.get(_SLOT, ())
    i = _find(recent, "by_identity", fast)
    slow = None
    if i is None and recent:
        slow = _key(args, False)
        i = None if slow is None else _find(recent, "by_content", slow)
    if i is None:
        return None, Pending(args, fast, slow)
    hit = recent[i]._replace(by_identity=fast)
    memo[_SLOT] = (hit, *recent[:i], *recent[i + 1 :])
    return hit.plan, None


def remember(memo: dict, pending: Pending | None, plan) -> None:
    """Keeps ``plan`` as the newest recent one (nothing when ``pending`` is None, or
    when its arrays exceed `KEEP_BYTES`: a kept plan keeps its data alive)."""
    if pending is None or _hashed_size(_arrays(pending.args), True) > KEEP_BYTES:
        return
    slow = pending.by_content if pending.by_content is not None else _key(pending.args, False)
    recent = memo.get(_SLOT, ())
    memo[_SLOT] = (Remembered(pending.by_identity, slow, plan), *recent[: RECENT - 1])
