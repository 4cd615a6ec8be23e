"""One run of a gradient method: the scan loop (start, advance, record, loop,
trajectory) and `jd.run`, which checks its arguments and compiles ``trajectory``.

``trajectory`` is the whole computation of one run as a pure function of the
problem, the optimizer, the oracle and a key; ``jd.run`` compiles it, and
``jd.sweep`` vmaps the very same function over grid points and seeds, which is why
every cell of a sweep equals the single run it stands for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdescent import checks, compiler
from jaxdescent import metrics as metrics_lib
from jaxdescent.nonfinite import first_nonfinite
from jaxdescent.oracles import as_oracle
from jaxdescent.problem import Problem, rekeyed
from jaxdescent.structural import Keyed
from jaxdescent.trace import Logs, Trace

__all__ = [
    "Spec",
    "run",
    "run_keys",
    "trajectory",
    "start",
    "advance",
    "extra_args",
    "record",
    "loop",
]


class _Carry(NamedTuple):
    """What the scan carries from step to step, per run. (The step count is carried
    apart from it, unbatched: in a sweep, whatever depends on the key and the step alone
    -- the samples and the noise -- is then computed once per seed.)"""

    params: Any
    opt_state: Any
    diverged_at: Any  # first step with a non-finite loss or (large) leaf, -1 if none
    bad_coords: tuple  # per small leaf, per coordinate: first non-finite step (`_watch`)
    avg_sum: Any  # sum_t w_t x_{t-1} (None without averaging)
    avg_weight: Any  # sum_t w_t
    metric_state: tuple = ()  # the states of the stateful metrics (`jd.metrics.stateful`)


# Parameter leaves up to this many elements per run get a first-non-finite step per
# coordinate, updated elementwise in the step's own kernels. Under vmap a per-run
# reduction over a few coordinates (``all(isfinite(x))``) is a reduction over the minor
# axis of a (runs, coordinates) array, which XLA's CPU backend runs with strided,
# unvectorized loads: on d2l's 2-d quadratic it cost more than the rest of the step.
# Larger leaves are reduced at every step as usual; the coordinates at the end.
_PER_COORDINATE = 16


def _watch(leaf) -> bool:
    return jnp.size(leaf) <= _PER_COORDINATE


def _first_bad_coords(params):
    """Empty per-coordinate records (-1) for the small leaves of ``params``."""
    return tuple(
        jnp.full(jnp.shape(leaf), -1, jnp.int32) if _watch(leaf) else None
        for leaf in jax.tree.leaves(params)
    )


def diverged_step(carry) -> jax.Array:
    """The first step at which anything was non-finite (-1 if none): the run's record
    combined with the per-coordinate records of its small parameter leaves."""
    d = carry.diverged_at
    for rec in carry.bad_coords:
        if rec is not None:
            first = jnp.min(jnp.where(rec < 0, jnp.iinfo(jnp.int32).max, rec))
            d = jnp.where(
                first == jnp.iinfo(jnp.int32).max, d, jnp.where(d < 0, first, jnp.minimum(d, first))
            )
    return d


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
    draw_bytes: int = 1 << 22  # random numbers a run may hold drawn ahead (0: draw per step)


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
        _first_bad_coords(params),
        jax.tree.map(jnp.zeros_like, params) if averaging else None,
        jnp.zeros((), jnp.result_type(float)) if averaging else None,
        tuple(m.init(params, problem) for m in _stateful(spec)),
    )


def extra_args(batch_fn, value, grad) -> dict:
    """The keyword arguments an optax ``GradientTransformationExtraArgs`` update gets,
    all of one batch: ``value``, ``grad`` (the batch loss and gradient at x_t),
    ``value_fn`` and ``obj_fn`` (both ``params -> batch loss``).

    optax's line searches hand ``value_fn`` every extra argument its signature names
    and reject the others, so the ``value_fn`` given here names ``obj_fn`` (and ignores
    it): one set of arguments serves line searches (lbfgs) and Hessian estimates
    (contrib.sophia) alike.

    Example:
      >>> import jax.numpy as jnp
      >>> kw = extra_args(lambda x: jnp.sum(x**2), 1.0, 2.0)
      >>> sorted(kw), float(kw["value_fn"](jnp.ones(2), obj_fn=None))
      (['grad', 'obj_fn', 'value', 'value_fn'], 2.0)
    """

    def value_fn(params, obj_fn=None):
        del obj_fn  # forwarded by optax's line searches; the batch loss needs nothing
        return batch_fn(params)

    return dict(value=value, grad=grad, value_fn=value_fn, obj_fn=batch_fn)


def _stateful(spec: Spec) -> list:
    """The stateful metrics of ``spec``, in order (their states ride in the carry)."""
    found = (metrics_lib.stateful(fn) for _, fn in spec.metrics)
    return [m for m in found if m is not None]


def advance(
    problem: Problem, optimizer, oracle, oracle_key, carry: _Carry, t, spec: Spec, drawn=None
):
    """Step ``t + 1``: the oracle's gradient at x_t, the optax update, x_{t+1}.

    ``oracle_key`` is the run's oracle key (`run_keys`), the same at every step;
    ``drawn`` the oracle's random numbers for this step when drawn ahead
    (`Oracle.draws`), else None. Returns the new state and the objective's exact
    ``(value, gradient)`` at x_t when the oracle computed them on the way
    (`Oracle.sees_objective`), else ``None``.
    """
    x, state = carry.params, carry.opt_state
    batch_loss, grads, exact = oracle.evaluate(problem, x, t, oracle_key, drawn)
    if isinstance(optimizer, optax.GradientTransformationExtraArgs):
        # Optimizers with extra arguments get every one optax defines, all of the same
        # batch: ``value`` and ``grad`` (the batch loss and gradient at x_t: polyak_sgd,
        # momo, lbfgs), ``value_fn`` (params -> batch loss, for line searches: lbfgs)
        # and ``obj_fn`` (the same function, for Hessian estimates: contrib.sophia).
        extra = extra_args(oracle.value_fn(problem, t, oracle_key, drawn), batch_loss, grads)
        updates, state = optimizer.update(grads, state, x, **extra)
    else:
        updates, state = optimizer.update(grads, state, x)
    new_x = optax.apply_updates(x, updates)
    avg_sum, avg_weight = carry.avg_sum, carry.avg_weight
    if spec.average is not None:
        w = metrics_lib.average_weight(spec.average, t, updates, grads)
        avg_sum = jax.tree.map(lambda s, xi: s + w * xi, avg_sum, x)
        avg_weight = avg_weight + w
    if spec.log_every == 1:
        # Every iterate's objective is logged, and the loop checks the log: a non-finite
        # x_t or batch loss at x_t shows in the logged loss at x_t, recorded at t.
        diverged_at, coords = carry.diverged_at, carry.bad_coords
    elif exact is not None:
        # The oracle evaluated the objective at x_t: a non-finite iterate shows in its
        # loss, read by the next step, so the iterates need no check of their own.
        d = carry.diverged_at
        diverged_at = jnp.where((d < 0) & ~jnp.isfinite(batch_loss), t + 1, d)
        coords = carry.bad_coords
    else:
        ok = jnp.isfinite(batch_loss)
        coords = []
        for leaf, rec in zip(jax.tree.leaves(new_x), carry.bad_coords):
            if rec is None:
                ok = ok & jnp.all(jnp.isfinite(leaf))
                coords.append(None)
            else:
                coords.append(jnp.where((rec < 0) & ~jnp.isfinite(leaf), t + 1, rec))
        diverged_at = jnp.where((carry.diverged_at < 0) & ~ok, t + 1, carry.diverged_at)
    new = _Carry(new_x, state, diverged_at, tuple(coords), avg_sum, avg_weight, carry.metric_state)
    return new, exact


def record(problem: Problem, carry: _Carry, spec: Spec, evaluated=None) -> tuple[Logs, tuple]:
    """What is logged at the current iterate: loss, gradient norm, metrics (and params),
    and the stateful metrics' new states (``carry.metric_state`` updated; ``()``
    without stateful metrics).

    ``evaluated``: the objective's ``(value, gradient)`` at this iterate when the
    caller already has them (a full-batch step computes exactly these).
    """
    x = carry.params
    loss, grads = evaluated if evaluated is not None else jax.value_and_grad(problem.objective)(x)
    values, states = {}, list(carry.metric_state)
    k = 0  # index of the next stateful metric's state
    for name, fn in spec.metrics:
        m = metrics_lib.stateful(fn)
        if m is None:
            values[name] = metrics_lib.resolve(fn, problem)(x)
        else:
            values[name], states[k] = m.update(x, problem, states[k])
            k += 1
    if spec.average is not None:
        w = carry.avg_weight
        x_bar = jax.tree.map(
            lambda s, x0: jnp.where(w > 0, s / jnp.where(w > 0, w, 1), x0), carry.avg_sum, x
        )
        values.update({n: fn(x_bar) for n, fn in metrics_lib.average_metrics(problem).items()})
    params = x if spec.keep_params else None
    logs = Logs(loss=loss, grad_norm=optax.tree.norm(grads), params=params, metrics=values)
    return logs, tuple(states)


def _nbytes(tree) -> int:
    total = 0
    for leaf in jax.tree.leaves(tree):
        dtype = leaf.dtype
        item = 8 if jnp.issubdtype(dtype, jax.dtypes.prng_key) else jnp.dtype(dtype).itemsize
        total += item * max(1, math.prod(leaf.shape))
    return total


def blocks_per_draw(n_blocks: int, log_every: int, step_bytes: int, budget: int) -> int:
    """How many blocks of ``log_every`` steps may have their random numbers drawn in one
    call: as many as keep them within ``budget`` bytes (all blocks when nothing is
    drawn, at least one)."""
    if not step_bytes:
        return n_blocks
    return max(1, min(n_blocks, budget // (step_bytes * log_every)))


def draw_step_bytes(problem: Problem, oracle, params_shape) -> int:
    """Bytes of random numbers one step of a run reads (`Oracle.draws`), from shapes."""
    key = jax.random.key(0)
    shapes = jax.eval_shape(
        lambda x, k: oracle.draws(problem, x, jnp.zeros((), jnp.int32), k), params_shape, key
    )
    return _nbytes(shapes)


_TICKS = 20  # progress reports per run


def _tick(t, spec: Spec, tick) -> None:
    """Tells the host, about every 5% of the run, how many steps are done: ``tick(done)``
    as a host callback inside a conditional whose predicate is one integer expression
    of the block's first step ``t`` (the blocks between reports pay for that alone)."""
    L = spec.log_every
    every = max(1, -(-(spec.steps // L) // _TICKS))  # blocks between reports
    done = t + L
    crossed = (done <= spec.steps) & (((done // L) % every == 0) | (done == spec.steps))
    jax.lax.cond(crossed, lambda: jax.debug.callback(tick, done), lambda: None)


def _take(tree, i):
    return None if tree is None else jax.tree.map(lambda a: a[i], tree)


def loop(carry: _Carry, advance_fn, record_fn, spec: Spec, *, reuse=False, draw_fn=None, tick=None):
    """The time loop from the state ``carry`` at x_0: a scan over blocks, block k logging
    x_{kL} and then taking L = ``log_every`` steps, for k = 0..T/L (the last block's
    steps are discarded). Logs are the scan's outputs, time-major (n_log, ...), with
    nothing to concatenate, so under vmap they stay time-major. The step count t is an
    input of the scan, unbatched: ``advance_fn(carry, t, drawn) -> (carry, exact)``,
    ``exact`` the objective's (value, gradient) at the old iterate or ``None``.

    ``draw_fn(t)``: the random numbers step t + 1 reads (`Oracle.draws`). They are
    drawn ahead in one vectorized call for the whole run, or for spans of many blocks
    when that would hold more than ``spec.draw_bytes``, instead of once per step
    (on CPU the generator's rounds are a loop of their own, so per-step draws cost more
    than a small model's step).

    ``record_fn(carry, evaluated) -> (logs, metric_state)`` logs x_{kL}; the stateful
    metrics' new states go into the carry before the block's steps.

    With ``reuse`` (an oracle that computes the objective's exact value and gradient
    at x_t on its way: full batch, with or without added noise, on a deterministic
    problem), the log of x_{kL} is taken from the first step of block k instead of being
    computed again: half the work of a step that logs every step.

    ``tick``: a host function ``done -> None`` called about every 5% of the run (for a
    progress bar), or None (nothing compiled in).

    Returns ``(last carry, logs)``: `Logs` with a leading (n_log,) axis. The carry's
    ``diverged_at`` also counts a logged loss that is not finite (at the step it was
    logged).
    """
    L = spec.log_every
    n_blocks = spec.steps // L
    t0 = jnp.zeros((), jnp.int32)
    # the shapes of one step's draws, traced apart (nothing of it enters the program)
    draw_bytes = _nbytes(jax.eval_shape(draw_fn, t0)) if draw_fn is not None else 0
    ahead = draw_bytes > 0 and spec.draw_bytes > 0

    def step(carry, t, drawn):
        if drawn is None and draw_fn is not None:
            drawn = draw_fn(t)
        return advance_fn(carry, t, drawn)

    def steps(carry, t, drawn, length):
        if length == 1:
            return step(carry, t, _take(drawn, 0))[0]
        ts = t + jnp.arange(length, dtype=jnp.int32)
        return jax.lax.scan(
            lambda c, x: (step(c, *x)[0], None), carry, (ts, drawn), unroll=spec.unroll
        )[0]

    def block(carry, x):
        # Block k logs x_t, t = kL, then takes L steps. The last block's steps (past
        # x_T) are discarded: a select fused into the step's own kernels for one step,
        # a conditional for more.
        t, drawn = x
        keep = t < spec.steps
        n_rest, rest = L, drawn
        if reuse:  # the first step's oracle evaluated the objective at x_t
            new, evaluated = step(carry, t, _take(drawn, 0))
            log, metric_state = record_fn(carry, evaluated)
            carry = _select(keep, new, carry)
            n_rest = L - 1
            rest = None if drawn is None else jax.tree.map(lambda a: a[1:], drawn)
        else:
            log, metric_state = record_fn(carry, None)
        carry = carry._replace(metric_state=metric_state)
        t_rest = t + (L - n_rest)
        if n_rest == 1:
            carry = _select(keep, steps(carry, t_rest, rest, 1), carry)
        elif n_rest > 1:
            carry = jax.lax.cond(keep, lambda c: steps(c, t_rest, rest, n_rest), lambda c: c, carry)
        if tick is not None:
            _tick(t, spec, tick)
        return carry, log

    scan_unroll = spec.unroll if L == 1 else 1

    # n_blocks + 1 blocks log x_0, ..., x_T, in one scan whose inputs are the step counts
    n_log = n_blocks + 1
    ts = L * jnp.arange(n_log, dtype=jnp.int32)  # iota: no kernel of its own per step
    per = blocks_per_draw(n_log, L, draw_bytes, spec.draw_bytes)

    def draw_span(t_start, n_steps):
        return jax.vmap(draw_fn)(t_start + jnp.arange(n_steps, dtype=jnp.int32))

    if not ahead:
        carry, logs = jax.lax.scan(block, carry, (ts, None), unroll=scan_unroll)
    elif per >= n_log:  # all of the run's random numbers, drawn before the scan
        drawn = draw_span(t0, n_log * L)
        drawn = jax.tree.map(lambda a: a.reshape((n_log, L) + a.shape[1:]), drawn)
        carry, logs = jax.lax.scan(block, carry, (ts, drawn), unroll=scan_unroll)
    else:
        # A buffer of `per` blocks' numbers rides in the carry and is refilled, in a
        # conditional, at the first block of every span: one flat scan (no nested
        # scans, whose logs would be copied into the outer scan's).
        span = per * L

        def refilling_block(state, t):
            carry, buf = state
            pos = (t // L) % per
            buf = jax.lax.cond((pos == 0) & (t > 0), lambda: draw_span(t, span), lambda: buf)
            drawn = jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, pos * L, L), buf)
            carry, log = block(carry, (t, drawn))
            return (carry, buf), log

        state = (carry, draw_span(t0, span))
        (carry, _), logs = jax.lax.scan(refilling_block, state, ts, unroll=scan_unroll)
    return _check_logged(carry, logs, L), logs


def _check_logged(carry: _Carry, logs: Logs, log_every: int) -> _Carry:
    """The last state with the logged losses checked: a non-finite loss logged at x_t
    (t = k * log_every) makes t the divergence step, unless one was found earlier. One
    check of the whole log after the loop (`first_nonfinite`), not one per step."""
    k = first_nonfinite(logs.loss)
    t = k * log_every
    d = carry.diverged_at
    d = jnp.where(k < 0, d, jnp.where(d < 0, t, jnp.minimum(d, t)))
    return carry._replace(diverged_at=d)


def _select(keep, new, old):
    return jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, old)


def trajectory(problem: Problem, optimizer, oracle, key, spec: Spec, tick=None) -> Trace:
    """One run as a pure, traceable function (no validation; see `jd.run`).

    The run key gives an init key (for a random ``init``) and the oracle's key
    (`run_keys`). The program's size depends on neither ``steps`` nor ``log_every``.
    Static: ``optimizer``'s structure, ``spec``, ``tick`` and the pytree structure
    (and static fields) of ``problem`` and ``oracle``; traced: their arrays, the
    numbers an optimizer closes over, and ``key``. ``optimizer`` and ``spec`` may come
    `Keyed` (what `jd.run` passes: the compiled program's cache key).
    """
    optimizer = optimizer.value if isinstance(optimizer, Keyed) else optimizer
    spec = spec.value if isinstance(spec, Keyed) else spec
    _, oracle_key = run_keys(key)
    carry = start(problem, optimizer, key, spec)
    last, logs = loop(
        carry,
        lambda c, t, drawn: advance(problem, optimizer, oracle, oracle_key, c, t, spec, drawn),
        lambda c, evaluated: record(problem, c, spec, evaluated),
        spec,
        reuse=oracle.sees_objective(problem),
        draw_fn=lambda t: oracle.draws(problem, carry.params, t, oracle_key),
        tick=tick,
    )
    diverged_at = diverged_step(last)
    return Trace.of(
        jnp.arange(0, spec.steps + 1, spec.log_every, dtype=jnp.int32),
        logs,
        final_params=last.params,
        final_loss=logs.loss[-1],
        diverged=diverged_at >= 0,
        diverged_at=diverged_at,
    )


_run_program = compiler.entry_point(trajectory, static_argnames=("optimizer", "spec"))


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

    The program is cached on the optimizer's structure (`jaxdescent.structural`):
    calling ``run`` again with the same or an identical optimizer (a new
    ``optax.sgd(0.1)``; problem and oracle of the same structure and shapes) compiles
    nothing; an optimizer closing over other numbers (``optax.sgd(0.2)``) compiles
    anew -- use `jd.sweep` to vary numbers inside one program.

    ``run`` composes with JAX transformations: under a user's ``jax.jit``,
    ``jax.vmap``, ``jax.grad`` or ``jax.jvp`` (`jd.compiler.tracing`) its program joins
    the caller's, compiled without jaxdescent's compile options (XLA takes them for a
    whole program only), and numbers the optimizer closes over may be tracers:
    ``jax.grad(lambda lr: jd.run(p, optax.sgd(lr), steps=20).final_loss)(0.05)`` is the
    hypergradient (see `jd.hypergrad`). Checks of values run on concrete values only.
    """
    checks.check_problem(problem)
    checks.check_optimizer(optimizer)
    checks.check_steps(steps, log_every)
    checks.check_loss(problem)
    oracle = as_oracle(oracle)
    oracle.validate(problem)
    metrics = checks.check_metrics(metrics)
    average = checks.check_average(average)
    checks.check_against_problem(problem, metrics, average)
    unroll = checks.check_unroll(unroll)
    keep_params = checks.check_flag("keep_params", keep_params)
    spec = Spec(steps, log_every, keep_params, metrics, average, unroll)
    program = _run_program(jax.default_backend())
    # the problem's static fields and the optimizer keyed now, at this call: a global
    # their functions read that changed since an earlier run is another program
    return program(rekeyed(problem), Keyed(optimizer), oracle, checks.as_key(key), spec=Keyed(spec))
