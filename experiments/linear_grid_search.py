"""Exhaustive search over w for y = w*x (seed 002), then the coarse-to-fine search.

The seeds' first model: x = [1, 2, 3], y = [2, 4, 6], MSE against w on
``np.arange(0.0, 4.1, 0.1)`` (one vmapped evaluation here), minimum at w = 2. Then the
"divide and conquer" search the notes propose, which zooms in level by level, and its
caveat on a function with many minima (Rastrigin): it can settle in a local basin,
and its cost grows as points ** dim.
"""

from __future__ import annotations

import numpy as np

import jaxdescent as jd
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "Search before gradients: MSE against w, and coarse-to-fine search"
ABOUT = (
    "Exhaustive search of the MSE of y = w x over w = 0.0, 0.1, ..., 4.0 (seed 002's loop, "
    "one vmapped call), then the coarse-to-fine search the notes propose, its cost growing "
    "as points^dim, and its caveat: on Rastrigin a coarse first grid settles in a local basin."
)

X_DATA, Y_DATA = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]


def compute(quick: bool = False) -> dict:
    line = jd.problems.linear_regression(X_DATA, Y_DATA)
    ras = jd.problems.rastrigin(dim=1)
    return {
        "grid": jd.search.grid_search(line, np.arange(0.0, 4.1, 0.1)),
        "refine": jd.search.refine_search(line, (0.0, 3.3), levels=5, points=5),
        "rastrigin_coarse": jd.search.refine_search(ras, [(-4.5, 5.5)], levels=6, points=5),
        "rastrigin_fine": jd.search.refine_search(ras, [(-4.5, 5.5)], levels=6, points=21),
        "costs": {
            d: jd.search.refine_search(
                jd.problems.rastrigin(dim=d), [(-1.0, 1.0)] * d, levels=2, points=5
            ).evaluations
            for d in (1, 2, 3)
        },
        "himmelblau": jd.search.grid_search(
            jd.problems.himmelblau(), [np.arange(-6.0, 6.0, 0.1)] * 2
        ),
    }


def plot(data: dict) -> list[Panel]:
    line = jd.problems.linear_regression(X_DATA, Y_DATA)
    ras = jd.problems.rastrigin(dim=1)
    coarse = data["rastrigin_coarse"]
    return [
        Panel(
            "mse_vs_w",
            jd.plots.landscape(data["grid"], title="MSE of y = w x on the seeds' data"),
            "MSE against w for w = 0.0, 0.1, ..., 4.0 (seed 002's loop as one "
            "vmapped call); the star marks the grid minimum w = 2.",
        ),
        Panel(
            "refine_line",
            jd.plots.landscape(data["refine"], problem=line, title="coarse-to-fine search"),
            "Coarse-to-fine search on the same MSE (grey: the objective): 5 points per "
            "level, each level one grid cell either side of the previous best.",
        ),
        Panel(
            "refine_rastrigin",
            jd.plots.landscape(
                coarse, problem=ras, title="refinement misses the global minimum (Rastrigin)"
            ),
            "On Rastrigin (grey: the objective, a local minimum near every integer, the "
            "global one at 0 with f = 0) a coarse first grid of 5 points picks the basin of "
            f"{float(coarse.best_params[0]):.2g} and every finer level stays there: "
            f"f = {coarse.best_value:.3f} instead of 0.",
        ),
        Panel(
            "himmelblau_grid",
            jd.plots.landscape(data["himmelblau"], log=True, title="Himmelblau landscape"),
            "Himmelblau's function on a 120 x 120 grid (log10 colour scale from the grid's "
            "smallest value, named on the colour bar, to its largest): the two-dimensional "
            "search the notes warn costs points squared; the star is the grid's best point.",
        ),
    ]


def headline(data: dict) -> list[Number]:
    s = summary(data)
    return [
        Number("MSE at w = 0", s["mse_at_w0"], theory=56 / 3, note="(4 + 16 + 36) / 3"),
        Number("grid minimizer w", s["grid_argmin_w"], theory=2.0),
        Number("coarse-to-fine minimizer w", s["refine_best_w"], theory=2.0),
        Number("coarse-to-fine evaluations", s["refine_evaluations"], note="5 levels x 5 points"),
        Number(
            "Rastrigin: best f, coarse grid (5 points)",
            s["rastrigin_coarse_best"],
            theory=0.0,
            note="stuck in a local basin",
        ),
        Number("Rastrigin: best f, fine grid (21 points)", s["rastrigin_fine_best"], theory=0.0),
        Number("evaluations in 3 dimensions", s["evaluations_by_dim"][2], theory=2 * 5**3),
    ]


def summary(data: dict) -> dict:
    grid = data["grid"]
    return {
        "mse_at_w0": float(grid.values[0]),
        "mse_at_w0.5": float(grid.values[5]),
        "grid_argmin_w": float(grid.best_params),
        "refine_best_w": float(data["refine"].best_params),
        "refine_evaluations": data["refine"].evaluations,
        "rastrigin_coarse_best": float(data["rastrigin_coarse"].best_value),
        "rastrigin_fine_best": float(data["rastrigin_fine"].best_value),
        "evaluations_by_dim": [data["costs"][d] for d in (1, 2, 3)],
        "himmelblau_grid_best": np.asarray(data["himmelblau"].best_params).tolist(),
    }


if __name__ == "__main__":
    main(__name__)
