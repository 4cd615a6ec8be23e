"""Gradient descent, per-sample SGD and minibatch SGD, by step and by examples read.

Seeds 000 and 003: the model y = w * x on x = [1, 2, 3], y = [2, 4, 6] from w = 1, trained
by gradient descent on the whole MSE (100 steps at lr 0.01), by per-sample SGD over the
examples in order (10 epochs), and by minibatches of 2. Then a larger noisy regression
(least squares, n = 1024 examples, d = 16 features with scales from 1 down to 0.2, noise
sd 0.5, data seed 0) where the three methods get the same budget of examples read. Each
method is swept over learning rates x seeds; the loss is drawn against steps and against
examples seen (``oracle.examples_per_step``): per step GD is best, per example read SGD
and minibatches are far cheaper until their gradient noise sets a floor.

The y = w * x study is ONE program (the oracle is an unrolled grid axis chosen by an
oracle factory). On the regression each method is its own sweep (one program each): to
read the same number of examples, GD takes n / batch times fewer steps than SGD, and one
shared ``steps`` would make GD run 1024 times longer than its budget.
"""

from __future__ import annotations

import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
from experiments._common import main
from experiments.contract import Number, Panel
from experiments.linear_grid_search import X_DATA, Y_DATA  # the seeds' three points

TITLE = "GD vs per-sample SGD vs minibatch SGD: loss per step and per example read"
ABOUT = (
    "The seeds' y = w x fit (seed 003) by full-batch GD, per-sample SGD and minibatches, "
    "then a noisy least-squares regression: GD wins per step, the stochastic methods per "
    "example read; the oracle is an unrolled grid axis of one sweep."
)

LINE_LR = 0.01  # the material's learning rate
LINE_THRESHOLD = 1e-4  # MSE of y = w x (f* = 0)
LINE_BUDGET = 30  # examples read by every method for the equal-data comparison (10 epochs)

# the oracles of the y = w x study: an unrolled grid axis (the seeds' loops)
LINE_ORACLES = {
    "GD": jd.oracles.full_batch(),
    "SGD": jd.oracles.per_sample("cyclic"),
    "minibatch 2": jd.oracles.minibatch(2),
}
# the oracles of the regression: GD, SGD that picks one example at random (seed 003's
# description), minibatches of 32 drawn without replacement (a fresh shuffle per epoch)
LSQ_ORACLES = {
    "GD": jd.oracles.full_batch(),
    "SGD": jd.oracles.per_sample("replace"),
    "minibatch 32": jd.oracles.minibatch(32),
}
LSQ_LOGS = 512  # logged points per regression run (GD logs every step)
LSQ_THRESHOLD = 0.05  # of the initial suboptimality f(w0) - f*


