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
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "Learning-rate sensitivity of SGD, momentum and Adam, and the 2/L stability edge"
ABOUT = (
    "Final loss against the learning rate for SGD, momentum 0.9 and Adam on an "
    "ill-conditioned quadratic and on Rosenbrock, and where each diverges: the empirical "
    "edge against the theory 2(1+beta)/L of heavy-ball momentum, and the whole stable "
    "region of lr x momentum with Polyak's optimal pair."
)

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


def _best(res, lrs) -> tuple[float, float]:
    """(lr, median final loss): the lowest median over seeds among the rates at which no
    seed is unstable (`SweepResult.unstable`: non-finite, or ended above its start)."""
    med = np.median(np.asarray(res.final_loss, dtype=float), axis=-1)
    i = int(jd.best_index(med, res.unstable().any(-1)))
    return float(lrs[i]), float(med[i])


def _edges(data) -> dict:
    """Per momentum: (largest stable lr, smallest unstable lr) of the fine edge sweep and
    the theory 2 (1 + beta) / L."""
    unstable = data["edge"].unstable().any(-1).T  # (momentum, ratio)
    first, last = jd.first_flagged(unstable), jd.last_clear(unstable)
    out = {}
    for j, beta in enumerate(EDGE_MOMENTA):
        theory = float(jd.bounds.heavy_ball_stable_step(data["L"], beta))
        out[beta] = {
            "theory": theory,
            "largest_stable": float(EDGE_RATIOS[last[j]] * theory) if last[j] >= 0 else None,
            "smallest_unstable": float(EDGE_RATIOS[first[j]] * theory) if first[j] >= 0 else None,
        }
    return out


def plot(data: dict) -> list[Panel]:
    L = data["L"]
    sens = Figure(figsize=(13, 5), layout="constrained")
    for ax, name in zip(sens.subplots(1, 2), ("quadratic", "rosenbrock")):
        jd.plots.lr_sensitivity(
            data[name],
            "lr",
            label=[LABELS[o] for o in OPTIMIZERS],
            mark="unstable",
            best=True,
            ax=ax,
            xlabel="learning rate",
            title=f"{name}: final loss after {STEPS[name]} steps",
        )
        if name == "quadratic":
            for k, (beta, text) in enumerate(((0.0, "2/L"), (BETA, "2(1+0.9)/L"))):
                lr = float(jd.bounds.heavy_ball_stable_step(L, beta))
                ax.axvline(lr, color="0.4", ls=("--", ":")[k], lw=1, label=f"theory edge {text}")
            ax.legend(fontsize="small", loc="lower left")  # the theory edges join the legend

    heat = Figure(figsize=(7.5, 5.2), layout="constrained")
    ax = heat.subplots()
    betas = np.asarray(HEAT_MOMENTA)
    lr_opt, beta_opt = (float(v) for v in jd.bounds.heavy_ball_optimal(data["mu"], L)[:2])
    jd.plots.heatmap(
        data["heat"],
        "lr",
        "momentum",
        vmax=4.0,
        ax=ax,
        colorbar={"label": "log10 median final loss (capped at 1e4)"},
        points={
            "theory edge 2(1+beta)/L": (
                2 * (1 + betas) / L,
                betas,
                {"color": "w", "ls": "--", "marker": ""},
            ),
            "optimal (lr, beta) in theory": (
                [lr_opt],
                [beta_opt],
                {"color": "w", "mec": "k", "ls": ""},
            ),
        },
        title=f"SGD + momentum on x1^2 + 100 x2^2, {STEPS['quadratic']} steps",
    )

    edge = Figure(figsize=(7, 4.8), layout="constrained")
    ax = edge.subplots()
    res = data["edge"]
    jd.plots.lr_sensitivity(
        res.replace(final_loss=np.asarray(res.final_loss, dtype=float)),
        "ratio",
        label=[f"momentum {b:g}" for b in EDGE_MOMENTA],
        mark="unstable",
        ax=ax,
        xlabel="lr / (2 (1 + beta) / L)",
        title="the stability edge on x1^2 + 100 x2^2",
    )
    ax.set_xlim(EDGE_RATIOS[0] / 1.02, EDGE_RATIOS[-1] * 1.02)
    ax.axvline(1.0, color="0.4", ls="--", lw=1)
    ax.set_xticks([0.8, 0.9, 1.0, 1.1, 1.2], ["0.8", "0.9", "1", "1.1", "1.2"])
    ax.minorticks_off()
    return _panels(sens, heat, edge, summary(data)["quadratic_sgd_edge"], data["stable_step"])


