"""The edge of stability: GD drives the sharpness to 2/eta and holds it there (Cohen et al. 2021).

A tanh MLP (64-32-32-10) fitted to 512 standardized digits by the squared error to one-hot
targets (`jd.problems.mlp_classifier(..., loss="mse")`), full batch, one shared init. The
sharpness -- the Hessian's largest eigenvalue, `jd.metrics.sharpness`, power iteration on
Hessian-vector products warm-started through the scan -- is logged along every run of ONE
sweep over the stability edge and the momentum: the step is eta = (2 + 2 beta) / edge
(`jd.bounds.heavy_ball_stable_step`, traced), so plain GD (beta = 0) runs at eta = 2 / edge
and the heavy ball at (2 + 2 beta) / edge. The sharpness rises (progressive sharpening), or
falls at once when it starts above the edge, and then hovers at the edge: 2/eta for GD,
(2 + 2 beta)/eta with momentum, while the loss keeps decreasing, not monotonically.
"""

from __future__ import annotations

import jax
import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
import jaxdescent.data as jdata
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = (
    "Edge of stability: full-batch GD's sharpness hovers at 2/eta, heavy ball's at (2 + 2 beta)/eta"
)
ABOUT = (
    "Full-batch GD and heavy ball on a tanh MLP with squared loss on 512 digits, several steps "
    "in one sweep, the Hessian's top eigenvalue logged inside the scan: it rises and hovers at "
    "2/eta, and at (2 + 2 beta)/eta with momentum (Cohen et al. 2021)."
)

N, HIDDEN = 512, (32, 32)
EDGES = (2 / 0.3, 8.0, 10.0)  # GD at eta = 0.3, 0.25, 0.2
MOMENTA = (0.0, 0.5)
STEPS, LOG_EVERY, ITERS = 10000, 100, 10
QUICK_EDGES, QUICK_STEPS, QUICK_LOG_EVERY = (2 / 0.3, 8.0), 1000, 20
HOVER = 0.2  # the hover level: median sharpness over the last 20% of the run


def problem():
    X, y = jdata.load_digits(seed=0).train
    return jd.problems.mlp_classifier(
        X[:N], y[:N], hidden=HIDDEN, activation=jax.nn.tanh, init_key=0, loss="mse"
    )


def at_edge(edge, momentum):
    """Heavy ball whose stability edge on a quadratic of curvature ``edge`` is exactly it."""
    return optax.sgd(jd.bounds.heavy_ball_stable_step(edge, momentum), momentum=momentum)


def compute(quick: bool = False) -> dict:
    edges = QUICK_EDGES if quick else EDGES
    steps, log_every = (QUICK_STEPS, QUICK_LOG_EVERY) if quick else (STEPS, LOG_EVERY)
    res = jd.sweep(
        problem(),
        at_edge,
        {"edge": edges, "momentum": MOMENTA},
        seeds=1,
        steps=steps,
        log_every=log_every,
        metrics={"sharpness": jd.metrics.sharpness(ITERS)},
        keep_params=False,
        progress=False,
    )
    sharp = np.asarray(res.metrics["sharpness"])[:, :, 0]  # (edge, momentum, n_log)
    loss = np.asarray(res.loss)[:, :, 0]
    tail = res.step >= (1 - HOVER) * steps
    edge = np.asarray(edges)[:, None]
    return {
        "step": np.asarray(res.step),
        "sharpness": sharp,
        "loss": loss,
        "edges": edge[:, 0],
        "etas": (2 + 2 * np.asarray(MOMENTA))[None, :] / edge,
        "hover_ratio": np.median(sharp[..., tail], axis=-1) / edge,
        "diverged": np.asarray(res.diverged)[:, :, 0],
    }


def headline(data) -> list[Number]:
    out = []
    for i, edge in enumerate(data["edges"]):
        for j, beta in enumerate(MOMENTA):
            eta, loss = data["etas"][i, j], data["loss"][i, j]
            rises = np.mean(np.diff(loss) > 0)
            out.append(
                Number(
                    f"hover / edge, eta = {eta:.3g}, beta = {beta}",
                    float(data["hover_ratio"][i, j]),
                    theory=1.0,
                    note=f"edge (2 + 2 beta)/eta = {edge:.3g}; loss {loss[0]:.3g} -> "
                    f"{loss[-1]:.3g}, rising at {rises:.0%} of logged steps",
                )
            )
    return out


def plot(data) -> list[Panel]:
    step, etas = data["step"], data["etas"]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, len(MOMENTA), sharey=True)
    fig2 = Figure(figsize=(6, 4), layout="constrained")
    ax_loss = fig2.add_subplot()
    for j, (ax, beta) in enumerate(zip(axes, MOMENTA)):
        for i, edge in enumerate(data["edges"]):
            (line,) = ax.plot(step, data["sharpness"][i, j], label=f"eta = {etas[i, j]:.3g}")
            ax.axhline(edge, color=line.get_color(), ls="--", lw=1)
            ax_loss.plot(
                step,
                data["loss"][i, j],
                color=line.get_color(),
                ls="-" if beta == 0 else ":",
                label=f"eta {etas[i, j]:.3g}, beta {beta}",
            )
        edge_name = "2/eta" if beta == 0 else "(2 + 2 beta)/eta"
        ax.set(xlabel="step", title=f"beta = {beta}: dashed = {edge_name}")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("sharpness (top Hessian eigenvalue)")
    ax_loss.set(xlabel="step", ylabel="training loss", yscale="log")
    ax_loss.legend(fontsize="small", ncol=2)
    return [
        Panel(
            "sharpness",
            fig,
            "The Hessian's top eigenvalue along full-batch GD (left) and heavy "
            "ball (right): it rises, or drops at once from above, to its edge (dashed) and hovers.",
        ),
        Panel(
            "loss",
            fig2,
            "Training loss of the same runs: decreasing over the long run while at "
            "the edge, with small non-monotone bumps.",
        ),
    ]


if __name__ == "__main__":
    main(__name__)
