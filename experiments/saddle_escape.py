"""Saddle points: gradient descent started on a saddle's stable manifold converges to the
saddle and stays; SGD's noise escapes it, at a time whose distribution is known exactly.

f = x_1^2 - s x_2^2 with s = 0.5 (`jd.problems.quadratic((1, -0.5))`) from (1, 0), a
point of the stable manifold x_2 = 0. Gradient descent keeps x_2 = 0 for ever and x_1 -> 0:
it converges to the saddle, the reason the material (seed 000) gives for SGD. With
N(0, sigma^2) gradient noise and step eta, x_2 is exactly Gaussian with mean 0 and
Var x_{2,t} = eta^2 sigma^2 ((1 + 2 eta s)^(2t) - 1) / ((1 + 2 eta s)^2 - 1), so
P(|x_{2,t}| > delta) is known in closed form (`jd.bounds.saddle_escape_probability`).
One sweep over the noise level (sigma = 0 is gradient descent) x 4096 seeds gives the
empirical probability at every step, held against the exact one, and the first-exit
time (the first step with |x_2| > delta, `jd.steps_to_target`), whose CDF lies above
(an iterate that left may be pushed back once).
"""

from __future__ import annotations

import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "Saddle points: GD stays, SGD escapes at the exactly predicted rate"
ABOUT = (
    "f = x1^2 - 0.5 x2^2 from the stable manifold x2 = 0: gradient descent converges to the "
    "saddle, SGD escapes; the empirical P(|x2_t| > delta) over 4096 seeds against the exact "
    "Gaussian formula, and the first-exit time's CDF (seed 000's reason for SGD)."
)

S, ETA, DELTA = 0.5, 0.1, 1.0
NOISES = (0.0, 0.01, 0.1, 1.0)  # 0 is gradient descent
SEEDS = 4096


def compute(quick: bool) -> dict:
    steps = 80 if quick else 120
    problem = jd.problems.quadratic((1.0, -S), init=(1.0, 0.0))
    res = jd.sweep(
        problem,
        lambda: optax.sgd(ETA),
        {"noise": NOISES},
        seeds=SEEDS,
        steps=steps,
        oracle=lambda noise: jd.oracles.gaussian_noise(noise),
    )
    x2 = np.asarray(res.params)[..., 1]  # (noise, seed, step)
    exit_step = jd.steps_to_target(-np.abs(x2), res.step, -DELTA)  # first |x2| >= delta
    exact = np.stack(
        [
            np.asarray(jd.bounds.saddle_escape_probability(S, ETA, n, DELTA, steps))
            if n > 0
            else np.zeros(steps + 1)
            for n in NOISES
        ]
    )
    return {
        "step": np.asarray(res.step),
        "outside": np.mean(np.abs(x2) > DELTA, axis=1),  # (noise, step)
        "exit_cdf": np.mean(exit_step[..., None] <= np.asarray(res.step), axis=1),
        "exact": exact,
        "paths": x2[:, :24],
        "gd_final_loss": float(np.asarray(res.sel(noise=0.0).final_loss).max()),
    }


def _median_step(step, cdf):
    reached = np.nonzero(cdf >= 0.5)[0]
    return float(step[reached[0]]) if reached.size else float("inf")


def headline(data: dict) -> list[Number]:
    step, exact = data["step"], data["exact"]
    out = [
        Number(
            "GD: largest |x2| over all steps and seeds",
            float(np.abs(data["paths"][0]).max()),
            "",
            0.0,
            "on the stable manifold for ever",
        ),
        Number("GD: final loss (the saddle's value is 0)", data["gd_final_loss"], "", 0.0),
    ]
    for k, noise in enumerate(NOISES):
        if noise == 0:
            continue
        err = np.abs(data["outside"][k] - exact[k])
        sd = np.sqrt(np.maximum(exact[k] * (1 - exact[k]), 1e-12) / SEEDS)
        out += [
            Number(
                f"sigma = {noise:g}: largest |empirical - exact| P(|x2| > {DELTA:g})",
                float(err.max()),
                "",
                0.0,
                f"largest z-score {float((err / sd).max()):.2f}",
            ),
            Number(
                f"sigma = {noise:g}: median first-exit step",
                _median_step(step, data["exit_cdf"][k]),
                "steps",
                _median_step(step, exact[k]),
                "theory: median of |x2_t| > delta (exit happens no later)",
            ),
        ]
    return out


def plot(data: dict) -> list[Panel]:
    step = data["step"]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_cdf, ax_path = fig.subplots(1, 2)
    for k, noise in enumerate(NOISES):
        color = f"C{k}"
        if noise == 0:
            ax_cdf.plot(step, data["outside"][k], color=color, label="GD (sigma = 0)")
            continue
        ax_cdf.plot(step, data["exact"][k], color=color, label=f"sigma = {noise:g}, exact")
        ax_cdf.plot(
            step[::4],
            data["outside"][k][::4],
            "o",
            ms=3,
            color=color,
            label=f"sigma = {noise:g}, {SEEDS} seeds",
        )
        ax_cdf.plot(step, data["exit_cdf"][k], ":", color=color)
    ax_cdf.set(
        xlabel="step t",
        ylabel=f"P(|x2_t| > {DELTA:g})",
        title="escape: exact (lines), empirical (dots), first exit (dotted)",
    )
    ax_cdf.legend(fontsize=8)
    for k in range(len(NOISES)):
        ax_path.plot(step, data["paths"][k].T, color=f"C{k}", lw=0.6, alpha=0.7)
    ax_path.axhspan(-DELTA, DELTA, color="gray", alpha=0.15)
    ax_path.set(xlabel="step t", ylabel="x2", yscale="symlog", title="paths of x2 (24 seeds)")
    caption = (
        f"f = x1^2 - {S:g} x2^2 from (1, 0) with step {ETA:g}. Gradient descent stays on x2 = 0; "
        "with gradient noise x2 is Gaussian with a variance growing like (1 + 2 eta s)^(2t), "
        "and the fraction of seeds outside [-delta, delta] follows the exact probability. "
        "The first-exit CDF lies above it (an iterate that left can be pushed back)."
    )
    return [Panel("escape_cdf", fig, caption)]


if __name__ == "__main__":
    main(__name__)
