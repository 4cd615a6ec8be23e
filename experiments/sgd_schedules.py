"""d2l 12.4: SGD on the noisy quadratic under four learning-rate schedules, with exact moments.

f(x) = x1^2 + 2 x2^2 from (-5, -2); every gradient gets N(0, 1) noise per coordinate (d2l's
simulated SGD); x_{t+1} = x_t - eta_t g_t with eta_t = 0.1 times a schedule: constant,
exponential exp(-0.1 t) and polynomial (1 + 0.1 t)^(-1/2), both with d2l's global t that
starts at 2, and a piecewise-constant schedule that divides the step by about 3 at
t = 100, 300 and 600. The four schedules are an unrolled axis of one sweep over 1024 seeds
(256 with --quick). d2l runs 50 steps for the constant and polynomial schedules and 1000
for the exponential one; here every schedule runs the same 1000 steps (d2l's 50-step
printouts are compared at t = 50 of the same runs).

For this linear-Gaussian recursion the iterates are exactly Gaussian, with a mean and a
per-coordinate variance that `jd.bounds.quadratic_sgd_moments` computes in closed form, so
every empirical curve has an exact counterpart. What is compared: the empirical RMS
distance sqrt(mean over seeds of ||x_t||^2) against the exact sqrt(E||x_t||^2). A constant
step stalls at the stationary RMS sqrt(sum_i eta / (4 s_i (1 - eta s_i))) = 0.208; the
exponential schedule freezes x1 near -0.83 (its steps sum to a finite 8.6 x 0.1); the
polynomial and piecewise schedules keep converging.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "SGD learning-rate schedules on d2l's noisy quadratic, against exact moments"
ABOUT = (
    "d2l 12.4: SGD on x1^2 + 2 x2^2 with N(0, 1) gradient noise under constant, exponential, "
    "polynomial and piecewise-constant schedules (d2l's own time convention, t = 2, 3, ...: "
    "jd.schedules.d2l_exponential / d2l_polynomial), against the exact Gaussian moments of "
    "the iterates and d2l's printed final points."
)

SCALES, INIT, NOISE, ETA, STEPS = (1.0, 2.0), (-5.0, -2.0), 1.0, 0.1, 1000
#: d2l's printed final iterates (three runs each, from its three framework versions).
D2L_EXPONENTIAL_T1000 = [(-0.878960, -0.023958), (-0.820458, 0.004701), (-0.798681, -0.067649)]
D2L_CONSTANT_T50 = [(0.014749, 0.009829), (-0.472513, 0.110780), (-0.103750, 0.054715)]
D2L_POLYNOMIAL_T50 = [(-0.060831, 0.028779), (0.025029, 0.115820), (0.280001, -0.037688)]
#: a Gaussian's central 68.3% (mean +- 1 std): the quantile band drawn for the iterates.
ONE_SIGMA = (0.15866, 0.84134)
#: The paths figure draws every PATH_EVERY-th iterate.
PATH_EVERY = 25


def constant(eta):
    """d2l's constant_lr: eta_t = eta."""
    return jd.schedules.constant(eta)


def exponential(eta):
    """d2l's exponential_lr: eta exp(-0.1 t), t = 2, 3, ... (its global counter)."""
    return jd.schedules.d2l_exponential(eta)


def polynomial(eta):
    """d2l's polynomial_lr: eta (1 + 0.1 t)^(-1/2), t = 2, 3, ..."""
    return jd.schedules.d2l_polynomial(eta)


def piecewise(eta):
    """Piecewise constant (d2l 12.4.5): eta, eta/3, eta/10, eta/30 from t = 0, 100, 300, 600."""
    return jd.schedules.piecewise_constant(
        [100, 300, 600], jnp.stack([eta, eta / 3, eta / 10, eta / 30])
    )


SCHEDULES = (constant, exponential, polynomial, piecewise)


def sgd(eta, schedule):
    return optax.sgd(schedule(eta))


def x1(x):
    return x[0]


def x2(x):
    return x[1]


