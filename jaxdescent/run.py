"""One run of a gradient method: the scan loop, and `jd.run`.

``trajectory`` is the whole computation of one run as a pure function of the
problem, the optimizer, the oracle and a key; ``jd.run`` compiles it, and
``jd.sweep`` vmaps the very same function over grid points and seeds, which is why
every cell of a sweep equals the single run it stands for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdescent import metrics as _metrics
from jaxdescent import oracles as _oracles
from jaxdescent.problem import Problem

__all__ = ["Spec", "Trace", "run", "run_keys", "trajectory"]


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
        it on purpose, as ``optax.apply_if_finite`` does.)
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


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class _FunctionOracle(_oracles.Oracle):
    fn: Callable = dataclasses.field(metadata=dict(static=True))

    def __call__(self, problem, params, step, key):
        return self.fn(problem, params, step, key)


class _Carry(NamedTuple):
    """What the scan carries from step to step, per run. (The step count is carried
    apart from it, unbatched: in a sweep, whatever depends on the key and the step alone
    -- the samples and the noise -- is then computed once per seed.)"""

    params: Any
    opt_state: Any
    diverged_at: Any
    avg_sum: Any  # sum_t w_t x_{t-1} (None without averaging)
    avg_weight: Any  # sum_t w_t


def _all_finite(tree) -> jax.Array:
    ok = jnp.array(True)
    for leaf in jax.tree.leaves(tree):
        ok = ok & jnp.all(jnp.isfinite(leaf))
    return ok


def run_keys(key):
    """The two keys a run derives from its key: ``(init_key, oracle_key)``.

    ``init_key`` draws a random ``init``; ``oracle_key`` is what the oracle receives at
    every step (so ``oracle.indices(n, step, oracle_key)`` are the examples a run of
    ``key`` reads). Works on a batch of keys under ``jax.vmap``.
    """
    init_key, oracle_key = jax.random.split(key)
    return init_key, oracle_key


class Spec(NamedTuple):
    """The static settings of a run's program (hashable: part of the jit cache key)."""

    steps: int
    log_every: int = 1
    keep_params: bool = True
    metrics: tuple = ()
    average: Any = None
    unroll: int = 1
    progress: bool = False  # host callbacks every ~2% of the steps (for a progress bar)


def start(problem: Problem, optimizer, key, spec: Spec) -> _Carry:
    """The state before the first step: x_0 (``init`` or ``init(init_key)``), the
    optimizer's state, and empty divergence / averaging records."""
    init_key, _ = run_keys(key)
    params = problem.initial_params(init_key)
    averaging = spec.average is not None
    return _Carry(
        params,
        optimizer.init(params),
        jnp.full((), -1, jnp.int32),
        jax.tree.map(jnp.zeros_like, params) if averaging else None,
        jnp.zeros((), jnp.result_type(float)) if averaging else None,
    )


def advance(problem: Problem, optimizer, oracle, oracle_key, carry: _Carry, t, spec: Spec):
    """Step ``t + 1``: the oracle's gradient at x_t, the optax update, x_{t+1}.

    ``oracle_key`` is the run's oracle key (`run_keys`), the same at every step.
    Returns the new state and the objective's exact ``(value, gradient)`` at x_t when
    the oracle computed them on the way (`Oracle.sees_objective`), else ``None``.
    """
    x, state = carry.params, carry.opt_state
    batch_loss, grads, exact = oracle.evaluate(problem, x, t, oracle_key)
    if isinstance(optimizer, optax.GradientTransformationExtraArgs):
        # Line-search methods (optax.lbfgs) also want the value and the batch loss.
        extra = dict(value=batch_loss, grad=grads, value_fn=oracle.value_fn(problem, t, oracle_key))
        updates, state = optimizer.update(grads, state, x, **extra)
    else:
        updates, state = optimizer.update(grads, state, x)
    new_x = optax.apply_updates(x, updates)
    avg_sum, avg_weight = carry.avg_sum, carry.avg_weight
    if spec.average is not None:
        w = _metrics.average_weight(spec.average, t, updates, grads)
        avg_sum = jax.tree.map(lambda s, xi: s + w * xi, avg_sum, x)
        avg_weight = avg_weight + w
    bad = ~(jnp.isfinite(batch_loss) & _all_finite(new_x))
    diverged_at = jnp.where((carry.diverged_at < 0) & bad, t + 1, carry.diverged_at)
    return _Carry(new_x, state, diverged_at, avg_sum, avg_weight), exact


