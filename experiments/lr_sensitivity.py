"""Final loss against the learning rate: SGD, momentum and Adam, and where each diverges.

Two problems, each one sweep over a log-spaced learning-rate grid x the optimizer family
(an unrolled axis) x random starting points (one per seed): the ill-conditioned
quadratic f = x1^2 + 100 x2^2 (L = 200, mu = 2; 100 steps from a uniform start on
[-5, 5]^2) and Rosenbrock's banana (3000 steps from (-1.5, 2) plus N(0, 0.25^2) noise).
The best rate of each optimizer is the one with the lowest median final loss among the
rates at which no seed diverged (a run diverges when its loss becomes non-finite or ends
above where it started). On the quadratic, theory says plain gradient descent is
stable exactly for lr < 2/L = 0.01 and heavy-ball momentum beta for lr < 2 (1 + beta) / L;
a fine sweep of lr / (2 (1 + beta) / L) around 1 locates the empirical edge, and a heatmap
of lr x momentum shows the whole stable region.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
from experiments._common import figure, main

TITLE = "Learning-rate sensitivity of SGD, momentum and Adam, and the 2/L stability edge"

SCALES = (1.0, 100.0)
OPTIMIZERS = ("sgd", "momentum", "adam")
LABELS = {"sgd": "SGD", "momentum": "momentum 0.9", "adam": "Adam"}
BETA = 0.9
#: 8 rates per decade from 1e-4 to 10^0.75 (5.6): the large ones diverge for SGD and momentum.
LRS = 10.0 ** np.arange(-4.0, 0.76, 0.125)
STEPS = {"quadratic": 100, "rosenbrock": 3000}
#: lr x momentum heatmap (SGD with heavy-ball momentum on the quadratic).
HEAT_LRS = 10.0 ** np.arange(-3.0, -1.49, 0.125)
HEAT_MOMENTA = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
#: The edge sweep: lr as a multiple of the theoretical edge 2 (1 + beta) / L.
EDGE_RATIOS = 1.0 + np.linspace(-0.2, 0.2, 17)
EDGE_MOMENTA = (0.0, 0.5, 0.9)


def make_optimizer(opt: str, lr):
    """One optimizer family (``opt``, unrolled) at a traced learning rate."""
    if opt == "sgd":
        return optax.sgd(lr)
    if opt == "momentum":
        return optax.sgd(lr, momentum=BETA)
    return optax.adam(lr)


def quadratic():
    """f = x1^2 + 100 x2^2 from a uniform random start on [-5, 5]^2 (one per seed)."""
    return jd.problems.quadratic(
        scales=SCALES, init=lambda key: jax.random.uniform(key, (2,), minval=-5.0, maxval=5.0)
    )


def rosenbrock():
    """Rosenbrock from (-1.5, 2) moved by N(0, 0.25^2) per coordinate (one start per seed)."""
    start = jnp.array([-1.5, 2.0])
    return jd.problems.rosenbrock(init=lambda key: start + 0.25 * jax.random.normal(key, (2,)))


def compute(quick: bool = False) -> dict:
    seeds = 8 if quick else 32
    problems = {"quadratic": quadratic(), "rosenbrock": rosenbrock()}
    grid = {"opt": list(OPTIMIZERS), "lr": LRS}
    sweeps = {
        name: jd.sweep(
            problem,
            make_optimizer,
            grid,
            seeds=seeds,
            steps=STEPS[name],
            log_every=STEPS[name],
            keep_params=False,
        )
        for name, problem in problems.items()
    }
    L = float(problems["quadratic"].smoothness)
    heat = jd.sweep(
        problems["quadratic"],
        lambda lr, momentum: optax.sgd(lr, momentum=momentum),
        {"lr": HEAT_LRS, "momentum": HEAT_MOMENTA},
        seeds=seeds,
        steps=STEPS["quadratic"],
        log_every=STEPS["quadratic"],
        keep_params=False,
    )
    edge = jd.sweep(
        problems["quadratic"],
        lambda ratio, momentum: optax.sgd(ratio * 2 * (1 + momentum) / L, momentum=momentum),
        {"ratio": EDGE_RATIOS, "momentum": EDGE_MOMENTA},
        seeds=seeds,
        steps=STEPS["quadratic"],
        log_every=STEPS["quadratic"],
        keep_params=False,
    )
    return {
        **sweeps,
        "heat": heat,
        "edge": edge,
        "stable_step": float(jd.bounds.gd_stable_step(problem=problems["quadratic"])),
        "L": L,
        "mu": float(problems["quadratic"].strong_convexity),
    }


def _unstable(res) -> np.ndarray:
    """Per run, whether it diverged: non-finite at some step, or a final loss above the
    initial one (a loss growing geometrically overflows float32 within 100 steps, but not
    float64, so the second test makes the answer independent of the precision)."""
    loss = np.asarray(res.loss, dtype=float)
    return np.asarray(res.diverged) | ~(loss[..., -1] <= loss[..., 0])


def _best(res, lrs) -> tuple[float, float]:
    """(lr, median final loss) minimizing the median over seeds, among the rates at which
    no seed diverged (see `_unstable`)."""
    final = np.asarray(res.final_loss, dtype=float)
    med = np.where(_unstable(res).any(-1), np.inf, np.median(final, axis=-1))
    i = int(np.argmin(med))
    return float(lrs[i]), float(med[i])


def _largest_safe(unstable_any, lrs) -> float | None:
    """The largest rate such that no seed diverged at it or at any smaller rate."""
    bad = np.flatnonzero(unstable_any)
    if bad.size == 0:
        return float(lrs[-1])
    return float(lrs[bad[0] - 1]) if bad[0] > 0 else None


def _edges(data) -> dict:
    """Per momentum: (largest stable lr, smallest unstable lr) of the fine edge sweep and
    the theory 2 (1 + beta) / L."""
    res = data["edge"]
    unstable = _unstable(res).any(-1)  # (ratio, momentum)
    out = {}
    for j, beta in enumerate(EDGE_MOMENTA):
        theory = 2 * (1 + beta) / data["L"]
        stable = EDGE_RATIOS[~unstable[:, j]]
        bad = EDGE_RATIOS[unstable[:, j]]
        out[beta] = {
            "theory": theory,
            "largest_stable": float(stable.max() * theory) if stable.size else None,
            "smallest_unstable": float(bad.min() * theory) if bad.size else None,
        }
    return out


def plot(data: dict, out) -> list:
    labels = [LABELS[o] for o in OPTIMIZERS]
    h = headline(data)
    sens = Figure(figsize=(13, 5), layout="constrained")
    for ax, name in zip(sens.subplots(1, 2), ("quadratic", "rosenbrock")):
        res = data[name]
        jd.plots.lr_sensitivity(
            res,
            "lr",
            labels=labels,
            ax=ax,
            title=f"{name}: final loss after {STEPS[name]} steps",
        )
        lines = [line for line in ax.get_lines() if line.get_label() in labels]
        for opt, line in zip(OPTIMIZERS, lines):
            lr, loss = h["best_lr"][name][opt]["lr"], h["best_lr"][name][opt]["median_loss"]
            ax.plot([lr], [loss], "*", ms=14, color=line.get_color(), mec="k", zorder=4)
        if name == "quadratic":
            for lr, text in (
                (data["stable_step"], "2/L"),
                (2 * (1 + BETA) / data["L"], "2(1+0.9)/L"),
            ):
                ax.axvline(lr, color="0.4", ls="--", lw=1)
                ax.annotate(
                    text,
                    (lr, 0.02),
                    xycoords=("data", "axes fraction"),
                    rotation=90,
                    ha="right",
                    fontsize="small",
                )

    heat = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = heat.subplots()
    jd.plots.heatmap(
        data["heat"],
        "lr",
        "momentum",
        ax=ax,
        title=f"SGD + momentum on x1^2 + 100 x2^2: median final loss, {STEPS['quadratic']} steps",
    )
    im = ax.images[0]
    shown = np.asarray(im.get_array(), dtype=float)
    shown = shown[np.isfinite(shown)]
    im.set_clim(shown.min(), min(shown.max(), 4.0))
    im.colorbar.set_label("log10 final loss (capped at 1e4)")

    def cell(lr, beta):  # heatmap cells sit at integer positions: interpolate between them
        x = np.interp(np.log10(lr), np.log10(HEAT_LRS), np.arange(len(HEAT_LRS)))
        return x, np.interp(beta, HEAT_MOMENTA, np.arange(len(HEAT_MOMENTA)))

    betas = np.asarray(HEAT_MOMENTA)
    ax.plot(*cell(2 * (1 + betas) / data["L"], betas), "w--", lw=2, label="2(1+beta)/L")
    opt = h["heavy_ball_optimum"]
    ax.plot(
        *cell(opt["lr"], opt["momentum"]),
        "w*",
        ms=14,
        mec="k",
        label="optimal (lr, beta) in theory",
    )
    ax.legend(
        fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, facecolor="0.8"
    )

    edge = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = edge.subplots()
    # float64 losses: the largest finite float32 loss times 3 (where the package puts the
    # "diverged" crosses) would overflow.
    res = data["edge"]
    jd.plots.lr_sensitivity(
        res.replace(final_loss=np.asarray(res.final_loss, dtype=float)),
        "ratio",
        labels=[f"momentum {b:g}" for b in EDGE_MOMENTA],
        ax=ax,
        title="the stability edge on x1^2 + 100 x2^2",
    )
    ax.axvline(1.0, color="0.4", ls="--", lw=1)
    ax.set_xlabel("lr / (2 (1 + beta) / L)")
    ax.set_xticks([0.8, 0.9, 1.0, 1.1, 1.2], ["0.8", "0.9", "1", "1.1", "1.2"])
    ax.minorticks_off()

    sgd_edge = h["quadratic_sgd_edge"]
    return [
        figure(
            sens,
            "lr_sensitivity",
            "Final loss (median over seeds, 10-90% band) against the learning rate; crosses at "
            "the top mark rates where some seed diverged, stars the best rate without "
            "divergence. On the quadratic SGD and momentum diverge right past 2/L and "
            "2(1+0.9)/L (dashed). Adam's steps are bounded by its rate, so it never overflows; "
            "it wants rates 10-100 times larger than SGD's, and above about 0.1 its final loss "
            "varies widely between seeds. On Rosenbrock momentum 0.9 diverges at smaller "
            "rates than plain SGD.",
        ),
        figure(
            heat,
            "momentum_heatmap",
            "Median final loss of heavy-ball SGD over learning rate x momentum on the "
            "quadratic; red crosses mark cells where a seed overflowed, and the bright cells "
            "just right of the dashed line grew without overflowing. The dashed line is the "
            "theoretical edge 2(1+beta)/L: momentum buys a larger stable rate, up to twice "
            "2/L. The star is Polyak's optimal pair for a quadratic, lr = 4/(sqrt(L)+sqrt(mu))^2, "
            "beta = ((sqrt(L)-sqrt(mu))/(sqrt(L)+sqrt(mu)))^2; the lowest losses lie next to it. "
            "At beta = 0.99 100 steps are too few to converge at any rate.",
        ),
        figure(
            edge,
            "stability_edge",
            "Final loss against lr as a multiple of the theoretical edge 2(1+beta)/L, for "
            "three momenta: the loss jumps by orders of magnitude exactly past 1 (crosses: "
            f"overflow). Plain SGD is stable up to lr = {sgd_edge['largest_stable']:.4g} and "
            f"unstable from {sgd_edge['smallest_unstable']:.4g}; 2/L = {data['stable_step']:g}.",
        ),
    ]


def headline(data: dict) -> dict:
    best, safe = {}, {}
    for name in ("quadratic", "rosenbrock"):
        best[name], safe[name] = {}, {}
        for k, opt in enumerate(OPTIMIZERS):
            sub = data[name].isel(opt=k)
            lr, loss = _best(sub, LRS)
            best[name][opt] = {"lr": lr, "median_loss": loss}
            safe[name][opt] = _largest_safe(_unstable(sub).any(-1), LRS)
    edges = _edges(data)
    heat = data["heat"]
    med = np.median(np.asarray(heat.final_loss, dtype=float), axis=-1)  # (lr, momentum)
    med = np.where(_unstable(heat).any(-1), np.inf, med)
    i, j = np.unravel_index(np.argmin(med), med.shape)
    root_L, root_mu = np.sqrt(data["L"]), np.sqrt(data["mu"])
    return {
        "best_lr": best,
        "largest_lr_never_diverged": safe,
        "largest_lr_tried": float(LRS[-1]),
        "quadratic_2_over_L": data["stable_step"],
        "quadratic_2_over_L_plus_mu": 2 / (data["L"] + data["mu"]),
        "quadratic_sgd_edge": edges[0.0],
        "quadratic_momentum_edges": {str(b): e for b, e in edges.items() if b},
        "heatmap_best": {
            "lr": float(HEAT_LRS[i]),
            "momentum": float(HEAT_MOMENTA[j]),
            "median_loss": float(med[i, j]),
        },
        "heavy_ball_optimum": {
            "lr": float(4 / (root_L + root_mu) ** 2),
            "momentum": float(((root_L - root_mu) / (root_L + root_mu)) ** 2),
        },
    }


if __name__ == "__main__":
    main(__name__)
