"""`Problem`: a pure objective together with what is known about it.

A problem is a pytree. Its arrays (data, the initial point, extra loss arguments and
the known constants) are leaves, so they enter a compiled program as arguments; the
loss function, a random-init function and the name are static. Two problems built by
the same factory from arrays of the same shapes therefore share one compiled program.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent.structural import Keyed

__all__ = ["Problem"]

_LEAF_FIELDS = ("init", "data", "args", "minimizer", "min_value", "smoothness", "strong_convexity")
_STATIC_FIELDS = ("loss", "init_fn", "name", "stochastic")


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _as_array_tree(tree):
    return jax.tree.map(jnp.asarray, tree)


def _check_data(data) -> int | None:
    """Returns the number of examples in `data`, or raises if the leaves disagree."""
    if data is None:
        return None
    leaves, _ = jax.tree.flatten(data)
    if not leaves:
        raise ValueError(
            "Problem: `data` has no arrays; pass data=None for a problem without data."
        )
    sizes = []
    for leaf in leaves:
        if jnp.ndim(leaf) == 0:
            raise ValueError(
                "Problem: every `data` leaf needs a leading example axis, got a scalar. "
                "Reshape it to (n_examples, ...) (for one example use shape (1, ...))."
            )
        sizes.append(jnp.shape(leaf)[0])
    if sizes and min(sizes) == 0:
        raise ValueError(
            "Problem: `data` has 0 examples (a leading axis of size 0); a loss over no "
            "examples is undefined. Pass at least one example, or data=None."
        )
    if len(set(sizes)) != 1:
        paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(data)[0]]
        detail = ", ".join(f"{p or 'data'}: {s}" for p, s in zip(paths, sizes))
        raise ValueError(
            "Problem: all `data` leaves must have the same leading (example) size; got "
            f"{detail}. Give every array one row per example."
        )
    return int(sizes[0])


def _check_finite_init(init) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(init)[0]:
        if _is_concrete(leaf) and not bool(np.all(np.isfinite(np.asarray(leaf)))):
            where = jax.tree_util.keystr(path) or "init"
            raise ValueError(
                f"Problem: `init` has non-finite values at {where}: {np.asarray(leaf)}. "
                "Start from a finite point (or pass a function key -> params)."
            )


def _float_leaves(tree):
    """Integer and bool leaves as the default float dtype (gradients need floats)."""

    def cast(leaf):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            return leaf
        return jnp.asarray(leaf).astype(jnp.result_type(float))

    return jax.tree.map(cast, tree)


def _check_finite(field: str, tree, *, allow_inf: bool, fix: str) -> None:
    """Concrete floating leaves of ``tree`` are finite (or free of NaN, ``allow_inf``)."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if not _is_concrete(leaf) or not jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            continue
        a = np.asarray(leaf)
        bad = np.isnan(a) if allow_inf else ~np.isfinite(a)
        if np.any(bad):
            where = jax.tree_util.keystr(path) or field
            kind = "NaN" if allow_inf else "non-finite (NaN or inf)"
            raise ValueError(
                f"Problem: `{field}` has {int(np.sum(bad))} {kind} value(s) at {where}"
                f"{f' (first at index {np.argwhere(bad)[0].tolist()})' if a.ndim else ''}; "
                f"{fix}"
            )


def _check_loss_signature(loss, with_args: bool, stochastic: bool) -> None:
    """``loss`` can be called as loss(params, batch[, args][, key=...])."""
    try:
        sig = inspect.signature(loss)
    except (TypeError, ValueError):  # a builtin or C function: nothing to check
        return
    call = "loss(params, batch, args)" if with_args else "loss(params, batch)"
    try:
        sig.bind(*([None] * (3 if with_args else 2)), **({"key": None} if stochastic else {}))
    except TypeError as err:
        raise TypeError(
            f"Problem: `loss` is called as {call}"
            + (" with a keyword key=..." if stochastic else "")
            + f", but its signature {sig} does not accept that ({err}); give it those "
            "parameters (batch is None for a problem without data)."
        ) from None


