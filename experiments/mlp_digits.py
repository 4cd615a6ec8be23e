"""An MLP on the digits: learning rate x weight decay x seed in one program, overfitting
and early stopping, and the test accuracy of the configuration chosen on validation.

scikit-learn's 8x8 digits (1797 images, 10 classes) are split 60/20/20 into train (1079),
validation (359) and test (359), standardized with the training statistics
(`jd.data.load_digits`). The model is a ReLU network with one hidden layer of 128 units
(`jd.problems.mlp_classifier`, He init drawn per seed), trained by minibatch SGD (32
examples a step, a fresh shuffle each epoch) with heavy-ball momentum 0.9 -- the method of
the material's section on momentum, and the one whose learning rate matters most, which
is what the sweep is about. 8 learning rates x 2 weight decays x 4 seeds (64 runs) are ONE
`jd.sweep`; validation loss and accuracy are logged every 20 steps through
`jd.validation` metrics.

Weight decay here is ``optax.add_decayed_weights(wd)`` on the weight matrices (not the
biases), chained before ``optax.sgd``: every step adds wd * w to the gradient, so it also
enters the momentum. With SGD this takes exactly the steps of the L2 penalty
``jd.problems.l2(problem, wd)`` (whose gradient is wd * w); the two differ in what is
logged -- the penalty is part of the objective, the decay is not, so the logged training
loss here is the bare cross-entropy -- and they would differ in the steps under Adam,
where a penalty's gradient is rescaled per coordinate while decoupled decay (adamw: the
decay added after the adaptive scaling) is not.

The configuration is chosen on the VALIDATION split only: each run is early-stopped at its
lowest logged validation loss (`jd.validation.early_stopping`), a configuration scores the
median over seeds of the validation accuracy there, and the best one is reported with its
TEST accuracy at the same early-stopped iterates (the test accuracy is logged beside the
others, computed from the iterate at each logged step, and read only at that step) and of
its final params (computed from them directly).

On clean digits the network overfits only mildly: its training loss goes to ~0 while the
validation loss creeps up after its minimum and the validation accuracy stays flat. To
show the textbook picture a second, small sweep trains the same network on 300 training
examples of which 30% carry a wrong label (a fixed random other class): the network first
learns the real digits -- validation accuracy peaks -- and then memorizes the wrong
labels (training accuracy 1, validation accuracy falling, validation loss rising), the
situation early stopping is for.
"""

from __future__ import annotations

import jax
import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
import jaxdescent.data as jdata
import jaxdescent.validation as validation
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "MLP on the digits: lr x weight decay x seeds in one program, early stopping, test"
ABOUT = (
    "A one-hidden-layer ReLU MLP on scikit-learn's digits (the material's MLP and momentum "
    "sections): learning rate x weight decay x seed as one program, overfitting on clean "
    "and noisy labels, early stopping, and the test accuracy of the configuration chosen "
    "on validation."
)

HIDDEN = (128,)
BATCH = 32
MOMENTUM = 0.9
LRS = np.geomspace(1e-3, 1.0, 8)
WDS = (0.0, 1e-3)
SEEDS = 4
STEPS = 2000  # ~59 epochs of 1079 examples at 32 a step
LOG_EVERY = 20
#: --quick: 4 of the 8 rates, 2 seeds, 600 steps (~18 epochs).
QUICK_LRS = LRS[[2, 4, 5, 6]]
QUICK_SEEDS = 2
QUICK_STEPS = 600
#: The clean run of the overfitting figure (no decay): the largest rate of the grid at which
#: training is still smooth (at the next one, 0.139, the loss jumps about).
CLEAN_LR = LRS[4]
#: The label-noise sweep: 300 training examples, 30% wrong labels, no weight decay.
NOISY_EXAMPLES = 300
NOISY_FLIP = 0.3
NOISY_LR = 0.01
NOISY_SEEDS = 4
NOISY_STEPS = 1000
DATA_SEED = 0


def weights_only(params):
    """The decay mask: True for weight matrices, False for biases."""
    return jax.tree.map(lambda a: a.ndim > 1, params)


def make_optimizer(lr, wd):
    """SGD with momentum 0.9 and weight decay wd on the weights (both traced)."""
    return optax.chain(
        optax.add_decayed_weights(wd, mask=weights_only), optax.sgd(lr, momentum=MOMENTUM)
    )


