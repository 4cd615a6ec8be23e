"""Tightness witnesses: functions on which a method attains its worst-case bound exactly.

`huber_worst_case` is the one-dimensional Huber function of Drori & Teboulle (Math.
Program. 2014) on which gradient descent with a constant step ``gamma <= 1/L`` ends
exactly on `jd.bounds.gd_smooth_convex`: that bound cannot be improved.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxdescent.checks import concrete
from jaxdescent.problem import Problem

__all__ = ["huber_worst_case"]

# Relative slack when checking ``step_size * L <= 1`` (as in `jd.bounds.gd_smooth_convex`).
_STEP_SLACK = 1e-6


def _huber_loss(x, batch, args):
    """``L/2 x**2`` for ``|x| <= delta``, ``L delta |x| - L delta**2 / 2`` beyond."""
    del batch
    L, delta = args[0], args[1]
    a = jnp.abs(x)
    return jnp.sum(jnp.where(a <= delta, 0.5 * L * x**2, L * delta * a - 0.5 * L * delta**2))


def huber_worst_case(L, r, steps, step_size=None) -> Problem:
    """The 1-D Huber function on which gradient descent attains the Drori–Teboulle bound.

    With ``h = step_size * L`` in ``(0, 1]``, ``N = steps`` and the kink
    ``delta = r / (2 N h + 1)``::

        f(x) = L x**2 / 2                        if |x| <= delta
        f(x) = L delta |x| - L delta**2 / 2      otherwise,          x_0 = r.

    ``f`` is convex and L-smooth with minimizer 0 and ``|x_0 - x*| = r``. Every GD step
    from ``x_k >= delta`` moves by ``step_size * L delta = h delta``, so
    ``x_N = r (N h + 1) / (2 N h + 1) >= delta``: the iterates never leave the linear
    part, and ``f(x_N) = L r**2 / (4 N h + 2)``, exactly
    ``jd.bounds.gd_smooth_convex(L, r, steps, step_size)[-1]``.

    Args:
      L: smoothness constant (> 0); may be traced.
      r: initial distance to the minimizer (> 0); may be traced.
      steps: the horizon ``N`` the witness is built for (>= 1); may be traced (it only
        sets the kink).
      step_size: the constant step ``gamma`` in ``(0, 1/L]``; default ``1/L``; may be traced.

    Returns:
      A `jd.Problem` on ``(1,)`` params with minimizer 0, min value 0, smoothness ``L``
      and strong convexity 0.

    Raises:
      ValueError: if a concrete ``L`` or ``r`` is not positive, ``steps < 1`` or
        ``step_size * L`` is outside ``(0, 1]``.

    Example:
      >>> import optax, jaxdescent as jd
      >>> p = jd.problems.huber_worst_case(L=3.0, r=1.0, steps=4, step_size=1 / 3)
      >>> tr = jd.run(p, optax.sgd(1 / 3), steps=4)
      >>> bound = jd.bounds.gd_smooth_convex(3.0, 1.0, 4)[-1]   # 3 / 18
      >>> round(float(tr.final_loss), 6), round(float(bound), 6)
      (0.166667, 0.166667)
    """
    for name, value in (("L", L), ("r", r)):
        c = concrete(value)
        if c is not None and np.any(c <= 0):
            raise ValueError(f"huber_worst_case: `{name}` must be > 0, got {c}.")
    c = concrete(steps)
    if c is not None and np.any(c < 1):
        raise ValueError(f"huber_worst_case: `steps` must be >= 1, got {c}.")
    dtype = jnp.result_type(float)
    L = jnp.asarray(L, dtype)
    gamma = 1.0 / L if step_size is None else jnp.asarray(step_size, dtype)
    h = gamma * L
    c = concrete(h)
    if c is not None and (np.any(c <= 0) or np.any(c > 1 + _STEP_SLACK)):
        raise ValueError(
            f"huber_worst_case: `step_size` must lie in (0, 1/L], got step_size * L = {c}; "
            "the Drori-Teboulle bound (and so its witness) holds only there."
        )
    r = jnp.asarray(r, dtype)
    delta = r / (2 * jnp.asarray(steps, dtype) * h + 1)
    return Problem(
        _huber_loss,
        jnp.reshape(r, (1,)),
        args=jnp.stack([L, delta]),
        minimizer=jnp.zeros((1,), dtype),
        min_value=jnp.zeros((), dtype),
        smoothness=L,
        strong_convexity=jnp.zeros((), dtype),
        name="huber_worst_case",
    )