def regression_problem(n: int = 1024, d: int = 16, noise: float = 0.5, seed: int = 0):
    """Noisy linear data y = X w + e with feature scales 1 .. 0.2 (condition number ~ 27)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.geomspace(1.0, 0.2, d)
    y = X @ rng.normal(size=d) + noise * rng.normal(size=n)
    return jd.problems.least_squares(X, y)


def _sgd(lr):
    return optax.sgd(lr)


def compute(quick: bool = False) -> dict:
    seeds = 4 if quick else 32
    line = jd.problems.linear_regression(X_DATA, Y_DATA, init=1.0)
    line_res = jd.sweep(
        line,
        _sgd,
        {"method": list(LINE_ORACLES), "lr": [0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3]},
        oracle=lambda method: LINE_ORACLES[method],
        seeds=seeds,
        steps=300,
    )

    lsq = regression_problem()
    n = lsq.n_examples
    epochs = 16 if quick else 32
    lrs = np.geomspace(1e-4, 1.0, 13)
    lsq_res = {}
    for name, oracle in LSQ_ORACLES.items():  # one program per oracle (see the docstring)
        steps = epochs * n // oracle.examples_per_step(lsq)
        lsq_res[name] = jd.sweep(
            lsq,
            _sgd,
            {"lr": lrs},
            oracle=oracle,
            seeds=seeds,
            steps=steps,
            log_every=max(1, steps // LSQ_LOGS),
            keep_params=False,
            metrics={"suboptimality": "suboptimality"},
        )
    return {
        "line": line_res,
        "line_problem": line,
        "lsq": lsq_res,
        "lsq_problem": lsq,
        "lsq_epochs": epochs,
    }


# --- reading the sweeps ---------------------------------------------------------------


def _examples(result, per_step: int) -> np.ndarray:
    return np.asarray(result.step) * per_step


def _examples_to_reach(values, examples, threshold) -> np.ndarray:
    """Examples read when a curve first reaches ``threshold`` (inf if never); last axis = log."""
    first = jd.first_below(values, threshold)
    return np.where(first >= 0, examples[first], np.inf)


def _line_at(data, method: str, examples: int) -> dict:
    """Loss and w of the y = w x runs of ``method`` after reading ``examples`` examples."""
    res = data["line"].sel(method=method)
    per_step = LINE_ORACLES[method].examples_per_step(data["line_problem"])
    i = int(np.flatnonzero(_examples(res, per_step) == examples)[0])
    return {"loss": np.asarray(res.loss)[..., i], "w": np.asarray(res.params)[..., i]}


def _line_summary(data) -> dict:
    res, problem = data["line"], data["line_problem"]
    lrs = res.axes["lr"]
    out = {}
    for method, oracle in LINE_ORACLES.items():
        per_step = oracle.examples_per_step(problem)
        sub = res.sel(method=method)
        at_budget = _line_at(data, method, LINE_BUDGET)["loss"]
        med = np.median(np.where(np.isfinite(at_budget), at_budget, np.inf), axis=-1)
        best = int(np.argmin(med))
        reach = np.median(
            _examples_to_reach(sub.loss, _examples(sub, per_step), LINE_THRESHOLD), axis=-1
        )
        out[method] = {
            "best_lr": float(lrs[best]),
            "loss_at_best_lr": float(med[best]),
            "examples_to_threshold": float(np.min(reach)),
            "lr_fastest": float(lrs[int(np.argmin(reach))]),
            "examples_at_lr": float(reach[int(np.argmin(np.abs(lrs - LINE_LR)))]),
        }
    return out


def _lsq_summary(data) -> dict:
    problem = data["lsq_problem"]
    threshold = _lsq_threshold(problem)
    out = {}
    for method, res in data["lsq"].items():
        per_step = LSQ_ORACLES[method].examples_per_step(problem)
        sub = np.asarray(res.metrics["suboptimality"], dtype=float)
        final = np.where(np.isfinite(sub[..., -1]), sub[..., -1], np.inf)
        med = np.median(final, axis=-1)
        best = int(np.argmin(med))
        reach = np.median(_examples_to_reach(sub, _examples(res, per_step), threshold), axis=-1)
        out[method] = {
            "best_lr": float(res.axes["lr"][best]),
            "examples_at_best_lr": float(reach[best]),
            "final_suboptimality": float(med[best]),
            "final_loss": float(np.median(np.asarray(res.final_loss)[best])),
            "examples_to_threshold": float(np.min(reach)),
            "lr_fastest": float(res.axes["lr"][int(np.argmin(reach))]),
        }
    return out


def _lsq_threshold(problem) -> float:
    """5% of the initial suboptimality f(w0) - f*."""
    return LSQ_THRESHOLD * float(problem.objective(problem.init) - problem.min_value)


# --- figures ----------------------------------------------------------------------------


def headline(data: dict) -> list[Number]:
    s = summary(data)
    line = [
        (
            f"y = w x, {m}: examples read to MSE 1e-4 at lr 0.01",
            "line_examples_to_mse_1e-4_at_lr0.01_",
            m,
            "",
        )
        for m in LINE_ORACLES
    ]
    lsq = [
        (
            f"least squares, {m}: examples read to 5% of the initial gap",
            "lsq_examples_to_threshold_",
            m,
            "median over seeds, at its fastest rate",
        )
        for m in LSQ_ORACLES
    ]
    first = Number(
        "y = w x: prediction at x = 4 after 100 GD steps", s["predict4_gd_100_steps"], theory=8.0
    )
    return [first] + [
        Number(name, s[key + _key(m)], "examples", note=note) for name, key, m, note in line + lsq
    ]


def _curves_figure(data: dict) -> tuple[Figure, Figure]:
    line, problem = data["line"], data["line_problem"]
    lsq_sum = _lsq_summary(data)
    lsq, lsq_problem = data["lsq"], data["lsq_problem"]
    fig1, fig2 = (Figure(figsize=(12, 4.2), layout="constrained") for _ in range(2))
    curves = [(fig1, line, LINE_ORACLES, problem, "loss", False, LINE_THRESHOLD, "MSE 1e-4")]
    curves += [(fig2, lsq, LSQ_ORACLES, lsq_problem, "suboptimality", True)]
    curves[1] += (_lsq_threshold(lsq_problem), "5% of f(w0) - f*")
    for fig, results, oracles, prob, metric, logx, level, level_label in curves:
        for ax, x in zip(fig.subplots(1, 2), ("step", "examples")):
            for method, oracle in oracles.items():
                per_step = oracle.examples_per_step(prob)
                lr = LINE_LR if results is line else lsq_sum[method]["best_lr"]
                res = line.sel(method=method) if results is line else results[method]
                jd.plots.loss_curves(
                    res,
                    metric,
                    select={"lr": lr},
                    x=x,
                    examples_per_step=per_step,
                    logx=logx,
                    label=f"{method} ({per_step} per step), lr {lr:.3g}",
                    ax=ax,
                    ylabel=("MSE" if metric == "loss" else "f(w) - f*") + " (median over seeds)",
                )
            ax.axhline(level, color="0.5", lw=0.8, ls=":", label=level_label)
            ax.legend(fontsize="small")  # the threshold joins the legend
        fig.axes[0].set_title(f"{'y = w x' if results is line else 'least squares'}: per step")
        fig.axes[1].set_title("the same runs per example read")
    return (fig1, fig2)


def _lsq_lr_figure(data: dict) -> Figure:
    lsq, lsq_problem = data["lsq"], data["lsq_problem"]
    fig3 = Figure(figsize=(7, 4.6), layout="constrained")
    ax3 = fig3.add_subplot()
    for method, res in lsq.items():
        jd.plots.lr_sensitivity(
            res,
            metric="suboptimality",
            ax=ax3,
            label=method,
            xlabel="learning rate",
            ylabel=f"f - f* after {data['lsq_epochs']} epochs (median over seeds)",
            title="least squares: final suboptimality at an equal budget of examples",
        )
    ax3.axvline(2 / float(lsq_problem.smoothness), color="0.5", lw=0.8, ls=":", label="2/L")
    ax3.legend(fontsize="small")  # 2/L joins the legend
    return fig3


def plot(data: dict) -> list[Panel]:
    line_sum, lsq_sum, lsq = _line_summary(data), _lsq_summary(data), data["lsq"]
    (fig1, fig2), fig3 = _curves_figure(data), _lsq_lr_figure(data)

    at = {m: lsq_sum[m]["examples_at_best_lr"] for m in lsq}
    return [
        Panel(
            "line_loss_curves",
            fig1,
            "y = w x from w = 1 at lr 0.01 (the seeds' setting). Left: per step the three "
            "methods fall together (the data are fitted exactly, so a one-example gradient "
            "shrinks the error as much as the full one on average). Right: per example read, "
            "per-sample SGD (the seeds' loop over the data in order) reaches the dotted MSE "
            f"1e-4 after {line_sum['SGD']['examples_at_lr']:.0f} examples, minibatches of 2 "
            f"after {line_sum['minibatch 2']['examples_at_lr']:.0f}, GD after "
            f"{line_sum['GD']['examples_at_lr']:.0f}. The floor near 1e-12 is float32 "
            "rounding at w = 2.",
        ),
        Panel(
            "lsq_loss_curves",
            fig2,
            "Noisy least squares, each method at the learning rate with the lowest final "
            "f - f* (in the legend). Against steps GD wins; against examples read it is far "
            "behind: the drawn curves cross the dotted line (5% of the initial gap) after "
            f"{at['SGD']:.0f} (SGD), {at['minibatch 32']:.0f} (minibatch 32) and "
            f"{at['GD']:.0f} (GD) examples (medians over seeds). With a constant step the "
            "stochastic methods then level off at a noise floor that grows with the step, "
            "which is why SGD's best final value comes from a small step.",
        ),
        Panel(
            "lsq_lr_sensitivity",
            fig3,
            "Final f - f* against the learning rate after the same number of examples read: "
            "GD is stable up to 2/L and needs a large step to use its few steps; per-sample "
            "SGD diverges (crosses, one row per method) beyond about 0.1 and its floor grows "
            "with the step; minibatches sit in between.",
        ),
    ]


def summary(data: dict) -> dict:
    problem = data["line_problem"]
    out = {"predict4_before": 4 * float(problem.init)}
    gd = data["line"].sel(method="GD", lr=LINE_LR)
    sgd = data["line"].sel(method="SGD", lr=LINE_LR)
    out["w_gd_100_steps"] = float(np.asarray(gd.params)[0, 100])  # seed 000: 1.9999444396553017
    out["predict4_gd_100_steps"] = 4 * out["w_gd_100_steps"]
    out["predict4_sgd_10_epochs"] = 4 * float(np.asarray(sgd.params)[0, 30])  # 7.804863933862125
    lr_index = int(np.flatnonzero(np.isclose(data["line"].axes["lr"], LINE_LR))[0])
    for method in LINE_ORACLES:
        w = _line_at(data, method, LINE_BUDGET)["w"][lr_index]
        out[f"predict4_after_{LINE_BUDGET}_examples_{_key(method)}"] = 4 * float(np.median(w))
    for method, s in _line_summary(data).items():
        k = _key(method)
        out[f"line_best_lr_{k}"] = s["best_lr"]
        out[f"line_mse_after_{LINE_BUDGET}_examples_{k}"] = s["loss_at_best_lr"]
        out[f"line_examples_to_mse_1e-4_{k}"] = s["examples_to_threshold"]
        out[f"line_examples_to_mse_1e-4_at_lr0.01_{k}"] = s["examples_at_lr"]
    out["lsq_threshold"] = _lsq_threshold(data["lsq_problem"])
    out["lsq_min_value"] = float(data["lsq_problem"].min_value)
    for method, s in _lsq_summary(data).items():
        k = _key(method)
        out[f"lsq_best_lr_{k}"] = s["best_lr"]
        out[f"lsq_final_suboptimality_{k}"] = s["final_suboptimality"]
        out[f"lsq_final_loss_{k}"] = s["final_loss"]
        out[f"lsq_examples_to_threshold_{k}"] = s["examples_to_threshold"]
    return out


def _key(method: str) -> str:
    return method.lower().replace(" ", "")


if __name__ == "__main__":
    main(__name__)
