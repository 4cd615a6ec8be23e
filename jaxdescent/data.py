"""Data sets for the classification problems: scikit-learn's bundled sets, synthetic
generators, reproducible splits and k-fold indices. Nothing is downloaded.

* `load_digits` (8x8 images, 1797 examples, 10 classes), `load_breast_cancer` (569, 2)
  and `load_iris` (150, 3) read the files that ship with scikit-learn and return a
  `Split` -- train / validation / test `Dataset`s, stratified by class, standardized
  with the TRAINING statistics, the same for the same ``seed``.
* `linearly_separable`, `xor` and `spirals` draw synthetic 2-D problems (for the
  perceptron and overfitting demos) from a NumPy generator seeded by ``seed``.
* `kfold` gives fixed-shape fold indices, so folds can be a vmapped sweep axis.

Features come back as JAX arrays of the default float dtype (float64 with x64 on),
labels as default-int arrays.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

__all__ = [
    "Dataset",
    "Split",
    "Folds",
    "split",
    "split_indices",
    "load_digits",
    "load_breast_cancer",
    "load_iris",
    "linearly_separable",
    "xor",
    "spirals",
    "kfold",
    "flip_labels",
]


class Dataset(NamedTuple):
    """Examples: ``X`` (n, d) float features and ``y`` (n,) int labels.

    Unpacks into a problem: ``jd.problems.softmax_regression(*split.train)``.
    """

    X: Any
    y: Any


class Split(NamedTuple):
    """A data set split three ways, standardized with the training statistics.

    Attributes:
      train, val, test: `Dataset`s (``val`` / ``test`` may have 0 rows).
      mean, scale: (d,) the training features' mean and standard deviation used for
        standardizing (scale 1 where a feature is constant on the training set, e.g.
        the digits' always-blank border pixels); X_std = (X_raw - mean) / scale.
      classes: the number of classes.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    mean: Any
    scale: Any
    classes: int


class Folds(NamedTuple):
    """K-fold indices with static shapes (see `kfold`).

    Attributes:
      train: (k, n - floor(n/k)) int indices of each fold's training examples.
      val: (k, ceil(n/k)) int indices of each fold's validation examples.
      train_weight, val_weight: same shapes, 1.0 for real entries and 0.0 for padding
        (padding repeats a valid index of the same fold and must be masked out).
    """

    train: Any
    val: Any
    train_weight: Any
    val_weight: Any


def _fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a fraction in [0, 1), got {value!r}.")
    return float(value)


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int, got {seed!r}.")
    return int(seed)


def split_indices(n: int, *, val: float = 0.2, test: float = 0.2, seed: int = 0, y=None):
    """Reproducible (train, val, test) index arrays that partition range(n).

    The test and validation sizes are round(test * n) and round(val * n). With labels
    ``y`` the split is stratified: the examples are shuffled, then interleaved by class
    so that every prefix holds the classes in proportion, and cut into test, val and
    train (each part then shuffled). Same ``n``, fractions, labels and seed -> same split.

    Example:
      >>> import jaxdescent.data as data
      >>> tr, va, te = data.split_indices(10, val=0.2, test=0.3, seed=1)
      >>> len(tr), len(va), len(te), sorted([*tr, *va, *te]) == list(range(10))
      (5, 2, 3, True)
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"split_indices: `n` must be a positive int, got {n!r}.")
    val, test = _fraction("val", val), _fraction("test", test)
    n_test, n_val = round(test * n), round(val * n)
    if n_test + n_val >= n:
        raise ValueError(
            f"split_indices: val={val} and test={test} leave no training examples out of {n}; "
            "use smaller fractions."
        )
    rng = np.random.default_rng(_seed(seed))
    order = rng.permutation(n)
    if y is not None:
        labels = np.asarray(y)
        if labels.shape != (n,):
            raise ValueError(f"split_indices: `y` must have shape ({n},), got {labels.shape}.")
        lab = labels[order]
        rank = np.empty(n)
        for c in np.unique(lab):
            where = np.flatnonzero(lab == c)
            rank[where] = (np.arange(where.size) + 0.5) / where.size
        order = order[np.argsort(rank, kind="stable")]
    te, va, tr = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return rng.permutation(tr), rng.permutation(va), rng.permutation(te)


def _as_features(X):
    return jnp.asarray(X, dtype=jnp.result_type(float))


def _as_labels(y):
    return jnp.asarray(y, dtype=jnp.result_type(int))


def split(
    X,
    y,
    *,
    val: float = 0.2,
    test: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    stratify: bool = True,
) -> Split:
    """Splits (X, y) into train / val / test (`split_indices`) and standardizes the
    features with the training mean and standard deviation.

    Args:
      X: (n, d) features; y: (n,) int labels.
      val, test: fractions of the examples held out for validation and test.
      seed: the split's seed.
      standardize: (X - mean_train) / std_train per feature (std 1 where it is 0);
        ``False`` keeps raw features (mean 0, scale 1 are reported).
      stratify: keep the class proportions in every part.

    Example:
      >>> import numpy as np, jaxdescent.data as data
      >>> s = data.split(np.arange(20.0)[:, None], np.arange(20) % 2, val=0.25, test=0.25)
      >>> s.train.X.shape, s.val.X.shape, s.test.X.shape, s.classes
      ((10, 1), (5, 1), (5, 1), 2)
    """
    Xn = np.asarray(X, dtype=np.float64)
    yn = np.asarray(y)
    if Xn.ndim != 2:
        raise ValueError(f"split: `X` must be 2-D (n, d), got shape {Xn.shape}.")
    if yn.shape != (Xn.shape[0],):
        raise ValueError(f"split: `y` must have shape ({Xn.shape[0]},), got {yn.shape}.")
    bad = ~np.isfinite(Xn)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"split: `X` has {int(bad.sum())} non-finite (NaN or inf) value(s) in "
            f"{rows.size} example(s) (rows {rows[:5].tolist()}{' ...' if rows.size > 5 else ''}); "
            "they would make the standardized feature columns NaN. Drop or impute those rows "
            "first, e.g. keep = np.isfinite(X).all(axis=1); split(X[keep], y[keep])."
        )
    yn = _class_indices(yn)
    tr, va, te = split_indices(
        Xn.shape[0], val=val, test=test, seed=seed, y=yn if stratify else None
    )
    if standardize:
        mean = Xn[tr].mean(axis=0)
        std = Xn[tr].std(axis=0)
        scale = np.where(std > 0, std, 1.0)
    else:
        mean, scale = np.zeros(Xn.shape[1]), np.ones(Xn.shape[1])
    Xs = (Xn - mean) / scale

    def part(idx):
        return Dataset(_as_features(Xs[idx]), _as_labels(yn[idx]))

    return Split(
        train=part(tr),
        val=part(va),
        test=part(te),
        mean=_as_features(mean),
        scale=_as_features(scale),
        classes=int(yn.max()) + 1,
    )


def _class_indices(y: np.ndarray) -> np.ndarray:
    """Class labels as ints: integer or bool labels as they are; float labels only when
    every value is a whole number (then cast, losslessly); anything else is refused."""
    if y.dtype.kind in "iub":
        return y.astype(np.int64)
    if y.dtype.kind != "f":
        raise TypeError(
            f"split: `y` must hold integer class labels 0..C-1, got dtype {y.dtype}; map the "
            "classes to integers first, e.g. np.unique(y, return_inverse=True)[1]."
        )
    whole = np.isfinite(y) & (y == np.round(y))
    if not whole.all():
        odd = y[~whole][:3].tolist()
        raise ValueError(
            f"split: `y` holds float labels that are not class indices ({odd}...); casting "
            "them to int would merge classes. Pass integer labels 0..C-1 (for float "
            "targets of a regression use jd.data.split_indices and index X, y yourself)."
        )
    return y.astype(np.int64)


def _load(loader, val, test, seed, standardize) -> Split:
    bunch = loader()
    return split(bunch.data, bunch.target, val=val, test=test, seed=seed, standardize=standardize)


def load_digits(
    *, val: float = 0.2, test: float = 0.2, seed: int = 0, standardize: bool = True
) -> Split:
    """scikit-learn's handwritten digits: 1797 8x8 images (64 features, pixel values
    0..16), 10 classes; bundled with scikit-learn, no download. See `split` for the
    arguments.

    Example:
      >>> import jaxdescent.data as data
      >>> s = data.load_digits(seed=0)
      >>> s.train.X.shape, s.val.X.shape, s.test.X.shape, s.classes
      ((1079, 64), (359, 64), (359, 64), 10)
    """
    from sklearn.datasets import load_digits as loader

    return _load(loader, val, test, seed, standardize)


def load_breast_cancer(
    *, val: float = 0.2, test: float = 0.2, seed: int = 0, standardize: bool = True
) -> Split:
    """scikit-learn's Wisconsin breast cancer set: 569 examples, 30 features, 2 classes
    (0 malignant, 1 benign); bundled, no download. See `split` for the arguments."""
    from sklearn.datasets import load_breast_cancer as loader

    return _load(loader, val, test, seed, standardize)


def load_iris(
    *, val: float = 0.2, test: float = 0.2, seed: int = 0, standardize: bool = True
) -> Split:
    """Fisher's iris: 150 examples, 4 features, 3 classes (50 each); bundled with
    scikit-learn, no download. See `split` for the arguments."""
    from sklearn.datasets import load_iris as loader

    return _load(loader, val, test, seed, standardize)


# --- synthetic data ---------------------------------------------------------------------


def _count(n, what: str, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < minimum:
        raise ValueError(f"{what}: `n` must be an int >= {minimum}, got {n!r}.")
    return int(n)


def _flip(rng, y, flip: float, classes: int, what: str):
    if not 0 <= flip <= 1:
        raise ValueError(f"{what}: `flip` must be a probability in [0, 1], got {flip!r}.")
    if flip == 0:
        return y
    return _relabel(rng, y, rng.random(y.shape[0]) < flip, classes)


def _relabel(rng, y, flipped, classes: int):
    """``y`` with each flipped example moved to a uniformly chosen OTHER class."""
    other = (y + rng.integers(1, classes, y.shape[0])) % classes
    return np.where(flipped, other, y)


def flip_labels(y, fraction: float, classes: int, *, seed: int = 0):
    """Label noise of an exact size: round(fraction * n) random examples get a uniformly
    chosen OTHER class (the generators' ``flip=`` instead flips each label with a
    probability).

    Args:
      y: (n,) integer labels in [0, classes).
      fraction: the share of examples to relabel, in [0, 1].
      classes: the number of classes (>= 2).
      seed: NumPy generator seed.

    Returns:
      ``(labels, flipped)``: the new labels and the boolean mask of relabelled examples.

    Example:
      >>> import numpy as np, jaxdescent.data as data
      >>> y, flipped = data.flip_labels(np.zeros(10, int), 0.3, classes=3)
      >>> int(flipped.sum()), bool(np.all((y != 0) == flipped))
      (3, True)
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"flip_labels: `fraction` must be in [0, 1], got {fraction!r}.")
    if classes < 2:
        raise ValueError(f"flip_labels: `classes` must be >= 2, got {classes!r}.")
    y = np.asarray(y)
    n = y.shape[0]
    rng = np.random.default_rng(_seed(seed))
    flipped = np.zeros(n, bool)
    flipped[rng.permutation(n)[: round(fraction * n)]] = True
    return _relabel(rng, y, flipped, classes), flipped


