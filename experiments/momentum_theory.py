"""Heavy-ball momentum against its exact theory (Goh, "Why Momentum Really Works"; d2l 12.6).

On f = 0.005 x1^2 + 0.5 x2^2 (Hessian eigenvalues mu = 0.01, L = 1, condition 100) ONE
sweep runs optax's heavy ball ``optax.sgd(lr, momentum=beta)`` over a grid of learning
rates x momenta. Each run's empirical linear rate (`jd.rates.geometric_rate` of the
distance to the optimum over steps 300..600) is drawn as a heatmap with the theoretical
stability edge lr L = 2 + 2 beta (`jd.bounds.heavy_ball_stable_step`) and Polyak's optimum
(`jd.bounds.heavy_ball_optimal`: lr* = 3.3058, beta* = 0.66942, rate 0.81818, against
(kappa - 1)/(kappa + 1) = 0.980 for the best plain step); along beta = beta* the empirical
rate lies on `jd.bounds.heavy_ball_rate`. Beside it, d2l 12.6's f = 0.1 x1^2 + 2 x2^2 from
(-5, -2): eta = 0.6 diverges without momentum (0.6 > 2/L = 0.5) and converges with
beta = 0.5 (edge (2 + 2 beta)/L = 0.75). The sweeps run in float64: the rates are exact.
"""

from __future__ import annotations

import jax
import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "Heavy-ball momentum: empirical rates against the exact 2x2 theory"
ABOUT = (
    "One sweep over learning rate x momentum on a quadratic of condition number 100: the "
    "empirical linear rate against optax heavy ball's exact rate, stability edge "
    "lr L = 2 + 2 beta and Polyak's optimum (Goh 2017; d2l 12.6's eta = 0.4 / 0.6, beta = 0.5)."
)

SCALES, INIT = (0.005, 0.5), (1.0, 1.0)
EIGS = 2 * np.asarray(SCALES)  # mu = 0.01, L = 1
STEPS, START = 600, 300  # the rate is measured over steps START..STEPS
BLOCK = 50  # root mean square over 50 steps: robust to momentum's oscillation
D2L_SCALES, D2L_INIT, D2L_ETAS, D2L_BETAS, D2L_STEPS = (
    (0.1, 2.0),
    (-5.0, -2.0),
    (0.4, 0.6),
    (0.0, 0.5),
    20,
)


def heavy_ball(lr, momentum):
    return optax.sgd(lr, momentum=momentum)


def grid(quick: bool) -> dict:
    """lr in (0, 4.3) x momentum in [0, 0.95], with Polyak's (lr*, beta*) on the grid."""
    opt = jd.bounds.heavy_ball_optimal(EIGS.min(), EIGS.max())  # float64 under compute
    n_lr, n_beta = (14, 8) if quick else (44, 24)
    lrs = np.union1d(np.linspace(0.1, 4.3, n_lr), [float(opt.lr)])
    betas = np.union1d(np.linspace(0.0, 0.95, n_beta), [float(opt.momentum)])
    return {"lr": lrs, "momentum": betas}


def compute(quick: bool = False) -> dict:
    with jax.enable_x64(True):  # exact rates: float64 sweeps and theory
        sweep = jd.sweep(
            jd.problems.quadratic(SCALES, INIT),
            heavy_ball,
            grid(quick),
            seeds=1,
            steps=STEPS,
            metrics={"d": "distance"},
            keep_params=False,
            progress=False,
        )
        d2l = jd.sweep(
            jd.problems.quadratic(D2L_SCALES, D2L_INIT),
            heavy_ball,
            {"lr": D2L_ETAS, "momentum": D2L_BETAS},
            seeds=1,
            steps=D2L_STEPS,
            progress=False,
        )
        lrs, betas = sweep.axes["lr"], sweep.axes["momentum"]
        optimum = jd.bounds.HeavyBallOptimum(
            *(float(v) for v in jd.bounds.heavy_ball_optimal(EIGS.min(), EIGS.max()))
        )
        theory = np.asarray(jd.bounds.heavy_ball_rate(lrs[:, None], betas[None, :], EIGS))
        d2l_eigs = 2 * np.asarray(D2L_SCALES)
        d2l_theory = np.asarray(
            jd.bounds.heavy_ball_rate(np.asarray(D2L_ETAS)[:, None], D2L_BETAS, d2l_eigs)
        )
        j = np.argmin(np.abs(betas - float(optimum.momentum)))
        fine = np.linspace(lrs[0], lrs[-1], 400)
        line = np.asarray(jd.bounds.heavy_ball_rate(fine, betas[j], EIGS))
    d = np.asarray(sweep.metrics["d"])[:, :, 0]
    empirical = jd.rates.geometric_rate(d, sweep.step, start=START, stop=STEPS, block=BLOCK)
    return {
        "lrs": lrs,
        "betas": betas,
        "empirical": empirical,
        "theory": theory,
        "optimum": optimum,
        "line": (fine, line),
        "d2l": d2l,
        "d2l_theory": d2l_theory,
        "d2l_final": np.asarray(d2l.final_loss)[:, :, 0],
    }


