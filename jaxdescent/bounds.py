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

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxdescent.checks import as_float as _as_float
from jaxdescent.checks import concrete as _concrete

__all__ = [
    "Moments",
    "constants",
    "gd_smooth_convex",
    "gd_smooth_convex_classical",
    "gd_stable_step",
    "gd_strongly_convex",
    "heavy_ball_optimal",
    "momentum_stable_step",
    "quadratic_sgd_grad_bound",
    "quadratic_sgd_moments",
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
    return 2.0 / _as_float(L)


def momentum_stable_step(L: Any = None, momentum: Any = 0.0, *, problem: Any = None) -> jax.Array:
    """Largest stable constant step of heavy-ball momentum on an L-smooth quadratic.

    Formula: ``2 (1 + beta) / L``. Heavy ball ``v <- beta v + g, x <- x - gamma v`` on an
    eigen-direction of curvature ``L`` is the linear recursion with characteristic
    polynomial ``z^2 - (1 + beta - gamma L) z + beta``; for ``0 <= beta < 1`` both roots
    lie inside the unit circle exactly when ``gamma L < 2 (1 + beta)``. With
    ``momentum=0`` it is `gd_stable_step`.

    Args:
      L: smoothness constant; may be traced. Taken from ``problem.smoothness`` if ``None``.
      momentum: beta in [0, 1); may be traced (and an array: one edge per beta).
      problem: optional problem to read ``L`` from.

    Returns:
      ``2 (1 + beta) / L``.

    Example:
      >>> from jaxdescent import bounds
      >>> round(float(bounds.momentum_stable_step(200.0, 0.9)), 6)
      0.019
    """
    (L,) = _resolve(problem, L=L)
    return 2.0 * (1.0 + _as_float(momentum)) / _as_float(L)


def heavy_ball_optimal(L: Any = None, mu: Any = None, *, problem: Any = None) -> tuple:
    """Polyak's optimal heavy-ball step and momentum on a quadratic with curvatures in
    ``[mu, L]``.

    Formula: ``gamma = 4 / (sqrt L + sqrt mu)^2``,
    ``beta = ((sqrt L - sqrt mu) / (sqrt L + sqrt mu))^2``: the pair that makes every
    eigen-direction contract at the rate ``sqrt(beta)``.

    Args:
      L, mu: largest and smallest curvature; may be traced. Read from the problem's
        ``smoothness`` / ``strong_convexity`` if ``None``.

    Returns:
      ``(gamma, beta)``.

    Example:
      >>> from jaxdescent import bounds
      >>> [round(float(v), 4) for v in bounds.heavy_ball_optimal(100.0, 1.0)]
      [0.0331, 0.6694]
    """
    L, mu = _resolve(problem, L=L, mu=mu)
    rl, rm = jnp.sqrt(_as_float(L)), jnp.sqrt(_as_float(mu))
    return 4.0 / (rl + rm) ** 2, ((rl - rm) / (rl + rm)) ** 2


# --------------------------------------------------------------------------- SGD, quadratic


class Moments(NamedTuple):
    """Exact moments of SGD on a separable quadratic, one row per step.

    Attributes:
      mean: ``E[x_t]``, shape ``(T, d)``; row ``t`` is after ``t + 1`` steps.
      std: standard deviation of each coordinate of ``x_t``, shape ``(T, d)``.
      sq_dist: ``E||x_t - x*||**2 = sum_i (mean_i**2 + std_i**2)`` with ``x* = 0``,
        shape ``(T,)``.
    """

    mean: jax.Array
    std: jax.Array
    sq_dist: jax.Array


def quadratic_sgd_moments(scales: Any, init: Any, etas: Any, noise: Any) -> Moments:
    """Exact mean and standard deviation of SGD with Gaussian gradient noise on a quadratic.

    Objective ``f(x) = sum_i s_i x_i**2`` (minimiser ``x* = 0``), started at ``x_0 = init``,
    with noisy gradients ``2 s_i x_i + noise * z_i``, ``z ~ N(0, I)`` fresh every step::

        x_{t+1,i} = x_{t,i} - eta_t * (2 s_i x_{t,i} + noise * z_{t,i})

    Every iterate is Gaussian with independent coordinates, mean ``m`` and variance ``v``::

        m_{t+1} = (1 - 2 eta_t s_i) m_t,                        m_0 = init
        v_{t+1} = (1 - 2 eta_t s_i)**2 v_t + eta_t**2 noise**2, v_0 = 0

    (the mean is computed as ``m - eta * (2 s m)``, i.e. exactly the noiseless GD iterate).
    This is the setting of d2l.ai section 12.4, ``f = x1**2 + 2 x2**2`` with unit noise:
    ``scales=(1, 2)``, ``init=(-5, -2)``, ``noise=1``.

    Args:
      scales: the ``s_i``, shape ``(d,)`` (or broadcastable to ``init``); may be traced.
      init: the starting point ``x_0``, shape ``(d,)``; may be traced.
      etas: 1-D array of step sizes ``eta_0, ..., eta_{T-1}``, e.g. a schedule evaluated on
        ``jnp.arange(T)``; may be traced.
      noise: standard deviation of the gradient noise per coordinate; may be traced.

    Returns:
      ``Moments(mean, std, sq_dist)`` with shapes ``(T, d)``, ``(T, d)``, ``(T,)``; row ``t``
      describes ``x_{t+1}``, the iterate after ``t + 1`` steps.

    Raises:
      ValueError: if ``etas`` is not a non-empty 1-D array or ``scales`` does not broadcast
        against ``init``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import bounds
      >>> mom = bounds.quadratic_sgd_moments(jnp.array([0.5]), jnp.array([1.0]),
      ...                                   jnp.full(2, 0.5), noise=2.0)
      >>> mom.mean.tolist(), [round(s, 4) for s in mom.std[:, 0].tolist()]
      ([[0.5], [0.25]], [1.0, 1.118])
    """
    init = jnp.asarray(init)
    scales = jnp.asarray(scales)
    etas = jnp.asarray(etas)
    if etas.ndim != 1 or etas.shape[0] == 0:
        raise ValueError(
            f"`etas` must be a non-empty 1-D array of step sizes, got shape {tuple(etas.shape)}. "
            "Evaluate a schedule on counts, e.g. `schedule(jnp.arange(T))`."
        )
    try:
        shape = jnp.broadcast_shapes(init.shape, scales.shape)
    except ValueError as err:
        raise ValueError(
            f"`scales` (shape {tuple(scales.shape)}) must broadcast against `init` (shape "
            f"{tuple(init.shape)})."
        ) from err
    dtype = jnp.result_type(init, scales, etas, noise, float)
    return _moments(
        jnp.broadcast_to(init.astype(dtype), shape),
        scales.astype(dtype),
        etas.astype(dtype),
        jnp.asarray(noise, dtype),
    )


@jax.jit
def _moments(m0, scales, etas, noise) -> Moments:
    def step(carry, eta):
        m, v = carry
        m = m - eta * (2 * scales * m)
        v = (1 - 2 * eta * scales) ** 2 * v + eta**2 * noise**2
        return (m, v), (m, v)

    _, (mean, var) = jax.lax.scan(step, (m0, jnp.zeros_like(m0)), etas)
    axes = tuple(range(1, mean.ndim))
    return Moments(mean=mean, std=jnp.sqrt(var), sq_dist=jnp.sum(mean**2 + var, axis=axes))


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