def digits():
    """The digits split 60/20/20 (train 1079, validation 359, test 359), standardized."""
    return jdata.load_digits(seed=DATA_SEED)


def _metrics(base=None, test=None):
    """Training and validation metrics; with ``base`` and ``test`` also the test accuracy
    (logged at every logged step, read only at the step chosen on validation)."""
    out = {
        "accuracy": validation.train_accuracy,
        "val_loss": validation.val_loss,
        "val_accuracy": validation.val_accuracy,
    }
    if test is not None:

        def test_accuracy(params):
            return jd.problems.accuracy(base, params, *test)

        out["test_accuracy"] = test_accuracy
    return out


def compute(quick: bool = False) -> dict:
    split = digits()
    base = jd.problems.mlp_classifier(*split.train, hidden=HIDDEN, classes=split.classes)
    problem = validation.with_heldout(base, *split.val)
    steps = QUICK_STEPS if quick else STEPS
    oracle = jd.oracles.minibatch(BATCH)
    result = jd.sweep(
        problem,
        make_optimizer,
        {"lr": QUICK_LRS if quick else LRS, "wd": WDS},
        seeds=QUICK_SEEDS if quick else SEEDS,
        steps=steps,
        log_every=LOG_EVERY,
        oracle=oracle,
        keep_params=False,
        metrics=_metrics(base, split.test),  # + the test accuracy, read at the chosen step
    )

    X, y = split.train
    y_noisy, flipped = jdata.flip_labels(
        y[:NOISY_EXAMPLES], NOISY_FLIP, split.classes, seed=DATA_SEED
    )
    noisy_base = jd.problems.mlp_classifier(
        X[:NOISY_EXAMPLES], y_noisy, hidden=HIDDEN, classes=split.classes
    )
    noisy = jd.sweep(
        validation.with_heldout(noisy_base, *split.val),
        make_optimizer,
        {"lr": [NOISY_LR], "wd": [0.0]},
        seeds=QUICK_SEEDS if quick else NOISY_SEEDS,
        steps=NOISY_STEPS // 2 if quick else NOISY_STEPS,
        log_every=10,
        oracle=oracle,
        keep_params=False,
        metrics=_metrics(),
    ).sel(lr=NOISY_LR, wd=0.0)
    return {
        "result": result,
        "base": base,
        "test": split.test,
        "sizes": [
            int(split.train.X.shape[0]),
            int(split.val.X.shape[0]),
            int(split.test.X.shape[0]),
        ],
        "noisy": noisy,
        "noisy_flipped": float(np.mean(flipped)),
    }


# --- reading the sweep ------------------------------------------------------------------


def _choice(result):
    """Early stopping per run, the score of each (lr, wd), and the chosen configuration."""
    es = validation.early_stopping(result, "val_loss")
    val_acc = np.median(es.metrics["val_accuracy"], axis=-1)  # (lr, wd)
    val_loss = np.median(es.best_value, axis=-1)
    # highest median validation accuracy; among ties, the lowest median validation loss
    order = np.lexsort((val_loss.ravel(), -val_acc.ravel()))
    i, j = np.unravel_index(order[0], val_acc.shape)
    return es, val_acc, (int(i), int(j))


def _with_es_metric(result, es, name="val_accuracy"):
    """The result with the metric at each run's early-stopping step as a one-step metric,
    for the figures that read a metric's last logged value."""
    return result.replace(
        metrics={**result.metrics, f"{name}_at_es": np.asarray(es.metrics[name])[..., None]}
    )


# --- figures ----------------------------------------------------------------------------


def _train_val_panels(res, axes, title, es):
    """Train vs validation loss (top) and accuracy (bottom) of one configuration."""
    loss_ax, acc_ax = axes
    pairs = (("loss", "val_loss", loss_ax, True), ("accuracy", "val_accuracy", acc_ax, False))
    for train, val, ax, logy in pairs:
        what = "cross-entropy" if logy else "accuracy"
        for metric, who in ((train, "training"), (val, "validation")):
            jd.plots.loss_curves(
                res,
                metric,
                ax=ax,
                logy=logy,
                label=f"{who} {what}",
                ylabel=f"{what} (median over seeds)",
                title=title if logy else None,
            )
    stop = float(np.median(es.best_step))
    for ax in axes:
        ax.axvline(stop, color="k", ls="--", lw=1, label=f"early stop (median {stop:.0f})")
    loss_ax.plot(es.best_step, es.best_value, "kv", ms=6, label="per-seed minimum")
    acc_ax.set_ylim(0.5, 1.01)
    for ax in axes:
        ax.legend(fontsize="small")  # the early-stopping marks join the legend


