"""Quantities logged beside the loss: distances to the optimum and averaged iterates.

``metrics`` entries of `jd.run` / `jd.sweep` are functions ``params -> scalar`` or one
of the names below, which are resolved against the run's problem (so they follow a
problem that a sweep varies):

* ``"distance"``: ||x - x*|| (needs ``problem.minimizer``), d2l 12.4 exercise 1;
* ``"suboptimality"``: f(x) - f* (needs ``problem.min_value``).

``average=`` tracks the weighted average iterate x_bar_T = sum_t w_t x_{t-1} / sum_t w_t
over the points where the T gradients were taken (x_0 .. x_{T-1}), the quantity d2l's
convex SGD bound (12.4.17) speaks of, with weights

* ``"step"``: the step length the optimizer took along the gradient,
  w_t = <-update_t, g_t> / ||g_t||^2, which is exactly eta_t for SGD under any schedule;
* ``"uniform"``: w_t = 1 (Polyak-Ruppert averaging);
* a function ``count -> w`` (count = t - 1, as optax counts).

and logs ``avg_loss`` = f(x_bar_t), plus ``avg_suboptimality`` and ``avg_distance`` when
the problem knows f* and x*. At t = 0, x_bar is x_0.

A metric that needs the run's problem itself -- e.g. the accuracy on held-out examples
that travel inside a problem a sweep builds per fold -- is wrapped in `of_problem`:
``fn(params, problem) -> scalar`` is then called with each run's (possibly traced) problem.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from jaxdescent.problem import Problem

__all__ = [
    "BUILTIN",
    "AVERAGES",
    "distance",
    "suboptimality",
    "of_problem",
    "resolve",
    "average_metrics",
    "average_weight",
]

BUILTIN = ("distance", "suboptimality")
AVERAGES = ("step", "uniform")


def distance(problem: Problem) -> Callable:
    """``params -> ||params - problem.minimizer||`` (Euclidean, over all leaves)."""
    if problem.minimizer is None:
        raise ValueError(
            f"metric 'distance' needs problem.minimizer, which {problem.name!r} "
            "does not know; pass a function params -> distance instead."
        )
    return lambda x: optax.tree.norm(jax.tree.map(jnp.subtract, x, problem.minimizer))


def suboptimality(problem: Problem) -> Callable:
    """``params -> f(params) - f*``."""
    if problem.min_value is None:
        raise ValueError(
            f"metric 'suboptimality' needs problem.min_value, which {problem.name!r} "
            "does not know; pass a function params -> value instead."
        )
    return lambda x: problem.objective(x) - problem.min_value


@dataclasses.dataclass(frozen=True)
class of_problem:  # noqa: N801 - reads as a marker: metrics={"acc": jd.metrics.of_problem(fn)}
    """Marks a metric ``fn(params, problem) -> scalar`` that reads the run's problem.

    `resolve` turns it into ``params -> fn(params, problem)`` for each run, so the metric
    follows a problem that a sweep builds from traced grid values (a k-fold problem
    carries its fold's held-out examples). ``check(problem)``, if given, runs on the
    eager probe problem before anything is compiled and raises when the metric cannot
    serve it; it must look at static structure only (the problem may be traced later).
    Equal markers (same ``fn`` and ``check``) share a compiled program, so define
    ``fn`` at module level.

    Example:
      >>> import optax, jaxdescent as jd
      >>> f_at = jd.metrics.of_problem(lambda x, problem: problem.objective(x))
      >>> tr = jd.run(jd.problems.quadratic(), optax.sgd(0.1), steps=2, metrics={"f": f_at})
      >>> bool((tr.metrics["f"] == tr.loss).all())
      True
    """

    fn: Callable
    check: Callable | None = None

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(
                f"of_problem: `fn` must be a function (params, problem) -> scalar, got {self.fn!r}."
            )
        if self.check is not None and not callable(self.check):
            raise TypeError(
                f"of_problem: `check` must be a function problem -> None or None, "
                f"got {self.check!r}."
            )

    def __call__(self, *args, **kwargs):
        raise TypeError(
            "an of_problem metric takes (params, problem); resolve it against the run's "
            "problem first: jd.metrics.resolve(metric, problem)(params)."
        )


def resolve(metric, problem: Problem) -> Callable:
    """A metric function ``params -> scalar`` from a function, a built-in name or an
    `of_problem` marker (bound to ``problem``)."""
    if isinstance(metric, str):
        return {"distance": distance, "suboptimality": suboptimality}[metric](problem)
    if isinstance(metric, of_problem):
        if metric.check is not None:
            metric.check(problem)
        fn = metric.fn
        return lambda params: fn(params, problem)
    return metric


def average_metrics(problem: Problem) -> dict:
    """What is logged at the averaged iterate: name -> fn(x_bar)."""
    out = {"avg_loss": problem.objective}
    if problem.min_value is not None:
        out["avg_suboptimality"] = suboptimality(problem)
    if problem.minimizer is not None:
        out["avg_distance"] = distance(problem)
    return out


def average_weight(average, count, updates, grads):
    """The weight w_t of the iterate at which step ``count`` took its gradient."""
    if average == "uniform":
        return jnp.ones((), jnp.result_type(float))
    if average == "step":
        gg = optax.tree.vdot(grads, grads)
        ug = optax.tree.vdot(updates, grads)
        return jnp.where(gg > 0, -ug / jnp.where(gg > 0, gg, 1.0), 0.0)
    return jnp.asarray(average(count))