def record(problem: Problem, carry: _Carry, spec: Spec, evaluated=None) -> dict:
    """What is logged at the current iterate: loss, gradient norm, metrics (and params).

    ``evaluated``: the objective's ``(value, gradient)`` at this iterate when the
    caller already has them (a full-batch step computes exactly these).
    """
    x = carry.params
    loss, grads = evaluated if evaluated is not None else jax.value_and_grad(problem.objective)(x)
    values = {name: _metrics.resolve(fn, problem)(x) for name, fn in spec.metrics}
    if spec.average is not None:
        w = carry.avg_weight
        x_bar = jax.tree.map(
            lambda s, x0: jnp.where(w > 0, s / jnp.where(w > 0, w, 1), x0), carry.avg_sum, x
        )
        values.update({n: fn(x_bar) for n, fn in _metrics.average_metrics(problem).items()})
    out = {"loss": loss, "grad_norm": optax.tree.norm(grads), "metrics": values}
    if spec.keep_params:
        out["params"] = x
    return out


def loop(start_fn, advance_fn, record_fn, spec: Spec, *, reuse: bool = False):
    """The time loop: a scan over blocks of ``log_every`` steps, logging x_0, x_L, ...,
    x_T. Logs come out time-major, (n_log, ...). The step count t is carried beside the
    run's state, unbatched: ``advance_fn(carry, t) -> (carry, exact)``, ``exact`` the
    objective's (value, gradient) at the old iterate or ``None``.

    With ``reuse`` (an oracle that computes the objective's exact value and gradient
    at x_t on its way: full batch, with or without added noise, on a deterministic
    problem), the log of x_{kL} is taken from the first step of block k instead of being
    computed again: half the work of a step that logs every step. The last iterate is
    logged apart.

    Returns ``(last carry, logs)``.
    """
    carry = start_fn()

    def one(state, _):
        carry, t = state
        carry, evaluated = advance_fn(carry, t)
        return (carry, t + 1), evaluated

    def rest_of_block(state, length):
        if length == 0:
            return state
        if length == 1:
            return one(state, None)[0]
        return jax.lax.scan(
            lambda s, _: (one(s, None)[0], None), state, None, length=length, unroll=spec.unroll
        )[0]

    n_blocks = spec.steps // spec.log_every
    scan_unroll = spec.unroll if spec.log_every == 1 else 1
    state0 = (carry, jnp.zeros((), jnp.int32))
    if reuse:

        def block(state, _):
            new, evaluated = one(state, None)  # its oracle evaluated the objective at x_t
            log = record_fn(state[0], evaluated)
            return rest_of_block(new, spec.log_every - 1), log

        (last, _), logs = _scan_blocks(block, state0, n_blocks, scan_unroll, spec)
        final = record_fn(last, None)
        logs = jax.tree.map(lambda a, b: jnp.concatenate([a, b[None]]), logs, final)
        return last, logs

    first = record_fn(carry, None)

    def block(state, _):
        state = rest_of_block(state, spec.log_every)
        return state, record_fn(state[0], None)

    (last, _), rest = _scan_blocks(block, state0, n_blocks, scan_unroll, spec)
    logs = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, rest)
    return last, logs


def _scan_blocks(block, state, n_blocks: int, unroll: int, spec: Spec):
    """``lax.scan(block)`` over the blocks. With ``spec.progress`` the blocks run in ~20
    segments and the host hears after each one how many steps are done (a callback per
    segment, so it costs about nothing); `jaxdescent.chunks` shows them as a bar."""
    if not spec.progress or n_blocks < 2:
        return jax.lax.scan(block, state, None, length=n_blocks, unroll=unroll)
    from jaxdescent.chunks import progress_tick

    per = max(1, n_blocks // 20)
    n_seg, rem = divmod(n_blocks, per)

    def segment(state, _):
        state, ys = jax.lax.scan(block, state, None, length=per, unroll=unroll)
        jax.debug.callback(progress_tick, per * spec.log_every)
        return state, ys

    state, ys = jax.lax.scan(segment, state, None, length=n_seg)
    ys = jax.tree.map(lambda a: a.reshape((n_seg * per,) + a.shape[2:]), ys)
    if rem:
        state, tail = jax.lax.scan(block, state, None, length=rem, unroll=unroll)
        jax.debug.callback(progress_tick, rem * spec.log_every)
        ys = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), ys, tail)
    return state, ys


