"""Quantities logged beside the loss: distances to the optimum and averaged iterates.

``metrics`` entries of `jd.run` / `jd.sweep` are functions ``params -> scalar`` or one
of the names below, which are resolved against the run's problem (so they follow a
problem that a sweep varies):

* ``"distance"``: ||x - x*|| (needs ``problem.minimizer``), d2l 12.4 exercise 1;
* ``"suboptimality"``: f(x) - f* (needs ``problem.min_value``);
* ``"sharpness"``: the largest eigenvalue of the objective's Hessian at x, by power
  iteration on Hessian-vector products, warm-started from the previous logged step
  (`sharpness`; ``sharpness(iters=...)`` sets the iterations).

A metric may carry a state from one logged step to the next (a *stateful* metric, such
as `sharpness`): an object with ``init(params, problem) -> state`` and
``update(params, problem, state) -> (value, state)``. The run's scan carries the states of
its stateful metrics between logged steps; a run without one carries nothing more.

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
    "sharpness",
    "is_stateful",
    "stateful",
    "resolve",
    "average_metrics",
    "average_weight",
]

BUILTIN = ("distance", "suboptimality", "sharpness")
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
    if is_stateful(metric) or metric == "sharpness":
        raise TypeError(
            f"metric {metric!r} carries a state between logged steps; use "
            "jd.metrics.stateful(metric) and its init/update instead of resolve."
        )
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


# --------------------------------------------------------------------------- stateful


def is_stateful(metric) -> bool:
    """Whether ``metric`` carries a state between logged steps (has ``init`` and ``update``)."""
    return callable(getattr(metric, "init", None)) and callable(getattr(metric, "update", None))


def stateful(metric):
    """The stateful metric ``metric`` stands for (``"sharpness"`` -> ``sharpness()``), or
    ``None`` for a stateless one (a function, another built-in name, `of_problem`)."""
    if isinstance(metric, str):
        return sharpness() if metric == "sharpness" else None
    return metric if is_stateful(metric) else None


def _hvp(problem: Problem, params, v):
    """H(params) v for the objective's Hessian H: forward-over-reverse, no dense H."""
    return jax.jvp(jax.grad(problem.objective), (params,), (v,))[1]


def _normalized(w, fallback):
    """``w / ||w||``, or ``fallback`` where ``w`` is 0."""
    norm = optax.tree.norm(w)
    ok = norm > 0
    return jax.tree.map(lambda a, b: jnp.where(ok, a / jnp.where(ok, norm, 1), b), w, fallback)


def _select(pred, a, b):
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)


def _unit(tree):
    return jax.tree.map(lambda a: a / optax.tree.norm(tree), tree)


@dataclasses.dataclass(frozen=True)
class sharpness:  # noqa: N801 - reads as a metric name: metrics={"s": jd.metrics.sharpness(30)}
    """The largest (algebraic) eigenvalue of the objective's Hessian at the logged iterate.

    Power iteration on Hessian-vector products (``jax.jvp`` of ``jax.grad``; the Hessian
    is never formed), warm-started: the vectors reached at one logged step start the
    next, carried through the run's scan, so a slowly changing Hessian needs few
    iterations per log. Two phases of ``iters`` products each, in one loop:

    1. power iteration on H from the carried vector ``v``: the Rayleigh quotient
       ``lam_d`` of the eigenvalue of largest magnitude;
    2. if ``lam_d >= 0`` it is ``lam_max``, and the second phase goes on with ``v``
       (``2 iters`` products on H in all); if ``lam_d < 0`` (then every eigenvalue lies
       in ``[lam_d, -lam_d]``), power iteration on the positive semi-definite
       ``H - lam_d I`` from the carried ``u``, whose top eigenvalue is ``lam_max - lam_d``.

    So the value is ``lam_max`` of H (the "sharpness" of the edge-of-stability literature,
    Cohen et al. 2021), also where a negative eigenvalue dominates (a saddle): exact on
    ``f = sum_i s_i x_i**2``, where it is ``2 max_i s_i``. Each logged iterate costs
    ``2 iters`` Hessian-vector products (about 2-3 gradients each); the loop body holds
    one product, so the compiled program grows by one Hessian-vector product only. The
    error after k products on a gap ratio ``q = |lam_2 / lam_1|`` is ``O(q**(2 k))``;
    warm starting accumulates the products over logged steps.

    Both vectors start from one fixed pseudo-random unit vector (``jax.random.key(0)``,
    the same for every run and seed), so runs stay deterministic.

    Args:
      iters: Hessian-vector products per phase and logged iterate (a static int >= 1).

    Example:
      >>> import optax, jaxdescent as jd
      >>> p = jd.problems.quadratic(scales=(1.0, 3.0))
      >>> tr = jd.run(p, optax.sgd(0.1), steps=2, metrics={"s": "sharpness"})
      >>> [round(float(v), 6) for v in tr.metrics["s"]]
      [6.0, 6.0, 6.0]
    """

    iters: int = 20

    def __post_init__(self):
        if isinstance(self.iters, bool) or not isinstance(self.iters, int) or self.iters < 1:
            raise ValueError(
                f"sharpness: `iters` (Hessian-vector products per logged step) must be a "
                f"positive Python int, got {self.iters!r}."
            )

    def init(self, params, problem: Problem):
        """The start vectors ``(v, u)``: one fixed pseudo-random unit vector, like params."""
        del problem
        leaves, treedef = jax.tree.flatten(params)
        keys = jax.random.split(jax.random.key(0), len(leaves))
        z = [
            jax.random.normal(k, jnp.shape(leaf), jnp.result_type(leaf))
            for k, leaf in zip(keys, leaves)
        ]
        v = _unit(jax.tree.unflatten(treedef, z))
        return (v, v)

    def update(self, params, problem: Problem, state):
        """``(lam_max, new_state)`` at ``params`` from the carried vectors ``(v, u)``."""
        v0, u0 = state
        n = self.iters

        def body(k, carry):
            w, v, lam_d, shift, lam = carry
            switch = k == n  # end of phase 1: lam is the last quotient on H
            lam_d = jnp.where(switch, lam, lam_d)
            shift = jnp.where(switch, jnp.minimum(lam, 0), shift)
            v = _select(switch, w, v)  # phase 1's vector, kept for the next log
            w = _select(switch & (lam < 0), u0, w)
            hw = _hvp(problem, params, w)
            aw = jax.tree.map(lambda a, b: a - shift * b, hw, w)
            lam = optax.tree.vdot(w, aw)
            return _normalized(aw, w), v, lam_d, shift, lam

        zero = jnp.zeros((), jnp.result_type(*jax.tree.leaves(v0)))
        w, v, lam_d, shift, lam = jax.lax.fori_loop(0, 2 * n, body, (v0, v0, zero, zero, zero))
        negative = lam_d < 0
        # lam_d >= 0: w continued v on H; lam_d < 0: w is u's iterate on H - lam_d I
        return lam + shift, (_select(negative, v, w), _select(negative, w, u0))