def _agreement(data) -> tuple[float, float]:
    """Max relative rate error over converging cells; share of cells (away from the edge)
    whose empirical stability (rate < 1) matches lr L < 2 + 2 beta."""
    emp, th = data["empirical"], data["theory"]
    ok = th < 0.999
    err = float(np.max(np.abs(emp[ok] / th[ok] - 1)))
    edge = data["lrs"][:, None] * EIGS.max() / (2 + 2 * data["betas"][None, :])
    far = np.abs(edge - 1) > 0.02
    stable = np.nan_to_num(emp, nan=np.inf) < 1
    return err, float(np.mean(stable[far] == (edge[far] < 1)))


def headline(data) -> list[Number]:
    opt, lrs, betas = data["optimum"], data["lrs"], data["betas"]
    i, j = np.argmin(np.abs(lrs - opt.lr)), np.argmin(np.abs(betas - opt.momentum))
    err, agree = _agreement(data)
    kappa = EIGS.max() / EIGS.min()
    out = [
        Number("optimal lr*", float(opt.lr), theory=4 / 1.21, note="(2 / (sqrt mu + sqrt L))^2"),
        Number("optimal momentum beta*", float(opt.momentum), theory=0.81 / 1.21),
        Number(
            "rate at (lr*, beta*)",
            float(data["empirical"][i, j]),
            "per step",
            theory=float(opt.rate),
            note="steps 300..600; a double root adds t: +0.2%",
        ),
        Number("best plain-GD rate", (kappa - 1) / (kappa + 1), "per step", note="beta = 0"),
        Number(
            "max relative rate error, converging cells", err, note=f"{lrs.size * betas.size} runs"
        ),
        Number(
            "cells whose stability matches lr L < 2 + 2 beta",
            agree,
            "fraction",
            theory=1.0,
            note="cells within 2% of the edge left out",
        ),
    ]
    for a, eta in enumerate(D2L_ETAS):
        for b, beta in enumerate(D2L_BETAS):
            out.append(
                Number(
                    f"d2l 12.6: f(x_20), eta = {eta}, beta = {beta}",
                    float(data["d2l_final"][a, b]),
                    note=f"rate {data['d2l_theory'][a, b]:.4f}",
                )
            )
    return out


def plot(data) -> list[Panel]:
    lrs, betas, opt = data["lrs"], data["betas"], data["optimum"]
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.add_subplot()
    shown = np.where(np.isfinite(data["empirical"]), data["empirical"], np.nan)
    mesh = ax.pcolormesh(
        lrs, betas, shown.T, vmin=0.8, vmax=1.05, cmap="viridis", shading="nearest"
    )
    fig.colorbar(mesh, ax=ax, label="empirical rate per step (clipped to [0.8, 1.05])")
    edge = np.linspace(0, 0.95, 50)
    ax.plot(2 + 2 * edge, edge, "r--", label="lr L = 2 + 2 beta (stability edge)")
    ax.plot(
        opt.lr, opt.momentum, "w*", ms=14, mec="k", label=f"optimum, rate {float(opt.rate):.4f}"
    )
    ax.set(xlabel="learning rate", ylabel="momentum beta", xlim=(lrs[0], lrs[-1]))
    ax.legend(fontsize="small", loc="lower left")
    fig2 = Figure(figsize=(6, 4), layout="constrained")
    ax2 = fig2.add_subplot()
    j = np.argmin(np.abs(betas - opt.momentum))
    ax2.plot(*data["line"], "k-", label="heavy_ball_rate")
    ax2.plot(lrs, data["empirical"][:, j], "o", ms=4, label="empirical (steps 300..600)")
    ax2.axvline((2 + 2 * betas[j]) / EIGS.max(), color="r", ls="--", lw=1)
    ax2.set(
        xlabel="learning rate",
        ylabel="rate per step",
        ylim=(0.75, 1.1),
        title=f"along beta = beta* = {betas[j]:.4f}",
    )
    ax2.legend(fontsize="small")
    d2l = data["d2l"]
    fig3 = jd.plots.trace_2d(
        jd.problems.quadratic(D2L_SCALES, D2L_INIT),
        d2l,
        bounds=((-6, 2), (-4, 4)),
        labels=[f"eta {a}, beta {b}" for a in D2L_ETAS for b in D2L_BETAS],
        title="d2l 12.6: f = 0.1 x1^2 + 2 x2^2, 20 steps",
    )
    return [
        Panel(
            "rate_heatmap",
            fig,
            "Empirical rate over lr x momentum with the edge lr L = 2 + 2 beta "
            "(red) and Polyak's optimum (star); blank cells overflowed float64 (diverged).",
        ),
        Panel(
            "rate_along_optimal_beta",
            fig2,
            "Along beta = beta*: empirical rates (dots) on the exact "
            "spectral radius of the 2x2 iteration (line); dashed: the edge (2 + 2 beta*) / L.",
        ),
        Panel(
            "d2l_paths",
            fig3,
            "d2l 12.6: eta = 0.6 leaves the valley without momentum (0.6 > 2/L = "
            "0.5) and converges with beta = 0.5 (edge 0.75).",
        ),
    ]


if __name__ == "__main__":
    main(__name__)