def linearly_separable(
    n: int = 100, dim: int = 2, *, margin: float = 0.1, flip: float = 0.0, seed: int = 0
) -> Dataset:
    """Two classes split by a hyperplane through the origin with a gap: x uniform in
    [-1, 1]^dim, label [x . u > 0] for a random unit normal u, and every point pushed
    ``margin`` away from the plane along u (so the classes are at least 2 margin apart).

    Args:
      n: number of examples; dim: dimension.
      margin: half-width of the empty band around the plane (>= 0).
      flip: probability of flipping each label (label noise; 0 keeps it separable).
      seed: NumPy generator seed.

    Example:
      >>> import jaxdescent.data as data
      >>> d = data.linearly_separable(50, seed=3)
      >>> d.X.shape, sorted(set(d.y.tolist()))
      ((50, 2), [0, 1])
    """
    n = _count(n, "linearly_separable")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"linearly_separable: `dim` must be a positive int, got {dim!r}.")
    if margin < 0:
        raise ValueError(f"linearly_separable: `margin` must be >= 0, got {margin!r}.")
    rng = np.random.default_rng(_seed(seed))
    u = rng.normal(size=dim)
    u /= np.linalg.norm(u)
    X = rng.uniform(-1, 1, size=(n, dim))
    side = X @ u > 0
    X = X + np.where(side, margin, -margin)[:, None] * u
    y = _flip(rng, side.astype(np.int64), flip, 2, "linearly_separable")
    return Dataset(_as_features(X), _as_labels(y))