@dataclasses.dataclass(frozen=True, init=False, eq=False)
class Problem:
    """A pure objective with its data, starting point and known constants.

    Args:
      loss: pure function ``loss(params, batch) -> scalar``. ``batch`` is ``None``
        when ``data is None``; otherwise a pytree shaped like ``data`` whose leaves
        keep a leading example axis, and ``loss`` returns the MEAN over that batch.
        If ``args`` is given the call is ``loss(params, batch, args)``; if
        ``stochastic=True`` the loss also takes a keyword ``key`` (a PRNG key during
        training, ``None`` for evaluation, e.g. dropout off).
      init: a params pytree, or a function ``key -> params`` (a random start per seed).
        Integer and bool leaves are cast to the default float dtype (``init=[1, 2]``
        starts at ``[1., 2.]``): gradients need floating-point params.
      data: pytree of arrays with a common leading example axis, or ``None``.
      args: pytree of arrays handed to ``loss`` (constants of the objective that a
        sweep may vary, e.g. the scales of a quadratic or a penalty strength).
      minimizer, min_value, smoothness, strong_convexity: what is known about the
        objective (``None`` when unknown); used by ``jd.bounds`` and metrics.
      name: a label for reports.
      stochastic: whether ``loss`` takes a ``key`` keyword.

    A frozen dataclass registered as a pytree: ``init`` (the array start, or None),
    ``data``, ``args`` and the known constants are leaves (program arguments);
    ``loss``, ``init_fn`` (the random start, or None), ``name`` and ``stochastic``
    are static (part of a compiled program's cache key).

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> p = jd.Problem(lambda w, b: jnp.mean((w * b["x"] - b["y"]) ** 2), 1.0,
      ...                data={"x": jnp.array([1., 2, 3]), "y": jnp.array([2., 4, 6])})
      >>> float(p.objective(2.0))
      0.0
    """

    loss: Callable[..., Any]
    init: Any  # params pytree of arrays, or None when the start is random (init_fn)
    init_fn: Callable | None
    data: Any
    args: Any
    minimizer: Any
    min_value: Any
    smoothness: Any
    strong_convexity: Any
    name: str
    stochastic: bool

    def __init__(
        self,
        loss: Callable[..., Any],
        init: Any,
        *,
        data: Any = None,
        args: Any = None,
        minimizer: Any = None,
        min_value: Any = None,
        smoothness: Any = None,
        strong_convexity: Any = None,
        name: str | None = None,
        stochastic: bool = False,
    ):
        if not callable(loss):
            raise TypeError(
                f"Problem: `loss` must be a function (params, batch) -> scalar, got {loss!r}."
            )
        if init is None:
            raise ValueError(
                "Problem: `init` is required: a params pytree or a function key -> params."
            )
        _check_loss_signature(loss, args is not None, bool(stochastic))
        init_fn = init if callable(init) else None
        if init_fn is None:
            init = _float_leaves(_as_array_tree(init))
            _check_finite_init(init)
        else:
            init = None
        data = None if data is None else _as_array_tree(data)
        _check_data(data)
        _check_finite("data", data, allow_inf=False, fix="remove or impute those examples first.")
        fields = dict(
            loss=loss,
            init=init,
            init_fn=init_fn,
            data=data,
            args=None if args is None else _as_array_tree(args),
            minimizer=None if minimizer is None else _as_array_tree(minimizer),
            min_value=None if min_value is None else jnp.asarray(min_value),
            smoothness=None if smoothness is None else jnp.asarray(smoothness),
            strong_convexity=None if strong_convexity is None else jnp.asarray(strong_convexity),
            name=name or getattr(loss, "__name__", "problem"),
            stochastic=bool(stochastic),
        )
        _check_finite(
            "args", fields["args"], allow_inf=True, fix="the objective's constants must be numbers."
        )
        for known in ("minimizer", "min_value", "smoothness", "strong_convexity"):
            _check_finite(known, fields[known], allow_inf=True, fix="pass None when unknown.")
        for k, v in fields.items():
            object.__setattr__(self, k, v)

    @property
    def start(self):
        """What ``init=`` was given as: the params pytree, or the function key -> params."""
        return self.init_fn if self.init_fn is not None else self.init

    # -- what a problem computes -------------------------------------------------------
    @property
    def n_examples(self) -> int | None:
        """Number of examples in ``data`` (``None`` without data)."""
        if self.data is None:
            return None
        return int(jnp.shape(jax.tree.leaves(self.data)[0])[0])

    def batch_loss(self, params, batch, key=None):
        """The loss on ``batch`` (mean over its examples). ``key`` feeds a stochastic loss."""
        extra = () if self.args is None else (self.args,)
        if self.stochastic:
            return self.loss(params, batch, *extra, key=key)
        return self.loss(params, batch, *extra)

    def objective(self, params):
        """The loss on all of ``data`` (or on ``None``), deterministic (no dropout)."""
        return self.batch_loss(params, self.data, None)

    def initial_params(self, key=None):
        """The starting point: ``init`` itself, or ``init_fn(key)`` for a random start."""
        if self.init_fn is not None:
            if key is None:
                key = jax.random.key(0)
            return _float_leaves(self.init_fn(key))
        return self.init

    def replace(self, **changes) -> Problem:
        """A copy with some fields changed (validated like the constructor); ``init`` may
        be a params pytree or a function key -> params."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["init"] = fields.pop("init_fn") or fields["init"]
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(
                f"Problem.replace: unknown fields {sorted(unknown)}; known: {sorted(fields)}."
            )
        fields.update(changes)
        loss, init = fields.pop("loss"), fields.pop("init")
        return Problem(loss, init, **fields)

    def __repr__(self) -> str:
        n = self.n_examples
        known = [
            f
            for f in ("minimizer", "min_value", "smoothness", "strong_convexity")
            if getattr(self, f) is not None
        ]
        return (
            f"Problem(name={self.name!r}, examples={n}, "
            f"init={'random' if self.init_fn is not None else 'fixed'}, known={known})"
        )


def _flatten(problem: Problem):
    children = [(jax.tree_util.GetAttrKey(f), getattr(problem, f)) for f in _LEAF_FIELDS]
    # the static fields keyed by their structure, once per instance: a problem rebuilt
    # from identical code (a notebook cell run again) finds its twin's compiled program
    static = problem.__dict__.get("_static")
    if static is None:
        static = Keyed(tuple(getattr(problem, f) for f in _STATIC_FIELDS))
        object.__setattr__(problem, "_static", static)
    return children, static


def rekeyed(problem: Problem) -> Problem:
    """``problem`` with its static fields keyed afresh (a shallow copy): what every call
    of `jd.run` / `jd.sweep` compiles with. A key kept from an earlier call would miss
    a global or closed-over value its functions read that changed since; the compiled
    program found under the stale key would then compute with the old value."""
    if not isinstance(problem, Problem):
        return problem
    obj = object.__new__(Problem)
    for k, v in problem.__dict__.items():
        if k != "_static":
            object.__setattr__(obj, k, v)
    return obj


def _unflatten(static: Keyed, children) -> Problem:
    # no validation: JAX rebuilds problems with tracers or placeholders as leaves
    obj = object.__new__(Problem)
    for k, v in zip(_STATIC_FIELDS + _LEAF_FIELDS, tuple(static.value) + tuple(children)):
        object.__setattr__(obj, k, v)
    object.__setattr__(obj, "_static", static)
    return obj


jax.tree_util.register_pytree_with_keys(Problem, _flatten, _unflatten)
