"""Step-size schedules as pure functions of the optax step count.

Every family in this module is a factory ``family(**params) -> schedule``. The returned
``schedule(count)`` maps the optax step count ``count`` (0 for the first update; a Python int or
an integer array, possibly traced) to a step size of the same shape as ``count``. Schedules hold
no state, so they can be passed directly as the ``learning_rate`` of any optax optimizer, called
under ``jax.jit``, or evaluated on ``jnp.arange(T)`` to get all ``T`` step sizes at once.

Traced parameters. Every numeric parameter (``eta``, ``rate``, ``alpha``, ``final``, the values
of a piecewise schedule, ...) may be a traced JAX array, so one compiled program can cover a whole
sweep::

    rates = jnp.array([0.01, 0.1, 1.0])
    etas = jax.vmap(lambda r: exponential(0.1, r)(jnp.arange(100)))(rates)  # shape (3, 100)

Static parameters. Integers that fix the *form* of a schedule (piecewise boundaries, the cosine
horizon, warmup lengths) must be plain Python ints; they are checked when the schedule is built
and a ``ValueError`` explains what to pass instead. The horizon of ``optimal_convex`` only enters
the formula as a number, so it may be traced as well.

Time convention. The families written in terms of a time ``t`` (``exponential``, ``polynomial``,
``inverse_sqrt``) use ``t = count + offset`` with ``offset=0`` by default: the first update runs
at ``t = 0`` and gets the full ``eta``. The training loop in d2l.ai section 12.4 keeps a global
``t = 1`` and increments it *before* each use, so its first update runs at ``t = 2``. Pass
``offset=2`` to reproduce that loop exactly, e.g. ``exponential(1.0, 0.1, offset=2)`` gives the
sequence ``math.exp(-0.1 * t)`` for ``t = 2, 3, ...``; ``d2l_exponential`` and
``d2l_polynomial`` are d2l's two schedules with that offset built in.

Each family's first update:

================================  ============================  =========================
family                            first update (``count = 0``)  d2l 12.4's first update
================================  ============================  =========================
``constant(eta)``                 ``eta``                       ``eta``
``exponential(eta, 0.1)``         ``eta`` (t = 0)               ``eta exp(-0.2)`` (t = 2)
``polynomial(eta)``               ``eta`` (t = 0)               ``eta 1.2^-1/2`` (t = 2)
``d2l_exponential(eta)``          ``eta exp(-0.2)`` (t = 2)     the same
``d2l_polynomial(eta)``           ``eta 1.2^-1/2`` (t = 2)      the same
``piecewise_constant``, ``cosine``  ``count`` itself (0 first)    (not in d2l 12.4)
================================  ============================  =========================

The convention matters where the steps sum to a finite value: on d2l's noisy quadratic
``x1^2 + 2 x2^2`` from ``(-5, -2)`` with ``eta = 0.1``, 1000 steps of
``exponential(0.1, 0.1)`` end at a mean ``x1 = -0.541`` (exact Gaussian moments,
`jd.bounds.quadratic_sgd_moments`), while d2l's convention, ``d2l_exponential(0.1)``, ends
at ``-0.826``, the value d2l's printed runs (-0.88, -0.82, -0.80) scatter around. For the
polynomial schedule both conventions reach 0 in the mean (std 0.0505 vs 0.0504).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent.checks import as_float as _as_float
from jaxdescent.checks import check_number as _number
from jaxdescent.checks import concrete as _concrete
from jaxdescent.checks import static_int as _static_int

__all__ = [
    "Schedule",
    "constant",
    "cosine",
    "d2l_exponential",
    "d2l_polynomial",
    "exponential",
    "inverse_sqrt",
    "optimal_convex",
    "piecewise_constant",
    "polynomial",
    "warmup",
]

Schedule = Callable[[Any], jax.Array]
"""A pure map from the optax step count (int or integer array) to a step size."""


# --------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------- families


def constant(eta: Any) -> Schedule:
    """Constant step size.

    Formula: ``eta(count) = eta``.

    Equivalent to ``optax.constant_schedule(eta)``, except that the value is broadcast to the
    shape of ``count``.

    Args:
      eta: the step size; a float or a (possibly traced) scalar array.

    Returns:
      A schedule ``count -> eta`` with the shape of ``count``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import schedules
      >>> schedules.constant(0.5)(jnp.arange(3)).tolist()
      [0.5, 0.5, 0.5]
    """
    _number("eta", eta, what="constant")

    def schedule(count: Any) -> jax.Array:
        value = _as_float(eta)
        return jnp.broadcast_to(value, jnp.broadcast_shapes(value.shape, jnp.shape(count)))

    return schedule


def piecewise_constant(boundaries: Sequence[int], values: Any) -> Schedule:
    """Piecewise-constant step size that switches value at fixed step counts.

    Formula: ``eta(count) = values[i]`` for ``boundaries[i-1] <= count < boundaries[i]``, with
    ``boundaries[-1] = -inf`` and ``boundaries[len(boundaries)] = +inf``. This is the d2l.ai
    (section 12.4) "piecewise constant" schedule ``eta_i`` for ``t_i <= t < t_{i+1}``.

    Equivalent to ``optax.piecewise_constant_schedule(values[0], {boundaries[i]: values[i+1] /
    values[i]})`` when no value is zero (optax stores ratios; this stores the values themselves,
    so zeros and traced values are fine here).

    Args:
      boundaries: strictly increasing static Python ints; may be empty (a constant schedule).
      values: ``len(boundaries) + 1`` step sizes, as a sequence of scalars or a 1-D array; they
        may be traced (e.g. ``jax.vmap`` over a stack of value vectors).

    Returns:
      A schedule mapping ``count`` to the value of the interval that contains it.

    Raises:
      ValueError: if a boundary is not a Python int, the boundaries are not strictly
        increasing, or ``values`` does not have ``len(boundaries) + 1`` entries.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import schedules
      >>> sched = schedules.piecewise_constant([2, 4], [1.0, 0.5, 0.25])
      >>> sched(jnp.arange(6)).tolist()
      [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    if isinstance(boundaries, (str, bytes)) or not isinstance(boundaries, Sequence):
        raise ValueError(
            "`boundaries` must be a sequence (list or tuple) of static Python ints, got "
            f"{type(boundaries).__name__}. Convert an array with `[int(b) for b in boundaries]`."
        )
    edges = [_static_int(f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
    for i in range(1, len(edges)):
        if edges[i] <= edges[i - 1]:
            raise ValueError(
                f"`boundaries` must be strictly increasing, but boundaries[{i - 1}] = "
                f"{edges[i - 1]} >= boundaries[{i}] = {edges[i]}. Sort them and drop duplicates."
            )
    if isinstance(values, (list, tuple)):
        for i, v in enumerate(values):
            _number(f"values[{i}]", v, what="piecewise_constant")
    else:
        _number("values", values, what="piecewise_constant")
    if isinstance(values, (list, tuple)):
        vals = jnp.stack([_as_float(v) for v in values]) if values else jnp.zeros((0,))
    else:
        vals = _as_float(values)
    if vals.ndim != 1 or vals.shape[0] != len(edges) + 1:
        raise ValueError(
            f"`values` must hold len(boundaries) + 1 = {len(edges) + 1} scalar step sizes (one "
            f"per interval), got shape {tuple(vals.shape)}."
        )
    edge_array = np.asarray(edges, dtype=np.int64).reshape(-1)

    def schedule(count: Any) -> jax.Array:
        count = jnp.asarray(count)
        # Number of boundaries already passed = index of the current interval.
        index = jnp.sum(count[..., None] >= edge_array, axis=-1)
        return vals[index]

    return schedule


def exponential(eta: Any, rate: Any, *, offset: Any = 0) -> Schedule:
    """Exponentially decaying step size (d2l.ai eq. 12.4.5, exponential form).

    Formula: ``eta(count) = eta * exp(-rate * t)`` with ``t = count + offset``.

    Equivalent to ``optax.exponential_decay(eta * exp(-rate * offset), transition_steps=1,
    decay_rate=exp(-rate))`` for ``count >= 0``; with the default ``offset=0`` that is
    ``optax.exponential_decay(eta, 1, exp(-rate))``.

    Time convention: ``t = 0`` at the first update (``offset=0``). d2l 12.4's numbers come
    from ``offset=2`` (`d2l_exponential`); with the default offset every step is
    ``exp(0.2) = 1.22`` times larger than d2l's.

    Args:
      eta: step size at ``t = 0``; may be traced.
      rate: decay rate per step (``lambda`` in d2l); may be traced.
      offset: added to ``count`` to form ``t``; may be traced. ``offset=2`` reproduces d2l's
        loop, whose first update uses ``t = 2``.

    Returns:
      A schedule ``count -> eta * exp(-rate * (count + offset))``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import schedules
      >>> sched = schedules.exponential(1.0, rate=0.1)
      >>> [round(v, 4) for v in sched(jnp.arange(3)).tolist()]
      [1.0, 0.9048, 0.8187]
    """
    for name, value in (("eta", eta), ("rate", rate), ("offset", offset)):
        _number(name, value, what="exponential")

    def schedule(count: Any) -> jax.Array:
        t = jnp.asarray(count) + offset
        return _as_float(eta * jnp.exp(-rate * t))

    return schedule


def polynomial(eta: Any, alpha: Any = 0.5, beta: Any = 0.1, *, offset: Any = 0) -> Schedule:
    """Polynomially decaying step size (d2l.ai eq. 12.4.5, polynomial form).

    Formula: ``eta(count) = eta * (beta * t + 1) ** (-alpha)`` with ``t = count + offset``.
    With ``alpha = 0.5`` the step size decays like ``1 / sqrt(t)``, the rate that makes SGD on
    convex problems converge. Valid while ``beta * t + 1 > 0`` (always true for ``beta >= 0``).

    optax has no schedule of this infinite-horizon form (``optax.polynomial_schedule`` decays
    to an end value over a finite horizon). The families meet only in degenerate cases:
    ``alpha = 0`` is ``optax.constant_schedule(eta)``, and ``alpha = -1`` (a linear ramp up) is
    ``optax.linear_schedule(eta, eta * (1 + beta * T), T)`` for ``count <= T`` (offset 0).

    Time convention: ``t = 0`` at the first update (``offset=0``). d2l 12.4's numbers come
    from ``offset=2`` (`d2l_polynomial`).

    Args:
      eta: step size at ``t = 0``; may be traced.
      alpha: decay exponent; may be traced.
      beta: time scale factor; may be traced.
      offset: added to ``count`` to form ``t``; may be traced. ``offset=2`` reproduces d2l's
        loop, whose first update uses ``t = 2``.

    Returns:
      A schedule ``count -> eta * (beta * (count + offset) + 1) ** (-alpha)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import schedules
      >>> sched = schedules.polynomial(1.0, alpha=0.5, beta=1.0)
      >>> [round(v, 4) for v in sched(jnp.array([0, 3, 8])).tolist()]
      [1.0, 0.5, 0.3333]
    """
    for name, value in (("eta", eta), ("alpha", alpha), ("beta", beta), ("offset", offset)):
        _number(name, value, what="polynomial")

    def schedule(count: Any) -> jax.Array:
        t = jnp.asarray(count) + offset
        return _as_float(eta * jnp.power(beta * t + 1, -alpha))

    return schedule


def inverse_sqrt(eta: Any, timescale: Any = 1.0, *, offset: Any = 0) -> Schedule:
    """Inverse-square-root step size, starting at ``eta`` (no singularity at ``t = 0``).

    Formula: ``eta(count) = eta / sqrt(1 + t / timescale)`` with ``t = count + offset``. The
    step size is ``eta`` at ``t = 0`` and falls by a factor ``sqrt(2)`` after ``timescale``
    steps; for ``t >> timescale`` it behaves like ``eta * sqrt(timescale / t)``.

    This is ``polynomial(eta, alpha=0.5, beta=1 / timescale, offset=offset)``; optax has no
    built-in equivalent. For a warmed-up version (ramp, then decay) wrap it in ``warmup``.

    Args:
      eta: step size at ``t = 0``; may be traced.
      timescale: number of steps over which the decay sets in; positive, may be traced.
      offset: added to ``count`` to form ``t``; may be traced.

    Returns:
      A schedule ``count -> eta / sqrt(1 + (count + offset) / timescale)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import schedules
      >>> sched = schedules.inverse_sqrt(1.0, timescale=1.0)
      >>> [round(v, 4) for v in sched(jnp.array([0, 3, 99])).tolist()]
      [1.0, 0.5, 0.1]
    """
    _number("eta", eta, what="inverse_sqrt")
    _number("timescale", timescale, what="inverse_sqrt", positive=True)
    _number("offset", offset, what="inverse_sqrt")

    def schedule(count: Any) -> jax.Array:
        t = jnp.asarray(count) + offset
        return _as_float(eta * jax.lax.rsqrt(_as_float(1 + t / timescale)))

    return schedule


def cosine(eta: Any, steps: int, final: Any = 0.0, warmup: int = 0) -> Schedule:
    """Cosine annealing from ``eta`` to ``final``, with an optional linear warmup from 0.

    Formula, with ``w = warmup`` and ``n = steps - warmup``::

        eta(count) = eta * count / w                                        if count < w
                   = final + (eta - final) * (1 + cos(pi * (count - w) / n)) / 2
                                                                            if w <= count < steps
                   = final                                                  if count >= steps

    so ``steps`` is the total length including the warmup, the peak ``eta`` is reached at
    ``count = w``, and ``final`` is held after ``steps``.

    Equivalent to ``optax.cosine_decay_schedule(eta, steps, alpha=final / eta)`` when
    ``warmup = 0`` (and ``eta != 0``), and to ``optax.warmup_cosine_decay_schedule(0.0, eta,
    warmup, steps, final)`` in general. Also ``cosine(eta, steps, final, warmup=w) ==
    warmup(cosine(eta, steps - w, final), w)`` (this module's ``warmup``).

    Args:
      eta: peak step size; may be traced.
      steps: total number of steps, warmup included; a static Python int ``>= 1``.
      final: step size at and after ``count = steps``; may be traced.
      warmup: length of the linear warmup from 0; a static Python int with
        ``0 <= warmup < steps``.

    Returns:
      The cosine schedule described above.

    Raises:
      ValueError: if ``steps`` or ``warmup`` is not a Python int or out of range.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import schedules
      >>> sched = schedules.cosine(1.0, steps=6, final=0.0, warmup=2)
      >>> [round(v, 4) for v in sched(jnp.arange(8)).tolist()]
      [0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """
    _number("eta", eta, what="cosine")
    _number("final", final, what="cosine")
    steps = _static_int("steps", steps, minimum=1)
    warm = _static_int("warmup", warmup, minimum=0)
    if warm >= steps:
        raise ValueError(
            f"`warmup` ({warm}) must be smaller than `steps` ({steps}), the total length "
            "including the warmup. To warm up into a constant step size use "
            "`warmup(constant(eta), steps)` instead."
        )
    decay_len = steps - warm

    def schedule(count: Any) -> jax.Array:
        count = jnp.asarray(count)
        ramp = eta * count / max(warm, 1)
        frac = jnp.clip((count - warm) / decay_len, 0.0, 1.0)
        decay = final + (eta - final) * (0.5 * (1.0 + jnp.cos(jnp.pi * frac)))
        return _as_float(jnp.where(count < warm, ramp, decay))

    return schedule


def warmup(schedule: Schedule, steps: int, start: Any = 0.0) -> Schedule:
    """Prepends a linear warmup to a schedule, whose own clock starts after the warmup.

    Formula::

        warmed(count) = start + (schedule(0) - start) * count / steps    if count < steps
                      = schedule(count - steps)                          if count >= steps

    so the ramp goes linearly from ``start`` (an absolute step size, not a fraction) at
    ``count = 0`` to ``schedule(0)`` at ``count = steps``, and the wrapped schedule then runs
    as if the warmup had not happened, shifted by ``steps``. ``steps = 0`` returns an
    equivalent of ``schedule``. For a ramp that starts at a fraction of a traced peak, pass
    e.g. ``start=0.1 * eta``.

    Equivalent to ``optax.join_schedules([optax.linear_schedule(start, schedule(0), steps),
    schedule], [steps])``.

    Args:
      schedule: the schedule to warm up into (any ``count -> value`` function that accepts
        a non-negative count).
      steps: warmup length; a static Python int ``>= 0``.
      start: step size at ``count = 0``; may be traced.

    Returns:
      The warmed-up schedule.

    Raises:
      ValueError: if ``steps`` is not a Python int or is negative.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdescent import schedules
      >>> sched = schedules.warmup(schedules.exponential(1.0, 0.5), steps=4)
      >>> [round(v, 4) for v in sched(jnp.arange(6)).tolist()]
      [0.0, 0.25, 0.5, 0.75, 1.0, 0.6065]
    """
    if not callable(schedule):
        raise ValueError(
            f"`schedule` must be a callable count -> value, got {type(schedule).__name__}. "
            "Wrap a number with `constant(eta)` first."
        )
    warm = _static_int("steps", steps, minimum=0)
    _number("start", start, what="warmup")

    def warmed(count: Any) -> jax.Array:
        count = jnp.asarray(count)
        peak = schedule(jnp.zeros_like(count))
        ramp = start + (peak - start) * (count / max(warm, 1))
        # Clamping keeps the unused branch finite (a negative count can give inf/NaN and would
        # poison gradients taken through jnp.where).
        after = schedule(jnp.maximum(count - warm, 0))
        return _as_float(jnp.where(count < warm, ramp, after))

    return warmed


def optimal_convex(r: Any, G: Any, steps: Any) -> Schedule:
    """Constant step size that minimises the convex SGD bound after ``steps`` steps.

    Formula: ``eta(count) = r / (G * sqrt(T))`` with ``T = steps``. For a convex objective
    with stochastic-gradient norms at most ``G`` and ``||x_1 - x*|| <= r``, this constant
    minimises the bound ``(r**2 + G**2 * T * eta**2) / (2 * T * eta)`` on the averaged iterate
    (d2l.ai eq. 12.4.17), giving ``r * G / sqrt(T)``; see ``bounds.sgd_convex_optimal``.

    Equivalent to ``optax.constant_schedule(r / (G * sqrt(steps)))``.

    Args:
      r: bound on the initial distance to a minimiser; may be traced.
      G: bound on the stochastic gradient norm; may be traced.
      steps: horizon ``T``; positive. It only enters as a number, so it may be traced; a
        concrete value is checked eagerly.

    Returns:
      A constant schedule.

    Raises:
      ValueError: if ``steps`` is concrete and not positive.

    Example:
      >>> from jaxdescent import schedules
      >>> round(float(schedules.optimal_convex(r=2.0, G=1.0, steps=100)(0)), 4)
      0.2
    """
    _number("r", r, what="optimal_convex", minimum=0)
    _number("G", G, what="optimal_convex", positive=True)
    _number("steps", steps, what="optimal_convex")
    concrete = _concrete(steps)
    if concrete is not None and np.any(concrete <= 0):
        raise ValueError(f"`steps` (the horizon T) must be positive, got {steps!r}.")
    return constant(r / (G * jnp.sqrt(_as_float(steps))))


def d2l_exponential(eta: Any) -> Schedule:
    """d2l 12.4's ``exponential_lr``: eta * exp(-0.1 t) at t = 2, 3, ... (its global
    counter is incremented before each use), i.e. ``exponential(eta, 0.1, offset=2)``.

    On d2l's noisy quadratic with ``eta = 0.1`` it ends 1000 steps at a mean ``x1 = -0.826``
    (d2l prints -0.88, -0.82, -0.80); ``exponential(0.1, 0.1)`` (``t = 0`` first) would end
    at ``-0.541``.

    Args:
      eta: the base step size (d2l's 0.1); may be traced.

    Returns:
      A schedule ``count -> eta * exp(-0.1 * (count + 2))``.

    Example:
      >>> from jaxdescent import schedules
      >>> round(float(schedules.d2l_exponential(1.0)(0)), 6)   # exp(-0.2)
      0.818731
    """
    return exponential(eta, 0.1, offset=2)


def d2l_polynomial(eta: Any) -> Schedule:
    """d2l 12.4's ``polynomial_lr``: eta * (1 + 0.1 t)^(-1/2) at t = 2, 3, ..., i.e.
    ``polynomial(eta, alpha=0.5, beta=0.1, offset=2)``.

    Args:
      eta: the base step size (d2l's 0.1); may be traced.

    Returns:
      A schedule ``count -> eta * (1 + 0.1 * (count + 2)) ** -0.5``.

    Example:
      >>> from jaxdescent import schedules
      >>> round(float(schedules.d2l_polynomial(1.0)(0)), 6)   # 1.2 ** -0.5
      0.912871
    """
    return polynomial(eta, alpha=0.5, beta=0.1, offset=2)
