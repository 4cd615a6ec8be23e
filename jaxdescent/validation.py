"""Validation: held-out metrics, k-fold cross-validation as a sweep axis, early stopping.

Held-out examples travel INSIDE the problem (`with_heldout` puts them in its ``args``,
beside the loss's own arguments, without changing the objective), and the metrics in
`metrics()` are `jd.metrics.of_problem` markers that read them from each run's problem.
So a problem built per grid point -- a k-fold problem traced in its fold index -- is
validated on its own fold::

    kf = validation.kfold_problem(
        lambda X, y: jd.problems.mlp_classifier(X, y, hidden=(32,), classes=10),
        split.train.X, split.train.y, k=5)
    res = jd.sweep(kf, lambda lr: optax.sgd(lr), {"fold": range(5), "lr": [0.03, 0.1]},
                   seeds=3, steps=500, log_every=10, metrics=validation.metrics())
    validation.cv_summary(res).mean          # (2,): mean val accuracy per learning rate

`early_stopping` analyses a logged validation curve: the best logged step, the values
there and the params there, for one `Trace` or a whole `SweepResult` at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent import data as _data
from jaxdescent.checks import concrete
from jaxdescent.metrics import of_problem
from jaxdescent.problem import Problem
from jaxdescent.problems.classification import Model, check_examples, model_of, weighted_mean

__all__ = [
    "with_heldout",
    "heldout",
    "val_loss",
    "val_accuracy",
    "train_accuracy",
    "train_data_loss",
    "metrics",
    "KFold",
    "kfold_problem",
    "CVSummary",
    "cv_summary",
    "EarlyStop",
    "early_stopping",
]


# --- held-out examples inside a problem -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _HeldOut:
    """The inner loss, unchanged; args = (inner args, held-out batch)."""

    inner: Callable

    def __call__(self, params, batch, args, **kwargs):
        inner_args = args[0]
        extra = () if inner_args is None else (inner_args,)
        return self.inner(params, batch, *extra, **kwargs)

    def unwrap(self, args):
        return self.inner, args[0]

    @property
    def supports_weight(self) -> bool:
        return bool(getattr(self.inner, "supports_weight", False))


def _float_array(a):
    a = jnp.asarray(a)
    return a if jnp.issubdtype(a.dtype, jnp.floating) else a.astype(jnp.result_type(float))


def with_heldout(problem: Problem, X, y, weight=None) -> Problem:
    """``problem`` carrying held-out examples for `val_loss` / `val_accuracy`.

    The objective, data, init and known constants are unchanged (the loss is a wrapper
    that ignores the held-out batch); the examples sit in ``args``, so they may be
    traced (a fold chosen by a traced index) and a sweep that rebuilds the problem
    reuses one compiled program.

    Args:
      problem: any problem whose loss reads batches ``{"X", "y"}`` (the classifiers,
        ``least_squares``), possibly wrapped (`jd.problems.l2` ...).
      X, y: held-out features and labels (labels as for the problem).
      weight: optional (n,) example weights (0 masks padding; needs a classifier).

    Example:
      >>> import jaxdescent as jd, jaxdescent.data as data, jaxdescent.validation as v
      >>> d = data.xor(40)
      >>> p = v.with_heldout(jd.problems.logistic_regression(*d), *data.xor(20, seed=1))
      >>> v.heldout(p)["X"].shape
      (20, 2)
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"with_heldout: `problem` must be a jd.Problem, got {problem!r}.")
    Xa = _float_array(X)
    if Xa.ndim != 2:
        raise ValueError(f"with_heldout: `X` must be 2-D (n, d), got shape {Xa.shape}.")
    ya = jnp.asarray(y)
    if ya.ndim == 0 or ya.shape[0] != Xa.shape[0]:
        raise ValueError(
            f"with_heldout: `y` needs one label per row of X ({Xa.shape[0]}), got shape {ya.shape}."
        )
    check_examples(problem, Xa, ya, "with_heldout")
    loss, _ = _innermost(problem)
    batch = {"X": Xa, "y": loss.targets(ya) if isinstance(loss, Model) else ya}
    if weight is not None:
        w = _float_array(weight)
        if w.shape != (Xa.shape[0],):
            raise ValueError(
                f"with_heldout: `weight` must have shape ({Xa.shape[0]},), got {w.shape}."
            )
        if not isinstance(loss, Model):
            raise ValueError(
                "with_heldout: `weight` needs a jd.problems classifier, whose loss reads "
                "batch['weight']; drop the weights or use such a problem."
            )
        batch["weight"] = w
    return Problem(
        _HeldOut(problem.loss),
        problem.start,
        data=problem.data,
        args=(problem.args, batch),
        minimizer=problem.minimizer,
        min_value=problem.min_value,
        smoothness=problem.smoothness,
        strong_convexity=problem.strong_convexity,
        name=problem.name,
        stochastic=problem.stochastic,
    )


