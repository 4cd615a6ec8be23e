"""What theory guarantees for gradient methods, as arrays over the step count.

Every bound returns a JAX array over the step count whose element ``i`` is the bound after
``i + 1`` steps (so it lines up with a trajectory of losses recorded after each update), unless
its name or docstring says otherwise. Every numeric argument may be a traced JAX array, so
``jax.vmap`` over step sizes, radii or noise levels works; the number of steps ``steps`` is a
static Python int because it fixes the output shape.

Constants can be given directly or taken from a problem object through ``problem=``: the
smoothness ``L`` from ``problem.smoothness``, the strong-convexity modulus ``mu`` from
``problem.strong_convexity`` and the initial distance ``r = ||init - minimizer||`` from
``problem.init`` and ``problem.minimizer`` (see ``constants``). Explicit arguments win over the
problem. The gradient bound ``G`` of the SGD bounds is never known to a problem and must always
be passed.

Notation: ``x*`` is a minimiser, ``f* = f(x*)``, ``r >= ||x_0 - x*||`` (d2l.ai writes ``x_1``
for the starting point of SGD), ``gamma`` or ``eta`` a step size.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxdescent.checks import as_float as _as_float
from jaxdescent.checks import check_number as _number
from jaxdescent.checks import concrete as _concrete

__all__ = [
    "Moments",
    "constants",
    "gd_smooth_convex",
    "gd_smooth_convex_classical",
    "gd_stable_step",
    "gd_strongly_convex",
    "quadratic_moments",
    "quadratic_sgd_grad_bound",
    "quadratic_sgd_moments",
    "saddle_escape_probability",
    "sgd_convex",
    "sgd_convex_optimal",
]

# Relative slack when checking ``step_size <= 1 / L``: ``1 / L`` computed in float32 may
# exceed the exact threshold by an ulp.
_STEP_SLACK = 1e-6

# Which problem attribute supplies each constant.
_ATTRIBUTE = {"L": "smoothness", "mu": "strong_convexity"}


# --------------------------------------------------------------------------- helpers


def _static_steps(steps: Any) -> int:
    """Validates the static number of steps (it fixes the output shape)."""
    if steps is None:
        raise ValueError("`steps` is required: pass the number of steps as a Python int >= 1.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise ValueError(
            "`steps` must be a static Python int because it fixes the length of the returned "
            f"array; got {steps!r} of type {type(steps).__name__}. Pass e.g. `steps=int(steps)` "
            "and keep it out of jax.jit/vmap arguments."
        )
    if steps < 1:
        raise ValueError(f"`steps` must be >= 1, got {steps}.")
    return int(steps)


def _nonnegative(**given: Any) -> None:
    """Constants of a bound are numbers >= 0 (checked when concrete; a negative radius,
    gradient bound, smoothness or step size makes the formula meaningless)."""
    for name, value in given.items():
        if value is not None:
            _number(name, value, minimum=0)


def _required(name: str, value: Any, hint: str) -> Any:
    if value is None:
        raise ValueError(f"`{name}` is required: {hint}")
    return value


def _resolve(problem: Any, **given: Any) -> tuple[Any, ...]:
    """Returns the given constants, filling the ``None`` ones from ``problem``."""
    missing = tuple(name for name, value in given.items() if value is None)
    if not missing:
        return tuple(given.values())
    if problem is None:
        name = missing[0]
        source = f"problem.{_ATTRIBUTE[name]}" if name in _ATTRIBUTE else "its init and minimizer"
        raise ValueError(
            f"`{name}` is required: pass {name}=... explicitly, or problem=... to read it from "
            f"{source}."
        )
    filled = constants(problem, names=missing)
    return tuple(filled[name] if value is None else value for name, value in given.items())


def _problem_attribute(problem: Any, attribute: str, name: str) -> Any:
    value = getattr(problem, attribute, None)
    if value is None:
        raise ValueError(
            f"problem.{attribute} is unknown (missing or None), so `{name}` cannot be taken from "
            f"the problem; pass {name}=... explicitly."
        )
    return value


# --------------------------------------------------------------------------- constants


def constants(
    problem: Any, key: jax.Array | None = None, *, names: Sequence[str] = ("L", "mu", "r")
) -> dict[str, jax.Array]:
    """Reads the constants the bounds need from a problem object.

    ``L = problem.smoothness``, ``mu = problem.strong_convexity`` and ``r = ||init - minimizer||``,
    the Euclidean distance between ``problem.init`` and ``problem.minimizer`` after flattening
    both pytrees (they must have the same structure). If ``problem.init`` is a callable
    ``key -> params`` (a random initialisation), it is called with ``key``, which defaults to
    ``jax.random.key(0)``.

    Args:
      problem: any object with the attributes ``smoothness``, ``strong_convexity``, ``init``
        and ``minimizer`` (an attribute that is absent is treated as unknown).
      key: PRNG key for a callable ``problem.init``; ignored otherwise.
      names: which of ``"L"``, ``"mu"``, ``"r"`` to return; only these must be known.

    Returns:
      A dict mapping each requested name to its value.

    Raises:
      ValueError: naming the attribute when a requested constant is unknown, or when ``init``
        and ``minimizer`` have different structures.

    Example:
      >>> import types
      >>> import jax.numpy as jnp
      >>> from jaxdescent import bounds
      >>> problem = types.SimpleNamespace(smoothness=4.0, strong_convexity=2.0,
      ...     minimizer=jnp.zeros(2), min_value=0.0, init=jnp.array([3.0, 4.0]))
      >>> c = bounds.constants(problem)
      >>> c["L"], c["mu"], round(float(c["r"]), 4)
      (4.0, 2.0, 5.0)
    """
    if isinstance(names, str):
        names = (names,)
    unknown = [name for name in names if name not in ("L", "mu", "r")]
    if unknown:
        raise ValueError(f"`names` may only contain 'L', 'mu' and 'r', got {unknown}.")
    out: dict[str, Any] = {}
    for name in ("L", "mu"):
        if name in names:
            out[name] = _problem_attribute(problem, _ATTRIBUTE[name], name)
    if "r" in names:
        init = getattr(problem, "init_fn", None) or _problem_attribute(problem, "init", "r")
        minimizer = _problem_attribute(problem, "minimizer", "r")
        if callable(init):
            init = init(jax.random.key(0) if key is None else key)
        init_tree = jax.tree_util.tree_structure(init)
        min_tree = jax.tree_util.tree_structure(minimizer)
        if init_tree != min_tree:
            raise ValueError(
                "problem.init and problem.minimizer have different pytree structures "
                f"({init_tree} vs {min_tree}), so `r` cannot be computed; pass r=... explicitly."
            )
        flat_init, _ = ravel_pytree(init)
        flat_min, _ = ravel_pytree(minimizer)
        if flat_init.shape != flat_min.shape:
            raise ValueError(
                f"problem.init has {flat_init.size} entries but problem.minimizer has "
                f"{flat_min.size}, so `r` cannot be computed; pass r=... explicitly."
            )
        out["r"] = jnp.linalg.norm(_as_float(flat_init) - _as_float(flat_min))
    return out


# --------------------------------------------------------------------------- SGD, convex


def sgd_convex(r: Any = None, G: Any = None, etas: Any = None, *, problem: Any = None) -> jax.Array:
    """Bound on the suboptimality of averaged SGD on a convex objective, for every horizon.

    For convex ``f``, stochastic gradients with ``||g_t|| <= G`` (``E||g_t||**2 <= G**2`` is
    enough), ``||x_1 - x*|| <= r``
    and step sizes ``eta_1, ..., eta_T`` (d2l.ai eq. 12.4.17)::

        E[f(x_bar_T)] - f*  <=  (r**2 + G**2 * sum_{t<=T} eta_t**2) / (2 * sum_{t<=T} eta_t)

    where ``x_bar_T = sum_t eta_t x_t / sum_t eta_t`` is the step-size weighted average of
    the iterates ``x_1, ..., x_T``. The bound holds for any positive steps (no smoothness or
    step-size restriction), and is returned for every ``T = 1, ..., len(etas)``.

    Args:
      r: bound on ``||x_1 - x*||``; may be traced. Taken from ``problem`` if ``None``.
      G: bound on the stochastic gradient norm; may be traced. Required.
      etas: 1-D array of positive step sizes ``eta_1, ..., eta_T`` (e.g. a schedule
        evaluated on ``jnp.arange(T)``); may be traced.
      problem: optional problem to read ``r`` from (see ``constants``).

    Returns:
      Array of shape ``(T,)``; element ``i`` is the bound after ``i + 1`` steps.

    Raises:
      ValueError: if ``G`` or ``etas`` is missing, ``etas`` is not a non-empty 1-D array, or
        ``r`` is neither given nor known to the problem.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import bounds
      >>> bounds.sgd_convex(r=1.0, G=1.0, etas=jnp.array([1.0, 1.0])).tolist()
      [1.0, 0.75]
    """
    G = _required("G", G, "pass the gradient norm bound G=... (problems do not know it).")
    etas = _as_float(_required("etas", etas, "pass a 1-D array of step sizes etas=..."))
    if etas.ndim != 1 or etas.shape[0] == 0:
        raise ValueError(
            f"`etas` must be a non-empty 1-D array of step sizes, got shape {tuple(etas.shape)}. "
            "Evaluate a schedule on counts, e.g. `schedule(jnp.arange(T))`."
        )
    (r,) = _resolve(problem, r=r)
    _nonnegative(r=r, G=G, etas=etas)
    sum_eta = jnp.cumsum(etas)
    sum_eta_sq = jnp.cumsum(etas**2)
    return (r**2 + G**2 * sum_eta_sq) / (2 * sum_eta)


def sgd_convex_optimal(
    r: Any = None, G: Any = None, T: Any = None, *, problem: Any = None
) -> tuple[jax.Array, jax.Array]:
    """Best constant step size for ``sgd_convex`` at horizon ``T``, and the bound it gives.

    With a constant step ``eta`` the bound of ``sgd_convex`` at ``T`` is
    ``(r**2 + G**2 * T * eta**2) / (2 * T * eta)``, minimised by::

        eta* = r / (G * sqrt(T)),    bound(eta*) = r * G / sqrt(T).

    ``schedules.optimal_convex(r, G, T)`` is the matching constant schedule.

    Args:
      r: bound on ``||x_1 - x*||``; may be traced. Taken from ``problem`` if ``None``.
      G: bound on the stochastic gradient norm; may be traced. Required.
      T: the horizon (number of steps); positive, may be traced (it only enters as a number).
      problem: optional problem to read ``r`` from.

    Returns:
      ``(step, bound)``, two scalar arrays.

    Raises:
      ValueError: if ``G`` or ``T`` is missing, ``T`` is concrete and not positive, or ``r``
        is unknown.

    Example:
      >>> from jaxdescent import bounds
      >>> step, bound = bounds.sgd_convex_optimal(r=2.0, G=1.0, T=100)
      >>> round(float(step), 4), round(float(bound), 4)
      (0.2, 0.2)
    """
    G = _required("G", G, "pass the gradient norm bound G=... (problems do not know it).")
    T = _required("T", T, "pass the horizon T=... (number of steps).")
    concrete = _concrete(T)
    if concrete is not None and np.any(concrete <= 0):
        raise ValueError(f"`T` (the horizon) must be positive, got {T!r}.")
    (r,) = _resolve(problem, r=r)
    _nonnegative(r=r)
    _number("G", G, positive=True)
    sqrt_t = jnp.sqrt(_as_float(T))
    return r / (G * sqrt_t), r * G / sqrt_t


# --------------------------------------------------------------------------- GD, smooth


def gd_smooth_convex(
    L: Any = None,
    r: Any = None,
    steps: int | None = None,
    step_size: Any = None,
    *,
    problem: Any = None,
) -> jax.Array:
    """Tight worst-case bound for gradient descent on an L-smooth convex function.

    For convex, L-smooth ``f``, ``||x_0 - x*|| <= r`` and GD ``x_{k+1} = x_k - gamma grad
    f(x_k)`` with constant ``0 < gamma <= 1 / L`` (Drori & Teboulle, Math. Program. 2014)::

        f(x_n) - f*  <=  L * r**2 / (4 * n * L * gamma + 2),    n = 1, ..., steps.

    For each ``n`` the bound is attained by a one-dimensional Huber function (whose kink
    depends on ``n``), so it cannot be improved. For ``gamma = 1/L`` it is
    ``L r**2 / (4 n + 2)``, about half of the classical ``L r**2 / (2 n)``
    (``gd_smooth_convex_classical``).

    Validity: ``0 < step_size <= 1 / L``. Outside this range the formula is not a bound (for
    ``1/L < gamma < 2/L`` the worst case is larger), so a concrete out-of-range step size
    raises ``ValueError``, and a traced one (e.g. under ``jax.vmap``) yields NaN entries.

    Args:
      L: smoothness constant; may be traced. Taken from ``problem.smoothness`` if ``None``.
      r: bound on ``||x_0 - x*||``; may be traced. Taken from ``problem`` if ``None``.
      steps: number of steps; a static Python int ``>= 1``.
      step_size: constant step ``gamma``; may be traced. Defaults to ``1 / L``.
      problem: optional problem to read ``L`` and ``r`` from (see ``constants``).

    Returns:
      Array of shape ``(steps,)``; element ``i`` bounds ``f(x_{i+1}) - f*``.

    Raises:
      ValueError: if ``steps`` is not a Python int ``>= 1``, a constant is unknown, or a
        concrete ``step_size`` is outside ``(0, 1/L]``.

    Example:
      >>> from jaxdescent import bounds
      >>> [round(v, 4) for v in bounds.gd_smooth_convex(L=1.0, r=1.0, steps=3).tolist()]
      [0.1667, 0.1, 0.0714]
    """
    steps = _static_steps(steps)
    L, r = _resolve(problem, L=L, r=r)
    _nonnegative(L=L, r=r)
    gamma = 1.0 / _as_float(L) if step_size is None else step_size
    h = gamma * L  # normalised step
    h_concrete = _concrete(h)
    if h_concrete is not None and (np.any(h_concrete <= 0) or np.any(h_concrete > 1 + _STEP_SLACK)):
        raise ValueError(
            f"`step_size` must lie in (0, 1/L] for this bound; got step_size * L = {h_concrete}. "
            "For larger steps no bound of this form holds; use step_size <= 1/L."
        )
    n = jnp.arange(1, steps + 1)
    bound = L * r**2 / (4 * n * h + 2)
    valid = (h > 0) & (h <= 1 + _STEP_SLACK)
    return _as_float(jnp.where(valid, bound, jnp.nan))


def gd_smooth_convex_classical(
    L: Any = None,
    r: Any = None,
    steps: int | None = None,
    step_size: Any = None,
    *,
    problem: Any = None,
) -> jax.Array:
    """Classical bound for gradient descent with step ``gamma <= 1/L`` on an L-smooth convex
    function.

    For convex, L-smooth ``f``, ``||x_0 - x*|| <= r`` and GD with step ``gamma`` (default
    ``1 / L``)::

        f(x_n) - f*  <=  r**2 / (2 * gamma * n),    n = 1, ..., steps,

    which is ``L r^2 / (2 n)`` at ``gamma = 1/L``.

    The textbook rate (e.g. Nesterov's or Bubeck's lecture notes); it is looser than the tight
    ``gd_smooth_convex(L, r, steps)`` by a factor ``(4 n + 2) / (2 n)``, about 2.

    Args:
      L: smoothness constant; may be traced. Taken from ``problem.smoothness`` if ``None``.
      r: bound on ``||x_0 - x*||``; may be traced. Taken from ``problem`` if ``None``.
      steps: number of steps; a static Python int ``>= 1``.
      step_size: the step ``gamma`` (``<= 1/L``); default ``1/L``; may be traced.
      problem: optional problem to read ``L`` and ``r`` from.

    Returns:
      Array of shape ``(steps,)``; element ``i`` bounds ``f(x_{i+1}) - f*``.

    Raises:
      ValueError: if ``steps`` is not a Python int ``>= 1`` or a constant is unknown.

    Example:
      >>> from jaxdescent import bounds
      >>> bounds.gd_smooth_convex_classical(L=1.0, r=1.0, steps=2).tolist()
      [0.5, 0.25]
    """
    steps = _static_steps(steps)
    L, r = _resolve(problem, L=L, r=r)
    _nonnegative(L=L, r=r, step_size=step_size)
    n = jnp.arange(1, steps + 1)
    gamma = 1.0 / _as_float(L) if step_size is None else _as_float(step_size)
    return _as_float(r**2 / (2 * gamma * n))


def gd_strongly_convex(
    L: Any = None,
    mu: Any = None,
    r: Any = None,
    steps: int | None = None,
    step_size: Any = None,
    *,
    problem: Any = None,
    measure: str = "distance",
) -> jax.Array:
    """Linear-rate bound for gradient descent on an L-smooth, mu-strongly convex function.

    For L-smooth, mu-strongly convex ``f``, ``||x_0 - x*|| <= r`` and GD with a constant step
    ``gamma > 0``, the gradient step is a ``rho``-Lipschitz map with
    ``rho = max(|1 - gamma mu|, |1 - gamma L|)``, hence for ``n = 1, ..., steps``::

        measure="distance":  ||x_n - x*||   <=  rho**n * r
        measure="value":     f(x_n) - f*    <=  L / 2 * rho**(2 n) * r**2

    (the second from the first by smoothness). ``rho < 1`` iff ``0 < gamma < 2 / L``; the best
    step ``2 / (L + mu)`` gives ``rho = (L - mu) / (L + mu)``, the default ``1 / L`` gives
    ``rho = 1 - mu / L``. The distance bound is exact on the quadratic
    ``f(x) = (mu x_1**2 + L x_2**2) / 2`` started on the axis of the slower factor; the value
    bound is exact there when that axis is the ``L`` one (``gamma >= 2 / (L + mu)``).

    Args:
      L: smoothness constant; may be traced. Taken from ``problem.smoothness`` if ``None``.
      mu: strong-convexity modulus, ``0 <= mu <= L``; may be traced. Taken from
        ``problem.strong_convexity`` if ``None``.
      r: bound on ``||x_0 - x*||``; may be traced. Taken from ``problem`` if ``None``.
      steps: number of steps; a static Python int ``>= 1``.
      step_size: constant step ``gamma > 0``; may be traced. Defaults to ``1 / L``.
      problem: optional problem to read ``L``, ``mu`` and ``r`` from.
      measure: ``"distance"`` (default) or ``"value"``, see above.

    Returns:
      Array of shape ``(steps,)``; element ``i`` is the bound after ``i + 1`` steps.

    Raises:
      ValueError: if ``steps`` or ``measure`` is invalid, a constant is unknown, a concrete
        ``step_size`` is not positive, or concrete ``mu``/``L`` violate ``0 <= mu <= L``.

    Example:
      >>> from jaxdescent import bounds
      >>> b = bounds.gd_strongly_convex(L=4.0, mu=2.0, r=1.0, steps=3, step_size=0.25)
      >>> b.tolist()
      [0.5, 0.25, 0.125]
    """
    steps = _static_steps(steps)
    if measure not in ("distance", "value"):
        raise ValueError(f"`measure` must be 'distance' or 'value', got {measure!r}.")
    L, mu, r = _resolve(problem, L=L, mu=mu, r=r)
    _nonnegative(L=L, r=r)
    if step_size is not None:
        _number("step_size", step_size)
    gamma = 1.0 / _as_float(L) if step_size is None else step_size
    gamma_concrete = _concrete(gamma)
    if gamma_concrete is not None and np.any(gamma_concrete <= 0):
        raise ValueError(f"`step_size` must be positive, got {gamma_concrete}.")
    l_concrete, mu_concrete = _concrete(L), _concrete(mu)
    if l_concrete is not None and mu_concrete is not None:
        if np.any(mu_concrete < 0) or np.any(mu_concrete > l_concrete):
            raise ValueError(
                f"need 0 <= mu <= L, got mu = {mu_concrete} and L = {l_concrete}; check that "
                "the strong-convexity and smoothness constants are not swapped."
            )
    rho = jnp.maximum(jnp.abs(1 - gamma * mu), jnp.abs(1 - gamma * L))
    n = jnp.arange(1, steps + 1)
    if measure == "distance":
        return _as_float(rho**n * r)
    return _as_float(L / 2 * rho ** (2 * n) * r**2)


def gd_stable_step(L: Any = None, *, problem: Any = None) -> jax.Array:
    """Largest stable constant step size of gradient descent on an L-smooth quadratic.

    Formula: ``2 / L``. On ``f(x) = x^T A x / 2`` with largest eigenvalue ``L``, GD multiplies
    the top eigen-component by ``1 - gamma L`` each step, so it converges for
    ``0 < gamma < 2 / L`` and diverges (from a generic start) for ``gamma > 2 / L``.

    Args:
      L: smoothness constant; may be traced. Taken from ``problem.smoothness`` if ``None``.
      problem: optional problem to read ``L`` from.

    Returns:
      The scalar ``2 / L``.

    Raises:
      ValueError: if ``L`` is neither given nor known to the problem.

    Example:
      >>> from jaxdescent import bounds
      >>> float(bounds.gd_stable_step(4.0))
      0.5
    """
    (L,) = _resolve(problem, L=L)
    _nonnegative(L=L)
    return 2.0 / _as_float(L)


class Moments(NamedTuple):
    """Exact moments of a linear optimizer with Gaussian gradient noise on a separable
    quadratic ``f(x) = sum_i s_i x_i**2``, one row per iterate.

    Attributes:
      mean: ``E[x_t]``, shape ``(n, d)``.
      std: standard deviation of each coordinate of ``x_t``, shape ``(n, d)``.
      loss: the expected objective ``E f(x_t) = sum_i s_i (mean_i**2 + std_i**2)``, shape
        ``(n,)``.
      sq_dist: ``E||x_t||**2 = sum_i (mean_i**2 + std_i**2)``, the squared distance to the
        critical point ``0`` (the minimiser when every ``s_i > 0``), shape ``(n,)``.

    Which iterate a row describes is said by the function that returns it:
    `quadratic_moments` has ``n = T + 1`` rows, row ``t`` for ``x_t`` (aligned with
    ``Trace.step``); `quadratic_sgd_moments` has ``n = T`` rows, row ``t`` for ``x_{t+1}``.
    """

    mean: jax.Array
    std: jax.Array
    loss: jax.Array
    sq_dist: jax.Array


def _check_finite(name: str, value: Any, *, nonnegative: bool = False) -> None:
    """Raises if a concrete ``value`` has non-finite (or negative) entries; tracers pass."""
    arr = _concrete(value)
    if arr is None:
        return
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite, got {arr}.")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"`{name}` must be >= 0 (a standard deviation), got {arr}.")


def quadratic_moments(
    scales: Any,
    init: Any,
    etas: Any,
    noise: Any,
    *,
    momentum: Any = 0.0,
    nesterov: bool = False,
) -> Moments:
    """Exact moments of SGD, heavy-ball or Nesterov momentum with Gaussian gradient noise on
    a separable quadratic, for every iterate ``x_0, ..., x_T``.

    Objective ``f(x) = sum_i s_i x_i**2`` (any sign of ``s_i``: ``s_i < 0`` is a saddle
    direction), started at ``x_0 = init``, gradients ``g_t = 2 s x_t + noise * z_t`` with
    ``z_t ~ N(0, I)`` fresh every step, and the updates of
    ``optax.sgd(etas, momentum=momentum, nesterov=nesterov)`` (optax's trace, ``v_0 = 0``)::

        v_{t+1} = g_t + beta v_t
        x_{t+1} = x_t - eta_t v_{t+1}                       (heavy ball; SGD when beta = 0)
        x_{t+1} = x_t - eta_t (g_t + beta v_{t+1})          (nesterov=True)

    Each coordinate's ``(x, v)`` is a linear recursion driven by Gaussian noise, so every
    iterate is Gaussian with independent coordinates; with ``(x', v') = P (x, v) + q z``,
    ``a = 2 s``, ``P = [[1 - eta a, -eta beta], [a, beta]]``, ``q = (-eta noise, noise)``
    (Nesterov: first row ``[1 - eta (1 + beta) a, -eta beta**2]``, ``q_x = -eta (1 + beta)
    noise``), the mean follows ``m' = P m`` and the covariance ``C' = P C P^T + q q^T``
    (three numbers per coordinate). The mean is computed with optax's own arithmetic, so it
    equals a noiseless ``jd.run`` to rounding. For ``beta = 0`` the variance is
    ``var_{t+1} = (1 - 2 eta_t s)**2 var_t + eta_t**2 noise**2``.

    Args:
      scales: the ``s_i``, shape ``(d,)`` (or broadcastable against ``init``); any sign;
        may be traced.
      init: the starting point ``x_0``, shape ``(d,)``; may be traced.
      etas: 1-D array of step sizes ``eta_0, ..., eta_{T-1}`` (a schedule evaluated on
        ``jnp.arange(T)``); may be traced.
      noise: standard deviation of the gradient noise, a scalar or one per coordinate
        (shape ``(d,)``, e.g. ``sqrt(c / B)`` of the noisy quadratic model); may be traced.
      momentum: optax's momentum ``beta`` (a scalar); may be traced. ``0`` is plain SGD.
      nesterov: Nesterov's variant, as optax computes it (static).

    Returns:
      ``Moments(mean, std, loss, sq_dist)`` with shapes ``(T + 1, d)``, ``(T + 1, d)``,
      ``(T + 1,)``, ``(T + 1,)``: row ``t`` describes ``x_t``, ``t = 0, ..., T`` (row 0 is
      ``init`` with zero spread), aligned with ``Trace.step`` of a run with ``log_every=1``.

    Raises:
      ValueError: if ``etas`` is not a non-empty 1-D array, shapes do not broadcast,
        ``momentum`` is not a scalar, or a concrete ``scales``/``etas``/``momentum``/
        ``noise`` is not finite (or ``noise`` is negative).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import bounds
      >>> mom = bounds.quadratic_moments(jnp.array([0.5]), jnp.array([1.0]),
      ...                               jnp.full(2, 0.5), noise=2.0, momentum=0.5)
      >>> mom.mean[:, 0].tolist()   # x_1 = 0.5 - z_0, x_2 = -z_0 - z_1 (by hand)
      [1.0, 0.5, 0.0]
      >>> [round(v, 4) for v in mom.std[:, 0].tolist()]     # 0, 1, sqrt(2)
      [0.0, 1.0, 1.4142]
      >>> [round(v, 4) for v in mom.loss.tolist()]          # 0.5 * (mean^2 + std^2)
      [0.5, 0.625, 1.0]
    """
    init = jnp.asarray(init)
    scales = jnp.asarray(scales)
    etas = jnp.asarray(etas)
    noise = jnp.asarray(noise)
    momentum = jnp.asarray(momentum)
    if etas.ndim != 1 or etas.shape[0] == 0:
        raise ValueError(
            f"`etas` must be a non-empty 1-D array of step sizes, got shape {tuple(etas.shape)}. "
            "Evaluate a schedule on counts, e.g. `schedule(jnp.arange(T))`."
        )
    if momentum.ndim != 0:
        raise ValueError(
            f"`momentum` must be a scalar, got shape {tuple(momentum.shape)}; to compare "
            "several momenta, jax.vmap over this function."
        )
    if not isinstance(nesterov, bool):
        raise ValueError(f"`nesterov` must be a Python bool (it is static), got {nesterov!r}.")
    try:
        shape = jnp.broadcast_shapes(init.shape, scales.shape)
    except ValueError as err:
        raise ValueError(
            f"`scales` (shape {tuple(scales.shape)}) must broadcast against `init` (shape "
            f"{tuple(init.shape)})."
        ) from err
    try:
        fits = jnp.broadcast_shapes(shape, noise.shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"`noise` (shape {tuple(noise.shape)}) must be a scalar or one standard deviation "
            f"per coordinate (shape {shape})."
        )
    for name, value in (("scales", scales), ("etas", etas), ("momentum", momentum)):
        _check_finite(name, value)
    _check_finite("noise", noise, nonnegative=True)
    dtype = jnp.result_type(init, scales, etas, noise, momentum, float)
    cast = lambda a: jnp.broadcast_to(a.astype(dtype), shape)  # noqa: E731
    return _linear_moments(
        cast(init), cast(scales), etas.astype(dtype), cast(noise), momentum.astype(dtype), nesterov
    )


@functools.partial(jax.jit, static_argnames="nesterov")
def _linear_moments(m0, scales, etas, noise, beta, nesterov) -> Moments:
    a = 2 * scales

    def step(carry, eta):
        mx, mv, cxx, cxv, cvv = carry
        # the mean: optax's trace and scale_by_learning_rate on the noiseless iterate
        g = a * mx
        mv_new = g + beta * mv
        u = g + beta * mv_new if nesterov else mv_new
        mx_new = mx + (-eta) * u
        # the covariance of (x, v): C' = P C P^T + q q^T
        if nesterov:
            px, pv, qx = 1 - eta * (1 + beta) * a, -eta * beta**2, -eta * (1 + beta) * noise
        else:
            px, pv, qx = 1 - eta * a, -eta * beta, -eta * noise
        # terms through v vanish when beta = 0 (also when C is infinite after a divergence)
        via_v = lambda t: jnp.where(pv == 0, 0.0, t)  # noqa: E731
        cxx_new = px**2 * cxx + via_v(pv * (2 * px * cxv + pv * cvv)) + qx**2
        cxv_new = px * (a * cxx + beta * cxv) + via_v(pv * (a * cxv + beta * cvv)) + qx * noise
        cvv_new = a**2 * cxx + 2 * a * beta * cxv + beta**2 * cvv + noise**2
        new = (mx_new, mv_new, cxx_new, cxv_new, cvv_new)
        return new, (mx_new, cxx_new)

    zero = jnp.zeros_like(m0)
    _, (mean, var) = jax.lax.scan(step, (m0, zero, zero, zero, zero), etas)
    mean = jnp.concatenate([m0[None], mean])
    var = jnp.concatenate([zero[None], var])
    axes = tuple(range(1, mean.ndim))
    second = mean**2 + var
    return Moments(
        mean=mean,
        std=jnp.sqrt(jnp.maximum(var, 0)),
        loss=jnp.sum(scales * second, axis=axes),
        sq_dist=jnp.sum(second, axis=axes),
    )


def quadratic_sgd_moments(scales: Any, init: Any, etas: Any, noise: Any) -> Moments:
    """Exact mean and standard deviation of SGD with Gaussian gradient noise on a quadratic,
    after each step (rows ``x_1, ..., x_T``).

    `quadratic_moments` without momentum and without its row for ``x_0``: objective
    ``f(x) = sum_i s_i x_i**2``, started at ``x_0 = init``, noisy gradients
    ``2 s_i x_i + noise * z_i``, ``z ~ N(0, I)`` fresh every step::

        x_{t+1,i} = x_{t,i} - eta_t * (2 s_i x_{t,i} + noise * z_{t,i})
        m_{t+1} = (1 - 2 eta_t s_i) m_t,                        m_0 = init
        v_{t+1} = (1 - 2 eta_t s_i)**2 v_t + eta_t**2 noise**2, v_0 = 0

    This is the setting of d2l.ai section 12.4, ``f = x1**2 + 2 x2**2`` with unit noise:
    ``scales=(1, 2)``, ``init=(-5, -2)``, ``noise=1``.

    Args:
      scales: the ``s_i``, shape ``(d,)`` (or broadcastable to ``init``); may be traced.
      init: the starting point ``x_0``, shape ``(d,)``; may be traced.
      etas: 1-D array of step sizes ``eta_0, ..., eta_{T-1}``; may be traced.
      noise: standard deviation of the gradient noise (scalar or per coordinate); may be
        traced.

    Returns:
      ``Moments(mean, std, loss, sq_dist)`` with shapes ``(T, d)``, ``(T, d)``, ``(T,)``,
      ``(T,)``; row ``t`` describes ``x_{t+1}``, the iterate after ``t + 1`` steps (one row
      fewer than `quadratic_moments`, whose row ``t + 1`` it is).

    Raises:
      ValueError: as `quadratic_moments`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import bounds
      >>> mom = bounds.quadratic_sgd_moments(jnp.array([0.5]), jnp.array([1.0]),
      ...                                   jnp.full(2, 0.5), noise=2.0)
      >>> mom.mean.tolist(), [round(s, 4) for s in mom.std[:, 0].tolist()]
      ([[0.5], [0.25]], [1.0, 1.118])
    """
    for name, value in (("scales", scales), ("init", init)):
        _number(name, value, finite=True)
    _nonnegative(etas=etas, noise=noise)
    return jax.tree.map(lambda a: a[1:], quadratic_moments(scales, init, etas, noise))


def saddle_escape_probability(s: Any, eta: Any, noise: Any, delta: Any, steps: int) -> jax.Array:
    """Exact probability that SGD started on a saddle's stable manifold is more than
    ``delta`` away along the unstable direction, at every step.

    Along a direction where ``f`` contains ``-s x**2`` (``s > 0``, e.g. ``x_2`` of
    ``f = x_1**2 - s x_2**2``, ``jd.problems.quadratic((1, -s))``), SGD with a constant
    step ``eta`` and ``N(0, noise**2)`` gradient noise from ``x_0 = 0`` makes
    ``x_{t+1} = r x_t - eta noise z_t`` with ``r = 1 + 2 eta s > 1``, so ``x_t`` is exactly
    Gaussian with mean 0 and::

        Var x_t = eta**2 noise**2 (r**(2 t) - 1) / (r**2 - 1)
        P(|x_t| > delta) = erfc(delta / sqrt(2 Var x_t))

    Gradient descent (``noise = 0``) stays at the saddle forever (probability 0).
    This is the probability of being outside ``[-delta, delta]`` AT step ``t``; the first
    exit time ``tau`` has ``P(tau <= t) >= P(|x_t| > delta)`` (an iterate that left may be
    pushed back by the noise), with equality in the limit of large ``r`` per noise step.

    Args:
      s: the negative curvature: ``f`` contains ``-s x**2``, ``s > 0``; may be traced.
      eta: the constant step size, ``> 0``; may be traced.
      noise: the gradient noise's standard deviation, ``>= 0``; may be traced.
      delta: the escape radius, ``> 0``; may be traced.
      steps: the number of steps ``T`` (a static Python int ``>= 1``).

    Returns:
      Array of shape ``(T + 1,)``; element ``t`` is ``P(|x_t| > delta)`` (0 at ``t = 0``).

    Raises:
      ValueError: if ``steps`` is not an int ``>= 1`` or a concrete ``s``, ``eta``,
        ``delta`` is not positive or ``noise`` is negative.

    Example:
      >>> from jaxdescent import bounds
      >>> p = bounds.saddle_escape_probability(s=0.5, eta=1.0, noise=1.0, delta=1.0, steps=2)
      >>> [round(v, 4) for v in p.tolist()]   # Var x_1 = 1, Var x_2 = 1 + 4 = 5
      [0.0, 0.3173, 0.6547]
    """
    steps = _static_steps(steps)
    for name, value in (("s", s), ("eta", eta), ("delta", delta)):
        arr = _concrete(value)
        if arr is not None and not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
            raise ValueError(f"`{name}` must be positive and finite, got {arr}.")
    _check_finite("noise", noise, nonnegative=True)
    s, eta, noise, delta = (_as_float(v) for v in (s, eta, noise, delta))
    r2 = (1 + 2 * eta * s) ** 2
    t = jnp.arange(steps + 1)
    var = eta**2 * noise**2 * jnp.expm1(t * jnp.log(r2)) / (r2 - 1)
    ratio = jnp.where(var > 0, delta / jnp.sqrt(jnp.where(var > 0, var, 1.0)), jnp.inf)
    return jax.scipy.special.erfc(ratio / jnp.sqrt(2.0))


def quadratic_sgd_grad_bound(scales: Any, init: Any, etas: Any, noise: Any) -> jax.Array:
    """The exact G of d2l's bound for SGD with N(0, noise^2) gradient noise on sum_i s_i x_i^2.

    The convex bound (12.4.17) needs E||g_t||^2 <= G^2 at every iterate where a gradient
    is taken, x_0 .. x_{T-1}. Here g_t = 2 s * x_t + noise * z_t, so
    E||g_t||^2 = sum_i (2 s_i)^2 (m_{t,i}^2 + v_{t,i}) + d noise^2, exactly, from
    `quadratic_sgd_moments`; this returns G = sqrt(max_t E||g_t||^2).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import bounds
      >>> float(bounds.quadratic_sgd_grad_bound(jnp.array([1.0]), jnp.array([3.0]),
      ...                                       jnp.full(5, 0.1), noise=0.0))  # |2 * 3|
      6.0
    """
    mom = quadratic_sgd_moments(scales, init, etas, noise)
    init = jnp.broadcast_to(jnp.asarray(init, mom.mean.dtype), mom.mean.shape[1:])
    scales = jnp.broadcast_to(jnp.asarray(scales, mom.mean.dtype), init.shape)
    second = jnp.concatenate([init[None] ** 2, mom.mean[:-1] ** 2 + mom.std[:-1] ** 2])
    axes = tuple(range(1, second.ndim))
    per_step = jnp.sum((2 * scales) ** 2 * second, axis=axes) + init.size * jnp.asarray(noise) ** 2
    return jnp.sqrt(jnp.max(per_step))


# --------------------------------------------------------------------------- heavy ball

__all__ += ["HeavyBallOptimum", "heavy_ball_optimal", "heavy_ball_rate", "heavy_ball_stable_step"]


def _check_nonnegative(**values: Any) -> None:
    """Raises when a concrete constant is negative (traced ones pass unchecked)."""
    for name, value in values.items():
        c = _concrete(value)
        if c is not None and np.any(c < 0):
            raise ValueError(f"`{name}` must be >= 0, got {c}.")


def _check_momentum(momentum: Any) -> None:
    c = _concrete(momentum)
    if c is not None and (np.any(c < 0) or np.any(c >= 1)):
        raise ValueError(
            f"`momentum` must lie in [0, 1) for the heavy ball to converge at all, got {c}."
        )


def heavy_ball_stable_step(L: Any = None, momentum: Any = 0.0, *, problem: Any = None):
    """Largest stable step of optax's heavy ball on an L-smooth quadratic: ``(2 + 2 beta) / L``.

    ``optax.sgd(lr, momentum=beta)`` takes ``v_{t+1} = g_t + beta v_t`` and
    ``x_{t+1} = x_t - lr v_{t+1}``. Along an eigenvector of the Hessian with eigenvalue
    ``lam`` the pair ``(x, v)`` is multiplied by ``M = [[1 - lr lam, -lr beta], [lam, beta]]``,
    whose characteristic polynomial is ``z**2 - (1 + beta - lr lam) z + beta``: both roots lie
    inside the unit circle iff ``0 <= beta < 1`` and ``0 < lr lam < 2 + 2 beta``. With
    ``L`` the largest eigenvalue the run converges for ``lr < (2 + 2 beta) / L`` and diverges
    (from a generic start) above it; ``beta = 0`` gives `gd_stable_step`'s ``2 / L``.

    Args:
      L: the Hessian's largest eigenvalue (> 0); may be traced. Taken from
        ``problem.smoothness`` if ``None``.
      momentum: ``beta`` in ``[0, 1)``; may be traced (a swept momentum).
      problem: optional problem to read ``L`` from.

    Returns:
      The scalar (or broadcast array) ``(2 + 2 momentum) / L``.

    Raises:
      ValueError: if ``L`` is unknown, or a concrete ``L <= 0`` or ``momentum`` outside
        ``[0, 1)``.

    Example:
      >>> from jaxdescent import bounds
      >>> float(bounds.heavy_ball_stable_step(4.0, 0.5))
      0.75
    """
    (L,) = _resolve(problem, L=L)
    c = _concrete(L)
    if c is not None and np.any(c <= 0):
        raise ValueError(f"`L` (the largest Hessian eigenvalue) must be > 0, got {c}.")
    _check_momentum(momentum)
    return (2.0 + 2.0 * _as_float(momentum)) / _as_float(L)


def heavy_ball_rate(lr: Any, momentum: Any, eigenvalues: Any) -> jax.Array:
    """Exact asymptotic linear rate of optax's heavy ball on a quadratic.

    For ``optax.sgd(lr, momentum=beta)`` on a quadratic whose Hessian has the given
    eigenvalues, each eigen-direction evolves by the 2x2 matrix of
    `heavy_ball_stable_step`, with eigenvalues the roots of
    ``z**2 - a z + beta``, ``a = 1 + beta - lr lam``. Its spectral radius is::

        rho(lam) = sqrt(beta)                          if a**2 < 4 beta  (complex roots)
        rho(lam) = (|a| + sqrt(a**2 - 4 beta)) / 2     otherwise         (real roots)

    and the rate is ``max_lam rho(lam)``: ``||x_t - x*|| ~ C rho**t`` (times a factor
    linear in ``t`` where ``a**2 = 4 beta``, a double root), the loss ``~ rho**(2 t)``.
    ``rho < 1`` iff ``0 < lr lam < 2 + 2 beta`` for every ``lam``. ``beta = 0`` gives
    gradient descent's ``max |1 - lr lam|``. Negative eigenvalues are allowed (rate > 1).

    Args:
      lr: the step; any shape, broadcast against ``momentum``; may be traced.
      momentum: ``beta >= 0``; any shape, broadcast against ``lr``; may be traced.
      eigenvalues: the Hessian's eigenvalues, a scalar or 1-D array (for ``f = sum_i s_i
        x_i**2`` they are ``2 s_i``); may be traced.

    Returns:
      The rate, shaped like ``lr`` and ``momentum`` broadcast together.

    Raises:
      ValueError: if a concrete ``lr`` or ``momentum`` is negative, or ``eigenvalues`` is
        not a scalar or a 1-D array.

    Example:
      >>> from jaxdescent import bounds
      >>> round(float(bounds.heavy_ball_rate(1.0, 0.25, [1.0, 2.0])), 4)   # sqrt(0.25)
      0.5
    """
    _check_nonnegative(lr=lr, momentum=momentum)
    lam = _as_float(eigenvalues)
    if lam.ndim > 1:
        raise ValueError(
            f"`eigenvalues` must be a scalar or a 1-D array, got shape {tuple(lam.shape)}."
        )
    lam = jnp.atleast_1d(lam)
    dtype = jnp.result_type(lam, _as_float(lr), _as_float(momentum))
    lr = jnp.asarray(lr, dtype)[..., None]
    beta = jnp.asarray(momentum, dtype)[..., None]
    a = 1.0 + beta - lr * lam
    disc = a * a - 4.0 * beta
    real = (jnp.abs(a) + jnp.sqrt(jnp.maximum(disc, 0.0))) / 2.0
    rho = jnp.where(disc < 0, jnp.sqrt(jnp.maximum(beta, 0.0)), real)
    return jnp.max(rho, axis=-1)


class HeavyBallOptimum(NamedTuple):
    """The best constant heavy-ball step and momentum for eigenvalues in ``[mu, L]``.

    Attributes:
      lr: ``(2 / (sqrt(mu) + sqrt(L)))**2``.
      momentum: ``((sqrt(L) - sqrt(mu)) / (sqrt(L) + sqrt(mu)))**2``.
      rate: ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)``, ``kappa = L / mu``.
    """

    lr: jax.Array
    momentum: jax.Array
    rate: jax.Array


def heavy_ball_optimal(mu: Any = None, L: Any = None, *, problem: Any = None) -> HeavyBallOptimum:
    """Polyak's optimal heavy ball on a quadratic with Hessian eigenvalues in ``[mu, L]``.

    Choosing ``lr`` and ``beta`` so that both ends of the spectrum sit on the double root
    ``a**2 = 4 beta`` of `heavy_ball_rate` puts every eigenvalue at ``rho = sqrt(beta)``
    (Goh, "Why Momentum Really Works", 2017)::

        lr* = (2 / (sqrt(mu) + sqrt(L)))**2
        beta* = ((sqrt(L) - sqrt(mu)) / (sqrt(L) + sqrt(mu)))**2
        rate* = sqrt(beta*) = (sqrt(kappa) - 1) / (sqrt(kappa) + 1),   kappa = L / mu

    against ``(kappa - 1) / (kappa + 1)`` for the best plain gradient step.

    Args:
      mu: the smallest eigenvalue (>= 0); may be traced. Taken from
        ``problem.strong_convexity`` if ``None``.
      L: the largest eigenvalue (> 0, >= mu); may be traced. Taken from
        ``problem.smoothness`` if ``None``.
      problem: optional problem to read ``mu`` and ``L`` from.

    Returns:
      ``HeavyBallOptimum(lr, momentum, rate)``.

    Raises:
      ValueError: if a constant is unknown, or concrete values violate ``0 <= mu <= L``,
        ``L > 0``.

    Example:
      >>> from jaxdescent import bounds
      >>> [round(float(v), 4) for v in bounds.heavy_ball_optimal(0.01, 1.0)]
      [3.3058, 0.6694, 0.8182]
    """
    mu, L = _resolve(problem, mu=mu, L=L)
    mu_c, l_c = _concrete(mu), _concrete(L)
    if l_c is not None and np.any(l_c <= 0):
        raise ValueError(f"`L` (the largest eigenvalue) must be > 0, got {l_c}.")
    if mu_c is not None and np.any(mu_c < 0):
        raise ValueError(f"`mu` (the smallest eigenvalue) must be >= 0, got {mu_c}.")
    if mu_c is not None and l_c is not None and np.any(mu_c > l_c):
        raise ValueError(
            f"need mu <= L, got mu = {mu_c} and L = {l_c}; check that the strong-convexity "
            "and smoothness constants are not swapped."
        )
    sm, sl = jnp.sqrt(_as_float(mu)), jnp.sqrt(_as_float(L))
    return HeavyBallOptimum(
        lr=(2.0 / (sm + sl)) ** 2, momentum=((sl - sm) / (sl + sm)) ** 2, rate=(sl - sm) / (sl + sm)
    )