def compute(quick: bool = False) -> dict:
    problem = jd.problems.quadratic(SCALES, INIT)
    result = jd.sweep(
        problem,
        sgd,
        {"eta": [ETA], "schedule": list(SCHEDULES)},
        seeds=256 if quick else 1024,
        steps=STEPS,
        oracle=jd.oracles.gaussian_noise(NOISE),
        metrics={"distance": "distance", "x1": x1, "x2": x2},
    ).isel(eta=0)
    exact = {}
    for sched in SCHEDULES:
        etas = sched(ETA)(jnp.arange(STEPS))
        mom = jd.bounds.quadratic_sgd_moments(SCALES, INIT, etas, NOISE)  # row t: x_{t+1}
        exact[sched.__name__] = {k: np.asarray(v) for k, v in mom._asdict().items()}
    return {"problem": problem, "result": result, "exact": exact}


def _empirical_rms(result, name):
    d = np.asarray(result.sel(schedule=name).metrics["distance"], dtype=float)  # (seed, t)
    return np.sqrt(np.mean(d**2, axis=0))


def headline(data: dict) -> list[Number]:
    s = summary(data)
    out = [
        Number(
            f"{name}: RMS distance to the optimum at t = {STEPS}",
            v["empirical"],
            theory=v["exact"],
            note=f"{s['seeds']} seeds; theory: exact moments",
        )
        for name, v in s["final_rms_distance"].items()
    ]
    ex = s["exponential_final_x"]
    out.append(
        Number(
            f"exponential: mean x1 at t = {STEPS}",
            ex["empirical_mean"][0],
            theory=ex["exact_mean"][0],
            note="d2l prints -0.88, -0.82, -0.80",
        )
    )
    z = np.abs(np.asarray(ex["d2l_z_scores"])).max()
    out.append(Number("largest |z| of d2l's printed final x", float(z), "std"))
    return out


def _paths_figure(data: dict) -> Figure:
    res, problem = data["result"], data["problem"]
    names = [s.__name__ for s in SCHEDULES]
    paths = Figure(figsize=(11, 6.2), layout="constrained")
    for ax, name in zip(paths.subplots(2, 2).ravel(), names):
        jd.plots.trace_2d(
            problem,
            res,
            select={"schedule": name, "seed": [0, 1, 2, 3]},
            ax=ax,
            bounds=((-5.6, 1.6), (-2.6, 1.4)),
            markers=[(0.0, 0.0)],
            every=PATH_EVERY,
            style={"ms": 1.5, "lw": 0.7, "alpha": 0.7},
            title=f"{name} schedule, 4 seeds, {STEPS} steps",
        )
        ax.set_aspect("equal")
    return paths


def _distance_figure(data: dict) -> Figure:
    res, exact = data["result"], data["exact"]
    names = [s.__name__ for s in SCHEDULES]
    steps = np.asarray(res.step)
    dist = Figure(figsize=(10, 8), layout="constrained")
    axes = dist.subplots(2, 2, sharex=True, sharey=True).ravel()
    for ax, name in zip(axes, names):
        jd.plots.loss_curves(
            res,
            "distance",
            select={"schedule": name},
            logx=True,
            ax=ax,
            label=["median ||x_t|| over seeds, 10-90% band"],
            title=name,
        )
        ax.plot(
            steps[1:],
            _empirical_rms(res, name)[1:],
            color="C1",
            lw=2.2,
            label="empirical RMS sqrt(mean ||x_t||^2)",
        )
        ax.plot(
            steps[1:],
            np.sqrt(exact[name]["sq_dist"]),
            "k--",
            lw=1.4,
            label="exact RMS sqrt(E ||x_t||^2)",
        )
        ax.set_ylabel("distance to the optimum (0, 0)")
        ax.legend(fontsize="small", loc="lower left")
    axes[0].set_ylim(1e-2, 10)
    return dist


def _coordinates_figure(data: dict) -> Figure:
    res, exact = data["result"], data["exact"]
    [s.__name__ for s in SCHEDULES]
    coords = Figure(figsize=(11, 4.2), layout="constrained")
    ex = exact["exponential"]
    printed = np.asarray(D2L_EXPONENTIAL_T1000)
    for i, ax in enumerate(coords.subplots(1, 2)):
        m, s = ex["mean"][:, i], ex["std"][:, i]
        jd.plots.bound_vs_empirical(
            res,
            {"exact mean": m, "exact mean + std": m + s, "exact mean - std": m - s},
            metric=f"x{i + 1}",
            select={"schedule": "exponential"},
            band=ONE_SIGMA,
            logy=False,
            label="mean over seeds",
            style={"lw": 3},
            bound_style=[{"color": "k", "lw": 1.2}] + [{"color": "k", "ls": ":", "lw": 1.2}] * 2,
            xlabel="step t",
            ylabel=f"x{i + 1}",
            ax=ax,
            title=f"exponential schedule: coordinate x{i + 1}",
        )
        ax.axhline(0.0, color="0.5", lw=1, label="optimum")
        ax.plot([STEPS] * 3, printed[:, i], "r*", ms=9, label="d2l's printed x at t = 1000")
        ax.legend(fontsize="small")  # the optimum and d2l's printout join the legend

    return coords