def first_divergence(loss, diverged_at, steps: int, log_every: int):
    """Combines the per-step record with non-finite logged losses (time on axis 0)."""
    step = jnp.arange(0, steps + 1, log_every, dtype=jnp.int32)
    bad_log = ~jnp.isfinite(loss)
    step = step.reshape((-1,) + (1,) * (loss.ndim - 1))
    first_bad_log = jnp.where(
        jnp.any(bad_log, axis=0), jnp.min(jnp.where(bad_log, step, steps + 1), axis=0), -1
    )
    return jnp.where(
        diverged_at < 0,
        first_bad_log,
        jnp.where(first_bad_log < 0, diverged_at, jnp.minimum(diverged_at, first_bad_log)),
    )


def trajectory(problem: Problem, optimizer, oracle, key, spec: Spec) -> Trace:
    """One run as a pure, traceable function (no validation; see `jd.run`).

    The run key gives an init key (for a random ``init``) and the oracle's key
    (`run_keys`). The program's size depends on neither ``steps`` nor ``log_every``.
    """
    _, oracle_key = run_keys(key)
    last, logs = loop(
        lambda: start(problem, optimizer, key, spec),
        lambda c, t: advance(problem, optimizer, oracle, oracle_key, c, t, spec),
        lambda c, evaluated: record(problem, c, spec, evaluated),
        spec,
        reuse=oracle.sees_objective(problem),
    )
    diverged_at = first_divergence(logs["loss"], last.diverged_at, spec.steps, spec.log_every)
    return Trace(
        step=jnp.arange(0, spec.steps + 1, spec.log_every, dtype=jnp.int32),
        loss=logs["loss"],
        grad_norm=logs["grad_norm"],
        params=logs.get("params"),
        metrics=logs["metrics"],
        final_params=last.params,
        final_loss=logs["loss"][-1],
        diverged=diverged_at >= 0,
        diverged_at=diverged_at,
    )


# --- argument checks shared by run and sweep ----------------------------------------


def check_steps(steps, log_every) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"`steps` must be a positive int, got {steps!r}.")
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every <= 0:
        raise ValueError(f"`log_every` must be a positive int, got {log_every!r}.")
    if steps % log_every:
        lo = steps - steps % log_every
        raise ValueError(
            f"`log_every`={log_every} must divide `steps`={steps} (the trace logs t = 0, "
            f"log_every, ..., steps); use steps={lo or log_every} or {lo + log_every}, or a "
            "log_every that divides steps."
        )


def as_oracle(oracle) -> _oracles.Oracle:
    if oracle is None:
        return _oracles.full_batch()
    if isinstance(oracle, _oracles.Oracle):
        return oracle
    if callable(oracle):
        return _FunctionOracle(oracle)
    raise TypeError(
        f"`oracle` must be an oracle from jd.oracles or a function "
        f"(problem, params, step, key) -> (loss, grads), got {oracle!r}."
    )


def check_problem(problem) -> None:
    if not isinstance(problem, Problem):
        raise TypeError(
            f"`problem` must be a jd.Problem (e.g. jd.problems.quadratic()), got {problem!r}."
        )


def check_optimizer(optimizer, where: str = "`optimizer`") -> None:
    if not (
        hasattr(optimizer, "init")
        and hasattr(optimizer, "update")
        and callable(optimizer.init)
        and callable(optimizer.update)
    ):
        raise TypeError(
            f"{where} must be an optax GradientTransformation (e.g. optax.sgd(0.1)), "
            f"got {optimizer!r}."
        )


def check_metrics(metrics) -> tuple:
    if metrics is None:
        return ()
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"`metrics` must be a dict name -> fn(params) -> scalar, got {type(metrics).__name__}."
        )
    reserved = {"loss", "grad_norm", "avg_loss", "avg_suboptimality", "avg_distance"}
    for name, fn in metrics.items():
        builtin = isinstance(fn, str) and fn in _metrics.BUILTIN
        if not isinstance(name, str) or not (callable(fn) or builtin):
            raise TypeError(
                f"`metrics` entries must be str -> function or one of {_metrics.BUILTIN}, "
                f"got {name!r}: {fn!r}."
            )
        if name in reserved:
            raise ValueError(f"`metrics` name {name!r} is reserved (always logged); rename it.")
    return tuple(metrics.items())


