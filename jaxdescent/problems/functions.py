"""Test functions on R^d: the d2l quadratic, Himmelblau, Rosenbrock, Rastrigin.

Each holds its parameters as one ``(d,)`` array, so a logged path plots directly.
The losses are module-level functions and the shape constants are ``args`` leaves,
so problems rebuilt with new numbers reuse a compiled program.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

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

    Args:
      scales: positive weights s_i (may be traced, e.g. swept condition numbers).
      init: starting point of length d, or a function ``key -> (d,) array``.

    Returns:
      A Problem with minimizer 0, min value 0, smoothness L = 2 max(s) and strong
      convexity mu = 2 min(s) (the extreme eigenvalues of the Hessian diag(2 s)).

    Example:
      >>> import jaxdescent as jd
      >>> p = jd.problems.quadratic()
      >>> float(p.objective(p.init))   # 25 + 2 * 4
      33.0
    """
    s = jnp.asarray(scales, dtype=jnp.result_type(float))
    if s.ndim != 1 or s.shape[0] == 0:
        raise ValueError(
            f"quadratic: `scales` must be a non-empty 1-D sequence, got shape {s.shape}."
        )
    x0 = _vector_init(init, s.shape[0], "quadratic")
    return Problem(
        _quadratic_loss,
        x0,
        args=s,
        minimizer=jnp.zeros_like(s),
        min_value=jnp.zeros((), s.dtype),
        smoothness=2 * jnp.max(s),
        strong_convexity=2 * jnp.min(s),
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