def plot(data: dict) -> list[Panel]:
    res, exact = data["result"], data["exact"]
    names = [s.__name__ for s in SCHEDULES]

    paths, dist, coords = _paths_figure(data), _distance_figure(data), _coordinates_figure(data)
    n = res.shape[-1]
    fin = {nm: (_empirical_rms(res, nm)[-1], np.sqrt(exact[nm]["sq_dist"][-1])) for nm in names}
    return [
        Panel(
            "paths",
            paths,
            f"Four seeds per schedule on the contours of x1^2 + 2 x2^2 (every {PATH_EVERY}th "
            "step drawn, and the last). "
            "Constant steps keep jittering around the optimum; the exponential schedule "
            "freezes the paths short of it (x1 near -0.8); polynomial and piecewise "
            "schedules settle ever closer to (0, 0).",
        ),
        Panel(
            "distance",
            dist,
            f"Distance to the optimum against steps, log-log (d2l exercise 1), {n} seeds: "
            "median with 10-90% band, the empirical RMS sqrt(mean over seeds of "
            "||x_t||^2) and the exact RMS sqrt(E||x_t||^2) from the Gaussian moment "
            "recursion. The empirical and exact RMS lie on top of each other; final RMS "
            + ", ".join(f"{k} {e:.3f} (exact {x:.3f})" for k, (e, x) in fin.items())
            + ".",
        ),
        Panel(
            "exponential_coordinates",
            coords,
            "Exponential schedule, each coordinate: the mean over seeds with a 15.9-84.1% "
            "quantile band (mean +- 1 std for a Gaussian) against the exact mean (black "
            "dashed) and mean +- std (black dotted). x1 stalls near -0.83 because the steps "
            "sum to a finite value; red stars are d2l's three printed final x, within the "
            "exact spread.",
        ),
    ]


def summary(data: dict) -> dict:
    res, exact = data["result"], data["exact"]
    out = {"steps": STEPS, "seeds": int(res.shape[-1]), "final_rms_distance": {}}
    max_err = {}
    for sched in SCHEDULES:
        name = sched.__name__
        emp = _empirical_rms(res, name)
        ex = np.sqrt(exact[name]["sq_dist"])
        out["final_rms_distance"][name] = {
            "empirical": float(emp[-1]),
            "exact": float(ex[-1]),
            "rel_err": float(emp[-1] / ex[-1] - 1),
        }
        max_err[name] = float(np.max(np.abs(emp[1:] / ex - 1)))
    out["max_rel_err_rms_over_steps"] = max_err

    ex = exact["exponential"]
    xs = np.stack(
        [np.asarray(res.sel(schedule="exponential").metrics[c])[:, -1] for c in ("x1", "x2")],
        axis=-1,
    )
    mean, std = ex["mean"][-1], ex["std"][-1]
    out["exponential_final_x"] = {
        "exact_mean": mean.tolist(),
        "exact_std": std.tolist(),
        "empirical_mean": xs.mean(0).tolist(),
        "empirical_std": xs.std(0).tolist(),
        "d2l_printed": [list(p) for p in D2L_EXPONENTIAL_T1000],
        "d2l_z_scores": ((np.asarray(D2L_EXPONENTIAL_T1000) - mean) / std).round(2).tolist(),
    }
    # d2l ran the constant and polynomial schedules for 50 steps: its printouts against x_50
    t50 = {}
    for name, printed in (("constant", D2L_CONSTANT_T50), ("polynomial", D2L_POLYNOMIAL_T50)):
        m, s = exact[name]["mean"][49], exact[name]["std"][49]
        t50[name] = {
            "exact_mean": m.tolist(),
            "exact_std": s.tolist(),
            "d2l_z_scores": ((np.asarray(printed) - m) / s).round(2).tolist(),
        }
    out["d2l_t50"] = t50
    return out


if __name__ == "__main__":
    main(__name__)