def check_unroll(unroll) -> int:
    if isinstance(unroll, bool) or not isinstance(unroll, int) or unroll < 1:
        raise ValueError(
            f"`unroll` must be a positive int (steps per loop iteration), got {unroll!r}."
        )
    return unroll


def check_average(average):
    if average is None or average in _metrics.AVERAGES or callable(average):
        return average
    raise ValueError(
        f"`average` must be None, one of {_metrics.AVERAGES} or a function count -> weight, "
        f"got {average!r}."
    )


def check_against_problem(problem, metrics: tuple, average) -> None:
    """Built-in metrics and averaging need constants the problem may not know."""
    for _, fn in metrics:
        _metrics.resolve(fn, problem)
    if average is not None:
        _metrics.average_metrics(problem)


def as_key(key):
    if key is None:
        return jax.random.key(0)
    if isinstance(key, int):
        return jax.random.key(key)
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key) and jnp.shape(key) == ():
        return key
    if dtype == jnp.uint32 and jnp.shape(key) == (2,):
        return jax.random.wrap_key_data(key)
    raise TypeError(f"`key` must be jax.random.key(seed), an int seed or None, got {key!r}.")


_run_program = jax.jit(trajectory, static_argnames=("optimizer", "spec"))


def run(
    problem: Problem,
    optimizer,
    *,
    steps: int,
    oracle=None,
    key=None,
    log_every: int = 1,
    keep_params: bool = True,
    metrics: Mapping[str, Callable] | None = None,
    average=None,
    unroll: int = 1,
) -> Trace:
    """Runs one optimizer on one problem for ``steps`` steps and returns its `Trace`.

    Iterates: x_0 = init; step t = 1..steps reads the oracle's gradient at x_{t-1}
    and makes x_t with the optax update. The trace logs t = 0, log_every, ..., steps.

    Args:
      problem: a `jd.Problem`.
      optimizer: any optax ``GradientTransformation`` (schedules are optax schedules
        or plain ``count -> lr`` functions given to optax).
      steps: number of steps (static).
      oracle: a `jd.oracles` oracle or a function ``(problem, params, step, key) ->
        (loss, grads)``; default ``full_batch()``.
      key: ``jax.random.key(seed)`` (default seed 0); same inputs and key give
        bitwise the same trace.
      log_every: log every this many steps; must divide ``steps``.
      keep_params: log the iterates themselves.
      metrics: dict ``name -> fn(params) -> scalar`` (or a built-in name,
        ``"distance"`` or ``"suboptimality"``, see `jd.metrics`) evaluated at every
        logged iterate; results in ``trace.metrics[name]``.
      average: track the weighted average iterate x_bar_t and log ``avg_loss``
        (and ``avg_suboptimality`` / ``avg_distance``): ``"step"`` (weights eta_t, the
        iterate of d2l's convex bound), ``"uniform"`` or a function ``count -> weight``.
      unroll: steps per iteration of the compiled loop (``lax.scan``'s ``unroll``):
        larger values cut loop overhead for tiny models at some compile time.

    Example:
      >>> import optax, jaxdescent as jd
      >>> p = jd.problems.linear_regression([1., 2, 3], [2., 4, 6])
      >>> tr = jd.run(p, optax.sgd(0.01), steps=100)
      >>> round(float(tr.final_params), 4)
      1.9999

    The program is cached on the optimizer object: calling ``run`` again with the
    same optimizer (and problem/oracle of the same structure and shapes) compiles
    nothing; a new ``optax.sgd(lr)`` object compiles anew -- use `jd.sweep` to vary
    numbers inside one program.
    """
    check_problem(problem)
    check_optimizer(optimizer)
    check_steps(steps, log_every)
    oracle = as_oracle(oracle)
    oracle.validate(problem)
    metrics = check_metrics(metrics)
    average = check_average(average)
    check_against_problem(problem, metrics, average)
    spec = Spec(steps, log_every, bool(keep_params), metrics, average, check_unroll(unroll))
    return _run_program(problem, optimizer, oracle, as_key(key), spec=spec)
