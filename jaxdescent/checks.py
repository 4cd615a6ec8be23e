"""Argument checks, run before anything is traced or compiled: each names the argument
and the fix. Also small helpers: static ints, concreteness, float casts.

Checks of *values* run on concrete values only: a traced number (a swept learning rate,
a noise scale under ``jax.vmap``) is checked for its type and shape, never its value,
so a sweep can carry any number; non-finite values produced while running are recorded
as divergence (``Trace.diverged_at``), never raised.
"""

from __future__ import annotations

import os
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
    "check_axis_values",
    "check_flag",
    "check_loss",
    "check_metrics",
    "check_number",
    "check_optimizer",
    "check_out",
    "check_problem",
    "check_steps",
    "check_traced_factories",
    "check_unroll",
    "concrete",
    "mentions_array",
    "params_shape",
    "positive_finite",
    "parse_seeds",
    "static_axis_note",
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
    if steps >= 2**31:
        raise ValueError(
            f"`steps` must be < 2**31 (step counts are int32 in the compiled loop), got {steps}."
        )
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
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        if not -(2**63) <= key < 2**63:
            raise ValueError(
                f"`key` as an int seed must fit in 64 bits (-2**63 <= key < 2**63), got {key}; "
                "use a smaller seed, e.g. key % 2**32."
            )
        return jax.random.key(int(key))
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


