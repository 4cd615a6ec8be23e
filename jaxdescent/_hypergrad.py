"""Hypergradients: the derivative of a run's outcome with respect to the optimizer's
hyperparameters, by differentiating through the whole run.

A run is a pure function of its inputs (`jd.run`'s ``trajectory``), so
``jax.value_and_grad`` of "hyperparameters -> final loss" is reverse-mode automatic
differentiation through every step of the loop: exact up to float rounding, at a
few times the cost of the run itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdescent import checks, compiler
from jaxdescent._run import Spec, trajectory
from jaxdescent.oracles import as_oracle
from jaxdescent.problem import Problem, rekeyed
from jaxdescent.structural import Keyed
from jaxdescent.trace import Trace

__all__ = ["Hypergradient", "hypergrad"]

_FINAL_LOSS = "final_loss"


class Hypergradient(NamedTuple):
    """What `hypergrad` returns (unpacks as ``value, grad``).

    Attributes:
      value: the objective of the run (a scalar array).
      grad: its derivative with respect to ``hyperparams``, of the same structure (a
        scalar, or a dict of scalars with the same keys).
    """

    value: jax.Array
    grad: Any


def _objective(hyperparams, problem, oracle, key, make_optimizer, spec, objective):
    """The objective of one run as a pure function of its hyperparameters (the static
    arguments may come `Keyed`: the compiled program's cache key)."""
    make_optimizer, spec, objective = (
        a.value if isinstance(a, Keyed) else a for a in (make_optimizer, spec, objective)
    )
    if isinstance(hyperparams, dict):
        optimizer = make_optimizer(**hyperparams)
    else:
        optimizer = make_optimizer(hyperparams)
    trace = trajectory(problem, optimizer, oracle, key, spec)
    out = trace.final_loss if objective == _FINAL_LOSS else objective(trace)
    if jnp.shape(out) != () or not jnp.issubdtype(jnp.result_type(out), jnp.floating):
        raise ValueError(
            "hypergrad: `objective` must return a real scalar (e.g. "
            f"`lambda trace: trace.loss.mean()`), got {jax.typeof(out)}."
        )
    return out


def _value_and_grad(hyperparams, problem, oracle, key, make_optimizer, spec, objective):
    return jax.value_and_grad(_objective)(
        hyperparams, problem, oracle, key, make_optimizer, spec, objective
    )


_program = compiler.entry_point(
    _value_and_grad, static_argnames=("make_optimizer", "spec", "objective")
)


def _check_scalar(name: str, x) -> jax.Array:
    number = isinstance(x, (int, float)) or (hasattr(x, "dtype") and hasattr(x, "shape"))
    if isinstance(x, bool) or not number:
        raise TypeError(
            f"hypergrad: {name} must be a real number (a float or a scalar array), got {x!r}."
        )
    x = jnp.asarray(x)
    if x.shape != ():
        raise ValueError(
            f"hypergrad: {name} must be a scalar, got shape {x.shape}. Pass one number per "
            "hyperparameter, e.g. hyperparams={'lr': 0.05, 'momentum': 0.9}."
        )
    if not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)):
        raise TypeError(f"hypergrad: {name} must be a real number, got dtype {x.dtype}.")
    return checks.as_float(x)


def _check_hyperparams(hyperparams):
    if isinstance(hyperparams, Mapping):
        if not hyperparams:
            raise ValueError(
                "hypergrad: `hyperparams` is an empty dict; give at least one hyperparameter, "
                "e.g. {'lr': 0.05}."
            )
        bad = [k for k in hyperparams if not isinstance(k, str)]
        if bad:
            raise TypeError(
                f"hypergrad: the keys of `hyperparams` must be the keyword names of "
                f"`make_optimizer`'s arguments (str), got {bad!r}."
            )
        return {k: _check_scalar(f"`hyperparams[{k!r}]`", v) for k, v in hyperparams.items()}
    return _check_scalar("`hyperparams`", hyperparams)


def _check_factory(make_optimizer, hyperparams) -> None:
    """``make_optimizer`` accepts ``hyperparams`` and returns an optax optimizer."""
    if not callable(make_optimizer):
        raise TypeError(
            "hypergrad: `make_optimizer` must be a function of the hyperparameters returning "
            f"an optax optimizer (e.g. lambda lr: optax.sgd(lr)), got {make_optimizer!r}."
        )
    named = isinstance(hyperparams, dict)
    try:
        signature = inspect.signature(make_optimizer)
    except (TypeError, ValueError):  # no signature to read (a builtin): calling checks it
        signature = None
    if signature is not None:
        try:
            if named:
                signature.bind(**hyperparams)
            else:
                signature.bind(hyperparams)
        except TypeError as e:
            given = f"keywords {sorted(hyperparams)}" if named else "one positional number"
            raise TypeError(
                f"hypergrad: `make_optimizer{signature}` cannot be called with {given} "
                f"({e}); pass `hyperparams` as a number for a function of one argument, or "
                "as a dict keyed by its argument names."
            ) from None
    optimizer = make_optimizer(**hyperparams) if named else make_optimizer(hyperparams)
    checks.check_optimizer(optimizer, "hypergrad: `make_optimizer(...)`")