def xor(n: int = 200, *, flip: float = 0.0, seed: int = 0) -> Dataset:
    """The XOR problem, not linearly separable: x uniform in [-1, 1]^2, label
    [x_1 > 0] xor [x_2 > 0] (1 in the second and fourth quadrants); ``flip`` flips
    each label with that probability.

    Example:
      >>> import jaxdescent.data as data
      >>> d = data.xor(8, seed=0)
      >>> bool(((d.X[:, 0] > 0) != (d.X[:, 1] > 0)).astype(int).tolist() == d.y.tolist())
      True
    """
    n = _count(n, "xor")
    rng = np.random.default_rng(_seed(seed))
    X = rng.uniform(-1, 1, size=(n, 2))
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    y = _flip(rng, y, flip, 2, "xor")
    return Dataset(_as_features(X), _as_labels(y))


def spirals(
    n: int = 300, classes: int = 2, *, noise: float = 0.2, turns: float = 1.0, seed: int = 0
) -> Dataset:
    """Interleaved spirals, one arm per class (the CS231n toy set): class c has points
    r (sin t, cos t) with r uniform on [0, 1] along the arm and angle
    t = 2 pi (turns r + c / classes) + noise * N(0, 1).

    Args:
      n: total number of examples (as evenly split over classes as possible).
      classes: number of arms / classes (>= 2).
      noise: standard deviation of the angle noise (radians).
      turns: how many times each arm winds around the origin.
      seed: NumPy generator seed.

    Example:
      >>> import numpy as np, jaxdescent.data as data
      >>> d = data.spirals(90, classes=3)
      >>> np.bincount(np.asarray(d.y)).tolist()
      [30, 30, 30]
    """
    n = _count(n, "spirals", minimum=2)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"spirals: `classes` must be an int >= 2, got {classes!r}.")
    rng = np.random.default_rng(_seed(seed))
    Xs, ys = [], []
    for c, m in enumerate(np.diff(np.linspace(0, n, classes + 1).round().astype(int))):
        r = np.linspace(0.0, 1.0, m)
        t = 2 * np.pi * (turns * r + c / classes) + noise * rng.normal(size=m)
        Xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, c))
    order = rng.permutation(n)
    return Dataset(_as_features(np.concatenate(Xs)[order]), _as_labels(np.concatenate(ys)[order]))


