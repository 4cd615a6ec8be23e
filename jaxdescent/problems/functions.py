"""Test functions on R^d: the d2l quadratic, Himmelblau, Rosenbrock, Rastrigin.

Each holds its parameters as one ``(d,)`` array, so a logged path plots directly.
The losses are module-level functions and the shape constants are ``args`` leaves,
so problems rebuilt with new numbers reuse a compiled program.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxdescent.checks import concrete
from jaxdescent.problem import Problem

__all__ = ["quadratic", "himmelblau", "rosenbrock", "rastrigin", "HIMMELBLAU_MINIMA"]

#: Himmelblau's four minima (all with value 0), found by Newton's method in float64.
HIMMELBLAU_MINIMA = np.array(
    [
        [3.0, 2.0],
        [-2.805118086952745, 3.131312518250573],
        [-3.779310253377747, -3.283185991286169],
        [3.5844283403304917, -1.8481265269644034],
    ]
)


def _vector_init(init, dim: int | None, what: str):
    if callable(init):
        return init
    x = jnp.asarray(init, dtype=jnp.result_type(float))
    if x.ndim != 1:
        raise ValueError(f"{what}: `init` must be a 1-D point (d,), got shape {x.shape}.")
    if dim is not None and x.shape[0] != dim:
        raise ValueError(
            f"{what}: `init` has {x.shape[0]} coordinates but the problem has {dim}; "
            f"pass an init of length {dim}."
        )
    return x


def _quadratic_loss(x, batch, scales):
    del batch
    return jnp.sum(scales * x**2)


def quadratic(scales=(1.0, 2.0), init=(-5.0, -2.0)) -> Problem:
    """The separable quadratic f(x) = sum_i scales_i * x_i^2 (d2l 12.4: f = x1^2 + 2 x2^2).

    Scales of any sign: a negative ``s_i`` makes 0 a saddle point (``f = x1^2 - x2^2``
    with ``scales=(1, -1)``), unbounded below along ``x_i``.

    Args:
      scales: finite weights s_i of any sign (may be traced, e.g. swept condition numbers).
      init: starting point of length d, or a function ``key -> (d,) array``.

    Returns:
      A Problem with smoothness L = 2 max|s| (the Hessian diag(2 s)'s largest absolute
      eigenvalue) and, by the signs of concrete scales:

      * all s_i > 0: minimizer 0, min value 0, strong convexity mu = 2 min(s);
      * all s_i >= 0, some 0: minimizer 0 (one of many), min value 0, mu = 0 (convex);
      * some s_i < 0 (a saddle at 0): minimizer, min value and strong convexity None
        (f has no minimum: inf f = -inf), so bounds and metrics that need them refuse
        the problem by name.

      With traced scales the signs are unknown while tracing: the fields are the
      formulas ``2 min(s)`` for mu and ``0`` for the minimizer and min value where
      ``min(s) >= 0``, and NaN where some scale is negative (never a wrong number).

    Raises:
      ValueError: if ``scales`` is not a non-empty 1-D sequence or has NaN/inf entries.

    Example:
      >>> import jaxdescent as jd
      >>> p = jd.problems.quadratic()
      >>> float(p.objective(p.init))   # 25 + 2 * 4
      33.0
      >>> saddle = jd.problems.quadratic((1.0, -3.0), init=(1.0, 0.0))
      >>> float(saddle.smoothness), saddle.strong_convexity, saddle.minimizer
      (6.0, None, None)
    """
    s = jnp.asarray(scales, dtype=jnp.result_type(float))
    if s.ndim != 1 or s.shape[0] == 0:
        raise ValueError(
            f"quadratic: `scales` must be a non-empty 1-D sequence, got shape {s.shape}."
        )
    known = concrete(s)
    if known is not None and not np.all(np.isfinite(known)):
        raise ValueError(f"quadratic: `scales` must be finite, got {known}.")
    x0 = _vector_init(init, s.shape[0], "quadratic")
    lowest = jnp.min(s)
    if known is None:  # traced: NaN marks a saddle
        convex = lowest >= 0
        minimizer = jnp.where(convex, jnp.zeros_like(s), jnp.nan)
        min_value = jnp.where(convex, 0.0, jnp.nan).astype(s.dtype)
        strong = jnp.where(convex, 2 * lowest, jnp.nan)
    elif np.all(known >= 0):
        minimizer, min_value, strong = jnp.zeros_like(s), jnp.zeros((), s.dtype), 2 * lowest
    else:
        minimizer = min_value = strong = None
    return Problem(
        _quadratic_loss,
        x0,
        args=s,
        minimizer=minimizer,
        min_value=min_value,
        smoothness=2 * jnp.max(jnp.abs(s)),
        strong_convexity=strong,
        name="quadratic",
    )


def _himmelblau_loss(x, batch):
    del batch
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def himmelblau(init=(0.0, 0.0)) -> Problem:
    """Himmelblau's function (x^2 + y - 11)^2 + (x + y^2 - 7)^2 on R^2.

    It has four minima, all of value 0 (``HIMMELBLAU_MINIMA``); ``minimizer`` is
    left unknown since it depends on the start. From (0, 0) Adam reaches (3, 2).
    """
    return Problem(
        _himmelblau_loss, _vector_init(init, 2, "himmelblau"), min_value=0.0, name="himmelblau"
    )


def _rosenbrock_loss(x, batch, ab):
    del batch
    a, b = ab[0], ab[1]
    return jnp.sum(b * (x[1:] - x[:-1] ** 2) ** 2 + (a - x[:-1]) ** 2)


def rosenbrock(a=1.0, b=100.0, init=(-1.5, 2.0)) -> Problem:
    """Rosenbrock's banana, sum_i b (x_{i+1} - x_i^2)^2 + (a - x_i)^2, on R^d (d = len(init)).

    The minimizer is (a, a^2) in two dimensions and (1, ..., 1) for a = 1 in any
    dimension; the minimum is 0. It is not globally smooth, so no L is given.
    """
    x0 = _vector_init(init, None, "rosenbrock")
    d = 2 if callable(x0) else x0.shape[0]
    if d < 2:
        raise ValueError("rosenbrock: `init` needs at least 2 coordinates.")
    ab = jnp.asarray([a, b], dtype=jnp.result_type(float))
    if d == 2:
        minimizer = jnp.stack([ab[0], ab[0] ** 2])
    elif isinstance(a, int | float) and a == 1.0:
        minimizer = jnp.ones(d, ab.dtype)
    else:
        minimizer = None
    return Problem(
        _rosenbrock_loss, x0, args=ab, minimizer=minimizer, min_value=0.0, name="rosenbrock"
    )


def _rastrigin_loss(x, batch, amplitude):
    del batch
    return amplitude * x.shape[0] + jnp.sum(x**2 - amplitude * jnp.cos(2 * jnp.pi * x))


def rastrigin(dim: int = 2, init=None, amplitude=10.0) -> Problem:
    """Rastrigin's function A d + sum_i (x_i^2 - A cos(2 pi x_i)): a local minimum near
    every integer point, the global one at 0 (value 0). ``init`` defaults to (2.5,)*dim.
    Its smoothness is L = 2 + 4 pi^2 A.
    """
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"rastrigin: `dim` must be a positive int, got {dim!r}.")
    x0 = _vector_init(jnp.full((dim,), 2.5) if init is None else init, dim, "rastrigin")
    amp = jnp.asarray(amplitude, dtype=jnp.result_type(float))
    return Problem(
        _rastrigin_loss,
        x0,
        args=amp,
        minimizer=jnp.zeros(dim, amp.dtype),
        min_value=0.0,
        smoothness=2 + 4 * jnp.pi**2 * amp,
        name="rastrigin",
    )
