"""The records a run produces: `Logs` (what is logged at each logged step) and `Trace`
(the logs, the final state and the divergence record of one run).

A sweep's program returns the very same `Trace`, with leading axes for its runs, and
`SweepResult` holds one `Trace` of arrays shaped (*grid, seed, ...): one record flows
from the loop to the result, gathered with ``jax.tree.map``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Logs", "Trace", "LOGGED", "FINAL"]


class Logs(NamedTuple):
    """What is logged at one logged iterate x_t (the scan's per-block output)."""

    loss: Any  # problem.objective(x_t)
    grad_norm: Any  # ||grad objective(x_t)||
    params: Any  # x_t, or None (keep_params=False)
    metrics: dict  # name -> value of each metric at x_t


class Trace(NamedTuple):
    """What one run logged, at steps 0, log_every, 2 log_every, ..., steps.

    Attributes:
      step: (n_log,) the step count t of each logged iterate x_t.
      loss: (n_log,) ``problem.objective(x_t)``.
      grad_norm: (n_log,) the Euclidean norm of the objective's gradient at x_t.
      params: x_t stacked on a leading (n_log,) axis, or None (``keep_params=False``).
      metrics: dict name -> (n_log,) values of each ``metrics`` function at x_t.
      final_params: x_steps.
      final_loss: ``problem.objective(x_steps)``.
      diverged: whether a loss or a parameter was non-finite at ANY step, logged or
        not: the batch loss a step reads, the iterate it makes, or a logged loss. (A
        non-finite gradient shows in the iterate it makes, unless the optimizer skips
        it on purpose, as ``optax.apply_if_finite`` does.) An oracle that evaluates
        the objective itself at every step (full batch on a deterministic problem)
        checks each iterate through its loss: a non-finite x_t that is not logged is
        then recorded at t + 1, the step that reads its loss. With ``log_every=1`` the
        logged loss is the check of every iterate (and of the batch it reads).
      diverged_at: the first such step t (-1 if none).
    """

    step: Any
    loss: Any
    grad_norm: Any
    params: Any
    metrics: dict
    final_params: Any
    final_loss: Any
    diverged: Any
    diverged_at: Any

    @classmethod
    def of(cls, step, logs: Logs, **finals) -> Trace:
        """A trace from its logged steps, its `Logs` and its final fields."""
        return cls(step=step, **logs._asdict(), **finals)


# Trace fields with a step axis (the logs) and without (one value per run); `step` is
# neither: it is the same for every run.
LOGGED = Logs._fields
FINAL = tuple(f for f in Trace._fields if f not in LOGGED and f != "step")