def heldout(problem: Problem):
    """The held-out batch ``{"X", "y"[, "weight"]}`` a problem carries, or ``None``."""
    loss, args = problem.loss, problem.args
    while hasattr(loss, "unwrap"):
        if isinstance(loss, _HeldOut):
            return args[1]
        loss, args = loss.unwrap(args)
    return None


def _innermost(problem: Problem):
    loss, args = problem.loss, problem.args
    while hasattr(loss, "unwrap"):
        loss, args = loss.unwrap(args)
    return loss, args


def _data_loss_on(problem: Problem, params, batch):
    """The innermost loss (no penalty) on ``batch``, deterministic (key None)."""
    loss, args = _innermost(problem)
    extra = () if args is None else (args,)
    if problem.stochastic:
        return loss(params, batch, *extra, key=None)
    return loss(params, batch, *extra)


def _val_loss(params, problem):
    return _data_loss_on(problem, params, heldout(problem))


def _val_accuracy(params, problem):
    model, args = model_of(problem, "val_accuracy")
    batch = heldout(problem)
    return weighted_mean(model.correct(params, batch, args), batch)


def _train_accuracy(params, problem):
    model, args = model_of(problem, "accuracy")
    return weighted_mean(model.correct(params, problem.data, args), problem.data)


def _train_data_loss(params, problem):
    return _data_loss_on(problem, params, problem.data)


def _check_heldout(problem):
    if heldout(problem) is None:
        raise ValueError(
            f"validation metrics read held-out examples, but problem {problem.name!r} has "
            "none; wrap it: jd.validation.with_heldout(problem, X_val, y_val), or build it "
            "with jd.validation.kfold_problem(...)."
        )


def _check_heldout_classifier(problem):
    _check_heldout(problem)
    model_of(problem, "val_accuracy")


def _check_classifier(problem):
    model_of(problem, "accuracy")


#: Metric: the data loss (no penalty, no dropout) on the problem's held-out examples.
val_loss = of_problem(_val_loss, _check_heldout)
#: Metric: the accuracy on the problem's held-out examples (weighted by their weight).
val_accuracy = of_problem(_val_accuracy, _check_heldout_classifier)
#: Metric: the accuracy on the problem's training data.
train_accuracy = of_problem(_train_accuracy, _check_classifier)
#: Metric: the data loss on the training data without penalty or dropout (the logged
#: ``loss`` is the full objective, penalty included).
train_data_loss = of_problem(_train_data_loss)


def metrics(*, train: bool = True) -> dict:
    """The metrics to log beside the training loss for a classifier with held-out data:
    ``val_loss``, ``val_accuracy`` and (``train=True``) ``accuracy`` and ``data_loss``
    on the training data. Pass as ``metrics=validation.metrics()`` to `jd.run` /
    `jd.sweep`; the dict's markers are module constants, so repeated sweeps reuse
    their compiled program.

    Example:
      >>> import optax, jaxdescent as jd, jaxdescent.data as data, jaxdescent.validation as v
      >>> s = data.load_iris()
      >>> p = v.with_heldout(jd.problems.softmax_regression(*s.train), *s.val)
      >>> tr = jd.run(p, optax.sgd(0.5), steps=50, log_every=25, metrics=v.metrics())
      >>> sorted(tr.metrics), tr.metrics["val_accuracy"].shape
      (['accuracy', 'data_loss', 'val_accuracy', 'val_loss'], (3,))
    """
    out = {}
    if train:
        out["accuracy"] = train_accuracy
        out["data_loss"] = train_data_loss
    out["val_loss"] = val_loss
    out["val_accuracy"] = val_accuracy
    return out


