"""Batch size: steps to a target loss against the batch size B, with the best learning
rate for each B, on the noisy quadratic model and on least squares on real data.

Noisy quadratic model (Zhang et al. 2019): f = 1/2 sum_i h_i x_i^2, h_i = 1/i, d = 100,
per-example gradient noise variance c_i = h_i, so a batch of B has noise std
sqrt(c_i / B) (`jd.oracles.gaussian_noise(jnp.sqrt(c / batch))` with the batch size a
grid axis), from x_0 = 1. The exact E f(x_t) of every (lr, B, momentum) comes from
`jd.bounds.quadratic_moments`, beside a sweep of the same grid over seeds.

Least squares on scikit-learn's breast cancer set (341 standardized training examples, 30
features, labels +-1): minibatches with replacement of a traced size
(`jd.oracles.minibatch(size, replace=True, max_size=M)`), so every batch size is one
point of ONE compiled sweep.

Both show McCandlish et al.'s picture: below a critical batch size doubling B halves the
steps (perfect scaling); above it the steps approach those of exact gradients
(diminishing returns). The fit S(B) = S_min (1 + B_noise / B) (`jd.critical_batch_size`)
gives the critical batch size B_noise. Heavy-ball momentum 0.9 does not help at small B
and helps at large B.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "Batch size: perfect scaling, then diminishing returns (critical batch size)"
ABOUT = (
    "Steps to a target loss against the batch size with the best learning rate per batch "
    "size, with and without momentum: the noisy quadratic model (exact curve from "
    "jd.bounds.quadratic_moments beside the runs; Zhang et al. 2019) and least squares on "
    "breast cancer data with the batch size as one vmapped axis (McCandlish et al. 2018)."
)

H = 1.0 / np.arange(1, 101)  # NQM curvatures; per-example noise variances c = H
NQM_TARGET = 0.1  # E f(x_t) <= 0.1 (f(x_0) = 2.59)
LSQ_FRACTION = 0.05  # f <= f* + 0.05 (f(x_0) - f*)
MOMENTA = (0.0, 0.9)
FULL = dict(
    nqm_batches=2 ** np.arange(0, 11),
    nqm_lrs=np.geomspace(0.004, 3.9, 16),
    nqm_steps=2000,
    nqm_seeds=16,
    lsq_batches=2 ** np.arange(2, 8),
    lsq_lrs=np.geomspace(0.0003, 0.1, 12),
    lsq_steps=1000,
    lsq_seeds=4,
)
QUICK = dict(
    nqm_batches=np.array([4, 8, 16, 256]),
    nqm_lrs=np.geomspace(0.02, 3.0, 10),
    nqm_steps=500,
    nqm_seeds=16,
    lsq_batches=np.array([8, 16, 32]),
    lsq_lrs=np.geomspace(0.001, 0.05, 6),
    lsq_steps=500,
    lsq_seeds=2,
)


def _nqm_exact(lrs, batches, steps):
    """E f(x_t), t = 0..steps, for every (momentum, B, lr): shape (mom, B, lr, steps + 1)."""

    def loss(lr, batch, momentum):
        etas = jnp.full(steps, lr)
        return jd.bounds.quadratic_moments(
            H / 2, jnp.ones(100), etas, jnp.sqrt(H / batch), momentum=momentum
        ).loss

    grid = jax.vmap(jax.vmap(jax.vmap(loss, (0, None, None)), (None, 0, None)), (None, None, 0))
    return np.asarray(jax.jit(grid)(lrs, batches, jnp.asarray(MOMENTA)))


def _best(steps_to_target, lr_axis):
    return np.min(steps_to_target, axis=lr_axis)


CAPTION = (
    "Steps to the target with the best learning rate per batch size. Left: the noisy "
    "quadratic model, exact (lines) and the mean of the seeds' runs (dots), on the same "
    "learning-rate grid (the runs' best of noisy curves is biased low). Right: least "
    "squares with the batch size as a vmapped grid axis. The steps halve as B doubles up "
    "to the critical batch size, then flatten; momentum pays at large B only."
)


def _over_batches(problem, name: str, cfg: dict, oracle, log_every: int):
    """One sweep: learning rate x momentum x batch size (a vmapped axis) x seeds."""
    return jd.sweep(
        problem,
        lambda lr, momentum: optax.sgd(lr, momentum=momentum),
        {"lr": cfg[f"{name}_lrs"], "momentum": MOMENTA, "batch": cfg[f"{name}_batches"]},
        seeds=cfg[f"{name}_seeds"],
        steps=cfg[f"{name}_steps"],
        log_every=log_every,
        keep_params=False,
        oracle=oracle,
    )


def compute(quick: bool) -> dict:
    cfg = QUICK if quick else FULL
    c = jnp.asarray(H)
    nqm = _over_batches(
        jd.problems.quadratic(H / 2, np.ones(100)),
        "nqm",
        cfg,
        lambda batch: jd.oracles.gaussian_noise(jnp.sqrt(c / batch)),
        log_every=5,
    )
    nqm_runs = jd.steps_to_target(nqm.mean("seed").loss, nqm.step, NQM_TARGET)  # (lr, mom, B)
    nqm_exact = jd.steps_to_target(  # (mom, B, lr): exact E f(x_t) at every step
        _nqm_exact(cfg["nqm_lrs"], cfg["nqm_batches"], cfg["nqm_steps"]),
        np.arange(cfg["nqm_steps"] + 1),
        NQM_TARGET,
    )

    split = jd.data.load_breast_cancer()
    X, y = np.asarray(split.train.X), 2.0 * np.asarray(split.train.y) - 1.0
    lsq = jd.problems.least_squares(X, y)
    f0, fstar = float(lsq.objective(lsq.init)), float(lsq.min_value)
    max_size = int(cfg["lsq_batches"].max())
    real = _over_batches(
        lsq,
        "lsq",
        cfg,
        lambda batch: jd.oracles.minibatch(batch, replace=True, max_size=max_size),
        log_every=10,
    )
    lsq_target = fstar + LSQ_FRACTION * (f0 - fstar)
    lsq_runs = jd.steps_to_target(real.mean("seed").loss, real.step, lsq_target)
    return {
        "nqm_batches": cfg["nqm_batches"],
        "nqm_runs": _best(nqm_runs, 0),  # (mom, B)
        "nqm_exact": _best(nqm_exact, 2),
        "lsq_batches": cfg["lsq_batches"],
        "lsq_runs": _best(lsq_runs, 0),  # (mom, B)
        "lsq_target": lsq_target,
    }


def headline(data: dict) -> list[Number]:
    out = []
    for k, m in enumerate(MOMENTA):
        tag = f"momentum {m:g}"
        B, exact, runs = data["nqm_batches"], data["nqm_exact"][k], data["nqm_runs"][k]
        fit = jd.critical_batch_size(B, runs)
        exact_fit = jd.critical_batch_size(B, exact)
        out += [
            Number(
                f"NQM steps to E f <= {NQM_TARGET}, B = {B[0]} ({tag})",
                float(runs[0]),
                "steps",
                float(exact[0]),
                "runs: mean of seeds; theory: exact moments",
            ),
            Number(
                f"NQM steps ratio B = {B[0]} / B = {B[1]} ({tag})",
                float(runs[0] / runs[1]),
                "",
                float(exact[0] / exact[1]),
                "2 = perfect scaling",
            ),
            Number(
                f"NQM critical batch size ({tag})",
                fit.batch_noise,
                "examples",
                exact_fit.batch_noise,
                "fit S = S_min (1 + B_noise / B) of the runs; theory: of the exact curve",
            ),
            Number(
                f"NQM steps at the largest B ({tag})", float(runs[-1]), "steps", float(exact[-1])
            ),
        ]
        lB, lr = data["lsq_batches"], data["lsq_runs"][k]
        out += [
            Number(
                f"least squares steps ratio B = {lB[0]} / B = {lB[1]} ({tag})",
                float(lr[0] / lr[1]),
                "",
                None,
                "2 = perfect scaling",
            ),
            Number(f"least squares steps at B = {lB[-1]} ({tag})", float(lr[-1]), "steps"),
            Number(
                f"least squares critical batch size ({tag})",
                jd.critical_batch_size(lB, lr).batch_noise,
                "examples",
                None,
                "fit of the runs' best steps, S = S_min (1 + B_noise / B)",
            ),
        ]
    return out


def plot(data: dict) -> list[Panel]:
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_nqm, ax_lsq = fig.subplots(1, 2)
    for k, (m, color) in enumerate(zip(MOMENTA, ("C0", "C3"))):
        label = "SGD" if m == 0 else f"momentum {m:g}"
        B = data["nqm_batches"]
        ax_nqm.plot(B, data["nqm_exact"][k], "-", color=color, label=f"{label}, exact")
        ax_nqm.plot(B, data["nqm_runs"][k], "o", color=color, label=f"{label}, runs")
        lB = data["lsq_batches"]
        ax_lsq.plot(lB, data["lsq_runs"][k], "o-", color=color, label=label)
    for ax, B, steps in (
        (ax_nqm, data["nqm_batches"], data["nqm_exact"][0]),
        (ax_lsq, data["lsq_batches"], data["lsq_runs"][0]),
    ):
        finite = np.isfinite(steps)
        ref = steps[finite][0] * B[finite][0] / B
        ax.plot(B, ref, ":", color="gray", label="perfect scaling (1/B)")
        ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel="steps to target")
        ax.set_ylim(0.5 * np.nanmin(np.where(np.isfinite(steps), steps, np.nan)), None)
        ax.legend(fontsize=8)
    ax_nqm.set_title(f"noisy quadratic model, E f <= {NQM_TARGET}")
    ax_lsq.set_title(f"least squares (breast cancer), f - f* <= {LSQ_FRACTION:g} (f0 - f*)")
    return [Panel("steps_vs_batch", fig, CAPTION)]


if __name__ == "__main__":
    main(__name__)
