"""Himmelblau's four minima: which one SGD, momentum and Adam reach from each start.

Seed 004 minimizes f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2 with Adam (lr 1e-3,
20000 steps) from (0, 0) and prints x = [3.0, 2.0], f = 0.0 from step 16000 on. That run
is repeated here and compared with the printed losses. Then SGD, SGD with momentum 0.9
and Adam start from every point of a grid on [-5, 5]^2 (the starting point is a grid
axis, the optimizer family an unrolled axis, all in one program). Each final point is
assigned to the nearest of the four minima when it lies within 0.1 of it, and counts
as unconverged otherwise: the maps of these assignments are the optimizers' basins.
SGD and momentum settle to rounding precision; Adam at a constant rate keeps making
sudden excursions of a few 1e-2 after it has converged (its second-moment estimate
decays while the gradient vanishes), so its final distances are reported too.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

import jaxdescent as jd
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "Himmelblau: Adam from (0, 0), and the basins of SGD, momentum and Adam"
ABOUT = (
    "Seed 004's Adam run on Himmelblau's function from (0, 0), checked against its printed "
    "losses, then SGD, momentum and Adam from every start of a grid on [-5, 5]^2 in one "
    "program: which of the four minima each reaches (the optimizers' basins)."
)

MINIMA = jd.problems.HIMMELBLAU_MINIMA
#: Seed 004's Adam printout: f(x_t) at t = 2000, 4000, 6000 (float32 PyTorch).
SEED_STEPS = (2000, 4000, 6000)
SEED_LOSSES = (13.730916023254395, 0.014858869835734367, 1.1074007488787174e-08)
SEED_STEPS_TOTAL = 20000
#: Constant learning rates of the basin study, one per family (Adam needs far fewer steps
#: at 0.05 than at the seed's 1e-3; SGD at 0.01 is below 2/L at the sharpest minimum).
RATES = {"sgd": 0.01, "momentum": 0.002, "adam": 0.05}
OPTIMIZERS = tuple(RATES)
BASIN_STEPS = 1000
CONVERGED_RADIUS = 0.1
#: Starting points whose paths are drawn (nearest grid values on each axis).
PATH_STARTS = (-4.0, -1.5, 1.5, 4.0)


def make_optimizer(opt: str):
    """The optax optimizer of one family (``opt`` is an unrolled grid axis)."""
    if opt == "sgd":
        return optax.sgd(RATES["sgd"])
    if opt == "momentum":
        return optax.sgd(RATES["momentum"], momentum=0.9)
    return optax.adam(RATES["adam"])


def start_at(x0, y0):
    """Himmelblau started at (x0, y0); the coordinates are traced grid values."""
    return jd.problems.himmelblau(init=jnp.stack([x0, y0]))


def basin(x):
    """Index of the minimum within CONVERGED_RADIUS of x, or -1 (as a float, for logging)."""
    d = jnp.linalg.norm(x - jnp.asarray(MINIMA, dtype=x.dtype), axis=1)
    i = jnp.argmin(d)
    return jnp.where(d[i] < CONVERGED_RADIUS, i, -1).astype(x.dtype)


def compute(quick: bool = False) -> dict:
    seed_run = jd.sweep(
        jd.problems.himmelblau(init=(0.0, 0.0)),
        lambda lr: optax.adam(lr),
        {"lr": [1e-3]},
        steps=SEED_STEPS_TOTAL,
        log_every=100,
    )
    starts = np.linspace(-5.0, 5.0, 11 if quick else 31)
    basins = jd.sweep(
        start_at,
        make_optimizer,
        {"opt": list(OPTIMIZERS), "x0": starts, "y0": starts},
        steps=BASIN_STEPS,
        log_every=2,
        metrics={"basin": basin},
    )
    return {"seed_run": seed_run.sel(lr=1e-3, seed=0), "basins": basins}


def _minimum_label(i: int) -> str:
    x, y = MINIMA[i]
    return f"({x:.2f}, {y:.2f})"


def _paths_figure(data: dict) -> Figure:
    problem = jd.problems.himmelblau()
    res = data["basins"]
    starts = np.asarray(res.axes["x0"])
    pick = sorted({int(np.argmin(np.abs(starts - v))) for v in PATH_STARTS})
    box = ((-5.8, 5.8), (-5.8, 5.8))
    paths = Figure(figsize=(15, 5), layout="constrained")
    for ax, opt in zip(paths.subplots(1, 3), OPTIMIZERS):
        sub = res.sel(opt=opt).isel(x0=pick, y0=pick)
        jd.plots.trace_2d(
            problem,
            sub,
            markers=MINIMA,
            bounds=box,
            ax=ax,
            title=f"{opt} (lr {RATES[opt]:g}), {BASIN_STEPS} steps",
        )
        start = np.asarray(sub.params)[..., 0, :].reshape(-1, 2)
        ax.plot(start[:, 0], start[:, 1], "s", color="k", mfc="none", ms=6, label="starts")
        ax.legend(fontsize="small", loc="lower left")  # the starts join the legend
    return paths


def _basins_figure(data: dict) -> Figure:
    res = data["basins"]
    colors = ListedColormap(["0.75", "tab:blue", "tab:orange", "tab:green", "tab:red"])
    maps = Figure(figsize=(15, 5), layout="constrained")
    inside = MINIMA[np.all(np.abs(MINIMA) <= 5.0, axis=1)]
    bar = {
        "label": "minimum reached",
        "ticks": range(-1, 4),
        "ticklabels": ["not within 0.1"] + [_minimum_label(i) for i in range(4)],
    }
    for k, (ax, opt) in enumerate(zip(maps.subplots(1, 3), OPTIMIZERS)):
        jd.plots.heatmap(
            res,
            "x0",
            "y0",
            metric="basin",
            select={"opt": opt},
            log=False,
            cmap=colors,
            vmin=-1.5,
            vmax=3.5,
            colorbar=bar if k == 2 else False,
            ax=ax,
            title=opt,
            points={"minima": (inside[:, 0], inside[:, 1], {"color": "k", "mec": "w", "ls": ""})},
        )
        ax.set_xlabel("starting x1")
        ax.set_ylabel("starting x2")
    return maps


def _seed_figure(data: dict) -> Figure:
    problem = jd.problems.himmelblau()
    run = data["seed_run"]
    seed = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = seed.subplots(1, 2)
    jd.plots.trace_2d(
        problem, run, markers=MINIMA, bounds=((-5, 5), (-5, 5)), ax=left, title="Adam from (0, 0)"
    )
    jd.plots.loss_curves(run, ax=right, title="Adam, lr 1e-3: f(x_t)")
    right.plot(SEED_STEPS, SEED_LOSSES, "kx", ms=9, label="seed 004 printout")
    right.legend(fontsize="small")  # the printout joins the legend
    return seed


def plot(data: dict) -> list[Panel]:
    res = data["basins"]
    starts = np.asarray(res.axes["x0"])
    pick = sorted({int(np.argmin(np.abs(starts - v))) for v in PATH_STARTS})

    paths, maps, seed = _paths_figure(data), _basins_figure(data), _seed_figure(data)

    h = summary(data)
    return [
        Panel(
            "paths",
            paths,
            f"Paths of {len(pick) ** 2} starts (squares) on Himmelblau's contours, logged every "
            "2 steps; stars are the four minima. SGD follows the steepest slope, momentum "
            "overshoots and curls, Adam moves diagonally at first (its steps are sign-like).",
        ),
        Panel(
            "basins",
            maps,
            f"Which minimum each of {len(starts)}x{len(starts)} starts on [-5, 5]^2 reaches after "
            f"{BASIN_STEPS} steps (grey: farther than 0.1 from all four). The four basins meet "
            "along curves through the saddles; near them the three optimizers disagree. "
            f"Agreement with SGD: momentum {h['agree_with_sgd']['momentum']:.0%}, "
            f"Adam {h['agree_with_sgd']['adam']:.0%}.",
        ),
        Panel(
            "adam_seed",
            seed,
            "Seed 004's run: Adam with lr 1e-3 from (0, 0) walks to (3, 2); its loss matches "
            "the printed values (crosses) at steps 2000, 4000, 6000 and reaches 0 in float32.",
        ),
    ]


def headline(data: dict) -> list[Number]:
    s = summary(data)
    printed = s["seed_printed_losses_at"]
    out = [
        Number("Adam from (0, 0): distance of the end to (3, 2)", s["adam_seed_distance_to_3_2"]),
        Number(
            "Adam from (0, 0): f after 4000 steps",
            s["adam_seed_losses_at"]["4000"],
            theory=printed["4000"],
            note="theory column: seed 004's printout",
        ),
        Number("starts on the grid", s["starts"]),
    ]
    for opt in OPTIMIZERS:
        out.append(
            Number(f"{opt}: share of starts within 0.1 of a minimum", s["fraction_converged"][opt])
        )
    out += [
        Number(f"{opt}: share of starts reaching SGD's minimum", v)
        for opt, v in s["agree_with_sgd"].items()
    ]
    out.append(Number("Adam: largest final distance to a minimum", s["max_final_distance"]["adam"]))
    return out


def summary(data: dict) -> dict:
    run = data["seed_run"]
    final = np.asarray(run.final_params, dtype=float)
    logged = {int(s): i for i, s in enumerate(np.asarray(run.step))}
    res = data["basins"]
    reached = np.asarray(res.metrics["basin"])[..., -1].astype(int)  # (opt, x0, y0)
    diverged = np.asarray(res.diverged)
    counts = {}
    for k, opt in enumerate(OPTIMIZERS):
        counts[opt] = {_minimum_label(i): int(np.sum(reached[k] == i)) for i in range(4)}
        counts[opt]["unconverged"] = int(np.sum(reached[k] < 0))
        counts[opt]["diverged"] = int(np.sum(diverged[k]))
    sgd = reached[0]
    ends = np.asarray(res.final_params, dtype=float)[..., 0, :]  # (opt, x0, y0, 2)
    nearest = np.linalg.norm(ends[..., None, :] - MINIMA, axis=-1).min(-1)
    return {
        "adam_seed_final": final.tolist(),
        "adam_seed_distance_to_3_2": float(np.linalg.norm(final - np.array([3.0, 2.0]))),
        "adam_seed_final_loss": float(run.final_loss),
        "adam_seed_losses_at": {str(s): float(np.asarray(run.loss)[logged[s]]) for s in SEED_STEPS},
        "seed_printed_losses_at": {str(s): v for s, v in zip(SEED_STEPS, SEED_LOSSES)},
        "starts": int(reached[0].size),
        "counts": counts,
        "fraction_converged": {
            opt: float(np.mean(reached[k] >= 0)) for k, opt in enumerate(OPTIMIZERS)
        },
        "median_final_distance": {
            opt: float(np.nanmedian(nearest[k])) for k, opt in enumerate(OPTIMIZERS)
        },
        "max_final_distance": {
            opt: float(np.nanmax(nearest[k])) for k, opt in enumerate(OPTIMIZERS)
        },
        "agree_with_sgd": {
            opt: float(np.mean(reached[k] == sgd)) for k, opt in enumerate(OPTIMIZERS) if k
        },
    }


if __name__ == "__main__":
    main(__name__)