# --- k-fold cross-validation ------------------------------------------------------------


class KFold:
    """``fold -> Problem``: the k-fold problems of one data set, traceable in ``fold``.

    Built by `kfold_problem`. ``kf(fold)`` gathers fold ``fold``'s training rows
    (``kf.folds.train[fold]``, a fixed shape), calls ``make_problem(X_train, y_train)``
    and attaches the fold's validation rows with `with_heldout`. When k does not divide
    n, the padded rows carry weight 0 (training data ``"weight"``, held-out
    ``"weight"``), which needs a loss that reads ``batch["weight"]`` (the
    `jd.problems` classifiers); the problem's known constants are then dropped, since
    they were computed without the weights. (At most one training row per fold is
    padding; a minibatch that holds only padding rows takes a zero step.)

    ``kf`` takes only ``fold``, so it can be a sweep's problem factory itself; to pass
    other grid values to ``make_problem`` use ``lambda fold, dropout: kf.problem(fold,
    dropout=dropout)``.
    """

    def __init__(self, make_problem: Callable[..., Problem], X, y, k: int, seed: int = 0):
        if not callable(make_problem):
            raise TypeError(
                "kfold_problem: `make_problem` must be a function (X, y) -> Problem, e.g. "
                f"lambda X, y: jd.problems.softmax_regression(X, y, classes=10); got "
                f"{make_problem!r}."
            )
        Xa = _float_array(X)
        ya = jnp.asarray(y)
        if Xa.ndim != 2:
            raise ValueError(f"kfold_problem: `X` must be 2-D (n, d), got shape {Xa.shape}.")
        if ya.ndim == 0 or ya.shape[0] != Xa.shape[0]:
            raise ValueError(
                f"kfold_problem: `y` needs one label per row of X ({Xa.shape[0]}), got shape "
                f"{ya.shape}."
            )
        self.make_problem = make_problem
        self.X, self.y = Xa, ya
        self.folds = _data.kfold(Xa.shape[0], k, seed)
        self.k = int(self.folds.val.shape[0])
        self.padded = Xa.shape[0] % self.k != 0

    def __repr__(self):
        return f"KFold(k={self.k}, n={self.X.shape[0]}, padded={self.padded})"

    def problem(self, fold, **kwargs) -> Problem:
        """The problem of fold ``fold`` (an int, possibly traced); ``kwargs`` go to
        ``make_problem``."""
        value = concrete(fold)
        if value is not None and (np.ndim(value) != 0 or not 0 <= int(value) < self.k):
            raise ValueError(f"KFold: `fold` must be an int in 0..{self.k - 1}, got {fold!r}.")
        f = jnp.asarray(fold)
        tr, va = self.folds.train[f], self.folds.val[f]
        p = self.make_problem(jnp.take(self.X, tr, axis=0), jnp.take(self.y, tr, axis=0), **kwargs)
        if not isinstance(p, Problem):
            raise TypeError(f"kfold_problem: `make_problem` must return a jd.Problem, got {p!r}.")
        if not (isinstance(p.data, dict) and "X" in p.data and "y" in p.data):
            raise ValueError(
                "kfold_problem: `make_problem(X, y)` must return a problem with data "
                f"{{'X', 'y'}} (the classifiers, least_squares), got {p.name!r}."
            )
        X_va, y_va = jnp.take(self.X, va, axis=0), jnp.take(self.y, va, axis=0)
        if not self.padded:
            return with_heldout(p, X_va, y_va)
        if not getattr(p.loss, "supports_weight", False):
            n = self.X.shape[0]
            raise ValueError(
                f"kfold_problem: n = {n} examples do not split evenly into k = {self.k} "
                "folds, so folds are padded with weight-0 rows, which needs a loss that "
                f"reads batch['weight'] ({p.name!r} does not); use a jd.problems "
                f"classifier or a k that divides {n}."
            )
        p = p.replace(
            data={**p.data, "weight": self.folds.train_weight[f]},
            minimizer=None,
            min_value=None,
            smoothness=None,
            strong_convexity=None,
        )
        return with_heldout(p, X_va, y_va, self.folds.val_weight[f])

    def __call__(self, fold) -> Problem:
        return self.problem(fold)