# --- k-fold -----------------------------------------------------------------------------


def kfold(n: int, k: int, seed: int = 0) -> Folds:
    """K-fold cross-validation indices with static shapes (folds can be vmapped).

    The examples are shuffled (``seed``) and cut into k validation folds of sizes
    ceil(n/k) (the first n mod k folds) and floor(n/k) (the others), which partition
    range(n) exactly; each fold's training set is its complement. To give every fold
    the same shapes, the validation rows are padded to m = ceil(n/k) and the training
    rows to n - floor(n/k), with weight 0 on the padding (when k divides n there is
    none). Weighted means over the real rows -- which `jd.problems` classifiers and
    `jd.validation` compute from ``weight`` -- are then exact.

    Args:
      n: number of examples; k: number of folds, 2 <= k <= n; seed: shuffle seed.

    Returns:
      `Folds` (train, val, train_weight, val_weight).

    Example:
      >>> import numpy as np, jaxdescent.data as data
      >>> f = data.kfold(10, 3, seed=0)
      >>> f.val.shape, f.train.shape, np.asarray(f.val_weight).sum(1).tolist()
      ((3, 4), (3, 7), [4.0, 3.0, 3.0])
    """
    n = _count(n, "kfold", minimum=2)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 2 <= k <= n:
        raise ValueError(f"kfold: `k` must be an int with 2 <= k <= n = {n}, got {k!r}.")
    k = int(k)
    order = np.random.default_rng(_seed(seed)).permutation(n)
    m, rest = -(-n // k), n % k
    t = n - n // k
    val = np.empty((k, m), np.int64)
    val_w = np.zeros((k, m))
    train = np.empty((k, t), np.int64)
    train_w = np.zeros((k, t))
    start = 0
    for i in range(k):
        size = m if (rest == 0 or i < rest) else m - 1
        fold = order[start : start + size]
        others = np.concatenate([order[:start], order[start + size :]])
        start += size
        val[i, :size], val[i, size:] = fold, fold[0]
        val_w[i, :size] = 1.0
        train[i, : others.size], train[i, others.size :] = others, others[0]
        train_w[i, : others.size] = 1.0
    return Folds(
        train=_as_labels(train),
        val=_as_labels(val),
        train_weight=_as_features(train_w),
        val_weight=_as_features(val_w),
    )
