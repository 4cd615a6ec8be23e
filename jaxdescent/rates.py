"""Empirical linear rates: the geometric rate at which a logged curve decays.

Theory gives rates (`jd.bounds.heavy_ball_rate`, `jd.bounds.gd_strongly_convex`'s
``rho``); a sweep gives curves (``result.loss``, ``result.metrics["distance"]``).
`geometric_rate` turns the curves into rates to hold against the theory.
"""

from __future__ import annotations

import numpy as np

__all__ = ["geometric_rate"]


def _index(steps: np.ndarray, t: int, what: str) -> int:
    hits = np.nonzero(steps == t)[0]
    if hits.size == 0:
        raise ValueError(
            f"geometric_rate: `{what}`={t} is not a logged step; logged steps run from "
            f"{steps[0]} to {steps[-1]} (choose one of them, or log more often)."
        )
    return int(hits[0])


def geometric_rate(values, steps, *, start: int, stop: int, block: int = 1, power: float = 1.0):
    """The per-step geometric rate of a decaying (or growing) curve over a window.

    For a curve ``v_t ~ C rho**(power t)``::

        rho_hat = (R(stop) / R(start)) ** (1 / (power (stop - start)))

    where ``R(t)`` is the root mean square of ``|v|`` over the ``block`` logged values
    ending at step ``t`` (``block=1``: ``|v_t|`` itself, exact for a pure geometric
    curve). A block spanning a period makes the estimate robust to oscillation, e.g.
    momentum's complex rates, where ``v_t = C rho**t cos(theta t + phi)``: a pure
    geometric factor of the block cancels exactly in the ratio.

    ``power`` is 1 for distances (``||x_t - x*|| ~ rho**t``) and 2 for a quadratic's
    loss (``f(x_t) - f* ~ rho**(2 t)``). A curve that reached 0 or overflowed (a
    diverged run) gives ``nan`` or ``inf``.

    Args:
      values: logged values, shape ``(..., n_log)`` (e.g. ``result.metrics["distance"]``
        of a sweep, or ``trace.loss``).
      steps: the logged steps, shape ``(n_log,)`` (``result.step``).
      start, stop: logged steps bounding the window, ``start < stop``.
      block: how many logged values each end's root mean square spans (>= 1; the
        block ending at ``start`` must lie within the log).
      power: the exponent of ``rho`` per step in ``values``.

    Returns:
      A NumPy array of shape ``values.shape[:-1]`` (float64).

    Raises:
      ValueError: if ``start``/``stop`` are not logged steps in order, ``block`` does not
        fit before ``start``, or ``power`` is not positive.

    Example:
      >>> import numpy as np, jaxdescent as jd
      >>> t = np.arange(0, 101, 10)
      >>> float(jd.rates.geometric_rate(3 * 0.9 ** t, t, start=20, stop=100))
      0.9
    """
    steps = np.asarray(steps)
    v = np.abs(np.asarray(values, dtype=np.float64))
    if v.shape[-1:] != steps.shape:
        raise ValueError(
            f"geometric_rate: `values` must end with the step axis of length {steps.shape[0]} "
            f"(the logged steps), got shape {v.shape}."
        )
    if not stop > start:
        raise ValueError(f"geometric_rate: need start < stop, got start={start}, stop={stop}.")
    if isinstance(block, bool) or not isinstance(block, int | np.integer) or block < 1:
        raise ValueError(f"geometric_rate: `block` must be an int >= 1, got {block!r}.")
    if not power > 0:
        raise ValueError(f"geometric_rate: `power` must be > 0, got {power!r}.")
    i, j = _index(steps, start, "start"), _index(steps, stop, "stop")
    if i + 1 < block:
        raise ValueError(
            f"geometric_rate: a block of {block} logged values ending at start={start} needs "
            f"{block - 1} logged values before it; there are {i}. Use a later start or a "
            "smaller block."
        )

    def rms(k):
        return np.sqrt(np.mean(v[..., k - block + 1 : k + 1] ** 2, axis=-1))

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = rms(j) / rms(i)
        return ratio ** (1.0 / (power * float(steps[j] - steps[i])))
