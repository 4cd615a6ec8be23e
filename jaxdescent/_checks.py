"""Small argument helpers shared by the modules: static ints, concreteness, float casts."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["as_float", "concrete", "static_int"]


def as_float(x: Any) -> jax.Array:
    """Returns ``x`` as a JAX array with an inexact dtype (ints become the default float)."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return x
    return x.astype(jnp.result_type(float))


def concrete(x: Any) -> np.ndarray | None:
    """Returns ``x`` as a NumPy array if it is concrete, or ``None`` if it is being traced."""
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def static_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Validates a shape-deciding argument: a plain Python (or NumPy) int ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(
            f"`{name}` must be a static Python int because it fixes the form of the schedule; "
            f"got {value!r} of type {type(value).__name__}. Pass a plain int, e.g. "
            f"`{name}=int({name})`, and keep it out of jax.jit/vmap arguments."
        )
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}.")
    return int(value)