def check_flag(name: str, value) -> bool:
    """A yes/no argument: ``True`` or ``False`` (a string such as ``'no'`` is refused,
    since Python would take it as true)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


def check_number(
    name: str, value, *, what: str = "", minimum=None, positive: bool = False, finite=False
):
    """A numeric argument that may be traced (swept): a real number or array of them.

    Its type is always checked; its value only when concrete: never NaN, ``>= minimum``
    (or ``> 0`` with ``positive``), finite with ``finite``.

    Args:
      name: the argument's name, as the message shows it.
      value: the value (a Python number, an array, a list of numbers, or a tracer).
      what: the function it was given to (prefixes the message), e.g. ``"cosine"``.
      minimum, positive, finite: what a concrete value must satisfy.

    Returns:
      ``value`` unchanged (a traced value stays traced).

    Example:
      >>> from jaxdescent.checks import check_number
      >>> check_number("eta", 0.1, what="constant")
      0.1
    """
    where = f"{what}: `{name}`" if what else f"`{name}`"
    if value is None or isinstance(value, str | bytes | bool | np.bool_):
        raise TypeError(f"{where} must be a real number (or an array of them), got {value!r}.")
    try:
        if isinstance(value, list | tuple):
            value_array = np.asarray(value)
            if value_array.dtype == object:
                raise TypeError
            dtype = value_array.dtype
        else:
            dtype = jnp.result_type(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{where} must be a real number (or an array of them), got {value!r}."
        ) from None
    if not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)):
        raise TypeError(f"{where} must be a real number, got {value!r} of dtype {dtype}.")
    v = concrete(value)
    if v is None:  # traced: a swept value is not checked here
        return value
    v = np.asarray(v, dtype=np.float64)
    if np.any(np.isnan(v)):
        raise ValueError(f"{where} must be a number, got NaN ({value!r}).")
    if finite and not np.all(np.isfinite(v)):
        raise ValueError(f"{where} must be finite, got {value!r}.")
    if positive and np.any(v <= 0):
        raise ValueError(f"{where} must be > 0, got {value!r}.")
    if minimum is not None and np.any(v < minimum):
        raise ValueError(f"{where} must be >= {minimum}, got {value!r}.")
    return value


def check_out(out) -> str | None:
    """``out=``: None (keep the result in memory) or a non-empty str / os.PathLike path."""
    if out is None:
        return None
    if isinstance(out, bytes) or not isinstance(out, str | os.PathLike):
        raise TypeError(
            "`out` must be a path (str or pathlib.Path): 'name.npz' (a file) or 'name.zarr' "
            f"(a store on disk), got {type(out).__name__} {out!r}"
            + ("; decode bytes first: out=out.decode()." if isinstance(out, bytes) else ".")
        )
    path = os.fspath(out)
    if not isinstance(path, str) or not path.strip():
        raise ValueError(
            f"`out` must name a file or store, got {out!r}; pass e.g. out='sweep.zarr', or "
            "out=None to keep the result in memory."
        )
    return path


def _aval(x) -> str:
    return f"{jnp.dtype(x.dtype).name}{list(x.shape)}"


def params_shape(problem: Problem):
    """The shapes and dtypes of ``problem``'s start (``jax.ShapeDtypeStruct`` leaves), for
    any key: traced abstractly, nothing computed or compiled."""
    key = jax.eval_shape(lambda: jax.random.key(0))
    return jax.eval_shape(problem.initial_params, key)


def check_loss(problem: Problem, params=None) -> None:
    """The loss returns a real scalar at params shaped like ``params`` (a pytree of
    arrays or ``jax.ShapeDtypeStruct``): checked with ``jax.eval_shape`` (no compiling)."""
    name = problem.name
    params = params_shape(problem) if params is None else params
    out = jax.eval_shape(lambda x: problem.batch_loss(x, problem.data, None), params)
    leaves = jax.tree.leaves(out)
    if len(leaves) != 1 or not hasattr(out, "shape"):
        raise TypeError(
            f"problem {name!r}: `loss` must return one real scalar (the mean loss over the "
            f"batch), got {jax.tree.map(_aval, out)}; return a single array, e.g. the total."
        )
    if out.shape != ():
        raise ValueError(
            f"problem {name!r}: `loss` must return a scalar, got shape {tuple(out.shape)}; "
            "reduce it over examples and coordinates, e.g. jnp.mean(...) or jnp.sum(...)."
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise TypeError(
            f"problem {name!r}: `loss` must return a real floating-point scalar, got dtype "
            f"{jnp.dtype(out.dtype).name}; compute it in floats (e.g. x.astype(float)), since "
            "gradients of integer or complex outputs are not defined here."
        )


def _is_number(v) -> bool:
    """A real number: a Python/NumPy int or float, or a 0-d integer/float array."""
    if isinstance(v, bool | np.bool_):
        return False
    if isinstance(v, int | float | np.integer | np.floating):
        return True
    dtype = getattr(v, "dtype", None)
    return dtype is not None and np.ndim(v) == 0 and np.dtype(dtype).kind in "iuf"


def _looks_numeric(v) -> bool:
    if not isinstance(v, str):
        return False
    try:
        float(v)
    except ValueError:
        return False
    return True


def check_axis_values(name: str, values) -> None:
    """Catches grid values that would be silently misread: booleans (traced as 1/0),
    numbers written as strings (they would make a static axis of labels), NaN, and
    numbers mixed with sequences."""
    if isinstance(values, np.ndarray | jax.Array):
        array = np.asarray(values)
        if array.ndim == 1 and array.dtype.kind in "iuf":  # numbers already: NaN only
            if array.dtype.kind == "f" and np.isnan(array).any():
                where = np.flatnonzero(np.isnan(array)).tolist()
                raise ValueError(
                    f"grid[{name!r}] holds NaN at position {where}; remove it (a NaN "
                    "setting has no result to compare)."
                )
            return
        items = array.tolist() if array.ndim == 1 else None
    else:
        items = list(values) if isinstance(values, list | tuple | range) else None
    if items is None:
        return
    if items and all(isinstance(v, bool | np.bool_) for v in items):
        raise TypeError(
            f"grid[{name!r}] holds booleans, which a numeric axis would trace as 1.0 / 0.0; "
            f"for a flag use a static axis, grid={{{name!r}: jd.static([True, False])}}, and "
            "for numbers pass numbers."
        )
    if items and all(_looks_numeric(v) for v in items):
        raise TypeError(
            f"grid[{name!r}] holds numbers written as strings ({items[:3]!r}...); pass "
            f"numbers, e.g. {[float(v) for v in items[:2]]}. (Strings make a static axis of "
            f"labels; to mean that, say so: jd.static({items[:2]!r}).)"
        )
    numbers = [_is_number(v) for v in items]
    if any(numbers) and not all(numbers):
        odd = next(v for v, n in zip(items, numbers) if not n)
        raise ValueError(
            f"grid[{name!r}] mixes numbers with {type(odd).__name__} values ({odd!r}); give "
            "one number per grid point (a 2-D table is two axes: use two grid names)."
        )
    if all(numbers) and any(np.isnan(float(v)) for v in items):
        raise ValueError(
            f"grid[{name!r}] holds NaN at position "
            f"{[i for i, v in enumerate(items) if np.isnan(float(v))]}; remove it (a NaN "
            "setting has no result to compare)."
        )


_TRACER_ERRORS = (
    jax.errors.TracerBoolConversionError,
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerIntegerConversionError,
    jax.errors.TracerArrayConversionError,
)


def check_traced_factories(routes, point: dict, fixed: dict) -> None:
    """Calls each factory of a sweep (problem, oracle, make_optimizer; `grid.Routes`)
    under ``jax.eval_shape`` with the numeric grid values traced, as the sweep's program
    will: a factory that puts a traced value into Python control flow or a shape gets
    an error naming it and the fix, before anything is compiled.

    ``point``: the numeric axes' first values; ``fixed``: one combination of the static
    axes (passed as they are).
    """
    factories = (
        ("problem", routes.problem_factory, routes.problem_names),
        ("oracle", routes.oracle_factory, routes.oracle_names),
        ("make_optimizer", routes.make_optimizer, routes.opt_names),
    )
    for what, fn, names in factories:
        if fn is None:
            continue
        taken = {k: v for k, v in point.items() if names is None or k in names}
        static = {k: v for k, v in fixed.items() if names is None or k in names}
        if not taken:
            continue
        try:
            jax.eval_shape(lambda kw, fn=fn, static=static: (fn(**kw, **static), None)[1], taken)
        except _TRACER_ERRORS as err:
            first = str(err).strip().splitlines()[0]
            raise TypeError(
                f"`{what}` uses a numeric grid value ({sorted(taken)}) in Python control flow "
                "or as a shape, but numeric axes are traced (vmapped) inside one program "
                f"({type(err).__name__}: {first}). Compute with it (jnp.where, "
                "jax.lax.cond), or make the axis static so the factory receives Python values: "
                f"grid={{{sorted(taken)[0]!r}: jd.static([...])}}."
            ) from None
        except (TypeError, ValueError) as err:
            if mentions_array(err):
                err.add_note(static_axis_note(what, sorted(taken)))
            raise


def mentions_array(err: BaseException) -> bool:
    """Whether an error's message shows a JAX array or tracer (a grid value a factory
    received as a JAX scalar), so the static-axis hint applies to it."""
    text = str(err)
    return "Array(" in text or "Traced<" in text


def static_axis_note(what: str | None, names) -> str:
    """The hint added to an error a sweep factory raised on a grid point's values.

    Args:
      what: the factory's argument name (``"problem"``, ``"oracle"``,
        ``"make_optimizer"``), or None when it is not known which one raised.
      names: the numeric grid axes the factories received.

    Returns:
      A sentence for ``err.add_note``.
    """
    who = f"`{what}`" if what else "a factory (problem, oracle or make_optimizer)"
    first = list(names)[0] if names else "name"
    return (
        f"(raised by {who} on a grid point: the numeric grid axes {list(names)} reach the "
        "factories as JAX scalars, traced inside the sweep; a value that sets a shape or "
        f"Python control flow needs a static axis, e.g. grid={{'{first}': jd.static([...])}}.)"
    )


def positive_finite(value) -> bool:
    """Whether ``value`` is one positive, finite real number (not a bool)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float | np.integer | np.floating)
        and bool(np.isfinite(value))
        and value > 0
    )