def _panels(sens, heat, edge, sgd_edge, two_over_L) -> list[Panel]:
    return [
        Panel(
            "lr_sensitivity",
            sens,
            "Final loss (median over seeds, 10-90% band) against the learning rate; crosses "
            "above each panel, one row per optimizer, mark rates where some seed diverged "
            "or ended above its start; stars the best rate without that. On the quadratic "
            "SGD and momentum diverge right past 2/L and 2(1+0.9)/L (the theory edges). "
            "Adam's steps are bounded by its rate, so it never overflows; it wants rates "
            "10-100 times larger than SGD's, and above about 0.1 its final loss varies "
            "widely between seeds. On Rosenbrock momentum 0.9 diverges at smaller rates than "
            "plain SGD.",
        ),
        Panel(
            "momentum_heatmap",
            heat,
            "Median final loss of heavy-ball SGD over learning rate x momentum on the "
            "quadratic (colour scale over the finite cells, capped at 1e4); hatched cells: "
            "the median diverged, red crosses: some seed did. The dashed line is the "
            "theoretical edge 2(1+beta)/L: momentum buys a larger stable rate, up to twice "
            "2/L. The star is Polyak's optimal pair for a quadratic, lr = 4/(sqrt(L)+sqrt(mu))^2, "
            "beta = ((sqrt(L)-sqrt(mu))/(sqrt(L)+sqrt(mu)))^2; the lowest losses lie next to "
            "it. At beta = 0.99 100 steps are too few to converge at any rate.",
        ),
        Panel(
            "stability_edge",
            edge,
            "Final loss against lr as a multiple of the theoretical edge 2(1+beta)/L, for "
            "three momenta: the loss jumps by orders of magnitude exactly past 1 (crosses "
            "above: unstable runs). Plain SGD is stable up to lr = "
            f"{sgd_edge['largest_stable']:.4g} and unstable from "
            f"{sgd_edge['smallest_unstable']:.4g}; 2/L = {two_over_L:g}.",
        ),
    ]


def headline(data: dict) -> list[Number]:
    s = summary(data)
    out = []
    for beta, e in [(0.0, s["quadratic_sgd_edge"])] + [
        (float(b), e) for b, e in s["quadratic_momentum_edges"].items()
    ]:
        out.append(
            Number(
                f"quadratic, momentum {beta:g}: first unstable lr",
                e["smallest_unstable"],
                theory=e["theory"],
                note=f"largest stable {e['largest_stable']:.4g}; theory 2(1+beta)/L",
            )
        )
    for name in ("quadratic", "rosenbrock"):
        for opt in OPTIMIZERS:
            b = s["best_lr"][name][opt]
            out.append(
                Number(
                    f"{name}, {LABELS[opt]}: best lr",
                    b["lr"],
                    note=f"median final loss {b['median_loss']:.3g}",
                )
            )
    hb, best = s["heavy_ball_optimum"], s["heatmap_best"]
    out.append(Number("heatmap: best momentum", best["momentum"], theory=hb["momentum"]))
    out.append(Number("heatmap: best lr", best["lr"], theory=hb["lr"], note="theory: Polyak"))
    return out


def summary(data: dict) -> dict:
    best, safe = {}, {}
    for name in ("quadratic", "rosenbrock"):
        best[name], safe[name] = {}, {}
        for k, opt in enumerate(OPTIMIZERS):
            sub = data[name].isel(opt=k)
            lr, loss = _best(sub, LRS)
            best[name][opt] = {"lr": lr, "median_loss": loss}
            i = int(jd.last_clear(sub.unstable().any(-1)))
            safe[name][opt] = float(LRS[i]) if i >= 0 else None
    edges = _edges(data)
    heat = data["heat"]
    med = np.median(np.asarray(heat.final_loss, dtype=float), axis=-1)  # (lr, momentum)
    flat = int(jd.best_index(med.ravel(), heat.unstable().any(-1).ravel()))
    i, j = np.unravel_index(flat, med.shape)
    lr_opt, beta_opt, _ = jd.bounds.heavy_ball_optimal(data["mu"], data["L"])
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
        "heavy_ball_optimum": {"lr": float(lr_opt), "momentum": float(beta_opt)},
    }


if __name__ == "__main__":
    main(__name__)
