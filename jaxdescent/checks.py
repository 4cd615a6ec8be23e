"""Argument checks, run before anything is traced or compiled: each names the argument
and the fix. Also small helpers: static ints, concreteness, float casts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent import metrics as metrics_lib
from jaxdescent.problem import Problem

__all__ = [
    "as_float",
    "as_key",
    "check_against_problem",
    "check_average",
    "check_metrics",
    "check_optimizer",
    "check_problem",
    "check_steps",
    "check_unroll",
    "concrete",
    "parse_seeds",
    "static_int",
]


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


def check_steps(steps, log_every) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"`steps` must be a positive int, got {steps!r}.")
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every <= 0:
        raise ValueError(f"`log_every` must be a positive int, got {log_every!r}.")
    if steps % log_every:
        lo = steps - steps % log_every
        raise ValueError(
            f"`log_every`={log_every} must divide `steps`={steps} (the trace logs t = 0, "
            f"log_every, ..., steps); use steps={lo or log_every} or {lo + log_every}, or a "
            "log_every that divides steps."
        )


def check_problem(problem) -> None:
    if not isinstance(problem, Problem):
        raise TypeError(
            f"`problem` must be a jd.Problem (e.g. jd.problems.quadratic()), got {problem!r}."
        )


def check_optimizer(optimizer, where: str = "`optimizer`") -> None:
    if not (
        hasattr(optimizer, "init")
        and hasattr(optimizer, "update")
        and callable(optimizer.init)
        and callable(optimizer.update)
    ):
        raise TypeError(
            f"{where} must be an optax GradientTransformation (e.g. optax.sgd(0.1)), "
            f"got {optimizer!r}."
        )


def check_metrics(metrics) -> tuple:
    if metrics is None:
        return ()
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"`metrics` must be a dict name -> fn(params) -> scalar, got {type(metrics).__name__}."
        )
    reserved = {"loss", "grad_norm", "avg_loss", "avg_suboptimality", "avg_distance"}
    for name, fn in metrics.items():
        builtin = isinstance(fn, str) and fn in metrics_lib.BUILTIN
        known = callable(fn) or builtin or metrics_lib.is_stateful(fn)
        if not isinstance(name, str) or not known:
            raise TypeError(
                f"`metrics` entries must be str -> function, a stateful metric (e.g. "
                f"jd.metrics.sharpness()) or one of {metrics_lib.BUILTIN}, got {name!r}: {fn!r}."
            )
        if name in reserved:
            raise ValueError(f"`metrics` name {name!r} is reserved (always logged); rename it.")
    return tuple(metrics.items())


def check_unroll(unroll) -> int:
    if isinstance(unroll, bool) or not isinstance(unroll, int) or unroll < 1:
        raise ValueError(
            f"`unroll` must be a positive int (steps per loop iteration), got {unroll!r}."
        )
    return unroll


def check_average(average):
    if average is None or average in metrics_lib.AVERAGES or callable(average):
        return average
    raise ValueError(
        f"`average` must be None, one of {metrics_lib.AVERAGES} or a function count -> weight, "
        f"got {average!r}."
    )


def check_against_problem(problem, metrics: tuple, average) -> None:
    """Built-in metrics and averaging need constants the problem may not know."""
    for _, fn in metrics:
        if metrics_lib.stateful(fn) is None:
            metrics_lib.resolve(fn, problem)
    if average is not None:
        metrics_lib.average_metrics(problem)


def as_key(key):
    if key is None:
        return jax.random.key(0)
    if isinstance(key, int):
        return jax.random.key(key)
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key) and jnp.shape(key) == ():
        return key
    if dtype == jnp.uint32 and jnp.shape(key) == (2,):
        return jax.random.wrap_key_data(key)
    raise TypeError(f"`key` must be jax.random.key(seed), an int seed or None, got {key!r}.")


def parse_seeds(seeds) -> list[int]:
    """``seeds``: a count n (seeds 0..n-1) or a sequence of distinct non-negative ints."""
    if isinstance(seeds, bool):
        raise TypeError("`seeds` must be an int or a sequence of ints, got a bool.")
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise ValueError(f"`seeds` must be >= 1 (the number of seeds), got {seeds}.")
        if seeds > 2**31:
            raise ValueError(f"`seeds` must be <= 2**31 (seed values are int32), got {seeds}.")
        return list(range(int(seeds)))
    try:
        values = [int(s) for s in seeds]
        if any(not float(s).is_integer() for s in seeds):
            raise ValueError
    except (TypeError, ValueError):
        raise TypeError(f"`seeds` must be an int n or a sequence of ints, got {seeds!r}.") from None
    if not values:
        raise ValueError("`seeds` is empty; give at least one seed.")
    if min(values) < 0 or len(set(values)) != len(values):
        raise ValueError(f"`seeds` must be distinct non-negative ints, got {values}.")
    if max(values) >= 2**31:
        raise ValueError("`seeds` must be < 2**31.")
    return values