def kfold_problem(make_problem: Callable[..., Problem], X, y, k: int, seed: int = 0) -> KFold:
    """K-fold cross-validation as a sweep axis: a `KFold`, i.e. ``fold -> Problem``.

    Sweep it with ``{"fold": range(k), ...}``: K folds x learning rates x seeds run as
    one compiled program, and `metrics()`'s validation metrics read each run's own
    fold. Summarize with `cv_summary`.

    Args:
      make_problem: ``(X_train, y_train) -> Problem`` for one fold; it receives traced
        arrays inside a sweep, so classifiers need ``classes=`` given.
      X, y: all examples to cross-validate over (e.g. ``split.train``).
      k: number of folds; seed: the shuffle seed (`jd.data.kfold`).

    Example:
      >>> import optax, jaxdescent as jd, jaxdescent.data as data, jaxdescent.validation as v
      >>> s = data.load_iris(val=0.0)
      >>> kf = v.kfold_problem(lambda X, y: jd.problems.softmax_regression(X, y, classes=3),
      ...                      *s.train, k=4)
      >>> res = jd.sweep(kf, lambda lr: optax.sgd(lr), {"fold": range(4), "lr": [0.1, 1.0]},
      ...                seeds=1, steps=20, log_every=10, metrics=v.metrics(train=False))
      >>> v.cv_summary(res).mean.shape
      (2,)
    """
    return KFold(make_problem, X, y, k, seed)


class CVSummary(NamedTuple):
    """Cross-validated metric per configuration.

    Attributes:
      mean, std, min, max: over folds x seeds (std with ddof=0), shaped by the
        remaining grid axes.
      values: the per-run values, (*remaining grid shape, n_folds * n_seeds).
      axes: dict name -> values of the remaining grid axes.
    """

    mean: Any
    std: Any
    min: Any
    max: Any
    values: Any
    axes: dict


def cv_summary(result, metric: str = "val_accuracy", *, fold_axis: str = "fold", at=-1):
    """Mean and spread of a metric across folds (and seeds), per configuration.

    Args:
      result: a `jd.SweepResult` with a fold axis.
      metric: a logged metric name (or ``"loss"``).
      fold_axis: the name of the fold axis.
      at: which logged step: an index on the logged axis (default the last), or an
        `EarlyStop` (e.g. ``early_stopping(result)``) to read each run at its own best
        step.

    Returns:
      A `CVSummary`.
    """
    axes = getattr(result, "axes", None)
    if not isinstance(axes, dict) or fold_axis not in axes:
        raise ValueError(
            f"cv_summary: `result` must be a SweepResult with a {fold_axis!r} axis, got axes "
            f"{list(axes) if isinstance(axes, dict) else None}."
        )
    if isinstance(at, EarlyStop):
        values = at.loss if metric == "loss" else at.metrics.get(metric)
        if values is None:
            raise ValueError(f"cv_summary: `at` has no metric {metric!r}; got {list(at.metrics)}.")
        values = np.asarray(values)
    else:
        values = np.asarray(_curve(result, metric, "cv_summary"))[..., at]
    names = list(axes)
    keep = [i for i, n in enumerate(names) if n not in (fold_axis, "seed")]
    moved = np.transpose(values, keep + [names.index(fold_axis), names.index("seed")])
    flat = moved.reshape(moved.shape[: len(keep)] + (-1,))
    return CVSummary(
        mean=flat.mean(-1),
        std=flat.std(-1),
        min=flat.min(-1),
        max=flat.max(-1),
        values=flat,
        axes={names[i]: axes[names[i]] for i in keep},
    )


# --- early stopping ---------------------------------------------------------------------


class EarlyStop(NamedTuple):
    """Where a run should have stopped, by its logged curve: NumPy arrays shaped like the
    result's runs, () for a Trace and (*grid_shape, n_seeds) for a SweepResult.

    Attributes:
      best_step: the step count t of the best logged iterate.
      best_index: its position on the logged axis.
      best_value: the chosen metric there.
      loss: the training loss (objective) there.
      metrics: dict name -> every logged metric there (``grad_norm`` included).
      params: the params there (``None`` when the run did not keep them).
      stopped_step: the step at which the patience rule stops training (the last
        logged step when it never does, or without patience).
    """

    best_step: Any
    best_index: Any
    best_value: Any
    loss: Any
    metrics: dict
    params: Any
    stopped_step: Any