def _check_objective(objective):
    if isinstance(objective, str) and objective == _FINAL_LOSS:
        return objective
    if callable(objective) and not isinstance(objective, str):
        return objective
    raise ValueError(
        f"hypergrad: `objective` must be {_FINAL_LOSS!r} or a function trace -> scalar "
        f"(e.g. `lambda trace: trace.loss.mean()`), got {objective!r}."
    )


def hypergrad(
    problem: Problem,
    make_optimizer: Callable[..., Any],
    hyperparams,
    *,
    steps: int,
    oracle=None,
    key=None,
    log_every: int | None = None,
    objective: str | Callable[[Trace], Any] = _FINAL_LOSS,
    metrics: Mapping[str, Callable] | None = None,
    unroll: int = 1,
) -> Hypergradient:
    """The objective of a run and its gradient with respect to the optimizer's
    hyperparameters: ``jax.value_and_grad`` of ``h -> objective(jd.run(problem,
    make_optimizer(h), ...))``, compiled once.

    For gradient descent with step size eta on f(x) = sum_i s_i x_i^2,
    x_T,i = (1 - 2 s_i eta)^T x_0,i, and the hypergradient of the final loss is
    d f(x_T) / d eta = -4 T sum_i s_i^2 x_0,i^2 (1 - 2 s_i eta)^(2T - 1).

    Traced (program arguments; new values compile nothing): ``hyperparams``, the
    problem's arrays (``init``, ``data``, ``args``, known constants), the oracle's
    numbers (a noise scale) and ``key``. Static (a new value compiles anew):
    ``steps``, ``log_every``, ``unroll``, the functions ``make_optimizer``,
    ``objective`` and ``metrics`` (by identity: define them once, not inline in a
    loop), the keys of ``hyperparams``, and the structure, shapes and static fields of
    the problem and the oracle. At the top level the program is compiled with
    jaxdescent's compile options and cached; under a user's ``jax.jit`` / ``jax.vmap``
    it joins the caller's program (`jd.compiler.entry_point`).

    Args:
      problem: a `jd.Problem`.
      make_optimizer: ``make_optimizer(h)`` (or ``make_optimizer(**h)`` for a dict)
        returns an optax optimizer; it receives traced scalars, so it must not convert
        them to Python numbers.
      hyperparams: the point to differentiate at: a real scalar, or a dict
        ``name -> scalar`` of keyword arguments of ``make_optimizer``. Integers are
        taken as floats.
      steps: number of steps of the run.
      oracle: a `jd.oracles` oracle or a function ``(problem, params, step, key) ->
        (loss, grads)``; default ``full_batch()``. A stochastic oracle's run is a
        deterministic function of ``hyperparams`` for a fixed ``key`` (the samples and
        noise depend on the key and the step only): the gradient is that of this
        sample path.
      key: ``jax.random.key(seed)``, an int seed or None (seed 0).
      log_every: log every this many steps (must divide ``steps``); default ``steps``
        (x_0 and x_T only). A callable ``objective`` that reads the logged curve wants
        ``log_every=1``.
      objective: ``"final_loss"`` (the objective at x_T) or a function ``Trace ->
        real scalar``, e.g. ``lambda trace: trace.loss.mean()`` (the area under the
        logged curve) or a metric's last value.
      metrics: as in `jd.run` (``trace.metrics[name]`` for ``objective`` to read).
      unroll: steps per iteration of the compiled loop, as in `jd.run`.

    Returns:
      A `Hypergradient` ``(value, grad)``: the objective and its derivative, ``grad``
      shaped like ``hyperparams``.

    Raises:
      TypeError, ValueError: for an argument that cannot work, before anything is
        traced (naming the argument and the fix).

    Example:
      >>> import optax, jaxdescent as jd
      >>> value, grad = jd.hypergrad(jd.problems.quadratic(), optax.sgd, 0.05, steps=20)
      >>> round(float(value), 4), round(float(grad), 2)   # 25 (0.9)^40 + 8 (0.8)^40
      (0.3706, -33.06)
      >>> _, g = jd.hypergrad(jd.problems.quadratic(),
      ...                     lambda lr, momentum: optax.sgd(lr, momentum=momentum),
      ...                     {"lr": 0.05, "momentum": 0.5}, steps=20)
      >>> sorted(g)
      ['lr', 'momentum']
    """
    checks.check_problem(problem)
    hyperparams = _check_hyperparams(hyperparams)
    _check_factory(make_optimizer, hyperparams)
    log_every = steps if log_every is None else log_every
    checks.check_steps(steps, log_every)
    checks.check_loss(problem)
    oracle = as_oracle(oracle)
    oracle.validate(problem)
    metrics = checks.check_metrics(metrics)
    checks.check_against_problem(problem, metrics, None)
    objective = _check_objective(objective)
    spec = Spec(steps, log_every, True, metrics, None, checks.check_unroll(unroll))
    program = _program(jax.default_backend())
    # the static arguments keyed by structure now, at this call (`jaxdescent.structural`)
    value, grad = program(
        hyperparams,
        rekeyed(problem),
        oracle,
        checks.as_key(key),
        make_optimizer=Keyed(make_optimizer),
        spec=Keyed(spec),
        objective=Keyed(objective),
    )
    return Hypergradient(value, grad)
