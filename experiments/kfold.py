"""5-fold cross-validation of logistic and softmax regression over an L2 grid, one program
per data set.

Two data sets, each with its test fifth held out and never touched here: breast cancer
(455 examples left, 30 features, 2 classes; logistic regression) and the digits (1438
examples left, 64 features, 10 classes; softmax regression). The remaining examples are
cut into k = 5 folds (`jd.validation.kfold_problem`); the objective is the mean
cross-entropy plus lambda / 2 ||W||^2 on the weights (`jd.problems.l2`; the bias is not
penalized). The folds x 13 strengths lambda from 1e-4 to 100 (log-spaced) are ONE
`jd.sweep` per data set: the problem is a function of the grid names ``fold`` and ``l2``.
The parameters start at zero, so there is one seed.

Each run is full-batch gradient descent with Nesterov momentum 0.9 and step 1 / (L +
lambda), where L = sigma_max([X, 1])^2 / (4 n) (logistic) or / (2 n) (softmax) is the
smoothness of the unpenalized loss on all the cross-validated examples: the objective is
(L + lambda)-smooth, so the step is safe at every strength, and the runs end with
gradient norms near zero -- each run is (close to) the penalized minimizer, not an
early-stopped one, so the curves show the effect of lambda alone.

Small lambda: training accuracy above validation accuracy (the fitted weights follow the
training folds); large lambda: both fall together (underfitting) towards the
majority-class rate, since the weights shrink to zero while the unpenalized bias keeps
the class frequencies. The chosen strength is the one with the highest mean validation
accuracy over the folds (the larger one on a tie).
"""

from __future__ import annotations

import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
import jaxdescent.data as jdata
import jaxdescent.validation as validation
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "5-fold cross-validation over an L2 grid: logistic (breast cancer), softmax (digits)"
ABOUT = (
    "k-fold cross-validation (d2l 4.4 / the material's k-fold section) of logistic regression "
    "on breast cancer and softmax regression on the digits, over an L2 strength grid: folds x "
    "strengths are one sweep per data set; the chosen strength has the best mean validation "
    "accuracy."
)

K = 5
STRENGTHS = np.geomspace(1e-4, 1e2, 13)
STEPS = 500
MOMENTUM = 0.9
#: --quick: every other strength, 200 steps.
QUICK_STRENGTHS = STRENGTHS[::2]
QUICK_STEPS = 200
DATA_SEED = 0
DATASETS = ("breast_cancer", "digits")
LABELS = {
    "breast_cancer": "breast cancer, logistic regression",
    "digits": "digits, softmax regression",
}


def _model(name: str):
    if name == "breast_cancer":
        return jd.problems.logistic_regression
    return lambda X, y: jd.problems.softmax_regression(X, y, classes=10)


def _data(name: str):
    load = jdata.load_breast_cancer if name == "breast_cancer" else jdata.load_digits
    return load(val=0.0, test=0.2, seed=DATA_SEED).train


def cross_validate(name: str, strengths, steps: int):
    """One sweep: K folds x L2 strengths of one data set's linear classifier."""
    X, y = _data(name)
    model = _model(name)
    kf = validation.kfold_problem(model, X, y, k=K, seed=DATA_SEED)
    smoothness = float(model(X, y).smoothness)

    def problem(fold, l2):
        return jd.problems.l2(kf(fold), l2)

    def make_optimizer(l2):
        return optax.sgd(1.0 / (smoothness + l2), momentum=MOMENTUM, nesterov=True)

    result = jd.sweep(
        problem,
        make_optimizer,
        {"fold": range(K), "l2": strengths},
        steps=steps,
        log_every=steps // 10,
        keep_params=False,
        metrics=validation.metrics(),
    )
    labels = np.asarray(y)
    return {
        "result": result,
        "n": int(X.shape[0]),
        "smoothness": smoothness,
        "majority_rate": float(np.bincount(labels).max() / labels.size),
    }


def compute(quick: bool = False) -> dict:
    strengths = QUICK_STRENGTHS if quick else STRENGTHS
    steps = QUICK_STEPS if quick else STEPS
    return {name: cross_validate(name, strengths, steps) for name in DATASETS}


# --- reading the sweeps -------------------------------------------------------------------


def folds(result) -> dict:
    """Per-strength mean / std over folds of validation and training accuracy, and the
    chosen strength (highest mean validation accuracy; the larger strength on a tie)."""
    val = validation.cv_summary(result, "val_accuracy")
    train = validation.cv_summary(result, "accuracy")
    strengths = np.asarray(val.axes["l2"])
    best = len(strengths) - 1 - int(np.argmax(val.mean[::-1]))
    return {
        "strengths": strengths,
        "val_mean": val.mean,
        "val_std": val.std,
        "val_values": val.values,
        "train_mean": train.mean,
        "train_std": train.std,
        "best": best,
    }