def _curve(result, metric: str, what: str):
    if metric in ("loss", "grad_norm"):
        return getattr(result, metric)
    if metric not in result.metrics:
        raise ValueError(
            f"{what}: no logged metric {metric!r}; the result has 'loss', 'grad_norm' and "
            f"{sorted(result.metrics)} (log validation metrics with "
            "metrics=jd.validation.metrics())."
        )
    return result.metrics[metric]


def _at(a, idx):
    """a[..., idx, ...] along the logged axis (axis ``idx.ndim``), one index per run."""
    a = np.asarray(a)
    lead = idx.ndim
    index = idx.reshape(idx.shape + (1,) * (a.ndim - lead))
    return np.take_along_axis(a, index, axis=lead).squeeze(lead)


def early_stopping(result, metric: str = "val_loss", mode: str = "min", *, patience=None):
    """The best logged step of each run by ``metric``, and everything logged there.

    Without ``patience`` this is the best step over the whole curve (the earliest in
    a tie); with ``patience = p`` it is the classic rule: training stops at the first
    logged step where the metric has not improved (strictly) for p logged steps in a
    row, and keeps the best iterate up to there. NaN values (diverged runs) never
    count as best. Vectorized over every run: argmin / cumulative min along the logged
    axis and ``take_along_axis`` on host (NumPy) arrays, so the analysis compiles
    nothing; no loop over steps.

    Args:
      result: a `jd.Trace` or a `jd.SweepResult` (with ``metric`` logged).
      metric: ``"val_loss"`` (default), ``"val_accuracy"``, ``"loss"`` or any logged
        metric.
      mode: ``"min"`` or ``"max"`` (e.g. for accuracy).
      patience: None, or a positive int number of LOGGED steps.

    Returns:
      An `EarlyStop`.

    Example:
      >>> import numpy as np, jaxdescent as jd, jaxdescent.validation as v
      >>> tr = jd.Trace(step=np.arange(0, 50, 10), loss=np.zeros(5), grad_norm=np.zeros(5),
      ...               params=None, final_params=None, final_loss=None, diverged=False,
      ...               diverged_at=-1, metrics={"val_loss": np.array([5., 3, 2, 4, 6])})
      >>> es = v.early_stopping(tr)
      >>> int(es.best_step), float(es.best_value)
      (20, 2.0)
    """
    if mode not in ("min", "max"):
        raise ValueError(f"early_stopping: `mode` must be 'min' or 'max', got {mode!r}.")
    if patience is not None and (
        isinstance(patience, bool) or not isinstance(patience, int | np.integer) or patience < 1
    ):
        raise ValueError(
            f"early_stopping: `patience` must be None or a positive int (logged steps), got "
            f"{patience!r}."
        )
    values = np.asarray(_curve(result, metric, "early_stopping"))
    steps = np.asarray(result.step)
    n_log = values.shape[-1]
    score = values if mode == "min" else -values
    score = np.where(np.isnan(score), np.inf, score)
    last = np.full(values.shape[:-1], n_log - 1)
    if patience is None:
        idx = np.argmin(score, axis=-1)
        stop = last
    else:
        running = np.minimum.accumulate(score, axis=-1)
        before = np.concatenate([np.full(score.shape[:-1] + (1,), np.inf), running[..., :-1]], -1)
        positions = np.broadcast_to(np.arange(n_log), score.shape)
        latest = np.maximum.accumulate(np.where(score < before, positions, 0), axis=-1)
        stops = positions - latest >= patience
        stop = np.where(np.any(stops, -1), np.argmax(stops, -1), last)
        idx = _at(latest, stop)
    logged = {name: _at(v, idx) for name, v in result.metrics.items()}
    logged["grad_norm"] = _at(result.grad_norm, idx)
    params = None
    if result.params is not None:
        params = jax.tree.map(lambda p: _at(p, idx), result.params)
    return EarlyStop(
        best_step=steps[idx],
        best_index=idx,
        best_value=_at(values, idx),
        loss=_at(result.loss, idx),
        metrics=logged,
        params=params,
        stopped_step=steps[stop],
    )
