"""SGD with and without momentum, with and without learning-rate decay, on the digits MLP.

The network and data of `mlp_digits` (one hidden ReLU layer of 128 units, 1079 training
and 359 validation digits, minibatches of 32, He init per seed). Momentum and decay are
two numeric grid axes of ONE sweep, beside the learning rate and 8 seeds:

* ``momentum`` in {0, 0.9}: optax's heavy ball, m_t = g_t + beta m_{t-1}, x_t = x_{t-1} -
  eta_t m_t;
* ``decay`` in {0, 1}: the rate eta_t = eta (1 - decay + decay c_t) with the cosine factor
  c_t = (1 + cos(pi t / T)) / 2 (`jd.schedules.cosine`), so decay 0 is the constant rate
  and decay 1 anneals it from eta to 0 over the T steps -- the material's "large rate at
  the start, small near convergence".

So the four variants -- SGD, SGD + cosine decay, momentum, momentum + cosine decay -- at 5
learning rates x 8 seeds (160 runs) run as one compiled program; curves are medians over
seeds. What to expect: with momentum 0.9 a step moves about eta / (1 - beta) = 10 eta
along a steady gradient, so at equal eta momentum is about 10x faster, and plain SGD at
10 eta behaves like momentum at eta. Decay slows the end of a run (smaller steps): on
this network, which fits its training set exactly, the minibatch noise vanishes as the
loss goes to 0, so at a rate that is already stable decay ends with a HIGHER training
loss; it pays off at a rate too large for a constant step, where momentum without decay
blows up and with decay recovers its accuracy once the rate has come down -- though not
unharmed: its weights have grown huge on the way, and its validation loss with them.
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

TITLE = "SGD, momentum and learning-rate decay on the digits MLP (median over seeds)"
ABOUT = (
    "SGD with and without heavy-ball momentum 0.9, with and without cosine learning-rate "
    "decay, on the digits MLP of mlp_digits (the material's momentum and decay sections): "
    "momentum and decay are two numeric grid axes of one sweep beside the learning rate "
    "and the seeds."
)

HIDDEN = (128,)
BATCH = 32
LRS = (0.01, 0.03, 0.1, 0.2, 0.3)
MOMENTA = (0.0, 0.9)
DECAYS = (0.0, 1.0)
SEEDS = 8
STEPS = 2000
LOG_EVERY = 20
#: The rate of the curves figure (stable for every variant).
CURVE_LR = 0.03
#: --quick: two rates (a stable one and one too large for constant momentum), 3 seeds.
QUICK_LRS = (0.03, 0.2)
QUICK_SEEDS = 3
QUICK_STEPS = 600
DATA_SEED = 0
VARIANTS = {  # (momentum, decay) -> label
    (0.0, 0.0): "SGD",
    (0.0, 1.0): "SGD + cosine decay",
    (0.9, 0.0): "momentum 0.9",
    (0.9, 1.0): "momentum 0.9 + cosine decay",
}


def optimizer_factory(steps: int):
    """``make_optimizer(lr, momentum, decay)`` for runs of ``steps`` steps (all traced)."""
    cosine = jd.schedules.cosine(1.0, steps)

    def make_optimizer(lr, momentum, decay):
        def rate(count):
            return lr * (1.0 - decay + decay * cosine(count))

        return optax.sgd(rate, momentum=momentum)

    return make_optimizer


def compute(quick: bool = False) -> dict:
    split = jdata.load_digits(seed=DATA_SEED)
    base = jd.problems.mlp_classifier(*split.train, hidden=HIDDEN, classes=split.classes)
    steps = QUICK_STEPS if quick else STEPS
    result = jd.sweep(
        validation.with_heldout(base, *split.val),
        optimizer_factory(steps),
        {"lr": QUICK_LRS if quick else LRS, "momentum": MOMENTA, "decay": DECAYS},
        seeds=QUICK_SEEDS if quick else SEEDS,
        steps=steps,
        log_every=LOG_EVERY,
        oracle=jd.oracles.minibatch(BATCH),
        keep_params=False,
        metrics={"val_loss": validation.val_loss, "val_accuracy": validation.val_accuracy},
    )
    return {"result": result}


# --- reading the sweep --------------------------------------------------------------------


KEYS = {  # (momentum, decay) -> headline prefix
    (0.0, 0.0): "sgd",
    (0.0, 1.0): "sgd_decay",
    (0.9, 0.0): "momentum",
    (0.9, 1.0): "momentum_decay",
}


def _final(result):
    """Median over seeds of the final training loss and validation accuracy: (lr, m, d)."""
    loss = np.asarray(result.final_loss, dtype=float)
    loss = np.where(np.isfinite(loss), loss, np.inf)
    return np.median(loss, axis=-1), np.median(result.metrics["val_accuracy"][..., -1], axis=-1)


# --- figures ------------------------------------------------------------------------------


def _curves_figure(data: dict) -> Figure:
    res = data["result"]
    labels = list(VARIANTS.values())  # (momentum, decay) in grid order
    curves = Figure(figsize=(12, 4.5), layout="constrained")
    loss_ax, acc_ax = curves.subplots(1, 2)
    at = res.sel(lr=CURVE_LR)
    jd.plots.loss_curves(
        at,
        ax=loss_ax,
        label=labels,
        ylabel="training loss (median over seeds)",
        title=f"training cross-entropy, lr {CURVE_LR:g}",
    )
    jd.plots.loss_curves(
        at,
        "val_accuracy",
        ax=acc_ax,
        logy=False,
        label=labels,
        ylabel="validation accuracy (median over seeds)",
        title=f"validation accuracy, lr {CURVE_LR:g}",
    )
    acc_ax.set_ylim(0.8, 1.0)
    return curves


def _lr_sweep_figure(data: dict) -> Figure:
    res = data["result"]
    labels = list(VARIANTS.values())  # (momentum, decay) in grid order
    rates = Figure(figsize=(16, 4.5), layout="constrained")
    kw = dict(label=labels, mark="unstable", xlabel="learning rate")
    for ax, metric, logy, ymax in zip(
        rates.subplots(1, 3),
        ("final_loss", "val_loss", "val_accuracy"),
        (True, True, False),
        (1e3, 1e5, None),  # blown-up runs (1e14 and more) would squash the other curves
    ):
        jd.plots.lr_sensitivity(
            res,
            metric=metric,
            logy=logy,
            ymax=ymax,
            ax=ax,
            **kw,
            ylabel=f"final {jd.plots.words(metric).replace('final ', '')} (median over seeds)",
            title=f"after {int(res.step[-1])} steps",
        )
    return rates


def plot(data: dict) -> list[Panel]:
    res = data["result"]
    h = summary(data)
    curves, rates = _curves_figure(data), _lr_sweep_figure(data)

    constant = h[f"momentum_train_loss_at_lr{CURVE_LR:g}"]
    decayed = h[f"momentum_decay_train_loss_at_lr{CURVE_LR:g}"]
    curves_cap = (
        f"Training loss and validation accuracy against step at lr {CURVE_LR:g}, median over "
        f"{len(res.axes['seed'])} seeds (bands 10-90%). Momentum 0.9 reaches in a few hundred "
        "steps what plain SGD needs the whole run for (its steady-state step is 10x longer). "
        "Cosine decay ends higher than the constant rate of the same variant (final loss "
        f"{constant:.1e} without, {decayed:.1e} with, for momentum): the network fits its "
        "training set exactly, so there is no noise floor for a smaller step to get under."
    )
    big = h["momentum_decay_val_loss_per_lr"][-1]
    lrs = h["lrs"]
    same = ""
    if 0.01 in lrs and 0.1 in lrs:  # heavy ball at eta ~ plain SGD at eta / (1 - beta)
        sgd10 = h["sgd_train_loss_per_lr"][lrs.index(0.1)]
        mom1 = h["momentum_train_loss_per_lr"][lrs.index(0.01)]
        same = f" SGD at lr 0.1 ends where momentum at 0.01 does ({sgd10:.2e} vs {mom1:.2e})."
    rates_cap = (
        "Final training loss, validation loss (log scales, cut at the top) and validation "
        "accuracy against the learning rate for the four variants (crosses at the top, one "
        "row per variant: some seed diverged or ended above its initial loss). Plain SGD "
        f"improves up to the largest rate, with or without decay.{same} Momentum is ahead "
        f"at small rates and blows up at {h['momentum_unstable_from_lr']:g} and above "
        "without decay. With cosine decay it survives: once the rate has come down, the "
        "training loss falls to exactly 0 in float32 (not drawn on the log axis: the line "
        "stops) and the validation accuracy comes back, but the weights have grown huge on "
        "the way -- every prediction is extremely confident, and the validation loss at lr "
        f"{h['lrs'][-1]:g} is {big:.3g}."
    )
    return [Panel("curves", curves, curves_cap), Panel("lr_sweep", rates, rates_cap)]


def headline(data: dict) -> list[Number]:
    s = summary(data)
    seeds = f"median over {s['seeds']} seeds"
    pairs = list(zip(KEYS.values(), VARIANTS.values()))
    losses = [
        Number(
            f"{label}: final training loss at lr {CURVE_LR:g}",
            s[f"{k}_train_loss_at_lr{CURVE_LR:g}"],
            note=seeds,
        )
        for k, label in pairs
    ]
    accuracies = [
        Number(
            f"{label}: best validation accuracy",
            s[f"{k}_best_val_accuracy"],
            note=f"at lr {s[f'{k}_best_lr']:g}",
        )
        for k, label in pairs
    ]
    edge = Number(
        "momentum without decay unstable from lr",
        s["momentum_unstable_from_lr"],
        note="most seeds diverged or ended above their start",
    )
    return losses + accuracies + [edge]


def summary(data: dict) -> dict:
    res = data["result"]
    loss, acc = _final(res)
    val_loss = np.median(np.asarray(res.metrics["val_loss"][..., -1], dtype=float), axis=-1)
    lrs = np.asarray(res.axes["lr"])
    unstable = np.asarray(res.unstable()).mean(-1)
    i = int(np.flatnonzero(np.isclose(lrs, CURVE_LR))[0])
    out = {
        "lrs": [jd.analysis.grid_value(v) for v in lrs],
        "seeds": len(res.axes["seed"]),
        "steps": int(res.step[-1]),
    }
    for a, m in enumerate(MOMENTA):
        for b, d in enumerate(DECAYS):
            k = KEYS[(m, d)]
            out[f"{k}_train_loss_at_lr{CURVE_LR:g}"] = float(loss[i, a, b])
            out[f"{k}_val_accuracy_at_lr{CURVE_LR:g}"] = float(acc[i, a, b])
    for a, m in enumerate(MOMENTA):
        for b, d in enumerate(DECAYS):
            k = KEYS[(m, d)]
            j = int(np.argmax(np.where(np.isfinite(acc[:, a, b]), acc[:, a, b], -1)))
            out[f"{k}_best_lr"] = jd.analysis.grid_value(lrs[j])
            out[f"{k}_best_val_accuracy"] = float(acc[j, a, b])
            out[f"{k}_train_loss_at_best_lr"] = float(loss[j, a, b])
    for a, m in enumerate(MOMENTA):
        for b, d in enumerate(DECAYS):
            k = KEYS[(m, d)]
            out[f"{k}_train_loss_per_lr"] = loss[:, a, b].tolist()
            out[f"{k}_val_accuracy_per_lr"] = np.round(acc[:, a, b], 4).tolist()
            out[f"{k}_val_loss_per_lr"] = val_loss[:, a, b].tolist()
            out[f"{k}_unstable_fraction_per_lr"] = unstable[:, a, b].tolist()
    blown = np.flatnonzero(unstable[:, 1, 0] > 0.5)
    out["momentum_unstable_from_lr"] = (
        jd.analysis.grid_value(lrs[blown[0]]) if blown.size else float("inf")
    )
    return out


if __name__ == "__main__":
    main(__name__)