def _overfitting_figure(data: dict) -> Figure:
    res = data["result"]
    lrs = res.axes["lr"]
    # Overfitting: the clean run (no decay, its best rate) and the label-noise run.
    k0 = int(np.argmin(np.abs(lrs - CLEAN_LR)))
    clean, noisy = res.isel(lr=k0, wd=0), data["noisy"]
    over = Figure(figsize=(12, 7.5), layout="constrained")
    grid = over.subplots(2, 2, sharex="col")
    for col, run, title in (
        (0, clean, f"clean digits, {data['sizes'][0]} examples: lr {lrs[k0]:.3g}, no decay"),
        (1, noisy, f"{NOISY_EXAMPLES} examples, {data['noisy_flipped']:.0%} wrong labels"),
    ):
        _train_val_panels(run, grid[:, col], title, validation.early_stopping(run, "val_loss"))
    return over


def _lr_wd_figure(data: dict) -> Figure:
    res = data["result"]
    es, _, (bi, bj) = _choice(res)
    lrs, wds = res.axes["lr"], res.axes["wd"]
    # lr x weight decay: validation accuracy at early stopping, and against lr per decay.
    shown = _with_es_metric(res, es)
    heat = Figure(figsize=(13, 4.8), layout="constrained")
    left, right = heat.subplots(1, 2)
    star = {"marker": "s", "ms": 34, "mfc": "none", "mec": "r", "mew": 2.5, "ls": ""}
    jd.plots.heatmap(
        shown,
        "lr",
        "wd",
        metric="val_accuracy_at_es",
        log=False,
        vmin=0.9,
        vmax=1.0,
        annotate=".3f",
        colorbar={"label": "validation accuracy"},
        ax=left,
        points={"chosen on validation": ([lrs[bi]], [wds[bj]], star)},
        title="validation accuracy at early stopping (median over seeds)",
    )
    left.set_ylabel("weight decay")
    jd.plots.lr_sensitivity(
        shown,
        metric="val_accuracy_at_es",
        logy=False,
        ax=right,
        label=[f"weight decay {w:g}" for w in wds],
        xlabel="learning rate",
        ylabel="validation accuracy (median over seeds)",
        title="validation accuracy at early stopping against lr",
    )
    right.set_ylim(0.0, 1.02)
    right.axhline(0.95, color="0.5", lw=0.8, ls=":")
    return heat


def plot(data: dict) -> list[Panel]:
    res = data["result"]
    lrs, wds = res.axes["lr"], res.axes["wd"]
    h = summary(data)
    over, heat = _overfitting_figure(data), _lr_wd_figure(data)

    over_cap = (
        "Training (blue) against validation (orange) loss and accuracy, median over seeds; "
        "the dashed line is the median early-stopping step (lowest validation loss; "
        "triangles: each seed's). Left: the full training set without weight decay: the "
        "training loss falls to "
        f"{h['clean_final_train_loss']:.1e} while the "
        f"validation loss bottoms out at {h['clean_min_val_loss']:.3f} (step "
        f"{h['clean_early_stopping_step']:.0f}) and ends at {h['clean_final_val_loss']:.3f}; "
        "validation accuracy stays flat -- mild overfitting. Right: 300 examples with 30% "
        f"wrong labels: validation accuracy peaks at {h['noisy_peak_val_accuracy']:.3f} "
        f"(step {h['noisy_peak_step']}) and falls to {h['noisy_final_val_accuracy']:.3f} as "
        "the network memorizes the wrong labels (training accuracy 1)."
    )
    heat_cap = (
        f"Left: median validation accuracy at each run's early-stopping step over "
        f"{len(lrs)} learning rates x {len(wds)} weight decays ({len(res.axes['seed'])} "
        "seeds each, one program); colours clip below 0.9, red x: some seed diverged. The "
        "red square "
        f"is the configuration chosen on validation (lr {h['best_lr']:.3g}, weight decay "
        f"{h['best_wd']:g}), whose test accuracy is {h['test_accuracy_early_stopped']:.3f}. "
        "Right: the same against lr with the 10-90% band over seeds (crosses above the "
        "axes, one row per decay: some seed diverged); the dotted line is 0.95. Weight "
        "decay matters at the large rates, where it keeps the weights small."
    )
    return [Panel("overfitting", over, over_cap), Panel("lr_wd_heatmap", heat, heat_cap)]


