"""L1 / L2 penalties as problem wrappers whose strength may be traced (swept).

``jd.problems.l2(problem, strength)`` is a new `Problem` with objective
f(x) + strength * R(x). It works on any problem -- with ``args``, stochastic (dropout),
with a random ``init`` -- because the new loss is a hashable wrapper object over the
inner loss (equal wrappers for equal inner losses and settings) and the new ``args``
are ``(inner args, strength)``. So a weight-decay study is one compiled program::

    jd.sweep(lambda l2: jd.problems.l2(base, l2), lambda lr: optax.sgd(lr),
             {"lr": [0.01, 0.1], "l2": [0.0, 1e-4, 1e-3]})

Which leaves are penalized: every leaf of params except biases, i.e. leaves whose
path ends in a dict key ``"b"`` or ``"bias"`` (the ``{"w", "b"}`` layers of the
classifiers and of ``linear_regression(bias=True)``). Params that are bare arrays (the
test functions, ``least_squares``) are penalized whole. ``biases=True`` penalizes every
leaf.

Penalty versus decoupled weight decay. With R = 1/2 ||w||^2 the penalty's gradient is
strength * w, so with plain SGD ``l2(problem, lam)`` and ``optax.chain(
optax.add_decayed_weights(lam, mask), optax.sgd(lr))`` take the same steps (both:
w <- w - lr (g + lam w)). They differ everywhere else: the penalty is part of the
objective (it is in the logged loss, in every oracle's gradient and so in momentum and
in Adam's preconditioner, which rescales it per coordinate), while decoupled decay
(``optax.adamw``, or ``add_decayed_weights`` placed after the adaptive scaling) shrinks
weights by lr * lam * w outside the gradient and leaves the logged loss unpenalized
(Loshchilov & Hutter). ``add_decayed_weights`` decays every leaf unless given
``mask=`` (e.g. ``lambda p: jax.tree.map(lambda x: x.ndim > 1, p)`` for an MLP).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdescent.checks import concrete
from jaxdescent.problem import Problem

__all__ = ["l1", "l2", "penalty"]

_BIAS_NAMES = ("b", "bias")
_KINDS = ("l1", "l2")


def _is_bias(path) -> bool:
    if not path:
        return False
    last = path[-1]
    name = getattr(last, "key", None)
    if name is None:
        name = getattr(last, "name", None)
    return name in _BIAS_NAMES


def _penalized_leaves(params, biases: bool) -> list:
    return [
        leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
        if biases or not _is_bias(path)
    ]


def penalty(params, kind: str = "l2", *, biases: bool = False):
    """The penalty R(params): 1/2 sum w^2 (``"l2"``) or sum |w| (``"l1"``) over the
    penalized leaves (all but biases unless ``biases=True``).

    The L1 term is written w * sign(w), so its gradient is sign(w): 0 at w = 0, the
    smallest subgradient there (``jnp.abs`` would give 1).

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> float(jd.problems.penalty({"w": jnp.array([3.0, -4.0]), "b": jnp.array(7.0)}))
      12.5
    """
    if kind not in _KINDS:
        raise ValueError(f"penalty: `kind` must be one of {_KINDS}, got {kind!r}.")
    total = jnp.zeros((), jnp.result_type(float))
    for leaf in _penalized_leaves(params, biases):
        if kind == "l2":
            total = total + 0.5 * jnp.sum(leaf * leaf)
        else:
            total = total + jnp.sum(leaf * jnp.sign(leaf))
    return total


@dataclasses.dataclass(frozen=True)
class _Penalized:
    """The loss f(x; batch, inner args) + strength * R(x); args = (inner args, strength)."""

    inner: Callable
    kind: str
    biases: bool

    def __call__(self, params, batch, args, **kwargs):
        inner_args, strength = args
        extra = () if inner_args is None else (inner_args,)
        value = self.inner(params, batch, *extra, **kwargs)
        return value + strength * penalty(params, self.kind, biases=self.biases)

    def unwrap(self, args):
        """(the inner loss, its args): how evaluation helpers reach the model."""
        return self.inner, args[0]

    @property
    def supports_weight(self) -> bool:
        return bool(getattr(self.inner, "supports_weight", False))


def _params_structure(problem: Problem):
    if problem.init_fn is not None:
        return jax.eval_shape(problem.initial_params, jax.random.key(0))
    return problem.init


def _wrap(problem: Problem, strength, kind: str, biases: bool) -> Problem:
    what = f"jd.problems.{kind}"
    if not isinstance(problem, Problem):
        raise TypeError(f"{what}: `problem` must be a jd.Problem, got {problem!r}.")
    s = jnp.asarray(strength)
    if s.ndim != 0:
        raise ValueError(f"{what}: `strength` must be a scalar, got shape {s.shape}.")
    s = s.astype(jnp.result_type(float)) if not jnp.issubdtype(s.dtype, jnp.floating) else s
    value = concrete(s)
    if value is not None and not (float(value) >= 0 and float(value) < float("inf")):
        raise ValueError(f"{what}: `strength` must be finite and >= 0, got {float(value)}.")
    paths = jax.tree_util.tree_flatten_with_path(_params_structure(problem))[0]
    chosen = [p for p, _ in paths if biases or not _is_bias(p)]
    if not chosen:
        raise ValueError(
            f"{what}: every leaf of {problem.name!r}'s params is a bias, so nothing would be "
            "penalized; pass biases=True."
        )
    smoothness = strong = None
    if kind == "l2" and len(chosen) == len(paths):
        # Hessian + strength * I: every eigenvalue moves up by exactly `strength`.
        if problem.smoothness is not None:
            smoothness = problem.smoothness + s
        if problem.strong_convexity is not None:
            strong = problem.strong_convexity + s
    return Problem(
        _Penalized(problem.loss, kind, bool(biases)),
        problem.start,
        data=problem.data,
        args=(problem.args, s),
        smoothness=smoothness,
        strong_convexity=strong,
        name=f"{problem.name}+{kind}",
        stochastic=problem.stochastic,
    )


def l2(problem: Problem, strength, *, biases: bool = False) -> Problem:
    """``problem`` plus an L2 penalty: f(x) + strength / 2 * sum_w ||w||^2.

    The penalty's gradient is strength * w (weight decay with coefficient
    ``strength``, as ``torch.optim.SGD(weight_decay=...)``).

    Args:
      problem: any `jd.Problem`.
      strength: lambda >= 0; may be traced (a sweep axis reaching a problem factory).
      biases: also penalize bias leaves (dict keys ``"b"`` / ``"bias"``).

    Returns:
      A Problem with the same data, init and stochasticity. The minimizer and minimum
      are dropped (they move); when every leaf is penalized, smoothness and strong
      convexity shift by exactly ``strength`` (Hessian + lambda I), otherwise they are
      dropped too. With strength 0 the objective and every run equal the base's.

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> p = jd.problems.l2(jd.problems.quadratic(), 0.5)   # x1^2 + 2 x2^2 + |x|^2 / 4
      >>> float(p.objective(jnp.array([1.0, 1.0]))), float(p.smoothness)
      (3.5, 4.5)
    """
    return _wrap(problem, strength, "l2", biases)


def l1(problem: Problem, strength, *, biases: bool = False) -> Problem:
    """``problem`` plus an L1 penalty: f(x) + strength * sum_w |w|_1 (sparse weights).

    The term's gradient is strength * sign(w) (0 at w = 0; see `penalty`). Arguments
    as in `l2`; all known constants are dropped (the objective is not smooth).

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> p = jd.problems.l1(jd.problems.quadratic(), 0.5)
      >>> float(p.objective(jnp.array([1.0, -1.0])))   # 1 + 2 + 0.5 * 2
      4.0
    """
    return _wrap(problem, strength, "l1", biases)
