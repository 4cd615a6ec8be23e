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
"""

from __future__ import annotations

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


def resolve(metric, problem: Problem) -> Callable:
    """A metric function from a function or a built-in name."""
    if isinstance(metric, str):
        return {"distance": distance, "suboptimality": suboptimality}[metric](problem)
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
