"""Reading a sweep's arrays: first flagged value along an axis, steps to a target, the
best value by a stated divergence rule.

These are numpy functions over plain arrays (``SweepResult`` fields, or anything shaped
like them); they run after a sweep, never inside a compiled program. "Not found" is the
index -1, so results stay integer arrays that index cleanly with a mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["first_flagged", "last_clear", "first_below", "best_index", "grid_value"]


def first_flagged(flags: Any, axis: int = -1) -> np.ndarray:
    """The index of the first True along ``axis`` (-1 where none is).

    E.g. with ``flags = result.unstable().any(-1)`` over a learning-rate axis, the first
    rate at which some seed diverged.

    Args:
      flags: boolean array.
      axis: the axis to search.

    Returns:
      Integer array with ``axis`` removed (a Python-int-like 0-d array for 1-D input).

    Example:
      >>> import numpy as np
      >>> from jaxdescent import analysis
      >>> analysis.first_flagged(np.array([[0, 0, 1, 1], [0, 0, 0, 0]], bool)).tolist()
      [2, -1]
    """
    f = np.asarray(flags, dtype=bool)
    found = f.any(axis=axis)
    return np.where(found, np.argmax(f, axis=axis), -1)


def last_clear(flags: Any, axis: int = -1) -> np.ndarray:
    """The index of the last False before the first True along ``axis``: the largest
    value such that it and every smaller one is unflagged (the "largest safe learning
    rate"). -1 where the first entry is already flagged; the last index where none is.

    Example:
      >>> import numpy as np
      >>> from jaxdescent import analysis
      >>> analysis.last_clear(np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], bool)).tolist()
      [1, -1, 3]
    """
    f = np.asarray(flags, dtype=bool)
    first = first_flagged(f, axis)
    return np.where(first >= 0, first - 1, f.shape[axis] - 1)


def first_below(values: Any, target: Any, axis: int = -1) -> np.ndarray:
    """The first index along ``axis`` at which ``values <= target`` (-1 where never).

    Non-finite values never count as reached. With a sweep's logged loss, multiply the
    index by the logging interval (or read ``result.step[index]``) to get a step count.

    Args:
      values: array, e.g. ``result.loss`` (..., n_log).
      target: scalar or array broadcastable to ``values`` with ``axis`` removed.
      axis: the axis of time.

    Returns:
      Integer array with ``axis`` removed.

    Example:
      >>> import numpy as np
      >>> from jaxdescent import analysis
      >>> loss = np.array([[4.0, 2.0, 1.0, 0.5], [4.0, np.nan, 0.1, 0.1]])
      >>> analysis.first_below(loss, 1.0).tolist(), int(analysis.first_below(loss[0], 0.1))
      ([2, 2], -1)
    """
    v = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    t = np.expand_dims(np.asarray(target, dtype=float), -1)
    with np.errstate(invalid="ignore"):
        reached = np.isfinite(v) & (v <= t)
    return first_flagged(reached, axis=-1)


def best_index(scores: Any, flagged: Any = None, axis: int = -1) -> np.ndarray:
    """The index of the smallest score along ``axis`` among entries not flagged (-1
    where all are flagged or non-finite).

    The divergence rule is the caller's, stated by ``flagged``: e.g.
    ``result.unstable().any(-1)`` (some seed blew up or ended above its start) with
    ``scores = np.median(result.final_loss, -1)``. `SweepResult.best` instead ignores
    diverged seeds and keeps the configuration.

    Example:
      >>> import numpy as np
      >>> from jaxdescent import analysis
      >>> int(analysis.best_index([3.0, 1.0, 0.5], [False, False, True]))
      1
    """
    s = np.asarray(scores, dtype=float)
    bad = ~np.isfinite(s)
    if flagged is not None:
        bad = bad | np.broadcast_to(np.asarray(flagged, dtype=bool), s.shape)
    masked = np.where(bad, np.inf, s)
    return np.where((~bad).any(axis=axis), np.argmin(masked, axis=axis), -1)


def grid_value(value: Any, digits: int = 6) -> float:
    """A grid value as the number it was written as: a float32 axis value (how a
    compiled program may hold it) rounded to ``digits`` significant figures.

    Example:
      >>> import numpy as np
      >>> from jaxdescent import analysis
      >>> float(np.float32(0.3)), analysis.grid_value(np.float32(0.3))
      (0.30000001192092896, 0.3)
    """
    return float(f"{float(value):.{digits}g}")