def headline(data: dict) -> list[Number]:
    s = summary(data)
    return [
        Number("runs in the lr x weight decay x seed program", s["runs"]),
        Number("chosen learning rate", s["best_lr"], note="on validation"),
        Number("chosen weight decay", s["best_wd"]),
        Number("validation accuracy of the choice", s["best_val_accuracy"], note="median"),
        Number(
            "test accuracy, early-stopped",
            s["test_accuracy_early_stopped"],
            note="median over seeds",
        ),
        Number("test accuracy, final iterate", s["test_accuracy_final"], note="median"),
        Number("clean: early-stopping step", s["clean_early_stopping_step"], "step"),
        Number("30% wrong labels: peak validation accuracy", s["noisy_peak_val_accuracy"]),
        Number("30% wrong labels: final validation accuracy", s["noisy_final_val_accuracy"]),
    ]


def summary(data: dict) -> dict:
    res = data["result"]
    es, val_acc, (bi, bj) = _choice(res)
    lrs, wds = res.axes["lr"], res.axes["wd"]
    best = res.isel(lr=bi, wd=bj)
    best_es = validation.early_stopping(best, "val_loss")
    base, (X_test, y_test) = data["base"], data["test"]
    test_final = jax.vmap(lambda p: jd.problems.accuracy(base, p, X_test, y_test))(
        best.final_params
    )
    k0 = int(np.argmin(np.abs(lrs - CLEAN_LR)))
    clean = res.isel(lr=k0, wd=0)
    clean_es = validation.early_stopping(clean, "val_loss")
    noisy = data["noisy"]
    vac = np.median(noisy.metrics["val_accuracy"], axis=0)
    peak = int(np.argmax(vac))
    return {
        "split_sizes": data["sizes"],
        "hidden": list(HIDDEN),
        "runs": int(np.size(res.final_loss)),
        "steps": int(res.step[-1]),
        "best_lr": jd.analysis.grid_value(lrs[bi]),
        "best_wd": jd.analysis.grid_value(wds[bj]),
        "best_val_accuracy": float(val_acc[bi, bj]),
        "early_stopping_step": float(np.median(best_es.best_step)),
        "early_stopping_steps_per_seed": np.asarray(best_es.best_step).tolist(),
        "test_accuracy_early_stopped": float(np.median(best_es.metrics["test_accuracy"])),
        "test_accuracy_early_stopped_per_seed": np.asarray(
            best_es.metrics["test_accuracy"]
        ).tolist(),
        "test_accuracy_final": float(np.median(np.asarray(test_final))),
        "test_accuracy_final_per_seed": np.asarray(test_final).tolist(),
        "val_accuracy_at_es": np.round(val_acc, 4).tolist(),
        "diverged_runs": int(np.sum(res.diverged)),
        "clean_lr": jd.analysis.grid_value(lrs[k0]),
        "clean_early_stopping_step": float(np.median(clean_es.best_step)),
        "clean_min_val_loss": float(np.median(clean_es.best_value)),
        "clean_final_val_loss": float(np.median(clean.metrics["val_loss"][:, -1])),
        "clean_final_train_loss": float(np.median(clean.loss[:, -1])),
        "noisy_peak_val_accuracy": float(vac[peak]),
        "noisy_peak_step": int(noisy.step[peak]),
        "noisy_final_val_accuracy": float(vac[-1]),
        "noisy_final_train_accuracy": float(np.median(noisy.metrics["accuracy"][:, -1])),
        "noisy_min_val_loss": float(np.median(noisy.metrics["val_loss"], axis=0).min()),
        "noisy_final_val_loss": float(np.median(noisy.metrics["val_loss"][:, -1])),
        "noisy_early_stopping_step": float(
            np.median(validation.early_stopping(noisy, "val_loss").best_step)
        ),
    }


if __name__ == "__main__":
    main(__name__)
