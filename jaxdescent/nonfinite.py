"""The first non-finite entry of a logged series: where a run's logged loss diverged.

`first_nonfinite` reads a run's logs once, after its loop, instead of checking every
logged value inside the loop. Inside the loop a check is one more kernel per step (the
logged value is then materialized apart from the log it is written to), which on a
small model costs as much as the step itself.

The check is one reduction: "is every value finite?". Only when it is not does the
exact search for the first non-finite index run (a conditional). Under ``jax.vmap``
(a sweep's runs) the rule below keeps that a single check over all runs' logs,
instead of the per-run conditional that vmap would turn into running both branches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["first_nonfinite"]

_NONE = jnp.iinfo(jnp.int32).max


def _search(values) -> jax.Array:
    """Per trailing position, the first index along axis 0 whose value is not finite
    (-1 where all are finite)."""
    index = lax.broadcasted_iota(jnp.int32, values.shape, 0)
    first = jnp.min(jnp.where(jnp.isfinite(values), _NONE, index), axis=0)
    return jnp.where(first == _NONE, -1, first).astype(jnp.int32)


def _any_nonfinite(values) -> jax.Array:
    """Whether any value is NaN or infinite, as sums of halves along axis 0.

    ``values * 0`` is 0 where a value is finite and NaN where it is not, and a sum of
    zeros cannot overflow, so the folded rows are NaN exactly where some value was
    not finite. Each fold is an elementwise add, vectorized over the trailing axes; on
    CPU this reads the log about twice as fast as a boolean reduction
    (``all(isfinite(values))``) does."""
    folded = values * 0
    while folded.shape[0] > 8:
        half = folded.shape[0] // 2
        rest = folded[2 * half :]
        folded = folded[:half] + folded[half : 2 * half]
        if rest.shape[0]:
            folded = folded.at[: rest.shape[0]].add(rest)
    return jnp.any(jnp.isnan(folded))


def _checked(values) -> jax.Array:
    def all_finite(v):
        return jnp.full(v.shape[1:], -1, jnp.int32)

    if not jnp.issubdtype(values.dtype, jnp.inexact):  # integers are always finite
        return all_finite(values)
    return lax.cond(_any_nonfinite(values), _search, all_finite, values)


@jax.custom_batching.custom_vmap
def _first(values):
    return _checked(values)


@_first.def_vmap
def _first_batched(axis_size, in_batched, values):
    """Batched: the runs' axis is one more trailing axis of the same search (vmap hands
    it at axis 0; it goes back after the time axis, where the scan's logs have it)."""
    del axis_size
    if not in_batched[0]:
        return _first(values), False
    return _first(jnp.moveaxis(values, 0, 1)), True


def first_nonfinite(values) -> jax.Array:
    """The first index along axis 0 of ``values`` (a logged series, time first) whose
    value is NaN or infinite, per trailing position; -1 where every value is finite.
    An int32 array of shape ``values.shape[1:]``; no gradient flows through it.

    Example:
      >>> import jax.numpy as jnp
      >>> first_nonfinite(jnp.array([1.0, 2.0, jnp.inf, jnp.nan])).tolist()
      2
      >>> first_nonfinite(jnp.array([[1.0, 0.0], [jnp.nan, 1.0]])).tolist()
      [1, -1]
    """
    values = lax.stop_gradient(jnp.asarray(values))
    if values.ndim == 0:
        raise ValueError("first_nonfinite needs a series (an axis 0 of time), got a scalar.")
    return _first(values)
