"""Classification problems: the perceptron, logistic and softmax regression, an MLP.

Every problem keeps its examples as ``data = {"X": (n, d) features, "y": labels}`` and
its loss is the MEAN over the batch an oracle hands it, so full-batch, minibatch and
per-sample oracles share one loss. A batch may also carry ``"weight"``: (n,) per-example
weights, and the loss is then the weighted mean sum_i w_i l_i / sum_i w_i (k-fold
padding in `jd.validation` uses weight 0 for rows that are not part of a fold).

The losses are hashable model objects (equal for equal static settings), so a problem
rebuilt by the same factory -- with new data of the same shapes, a traced dropout rate,
inside a penalty wrapper -- reuses the compiled program. Activations come from
``jax.nn`` and are never rewritten here.

Labels: 0/1 (floats, ints or bools) for `perceptron` and `logistic_regression`; int
class indices for `softmax_regression` and `mlp_classifier`. `accuracy`, `predict` and
`data_loss` evaluate any of these problems (also inside `jd.problems.l2` and other
wrappers) on their own data or on held-out examples, deterministically (no dropout).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdescent.checks import concrete, params_shape
from jaxdescent.problem import Problem

__all__ = [
    "Model",
    "check_examples",
    "model_of",
    "weighted_mean",
    "perceptron",
    "logistic_regression",
    "softmax_regression",
    "mlp_classifier",
    "mlp_logits",
    "accuracy",
    "predict",
    "data_loss",
]

_HE_ACTIVATIONS = (
    jax.nn.relu,
    jax.nn.relu6,
    jax.nn.leaky_relu,
    jax.nn.elu,
    jax.nn.selu,
    jax.nn.gelu,
    jax.nn.silu,
)


def _float():
    return jnp.result_type(float)


def weighted_mean(values, batch):
    """mean_i v_i, or sum_i w_i v_i / sum_i w_i when the batch carries ``"weight"``."""
    if isinstance(batch, dict) and "weight" in batch:
        w = batch["weight"].astype(values.dtype)
        total = jnp.sum(w)
        return jnp.sum(w * values) / jnp.where(total > 0, total, 1)
    return jnp.mean(values)


# --- the models: hashable loss objects ------------------------------------------------


class Model:
    """A classifier's loss: ``loss(params, batch[, args][, key=])`` = weighted mean of
    ``losses(scores(params, X), y)``. Subclasses are frozen dataclasses (hashable)."""

    supports_weight = True

    def scores(self, params, X, args=None, key=None):  # pragma: no cover - interface
        raise NotImplementedError

    def losses(self, scores, y):  # pragma: no cover - interface
        raise NotImplementedError

    def labels(self, scores):  # pragma: no cover - interface
        """Predicted class labels (n,) from the scores."""
        raise NotImplementedError

    def truth(self, y):
        """True class labels (n,) from the stored targets."""
        return y

    def targets(self, y):  # pragma: no cover - interface
        """Raw labels as the loss stores them."""
        raise NotImplementedError

    def __call__(self, params, batch, args=None, *, key=None):
        s = self.scores(params, batch["X"], args, key)
        return weighted_mean(self.losses(s, batch["y"]), batch)

    def correct(self, params, batch, args=None):
        """(n,) 1.0 where the deterministic prediction is right, else 0.0."""
        s = self.scores(params, batch["X"], args, None)
        return (self.labels(s) == self.truth(batch["y"])).astype(_float())


@dataclasses.dataclass(frozen=True)
class _Perceptron(Model):
    outputs: int

    def scores(self, params, X, args=None, key=None):
        z = X @ params["w"]
        if "b" in params:
            z = z + params["b"]
        return jax.nn.sigmoid(z)

    def losses(self, scores, y):
        return jnp.mean((scores - y) ** 2, axis=-1)

    def labels(self, scores):
        if self.outputs == 1:
            return (scores[:, 0] > 0.5).astype(jnp.result_type(int))
        return jnp.argmax(scores, axis=-1)

    def truth(self, y):
        if self.outputs == 1:
            return (y[:, 0] > 0.5).astype(jnp.result_type(int))
        return jnp.argmax(y, axis=-1)

    def targets(self, y):
        y = jnp.asarray(y)
        if y.ndim == 1:
            if self.outputs == 1:
                return y.astype(_float())[:, None]
            return jax.nn.one_hot(y, self.outputs, dtype=_float())
        return y.astype(_float())


@dataclasses.dataclass(frozen=True)
class _Logistic(Model):
    def scores(self, params, X, args=None, key=None):
        return X @ params["w"] + params["b"]

    def losses(self, scores, y):
        # -y log s(z) - (1 - y) log(1 - s(z)) = softplus(z) - y z, via log_sigmoid (stable)
        return -y * jax.nn.log_sigmoid(scores) - (1 - y) * jax.nn.log_sigmoid(-scores)

    def labels(self, scores):
        return (scores > 0).astype(jnp.result_type(int))

    def truth(self, y):
        return (y > 0.5).astype(jnp.result_type(int))

    def targets(self, y):
        return jnp.asarray(y).astype(_float())


def _cross_entropy(logits, y):
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(log_p, y[:, None], axis=-1)[:, 0]


class _Categorical(Model):
    """Models with class scores (logits) over integer labels: cross-entropy, argmax."""

    def losses(self, scores, y):
        return _cross_entropy(scores, y)

    def labels(self, scores):
        return jnp.argmax(scores, axis=-1)

    def targets(self, y):
        return jnp.asarray(y).astype(jnp.result_type(int))


@dataclasses.dataclass(frozen=True)
class _Softmax(_Categorical):
    def scores(self, params, X, args=None, key=None):
        return X @ params["w"] + params["b"]


@dataclasses.dataclass(frozen=True)
class _MLP(_Categorical):
    activation: Callable

    def scores(self, params, X, args=None, key=None):
        rate = None if args is None else args["dropout"]
        return mlp_logits(params, X, self.activation, dropout=rate, key=key)


@dataclasses.dataclass(frozen=True)
class _MLPSquared(_MLP):
    """The MLP with the squared error to one-hot targets: 1/2 sum_k (z_k - [k = y])^2."""

    def losses(self, scores, y):
        onehot = jax.nn.one_hot(y, scores.shape[-1], dtype=scores.dtype)
        return 0.5 * jnp.sum((scores - onehot) ** 2, axis=-1)


@dataclasses.dataclass(frozen=True)
class _MLPInit:
    """``key -> params`` for an MLP of layer sizes ``sizes`` (hashable: equal sizes and
    scheme give an equal init, so rebuilt problems share a compiled program)."""

    sizes: tuple
    scheme: str

    def __call__(self, key):
        # One normal draw for all layers (one random op compiles far faster than one per
        # layer), cut into the weight matrices and scaled per layer.
        shapes = list(zip(self.sizes[:-1], self.sizes[1:]))
        z = jax.random.normal(key, (sum(a * b for a, b in shapes),), _float())
        layers, start = [], 0
        for fan_in, fan_out in shapes:
            if self.scheme == "he":
                std = float(np.sqrt(2.0 / fan_in))
            else:
                std = float(np.sqrt(2.0 / (fan_in + fan_out)))
            w = std * z[start : start + fan_in * fan_out].reshape(fan_in, fan_out)
            start += fan_in * fan_out
            layers.append({"w": w, "b": jnp.zeros((fan_out,), _float())})
        return layers


def mlp_logits(params, X, activation: Callable = jax.nn.relu, *, dropout=None, key=None):
    """The logits of a fully connected network: h_0 = X, h_l = act(h_{l-1} W_l + b_l),
    logits = h_{L-1} W_L + b_L (no activation after the last layer).

    Args:
      params: list of layers ``{"w": (fan_in, fan_out), "b": (fan_out,)}``.
      X: (n, d) inputs.
      activation: a ``jax.nn`` activation (or any elementwise function).
      dropout: rate p of inverted dropout on every hidden layer (may be traced). It
        is applied only when ``key`` is given: each unit is kept with probability
        1 - p and scaled by 1 / (1 - p), so E[h] is unchanged; ``key=None``
        (evaluation) uses every unit unscaled.
      key: PRNG key for the dropout masks, or ``None``.

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> layer = {"w": jnp.eye(2), "b": jnp.zeros(2)}
      >>> jd.problems.mlp_logits([layer, layer], jnp.array([[1.0, -1.0]])).tolist()
      [[1.0, 0.0]]
    """
    hidden = params[:-1]
    u = None
    if dropout is not None and key is not None and hidden:
        # One uniform draw for every hidden unit of every example, cut per layer.
        widths = [layer["b"].shape[-1] for layer in hidden]
        u = jax.random.uniform(key, (X.shape[0], sum(widths)), _float())
    h, start = X, 0
    for layer in hidden:
        h = activation(h @ layer["w"] + layer["b"])
        if u is not None:
            keep = 1 - dropout
            width = h.shape[-1]
            mask = u[:, start : start + width] < keep
            start += width
            h = jnp.where(mask, h / keep, 0)
    last = params[-1]
    return h @ last["w"] + last["b"]


# --- argument checks -------------------------------------------------------------------


def _features(X, what: str):
    a = jnp.asarray(X)
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(
            f"{what}: `X` must be a 2-D (n_examples, n_features) array, got shape {a.shape}; "
            "flatten images first, e.g. X.reshape(len(X), -1)."
        )
    return a.astype(_float()) if not jnp.issubdtype(a.dtype, jnp.floating) else a


def _check_n(y, n: int, what: str):
    if jnp.ndim(y) == 0 or jnp.shape(y)[0] != n:
        raise ValueError(
            f"{what}: `y` needs one label per row of X ({n}), got shape {jnp.shape(y)}."
        )


def _binary_labels(y, n: int, what: str):
    y = jnp.asarray(y)
    _check_n(y, n, what)
    values = concrete(y)
    if values is not None and values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(
            f"{what}: labels must be 0/1 (or targets in [0, 1]), got values in "
            f"[{values.min()}, {values.max()}]; for class indices use softmax_regression."
        )
    return y


def _class_labels(y, n: int, classes, what: str):
    """Int labels and the number of classes (inferred from concrete labels)."""
    y = jnp.asarray(y)
    _check_n(y, n, what)
    if y.ndim != 1:
        raise ValueError(f"{what}: `y` must be 1-D int class labels, got shape {y.shape}.")
    values = concrete(y)
    if values is not None and values.size:
        if not np.all(values == np.round(values)):
            raise ValueError(f"{what}: `y` must hold integer class indices 0..C-1.")
        lo, hi = int(values.min()), int(values.max())
        if lo < 0:
            raise ValueError(f"{what}: class labels must be >= 0, got {lo}.")
        if classes is None:
            classes = hi + 1
        elif hi >= classes:
            raise ValueError(
                f"{what}: label {hi} is out of range for classes={classes}; "
                f"pass classes >= {hi + 1}."
            )
    if classes is None:
        raise ValueError(
            f"{what}: `classes` is required when `y` is traced (e.g. a problem built per "
            "fold inside a sweep); pass classes=<number of classes>."
        )
    if isinstance(classes, bool) or not isinstance(classes, int | np.integer) or classes < 2:
        raise ValueError(f"{what}: `classes` must be a Python int >= 2, got {classes!r}.")
    return y.astype(jnp.result_type(int)), int(classes)


def _check_init_tree(init, expected, what: str):
    """A params pytree given as ``init``: same structure and shapes as ``expected``."""
    init = jax.tree.map(lambda a: jnp.asarray(a, _float()), init)
    if jax.tree.structure(init) != jax.tree.structure(expected):
        raise ValueError(
            f"{what}: `init` must be shaped like {jax.tree.map(jnp.shape, expected)}, got "
            f"{jax.tree.map(jnp.shape, init)}; or pass a function key -> params."
        )
    for a, b in zip(jax.tree.leaves(init), jax.tree.leaves(expected)):
        if a.shape != b.shape:
            raise ValueError(
                f"{what}: `init` has shapes {jax.tree.map(jnp.shape, init)}, expected "
                f"{jax.tree.map(jnp.shape, expected)}."
            )
    return init


def _linear_init(init, zeros, what: str):
    if init is None:
        return zeros
    if callable(init):
        return init
    return _check_init_tree(init, zeros, what)


def _top_singular_value_sq(Xb):
    return jnp.linalg.svd(Xb, compute_uv=False)[0] ** 2


def _with_ones(X):
    return jnp.concatenate([X, jnp.ones((X.shape[0], 1), X.dtype)], axis=1)


# --- the problems -----------------------------------------------------------------------


def perceptron(X, y, outputs: int = 1, *, bias: bool = True, init=None) -> Problem:
    """The single-layer perceptron O = sigmoid(x W + b) fitted by mean squared error.

    The loss is MSE over examples and outputs, as the material's
    ``F.mse_loss(target, O)``: E = mean_{i,k} (O_ik - t_ik)^2. For one example and one
    output the material writes E = 1/2 (O - t)^2 with dE/dw_j = (O - t) O (1 - O) x_j;
    the MSE has no 1/2, so here dE/dw_j = 2 (O - t) O (1 - O) x_j (and with m outputs
    dE/dw_jk = 2/m (O_k - t_k) O_k (1 - O_k) x_j), averaged over the batch.

    Args:
      X: (n, d) features.
      y: with ``outputs=1``: (n,) 0/1 labels (or targets in [0, 1]); with more
        outputs: (n,) int class labels (one-hot targets) or (n, outputs) targets.
      outputs: number of sigmoid outputs (static).
      bias: add a bias b (params ``{"w": (d, outputs), "b": (outputs,)}``); without
        it params are ``{"w"}`` only, like the material's ``x @ w.t()``.
      init: params pytree (default zeros) or a function ``key -> params``.

    Returns:
      A Problem (not convex: no known constants). Predictions are O > 0.5 for one
      output and argmax_k O_k for several.

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> p = jd.problems.perceptron(jnp.array([[1.0, 2.0]]), jnp.array([1.0]))
      >>> float(p.objective(p.init))   # O = sigmoid(0) = 1/2, (1/2 - 1)^2
      0.25
    """
    Xa = _features(X, "perceptron")
    n, d = Xa.shape
    if isinstance(outputs, bool) or not isinstance(outputs, int | np.integer) or outputs < 1:
        raise ValueError(f"perceptron: `outputs` must be a Python int >= 1, got {outputs!r}.")
    model = _Perceptron(int(outputs))
    ya = jnp.asarray(y)
    _check_n(ya, n, "perceptron")
    if ya.ndim == 1 and outputs == 1:
        _binary_labels(ya, n, "perceptron")
    elif ya.ndim == 1:
        ya, _ = _class_labels(ya, n, int(outputs), "perceptron")
    elif ya.shape != (n, outputs):
        raise ValueError(
            f"perceptron: `y` must be (n,) labels or (n, outputs) = ({n}, {outputs}) "
            f"targets, got shape {ya.shape}."
        )
    zeros = {"w": jnp.zeros((d, outputs), _float())}
    if bias:
        zeros["b"] = jnp.zeros((outputs,), _float())
    return Problem(
        model,
        _linear_init(init, zeros, "perceptron"),
        data={"X": Xa, "y": model.targets(ya)},
        name="perceptron",
    )


def logistic_regression(X, y, *, init=None) -> Problem:
    """Logistic regression: P(y = 1 | x) = sigmoid(x . w + b), fitted by cross-entropy.

    f(w, b) = mean_i [-y_i log s(z_i) - (1 - y_i) log(1 - s(z_i))], z_i = x_i . w + b,
    computed stably as softplus(z) - y z (``jax.nn.log_sigmoid``). Its gradient is
    X~^T (s(z) - y) / n with X~ = [X, 1].

    Args:
      X: (n, d) features; y: (n,) 0/1 labels.
      init: params ``{"w": (d,), "b": ()}`` (default zeros) or a function key -> params.

    Returns:
      A convex Problem whose smoothness is L = sigma_max(X~)^2 / (4 n), the largest
      Hessian eigenvalue at w = 0 (sigmoid' <= 1/4, with equality at z = 0).

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> p = jd.problems.logistic_regression(jnp.array([[1.0], [-1.0]]), jnp.array([1, 0]))
      >>> round(float(p.objective(p.init)), 6)   # log 2
      0.693147
    """
    Xa = _features(X, "logistic_regression")
    n, d = Xa.shape
    ya = _binary_labels(y, n, "logistic_regression")
    if ya.ndim != 1:
        raise ValueError(f"logistic_regression: `y` must be 1-D (n,), got shape {ya.shape}.")
    model = _Logistic()
    zeros = {"w": jnp.zeros((d,), _float()), "b": jnp.zeros((), _float())}
    return Problem(
        model,
        _linear_init(init, zeros, "logistic_regression"),
        data={"X": Xa, "y": model.targets(ya)},
        smoothness=_top_singular_value_sq(_with_ones(Xa)) / (4 * n),
        name="logistic_regression",
    )


def softmax_regression(X, y, *, classes: int | None = None, init=None) -> Problem:
    """Softmax regression: p = softmax(x W + b), fitted by cross-entropy.

    f(W, b) = mean_i -log p_{i, y_i}, computed with ``jax.nn.log_softmax`` (stable for
    any logits). Its gradient is X~^T (P - Y) / n (Y one-hot, X~ = [X, 1]).

    Args:
      X: (n, d) features; y: (n,) int labels in 0..classes-1.
      classes: number of classes C (inferred from concrete labels; required when y
        is traced).
      init: params ``{"w": (d, C), "b": (C,)}`` (default zeros) or key -> params.

    Returns:
      A convex Problem with smoothness L = sigma_max(X~)^2 / (2 n), an upper bound on
      the Hessian's eigenvalues (Boehning: the cross-entropy's Hessian in the logits,
      diag(p) - p p^T, is at most 1/2 I).

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> p = jd.problems.softmax_regression(jnp.ones((2, 3)), jnp.array([0, 2]))
      >>> round(float(p.objective(p.init)), 6)   # log 3
      1.098612
    """
    Xa = _features(X, "softmax_regression")
    n, d = Xa.shape
    ya, C = _class_labels(y, n, classes, "softmax_regression")
    zeros = {"w": jnp.zeros((d, C), _float()), "b": jnp.zeros((C,), _float())}
    return Problem(
        _Softmax(),
        _linear_init(init, zeros, "softmax_regression"),
        data={"X": Xa, "y": ya},
        smoothness=_top_singular_value_sq(_with_ones(Xa)) / (2 * n),
        name="softmax_regression",
    )


def mlp_classifier(
    X,
    y,
    hidden=(200, 200),
    activation: Callable = jax.nn.relu,
    *,
    classes: int | None = None,
    dropout=None,
    init=None,
    init_key=None,
    loss: str = "cross_entropy",
) -> Problem:
    """A fully connected classifier (the material's 784-200-200-10 ReLU MLP) with
    cross-entropy loss: logits = `mlp_logits`, f = mean_i -log softmax(logits_i)_{y_i}
    (or, with ``loss="mse"``, the squared error to one-hot targets,
    f = mean_i 1/2 sum_k (logits_ik - [k = y_i])^2, the loss of the edge-of-stability
    studies).

    The last layer outputs logits (no activation after it; the material's trailing
    ReLU would clip them), and softmax enters through the stable cross-entropy.

    Args:
      X: (n, d) features; y: (n,) int labels.
      hidden: hidden layer widths, a tuple of Python ints (static: they set shapes;
        () gives softmax regression).
      activation: a ``jax.nn`` activation (static), e.g. ``jax.nn.relu``,
        ``jax.nn.tanh``, ``jax.nn.sigmoid``.
      classes: number of classes (inferred from concrete labels; required when y is
        traced, e.g. in a k-fold sweep).
      dropout: ``None`` (no dropout) or the inverted-dropout rate p in [0, 1) on
        every hidden layer; it may be traced (swept). With a rate the problem is
        stochastic: training losses get a fresh key per step from the oracle, while
        ``objective`` (the logged loss) and the accuracy helpers run without dropout.
      init: how to draw params, a list of ``{"w": (fan_in, fan_out), "b": (fan_out,)}``:
        ``None`` picks ``"he"`` for ReLU-like activations (relu, relu6, leaky_relu,
        elu, selu, gelu, silu) and ``"glorot"`` otherwise; ``"he"`` draws
        w ~ N(0, 2 / fan_in), ``"glorot"`` w ~ N(0, 2 / (fan_in + fan_out)); biases
        start at 0. Or a function key -> params, or a params list (fixed).
      init_key: by default init is a function of the run's key, so every seed of a
        sweep starts from its own draw; an int or key here draws ONE init, shared by
        all seeds.
      loss: ``"cross_entropy"`` (default) or ``"mse"`` (static).

    Returns:
      A Problem whose params are a list of ``{"w", "b"}`` layers.

    Example:
      >>> import jax, jax.numpy as jnp, jaxdescent as jd
      >>> X, y = jnp.ones((4, 3)), jnp.array([0, 1, 2, 1])
      >>> p = jd.problems.mlp_classifier(X, y, hidden=(5,), init_key=0)
      >>> [layer["w"].shape for layer in p.init]
      [(3, 5), (5, 3)]
    """
    Xa = _features(X, "mlp_classifier")
    n, d = Xa.shape
    ya, C = _class_labels(y, n, classes, "mlp_classifier")
    if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, tuple | list) or not all(
        isinstance(h, int | np.integer) and not isinstance(h, bool) and h > 0 for h in hidden
    ):
        raise ValueError(
            f"mlp_classifier: `hidden` must be a tuple of positive Python ints (layer widths "
            f"set shapes, they cannot be traced), got {hidden!r}. To compare widths, unroll "
            "them: grid={'hidden': jd.static([(16,), (64,)])}."
        )
    if not callable(activation):
        raise TypeError(f"mlp_classifier: `activation` must be a function, got {activation!r}.")
    models = {"cross_entropy": _MLP, "mse": _MLPSquared}
    if loss not in models:
        raise ValueError(f"mlp_classifier: `loss` must be 'cross_entropy' or 'mse', got {loss!r}.")
    sizes = (d, *(int(h) for h in hidden), C)

    if init is None or isinstance(init, str):
        scheme = init or ("he" if activation in _HE_ACTIVATIONS else "glorot")
        if scheme not in ("he", "glorot"):
            raise ValueError(
                f"mlp_classifier: `init` must be 'he', 'glorot', a function key -> params or "
                f"a params list, got {init!r}."
            )
        init_fn = _MLPInit(sizes, scheme)
    elif callable(init):
        init_fn = init
    else:
        if init_key is not None:
            raise ValueError(
                "mlp_classifier: `init_key` draws an init, but `init` is already fixed params; "
                "pass one of them."
            )
        init_fn = None
        init = _check_init_tree(
            init, jax.eval_shape(_MLPInit(sizes, "he"), jax.random.key(0)), "mlp_classifier"
        )
    if init_fn is not None:
        if init_key is not None:
            key = jax.random.key(init_key) if isinstance(init_key, int | np.integer) else init_key
            init = init_fn(key)
        else:
            init = init_fn

    args = None
    if dropout is not None:
        rate = jnp.asarray(dropout, _float())
        if rate.ndim != 0:
            raise ValueError(f"mlp_classifier: `dropout` must be a scalar rate, got {dropout!r}.")
        value = concrete(rate)
        if value is not None and not 0 <= float(value) < 1:
            raise ValueError(
                f"mlp_classifier: `dropout` must be a rate in [0, 1), got {float(value)}; "
                "use None for no dropout."
            )
        args = {"dropout": rate}
    return Problem(
        models[loss](activation),
        init,
        data={"X": Xa, "y": ya},
        args=args,
        stochastic=dropout is not None,
        name="mlp_classifier",
    )


# --- held-out examples ------------------------------------------------------------------


def _n_classes(model, params) -> int | None:
    """The number of classes a categorical model scores, from its params' shapes."""
    try:
        if isinstance(model, _Softmax):
            return int(params["b"].shape[-1])
        if isinstance(model, _MLP):
            return int(params[-1]["b"].shape[-1])
    except (KeyError, IndexError, TypeError, AttributeError):  # a user's own params layout
        return None
    return None


def check_examples(problem: Problem, X, y, what: str) -> None:
    """Examples ``X, y`` from outside a problem (held-out data) fit its model: as many
    features per example as its training ``X``, and labels the classifier can score
    (0/1 for a binary model, class indices 0..C-1 of its output layer). Checked on
    concrete labels; shapes always."""
    data = problem.data
    if isinstance(data, dict) and "X" in data:
        want = tuple(jnp.shape(data["X"])[1:])
        if tuple(jnp.shape(X)[1:]) != want:
            raise ValueError(
                f"{what}: `X` has examples of shape {tuple(jnp.shape(X)[1:])} but the "
                f"problem's model takes {want} (its training X is {tuple(jnp.shape(data['X']))}); "
                "pass held-out examples with the same features, prepared the same way."
            )
    model, args = problem.loss, problem.args
    while hasattr(model, "unwrap"):
        model, args = model.unwrap(args)
    if not isinstance(model, Model):
        return
    values = concrete(y)
    if values is None or values.size == 0:
        return
    lo, hi = float(values.min()), float(values.max())
    binary = isinstance(model, _Logistic) or (isinstance(model, _Perceptron) and model.outputs == 1)
    if binary:
        if not (np.all(np.isfinite(values)) and lo >= 0 and hi <= 1):
            raise ValueError(
                f"{what}: `y` must hold 0/1 labels (or targets in [0, 1]) for this binary "
                f"classifier, got values in [{lo}, {hi}]; use the training labels' coding."
            )
        return
    if isinstance(model, _Perceptron) and np.ndim(values) == 2:
        return
    classes = model.outputs if isinstance(model, _Perceptron) else None
    if classes is None:
        classes = _n_classes(model, params_shape(problem))
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        raise ValueError(f"{what}: `y` must hold integer class indices, got values like {lo}.")
    if lo < 0 or (classes is not None and hi >= classes):
        raise ValueError(
            f"{what}: `y` holds labels in [{int(lo)}, {int(hi)}], but the model scores "
            f"classes 0..{(classes or 0) - 1} (its output layer has {classes}); held-out "
            "labels must use the training set's classes (build the problem with "
            "classes=... large enough for both)."
        )


# --- evaluation -------------------------------------------------------------------------


def model_of(problem: Problem, what: str):
    """The classifier inside ``problem`` (through penalty / held-out wrappers) and its args."""
    if not isinstance(problem, Problem):
        raise TypeError(f"{what}: `problem` must be a jd.Problem, got {problem!r}.")
    loss, args = problem.loss, problem.args
    while hasattr(loss, "unwrap"):
        loss, args = loss.unwrap(args)
    if not isinstance(loss, Model):
        raise TypeError(
            f"{what} needs a classification problem (jd.problems.perceptron, "
            f"logistic_regression, softmax_regression or mlp_classifier), got {problem.name!r}."
        )
    return loss, args


def _batch(model, problem, X, y, weight, what: str):
    if X is None and y is None:
        if weight is not None:
            raise ValueError(f"{what}: `weight` goes with `X` and `y`; pass all three.")
        return problem.data
    if X is None or y is None:
        raise ValueError(f"{what}: pass both `X` and `y` (or neither, for the training data).")
    Xa = jnp.asarray(X)
    batch = {
        "X": Xa.astype(_float()) if not jnp.issubdtype(Xa.dtype, jnp.floating) else Xa,
        "y": model.targets(y),
    }
    if weight is not None:
        batch["weight"] = jnp.asarray(weight)
    return batch


def accuracy(problem: Problem, params, X=None, y=None, weight=None):
    """The fraction of examples classified right: mean_i [pred(x_i) = y_i] (weighted by
    ``weight`` if given), deterministic (no dropout).

    Args:
      problem: a classification problem (possibly wrapped in `l1`/`l2` etc.).
      params: its params.
      X, y: examples to evaluate (labels as for the problem); default the problem's
        own data (training accuracy, with its ``"weight"`` if any).
      weight: optional (n,) example weights (0 masks an example out).

    Example:
      >>> import jax.numpy as jnp, jaxdescent as jd
      >>> p = jd.problems.logistic_regression(jnp.array([[1.0], [-1.0]]), jnp.array([1, 0]))
      >>> float(jd.problems.accuracy(p, {"w": jnp.array([2.0]), "b": jnp.array(0.0)}))
      1.0
    """
    model, args = model_of(problem, "accuracy")
    batch = _batch(model, problem, X, y, weight, "accuracy")
    return weighted_mean(model.correct(params, batch, args), batch)


def data_loss(problem: Problem, params, X=None, y=None, weight=None):
    """The classifier's data loss (cross-entropy / MSE) on ``X, y`` (default its training
    data): no penalty term of `l1`/`l2` wrappers, no dropout -- the quantity to compare
    between training and validation data. Arguments as in `accuracy`.
    """
    model, args = model_of(problem, "data_loss")
    batch = _batch(model, problem, X, y, weight, "data_loss")
    return model(params, batch, args)


def predict(problem: Problem, params, X):
    """Predicted class labels (n,) for inputs ``X`` (int; 0/1 for binary problems),
    deterministic (no dropout)."""
    model, args = model_of(problem, "predict")
    Xa = jnp.asarray(X)
    Xa = Xa.astype(_float()) if not jnp.issubdtype(Xa.dtype, jnp.floating) else Xa
    return model.labels(model.scores(params, Xa, args, None))
