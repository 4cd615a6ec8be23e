"""Gradient oracles: what one step sees of the gradient.

An oracle is called as ``oracle(problem, params, step, key) -> (batch_loss, grads)``.
``step`` is the number of steps already taken (0 for the first, like optax's count)
and ``key`` is the run's oracle key, the same at every step: the oracle derives
what it needs from ``(key, step)`` -- a per-step key, or a per-epoch permutation --
so it keeps no state and a run is a pure function of its key.

Oracles are pytrees: shape-deciding settings (batch size, order) are static, numbers
a sweep may vary (the noise scale) are leaves. Randomness depends on the key and the
step only, never on the optimizer's numbers, so in a sweep every grid point sees the
same samples and noise for a given seed (common random numbers), drawn once per seed.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent.checks import check_number, concrete
from jaxdescent.problem import Problem
from jaxdescent.structural import Keyed

__all__ = [
    "FunctionOracle",
    "MaskedMinibatch",
    "Oracle",
    "as_oracle",
    "full_batch",
    "per_sample",
    "minibatch",
    "gaussian_noise",
    "shuffled_positions",
]

_ORDERS = ("cyclic", "shuffle", "replace")


def _loss_key(problem: Problem, key, step):
    """The key a stochastic loss (dropout) gets at this step; None for deterministic losses."""
    if not problem.stochastic:
        return None
    return jax.random.fold_in(jax.random.fold_in(key, 0x10557), step)


_FEISTEL_ROUNDS = 8
_SORT_BELOW = 256


def _mix(x, k):
    """A 32-bit integer hash of ``x`` under round key ``k`` (murmur3's finalizer)."""
    h = x ^ k
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def shuffled_positions(key, positions, n: int):
    """Where ``positions`` land under a keyed random permutation of ``range(n)``.

    For ``n <= 256`` this is ``jax.random.permutation(key, n)`` (exactly uniform; sorting
    so few keys is cheap). Beyond, the permutation is a balanced 8-round Feistel
    network on the smallest power-of-four domain that holds ``n``, with round keys
    drawn from ``key``, restricted to ``range(n)`` by cycle walking (re-applying it
    until the value falls inside; fewer than 4 times on average). Either way it is a
    bijection of ``range(n)``, so one epoch visits every example exactly once; the
    Feistel path costs O(1) per position, so a step never sorts the whole data set.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> from jaxdescent.oracles import shuffled_positions
      >>> p = shuffled_positions(jax.random.key(0), jnp.arange(10), 10)
      >>> sorted(np.asarray(p).tolist()) == list(range(10))
      True
    """
    half = max(1, (max(n - 1, 1).bit_length() + 1) // 2)
    mask = jnp.uint32((1 << half) - 1)
    round_keys = jax.random.bits(key, (_FEISTEL_ROUNDS,), jnp.uint32)

    def feistel(x):
        left, right = x >> half, x & mask
        for r in range(_FEISTEL_ROUNDS):
            left, right = right, left ^ (_mix(right, round_keys[r]) & mask)
        return (left << half) | right

    if n <= _SORT_BELOW:  # small data sets: a sorted shuffle is cheap and exactly uniform
        return jax.random.permutation(key, n)[jnp.asarray(positions)]
    x = feistel(jnp.asarray(positions, jnp.uint32))
    x = jax.lax.while_loop(lambda x: jnp.any(x >= n), lambda x: jnp.where(x >= n, feistel(x), x), x)
    return x.astype(jnp.int32)


class Oracle:
    """Base class: subclasses implement ``__call__`` and may override the hooks."""

    def __call__(self, problem: Problem, params, step, key):  # pragma: no cover - interface
        raise NotImplementedError

    def draws(self, problem: Problem, params, step, key):
        """The random numbers step ``step`` reads (a pytree, or None): sample indices,
        noise, a dropout key. They depend on ``key`` and ``step`` only (``params`` gives
        shapes and dtypes), so a run can draw them for many steps in one vectorized call
        and hand each step its own (`evaluate`'s ``drawn``): the same numbers as drawing
        them step by step, at a fraction of the cost on CPU."""
        return None

    def validate(self, problem: Problem) -> None:
        """Checks, before anything is compiled, that this oracle can serve ``problem``."""

    def examples_per_step(self, problem: Problem) -> int:
        """How many examples one step reads (for plots against examples seen)."""
        return problem.n_examples or 1

    def value_fn(self, problem: Problem, step, key, drawn=None):
        """``params -> loss`` on the batch this step reads (for line searches such as
        optax's L-BFGS); the full objective unless an oracle samples."""
        return problem.objective

    def uses_key(self, problem: Problem) -> bool:
        """Whether this oracle's gradients depend on the run's key (its samples, its noise,
        a stochastic loss). True unless an oracle knows otherwise: a run whose oracle and
        start use no key is the same for every seed, and a sweep computes it once."""
        return True

    def sees_objective(self, problem: Problem) -> bool:
        """Whether a step also computes the objective's exact value and gradient at the
        current iterate (then a run logs them instead of computing them again)."""
        return False

    def evaluate(self, problem: Problem, params, step, key, drawn=None):
        """``(batch_loss, grads, exact)``: what ``__call__`` returns, and the objective's
        ``(value, gradient)`` at ``params`` when `sees_objective` (else ``None``).
        ``drawn``: this step's `draws` when the caller drew them ahead (else None)."""
        loss, grads = self(problem, params, step, key)
        return loss, grads, None


class _Evaluating(Oracle):
    """The built-in oracles implement `evaluate`; calling one evaluates it."""

    def __call__(self, problem, params, step, key):
        loss, grads, _ = self.evaluate(problem, params, step, key)
        return loss, grads


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class FullBatch(_Evaluating):
    """The exact gradient of the objective on all data: gradient descent."""

    def draws(self, problem, params, step, key):
        return _loss_key(problem, key, step)

    def sees_objective(self, problem):
        return not problem.stochastic

    def uses_key(self, problem):
        return bool(problem.stochastic)

    def evaluate(self, problem, params, step, key, drawn=None):
        loss_key = drawn if drawn is not None else _loss_key(problem, key, step)
        loss, grads = jax.value_and_grad(problem.batch_loss)(params, problem.data, loss_key)
        return loss, grads, ((loss, grads) if self.sees_objective(problem) else None)


def _check_sampling(oracle, problem, size: int, what: str, name: str) -> None:
    """A sampling oracle needs data, and at most ``n`` examples per draw without
    replacement."""
    n = problem.n_examples
    if n is None:
        raise ValueError(
            f"{oracle!r} samples examples, but the problem has no `data`; "
            "use jd.oracles.full_batch() or jd.oracles.gaussian_noise(...) instead."
        )
    if oracle.order != "replace" and size > n:
        raise ValueError(
            f"{what} {size} is larger than the data set ({n} examples) for sampling "
            f"without replacement; use {name} <= {n} or replace=True."
        )


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Sampled(_Evaluating):
    """The gradient on ``size`` examples chosen by ``order`` (see `per_sample`, `minibatch`)."""

    size: int = dataclasses.field(metadata=dict(static=True))
    order: str = dataclasses.field(metadata=dict(static=True))

    def validate(self, problem):
        _check_sampling(self, problem, self.size, "minibatch size", "size")

    def examples_per_step(self, problem):
        return self.size

    def uses_key(self, problem):
        return self.order != "cyclic" or bool(problem.stochastic)

    def indices(self, n: int, step, key):
        """The example indices read at ``step`` (shape (size,))."""
        if self.order == "replace":
            k = jax.random.fold_in(jax.random.fold_in(key, 0x5A3), step)
            return jax.random.randint(k, (self.size,), 0, n)
        per_epoch = n // self.size
        epoch, pos = step // per_epoch, step % per_epoch
        if self.order == "cyclic":
            return pos * self.size + jnp.arange(self.size)
        epoch_key = jax.random.fold_in(jax.random.fold_in(key, 0x5A3), epoch)
        return shuffled_positions(epoch_key, pos * self.size + jnp.arange(self.size), n)

    def draws(self, problem, params, step, key):
        # cyclic indices are arithmetic on the step: nothing to draw
        idx = None if self.order == "cyclic" else self.indices(problem.n_examples, step, key)
        return idx, _loss_key(problem, key, step)

    def value_fn(self, problem, step, key, drawn=None):
        idx, loss_key = drawn if drawn is not None else self.draws(problem, None, step, key)
        if self.order == "cyclic":
            # consecutive examples in data order: a dynamic slice, not a gather
            pos = (step % (problem.n_examples // self.size)) * self.size
            batch = jax.tree.map(
                lambda a: jax.lax.dynamic_slice_in_dim(a, pos, self.size, axis=0), problem.data
            )
        else:
            batch = jax.tree.map(lambda a: jnp.take(a, idx, axis=0), problem.data)
        return lambda params: problem.batch_loss(params, batch, loss_key)

    def evaluate(self, problem, params, step, key, drawn=None):
        loss, grads = jax.value_and_grad(self.value_fn(problem, step, key, drawn))(params)
        return loss, grads, None

    def __repr__(self):
        if self.size == 1:
            return f"per_sample(order={self.order!r})"
        return f"minibatch(size={self.size}, order={self.order!r})"


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MaskedMinibatch(_Evaluating):
    """``size`` examples per step out of ``max_size`` drawn, ``size`` a number that may be
    traced (a vmapped grid axis; see `minibatch` with ``max_size``)."""

    size: Any
    max_size: int = dataclasses.field(metadata=dict(static=True))
    order: str = dataclasses.field(metadata=dict(static=True))

    def validate(self, problem):
        _check_sampling(self, problem, self.max_size, "minibatch: `max_size`", "max_size")
        _check_size(self.size, self.max_size)

    def examples_per_step(self, problem):
        size = concrete(self.size)
        return self.max_size if size is None or np.ndim(size) else int(size)

    def indices(self, n: int, step, key):
        """The ``max_size`` example indices drawn at ``step``; the first ``size`` are
        those `minibatch(size)` reads at that step and key (shape (max_size,))."""
        if self.order == "replace":
            k = jax.random.fold_in(jax.random.fold_in(key, 0x5A3), step)
            return jax.random.randint(k, (self.max_size,), 0, n)
        per_epoch = n // self.size
        epoch, pos = step // per_epoch, step % per_epoch
        # the first `size` positions are minibatch(size)'s; the rest (weight 0) wrap around
        positions = (pos * self.size + jnp.arange(self.max_size)) % n
        if self.order == "cyclic":
            return positions
        epoch_key = jax.random.fold_in(jax.random.fold_in(key, 0x5A3), epoch)
        return shuffled_positions(epoch_key, positions, n)

    def draws(self, problem, params, step, key):
        return self.indices(problem.n_examples, step, key), _loss_key(problem, key, step)

    def value_fn(self, problem, step, key, drawn=None):
        idx, loss_key = drawn if drawn is not None else self.draws(problem, None, step, key)
        batch = jax.tree.map(lambda a: jnp.take(a, idx, axis=0), problem.data)
        keep = jnp.arange(self.max_size) < self.size
        # an out-of-range traced size gives NaN (the run is recorded as diverged)
        valid = (self.size >= 1) & (self.size <= self.max_size)
        count = jnp.where(valid, self.size, jnp.nan)

        def loss(params):
            def one(example, j):
                ex_key = None if loss_key is None else jax.random.fold_in(loss_key, j)
                return problem.batch_loss(params, jax.tree.map(lambda a: a[None], example), ex_key)

            losses = jax.vmap(one)(batch, jnp.arange(self.max_size))
            return jnp.sum(jnp.where(keep, losses, 0)) / count.astype(losses.dtype)

        return loss

    def evaluate(self, problem, params, step, key, drawn=None):
        loss, grads = jax.value_and_grad(self.value_fn(problem, step, key, drawn))(params)
        return loss, grads, None

    def __repr__(self):
        return f"minibatch(size={self.size}, max_size={self.max_size}, order={self.order!r})"


def _check_size(size, max_size: int) -> None:
    """A traced batch size must be an integer; a concrete one also 1 <= size <= max_size."""
    if not jnp.issubdtype(jnp.result_type(size), jnp.integer):
        raise ValueError(
            f"minibatch: `size` must be an integer (a number of examples), got dtype "
            f"{jnp.result_type(size)}; give the grid integer values, e.g. [1, 2, 4, 8]."
        )
    value = concrete(size)
    if value is None:
        return
    if np.ndim(value) != 0:
        raise ValueError(f"minibatch: `size` must be a scalar, got shape {np.shape(value)}.")
    if not 1 <= value <= max_size:
        raise ValueError(
            f"minibatch: `size` must satisfy 1 <= size <= max_size = {max_size}, got {value}; "
            "raise max_size or drop the larger batch sizes."
        )


def _leaf_scales(scale, grads) -> list:
    """One noise scale per gradient leaf: the scale's own leaves when it is shaped like the
    parameters (same pytree structure), else the one scale for every leaf."""
    leaves, treedef = jax.tree.flatten(grads)
    if jax.tree.structure(scale) == treedef:
        return jax.tree.leaves(scale)
    return [scale] * len(leaves)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GaussianNoise(_Evaluating):
    """The base oracle's gradient plus N(0, scale^2) noise on every coordinate (``scale``
    a number, an array broadcastable to every parameter leaf, or a pytree shaped like
    the parameters)."""

    scale: Any
    base: Oracle

    def validate(self, problem):
        self.base.validate(problem)
        for sc in jax.tree.leaves(self.scale):
            value = concrete(sc)  # None when traced: a swept scale is not checked here
            if value is not None and not (np.all(np.isfinite(value)) and np.all(value >= 0)):
                raise ValueError(
                    f"gaussian_noise: `scale` must be >= 0 and finite, got {self.scale}."
                )
        if np.ndim(self.scale) == 0 and not isinstance(self.scale, dict | list | tuple):
            return  # one number broadcasts to every parameter: no shapes to check
        params = jax.eval_shape(problem.initial_params, jax.random.key(0))
        leaves = jax.tree.leaves(params)
        scales = _leaf_scales(self.scale, params)
        structure = jax.tree.structure(self.scale)
        single = jax.tree_util.treedef_is_leaf(structure) and structure.num_leaves == 1
        if structure != jax.tree.structure(params) and not single:
            raise ValueError(
                "gaussian_noise: `scale` must be a number, an array broadcastable to every "
                "parameter array, or a pytree shaped like the parameters "
                f"({jax.tree.structure(params)}), got {jax.tree.structure(self.scale)}."
            )
        for leaf, sc in zip(leaves, scales):
            try:
                ok = jnp.broadcast_shapes(jnp.shape(sc), leaf.shape) == tuple(leaf.shape)
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"gaussian_noise: a `scale` of shape {jnp.shape(sc)} does not broadcast to "
                    f"a parameter of shape {tuple(leaf.shape)}; give one scale per coordinate "
                    "(shaped like the parameters) or a scalar."
                )

    def examples_per_step(self, problem):
        return self.base.examples_per_step(problem)

    def value_fn(self, problem, step, key, drawn=None):
        return self.base.value_fn(problem, step, key, None if drawn is None else drawn[0])

    def sees_objective(self, problem):
        return self.base.sees_objective(problem)

    def draws(self, problem, params, step, key):
        # one draw for all coordinates, from the key and the step alone
        leaves = jax.tree.leaves(params)
        size = sum(int(np.prod(jnp.shape(g))) for g in leaves)
        z = jax.random.normal(jax.random.fold_in(key, step), (size,), jnp.result_type(*leaves))
        return self.base.draws(problem, params, step, key), z

    def evaluate(self, problem, params, step, key, drawn=None):
        base_drawn, z = drawn if drawn is not None else self.draws(problem, params, step, key)
        loss, exact_grads, exact = self.base.evaluate(problem, params, step, key, base_drawn)
        return loss, self._add_noise(exact_grads, z), exact

    def _add_noise(self, grads, z):
        leaves, treedef = jax.tree.flatten(grads)
        sizes = [jnp.size(g) for g in leaves]
        parts = jnp.split(z, np.cumsum(sizes)[:-1]) if len(leaves) > 1 else [z]
        noisy = []
        for g, p, sc in zip(leaves, parts, _leaf_scales(self.scale, grads)):
            dtype = jnp.result_type(g)
            noisy.append(g + jnp.asarray(sc * p.reshape(jnp.shape(g)).astype(dtype), dtype))
        return jax.tree.unflatten(treedef, noisy)

    def __repr__(self):
        return f"gaussian_noise(scale={self.scale}, base={self.base!r})"


def full_batch() -> FullBatch:
    """Exact gradient on all data (gradient descent).

    Example:
      >>> import jaxdescent as jd
      >>> o = jd.oracles.full_batch()
    """
    return FullBatch()


def per_sample(order: str = "cyclic") -> Sampled:
    """One example per step: stochastic gradient descent.

    Args:
      order: ``"cyclic"`` visits examples 0, 1, ..., n-1, 0, ... (the seeds'
        ``for x, y in zip(x_data, y_data)`` loop); ``"shuffle"`` draws a fresh
        permutation every epoch (without replacement); ``"replace"`` draws uniformly
        with replacement.
    """
    if order not in _ORDERS:
        raise ValueError(f"per_sample: `order` must be one of {_ORDERS}, got {order!r}.")
    return Sampled(1, order)


def minibatch(
    size, replace: bool = False, *, cyclic: bool = False, max_size: int | None = None
) -> Sampled | MaskedMinibatch:
    """``size`` examples per step: minibatch SGD.

    Without replacement each epoch is a fresh permutation cut into ``n // size``
    batches (a remainder of ``n % size`` examples is skipped that epoch, like
    ``drop_last``); with ``replace=True`` the indices are iid uniform. ``cyclic=True``
    takes consecutive batches in data order, without shuffling.

    **Batch size as a traced number.** With ``max_size=M`` (a static int), ``size`` may be
    any integer ``1 <= size <= M``, traced included, so batch sizes are an ordinary
    (vmapped) grid axis that compiles once::

        jd.sweep(problem, lambda lr: optax.sgd(lr), {"lr": lrs, "size": [1, 2, 4, 8]},
                 oracle=lambda size: jd.oracles.minibatch(size, max_size=8), ...)

    Each step draws ``M`` indices and the loss is the sum of the first ``size`` examples'
    losses divided by ``size`` (the others get weight 0; every step costs ``M``
    examples). The first ``size`` indices are exactly those ``minibatch(size)`` (same
    ``replace`` / ``cyclic``) draws at the same key and step, for every order (for
    ``replace=True`` because JAX's counter-based generator gives ``randint`` of shape
    ``(M,)`` the shape-``(size,)`` draw as its prefix; without replacement the batch
    positions ``step * size + j`` of the epoch's permutation are the same). Hence each
    step's loss and gradient equal ``minibatch(size)``'s up to floating-point rounding:
    the mean is a masked sum over ``M`` per-example losses divided by ``size`` instead of
    a mean over ``size`` examples, which XLA may sum in another order. (Measured on CPU
    in float64, least squares, every order, sizes 1 to 8 of 8: bitwise equal, op by op and
    in compiled 30-step runs; equality beyond rounding is not guaranteed.) Exception: a
    stochastic loss (dropout) draws its masks per example here (key folded with the
    example's position), unlike ``minibatch(size)``. A traced ``size`` outside
    ``[1, M]`` makes the run's loss NaN (recorded as diverged); a concrete one raises.
    Cost: with ``replace=True`` the indices do not depend on ``size``, so a sweep draws
    them once per seed; without replacement an epoch's batches depend on ``size``, so
    they are drawn once per batch size and seed (several times slower on CPU for data
    sets above 256 examples, where the permutation is a Feistel network).

    Args:
      size: examples per step: a positive Python int; with ``max_size``, an integer
        number (or traced integer) ``<= max_size``.
      replace: draw indices with replacement.
      cyclic: consecutive batches in data order.
      max_size: the largest ``size``, a static Python int; enables a traced ``size``.

    Returns:
      An oracle (`Sampled`, or `MaskedMinibatch` with ``max_size``).

    Example:
      >>> import jaxdescent as jd
      >>> o = jd.oracles.minibatch(4, max_size=16)
      >>> o.examples_per_step(None)
      4
    """
    if replace and cyclic:
        raise ValueError("minibatch: choose `replace=True` or `cyclic=True`, not both.")
    order = "replace" if replace else ("cyclic" if cyclic else "shuffle")
    if max_size is not None:
        if isinstance(max_size, bool) or not isinstance(max_size, int | np.integer) or max_size < 1:
            raise ValueError(
                f"minibatch: `max_size` must be a positive Python int (it sets array shapes), "
                f"got {max_size!r}."
            )
        if isinstance(size, bool):
            raise ValueError(f"minibatch: `size` must be an integer, got {size!r}.")
        size = jnp.asarray(size) if isinstance(size, int | np.integer) else size
        _check_size(size, int(max_size))
        return MaskedMinibatch(size, int(max_size), order)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(
            f"minibatch: `size` must be a positive Python int (it sets array shapes), "
            f"got {size!r}. "
            "To sweep batch sizes as one vmapped axis pass `max_size=` (the largest size): "
            "oracle=lambda size: jd.oracles.minibatch(size, max_size=32); or unroll them: "
            "grid={'size': jd.static([1, 8, 32])}."
        )
    return Sampled(size, order)


def gaussian_noise(scale, base: Oracle | None = None) -> GaussianNoise:
    """The base oracle's gradient (default full batch) plus N(0, scale^2) per coordinate.

    This is d2l's simulated SGD (12.4.1). ``scale`` is a number, an array that
    broadcasts to every parameter array (one standard deviation per coordinate of a
    ``(d,)`` parameter), or a pytree shaped like the parameters; it may be traced
    (swept), e.g. the noisy quadratic model's noise ``sqrt(c / B)`` with the batch size
    ``B`` a grid axis: ``oracle=lambda batch: jd.oracles.gaussian_noise(jnp.sqrt(c / batch))``.
    The standard normal numbers ``z`` depend on the key and the step only; the noise is
    ``scale * z`` coordinate by coordinate.

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> o = jd.oracles.gaussian_noise(jnp.array([1.0, 0.5]))   # per coordinate
    """
    if base is None:
        base = FullBatch()
    if not isinstance(base, Oracle):
        raise TypeError(f"gaussian_noise: `base` must be an oracle from jd.oracles, got {base!r}.")
    leaves = jax.tree.leaves(scale) if isinstance(scale, dict | list | tuple) else [scale]
    if not leaves:
        raise ValueError("gaussian_noise: `scale` is an empty pytree; give a number or arrays.")
    for leaf in leaves:  # a number, an array, or a pytree of them (per parameter)
        check_number("scale", leaf, what="gaussian_noise", minimum=0)
    return GaussianNoise(scale, base)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class FunctionOracle(Oracle):
    """A user's function ``(problem, params, step, key) -> (loss, grads)`` as an oracle."""

    fn: Callable = dataclasses.field(metadata=dict(static=True))

    def __call__(self, problem, params, step, key):
        return self.fn(problem, params, step, key)

    def validate(self, problem):
        """Checks, with ``jax.eval_shape`` (nothing compiled), that the function returns a
        real scalar loss and gradients shaped like the params."""
        key = jax.eval_shape(lambda: jax.random.key(0))
        params = jax.eval_shape(problem.initial_params, key)
        step = jax.ShapeDtypeStruct((), jnp.int32)
        out = jax.eval_shape(lambda x, t, k: self.fn(problem, x, t, k), params, step, key)
        shapes = lambda tree: jax.tree.map(lambda a: (tuple(a.shape), str(a.dtype)), tree)  # noqa: E731
        if not (isinstance(out, tuple | list) and len(out) == 2):
            raise TypeError(
                "`oracle` function must return a pair (loss, grads), got "
                f"{shapes(out)}; return (batch_loss, gradient pytree)."
            )
        loss, grads = out
        if (
            not hasattr(loss, "shape")
            or loss.shape != ()
            or not jnp.issubdtype(loss.dtype, jnp.floating)
        ):
            raise ValueError(
                f"`oracle` function must return a real scalar loss first, got {shapes(loss)}."
            )
        same = jax.tree.structure(grads) == jax.tree.structure(params) and all(
            g.shape == p.shape for g, p in zip(jax.tree.leaves(grads), jax.tree.leaves(params))
        )
        if not same:
            raise ValueError(
                "`oracle` function must return gradients shaped like the params: expected "
                f"{shapes(params)}, got {shapes(grads)}."
            )

    def evaluate(self, problem, params, step, key, drawn=None):
        loss, grads = self.fn(problem, params, step, key)
        return loss, grads, None


def _takes_four(fn) -> bool:
    """Whether ``fn`` can be called as fn(problem, params, step, key)."""
    try:
        inspect.signature(fn).bind(None, None, None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read: assume it can
        return True
    return True


def as_oracle(oracle) -> Oracle:
    """``oracle`` as an `Oracle`: None is `full_batch`, a function a `FunctionOracle`."""
    if oracle is None:
        return full_batch()
    if isinstance(oracle, Oracle):
        return oracle
    if callable(oracle):
        if not _takes_four(oracle):
            raise TypeError(
                f"`oracle` function must take (problem, params, step, key), got "
                f"{getattr(oracle, '__name__', oracle)}{inspect.signature(oracle)}. A function "
                "of grid names that builds an oracle (jd.sweep) must name grid axes only; "
                "add the missing axis to the grid."
            )
        # keyed by its structure: an identical function compiles nothing anew
        return FunctionOracle(oracle if isinstance(oracle, Keyed) else Keyed(oracle))
    raise TypeError(
        f"`oracle` must be an oracle from jd.oracles or a function "
        f"(problem, params, step, key) -> (loss, grads), got {oracle!r}."
    )