def _folds_as_seeds(result):
    """The result with the fold axis in the place of the seed axis (one seed dropped), so
    that `jd.plots.lr_sensitivity` draws the spread over folds."""
    one = result.isel(seed=0)  # axes: fold, l2

    def move(a):
        return None if a is None else np.moveaxis(np.asarray(a), 0, 1)

    fields = ("loss", "grad_norm", "metrics", "final_loss", "diverged", "diverged_at")
    moved = {f: _tree_map(move, getattr(one, f)) for f in fields}
    return one.replace(
        axes={"l2": one.axes["l2"], "seed": np.asarray(one.axes["fold"])},
        params=None,
        final_params=None,
        **moved,
    )


def _tree_map(fn, tree):
    if isinstance(tree, dict):
        return {k: fn(v) for k, v in tree.items()}
    return fn(tree)


# --- figures ------------------------------------------------------------------------------


def plot(data: dict) -> list[Panel]:
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    h = summary(data)
    for ax, name in zip(fig.subplots(1, 2), DATASETS):
        res = data[name]["result"]
        s = folds(res)
        view = _folds_as_seeds(res)
        jd.plots.lr_sensitivity(
            view,
            "l2",
            metric="accuracy",
            band=None,
            logy=False,
            ax=ax,
            label=["training accuracy (median over folds)"],
        )
        jd.plots.lr_sensitivity(
            view,
            "l2",
            metric="val_accuracy",
            band=(0.0, 1.0),
            band_label="min-max over folds",
            logy=False,
            ax=ax,
            label=["validation accuracy (median over folds)"],
        )
        ax.errorbar(
            s["strengths"],
            s["val_mean"],
            yerr=s["val_std"],
            fmt="none",
            ecolor="k",
            capsize=3,
            lw=1,
            label="validation mean +- std over folds",
        )
        best = s["strengths"][s["best"]]
        ax.axhline(data[name]["majority_rate"], color="0.5", ls=":", lw=1, label="majority class")
        ax.axvline(best, color="0.4", ls="--", lw=1)
        ax.plot(
            [best],
            [s["val_mean"][s["best"]]],
            "*",
            color="r",
            ms=14,
            mec="k",
            label=f"chosen lambda = {best:.3g}",
        )
        ax.set_xlabel("L2 strength lambda")
        ax.set_ylabel(f"accuracy ({K} folds)")
        ax.set_title(f"{LABELS[name]} (n = {data[name]['n']})", fontsize="medium")
        ax.legend(fontsize="small", loc="lower left")
    caption = (
        f"{K}-fold cross-validation over {len(h['strengths'])} L2 strengths (each panel one "
        "program of folds x strengths). Orange: validation accuracy, median over the folds "
        "with its min-max band, black bars mean +- std; blue: training accuracy. At small "
        "lambda the training accuracy is above the validation accuracy; at large lambda "
        "both fall towards the majority-class rate (underfitting). Chosen (star): lambda = "
        f"{h['breast_cancer_chosen_strength']:.3g} for breast cancer (validation "
        f"{h['breast_cancer_chosen_val_mean']:.3f} +- {h['breast_cancer_chosen_val_std']:.3f}) "
        f"and {h['digits_chosen_strength']:.3g} for the digits "
        f"({h['digits_chosen_val_mean']:.3f} +- {h['digits_chosen_val_std']:.3f}). Dotted: "
        "the majority-class rate."
    )
    return [Panel("cv_accuracy", fig, caption)]


def headline(data: dict) -> list[Number]:
    s = summary(data)
    out = [Number("folds", s["folds"])]
    for name in DATASETS:
        text = LABELS[name].split(",")[0]
        out += [
            Number(f"{text}: examples cross-validated", s[f"{name}_examples"]),
            Number(f"{text}: chosen L2 strength", s[f"{name}_chosen_strength"], "lambda"),
            Number(
                f"{text}: validation accuracy at it",
                s[f"{name}_chosen_val_mean"],
                note=f"mean over folds, std {s[f'{name}_chosen_val_std']:.3f}",
            ),
            Number(f"{text}: majority-class rate", s[f"{name}_majority_rate"]),
        ]
    return out


def summary(data: dict) -> dict:
    strengths = data[DATASETS[0]]["result"].axes["l2"]
    out = {"folds": K, "strengths": [jd.analysis.grid_value(v) for v in strengths]}
    for name in DATASETS:
        res = data[name]["result"]
        s = folds(res)
        out[f"{name}_examples"] = data[name]["n"]
        out[f"{name}_chosen_strength"] = jd.analysis.grid_value(s["strengths"][s["best"]])
        out[f"{name}_chosen_val_mean"] = float(s["val_mean"][s["best"]])
        out[f"{name}_chosen_val_std"] = float(s["val_std"][s["best"]])
        out[f"{name}_val_mean"] = np.round(s["val_mean"], 4).tolist()
        out[f"{name}_val_std"] = np.round(s["val_std"], 4).tolist()
        out[f"{name}_train_mean"] = np.round(s["train_mean"], 4).tolist()
        out[f"{name}_majority_rate"] = data[name]["majority_rate"]
        out[f"{name}_max_final_grad_norm"] = float(np.max(res.grad_norm[..., -1]))
    return out


if __name__ == "__main__":
    main(__name__)
