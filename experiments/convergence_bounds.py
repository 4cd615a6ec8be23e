"""Convergence theory against sweeps: the convex SGD bound, GD's tight bound, and 2/L.

(a) d2l 12.4.17: for convex f, E[f(x_bar_T)] - f* <= (r^2 + G^2 sum eta_t^2) / (2 sum eta_t),
with x_bar_T the eta-weighted average of x_0 .. x_{T-1}, r = ||x_0 - x*|| and G^2 a bound
on E||g_t||^2. On d2l's noisy quadratic (x1^2 + 2 x2^2 from (-5, -2), N(0, 1) gradient
noise) G is exact: the iterates are Gaussian with known moments, so
E||g_t||^2 = sum_i (2 s_i)^2 E[x_{t,i}^2] + 2, whose maximum over t < T is reached at the
start, G^2 = 166. One sweep (`average="step"`) covers constant steps and d2l's exponential
and polynomial schedules over a grid of base steps, 1024 seeds (256 with --quick),
T = 1000; the best constant step of the bound, r / (G sqrt T), is on the grid.

(b) Gradient descent with step h / L, h <= 1, on L-smooth convex functions against the
tight Drori-Teboulle bound L r^2 / (4 n h + 2) and the classical r^2 / (2 gamma n): an
ill-conditioned least-squares problem (condition number 10^4) stays well below it, and
the one-dimensional Huber function with kink r / (2 n h + 1) attains it at step n.

(c) The divergence threshold of GD on f = x1^2 + s x2^2 (L = 2 max(1, s)) for five s,
with the learning rate on a fine multiplicative grid: the smallest learning rate whose
final loss after 1000 steps exceeds the initial loss, against 2 / L.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

import jaxdescent as jd
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "Convergence bounds against sweeps: convex SGD (d2l 12.4.17), tight GD, and 2/L"
ABOUT = (
    "Convergence theory against sweeps: d2l 12.4.17's convex SGD bound on d2l's noisy "
    "quadratic (with the exact G), Drori and Teboulle's tight bound for gradient descent "
    "on smooth convex functions (attained by Huber functions), and the 2/L divergence "
    "threshold of gradient descent."
)

SCALES, INIT, NOISE = np.array([1.0, 2.0]), np.array([-5.0, -2.0]), 1.0
T, LOG_EVERY = 1000, 10
D2L_ETA = 0.1
GD_STEPS = 1000
H_VALUES = [0.25, 0.5, 1.0]  # gamma * L
N_TARGETS = [3.0, 30.0, 300.0]  # the step at which each Huber function attains the bound
S_VALUES = [1.0, 3.0, 10.0, 30.0, 100.0]
STABILITY_LRS = np.geomspace(0.0025, 4.0, 1001)


# --- (a) the convex SGD bound ---------------------------------------------------------


#: d2l's schedules in d2l's own time convention (t = 2, 3, ...; see `jd.schedules`).
FAMILIES = (jd.schedules.constant, jd.schedules.d2l_exponential, jd.schedules.d2l_polynomial)


def sgd(lr, family):
    return optax.sgd(family(lr))


def exact_G(etas):
    """sqrt(max_{t<T} E||g_t||^2) at x_0 .. x_{T-1}, exact from the Gaussian moments of the
    iterates (traceable: vmapped over many step-size sequences at once)."""
    return jd.bounds.quadratic_sgd_grad_bound(SCALES, INIT, etas, NOISE)


def _convex_part(quick: bool) -> dict:
    problem = jd.problems.quadratic(SCALES, INIT)
    r = float(jd.bounds.constants(problem)["r"])
    g0 = float(np.sqrt(np.sum((2 * SCALES * INIT) ** 2) + len(SCALES) * NOISE**2))  # at x_0
    eta_star, bound_star = (float(v) for v in jd.bounds.sgd_convex_optimal(r, g0, T))
    lrs = np.unique(np.concatenate([np.geomspace(1e-3, 0.45, 20), [eta_star, D2L_ETA]]))
    result = jd.sweep(
        problem,
        sgd,
        {"lr": lrs, "family": list(FAMILIES)},
        seeds=256 if quick else 1024,
        steps=T,
        log_every=LOG_EVERY,
        oracle=jd.oracles.gaussian_noise(NOISE),
        average="step",
        keep_params=False,
    )
    counts = jnp.arange(T)

    @jax.jit
    @jax.vmap
    def bound_of(lr):  # every family's exact G and bound curve at one base step
        etas = jnp.stack([family(lr)(counts) for family in FAMILIES])
        G = jax.vmap(exact_G)(etas)
        return G, jax.vmap(lambda g, e: jd.bounds.sgd_convex(r, g, e))(G, etas)

    G, bound = (np.asarray(a, dtype=float) for a in bound_of(jnp.asarray(lrs)))
    empirical = np.asarray(result.metrics["avg_suboptimality"], dtype=float).mean(axis=2)
    return {
        "result": result,
        "r": r,
        "G0": g0,
        "G": G,
        "bound": bound,
        "empirical": empirical,
        "eta_star": eta_star,
        "bound_star": bound_star,
    }


# --- (b) GD on smooth convex functions ------------------------------------------------


def gd(h, L):
    return optax.sgd(h / L)


def least_squares_problem(L=1.0):
    """An ill-conditioned least-squares problem (Hessian eigenvalues from L down to
    L 10^-4) whose minimizer lies at distance 1 from the start 0."""
    rng = np.random.default_rng(0)
    n, d = 100, 40
    u, _ = np.linalg.qr(rng.normal(size=(n, d)))
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    sv = np.sqrt(n * L / 2) * np.geomspace(1.0, 1e-2, d)
    X = (u * sv) @ v.T
    w = rng.normal(size=d)
    w /= np.linalg.norm(w)
    return jd.problems.least_squares(X, X @ w)


def _huber_loss(x, batch, args):
    del batch
    L, kink = args[0], args[1]
    ax = jnp.abs(x)
    return jnp.where(ax <= kink, L * x**2 / 2, L * kink * ax - L * kink**2 / 2)


def huber_worst_case(n_target, h, L=1.0, r=1.0):
    """Drori and Teboulle's worst function for GD with step h / L at step n = n_target:
    Huber with kink r / (2 n h + 1), started at r; f(x_n) = L r^2 / (4 n h + 2)."""
    kink = r / (2 * n_target * h + 1)
    return jd.Problem(
        _huber_loss,
        jnp.asarray(r, jnp.result_type(float)),
        args=jnp.stack([jnp.asarray(L, kink.dtype), kink]),
        minimizer=jnp.zeros((), kink.dtype),
        min_value=jnp.zeros((), kink.dtype),
        smoothness=L,
        name="huber_worst_case",
    )


def _gd_part() -> dict:
    ls = least_squares_problem()
    consts = jd.bounds.constants(ls)
    L, r = float(consts["L"]), float(consts["r"])
    kw = dict(steps=GD_STEPS, metrics={"suboptimality": "suboptimality"}, keep_params=False)
    ls_res = jd.sweep(ls, lambda h: gd(h, L), {"h": H_VALUES}, **kw)
    huber_res = jd.sweep(
        huber_worst_case, lambda h: gd(h, 1.0), {"h": H_VALUES, "n_target": N_TARGETS}, **kw
    )
    n = np.arange(1, GD_STEPS + 1)
    tight = {h: np.asarray(jd.bounds.gd_smooth_convex(L, r, GD_STEPS, h / L)) for h in H_VALUES}
    classical = {h: L * r**2 / (2 * h * n) for h in H_VALUES}  # r^2 / (2 gamma n)
    assert np.allclose(classical[1.0], jd.bounds.gd_smooth_convex_classical(L, r, GD_STEPS))
    return {
        "ls": ls_res,
        "huber": huber_res,
        "L": L,
        "r": r,
        "cond": float(consts["L"] / ls.strong_convexity),
        "tight": tight,
        "classical": classical,
    }


# --- (c) the divergence threshold of GD ----------------------------------------------


def two_scale_quadratic(s):
    """x1^2 + s x2^2 from (-5, -2): L = 2 max(1, s)."""
    return jd.problems.quadratic(jnp.stack([jnp.ones_like(s), s]), INIT)


def plain_gd(lr):
    return optax.sgd(lr)


def _stability_part() -> dict:
    res = jd.sweep(
        two_scale_quadratic,
        plain_gd,
        {"s": S_VALUES, "lr": STABILITY_LRS},
        steps=GD_STEPS,
        log_every=GD_STEPS,
        keep_params=False,
    )
    # blow-up: the loss after 1000 steps is not below the start (or non-finite)
    blown = res.unstable()[..., 0]
    L = 2 * np.maximum(1.0, np.asarray(S_VALUES))
    return {
        "result": res,
        "blown": blown,
        "nonfinite": np.asarray(res.diverged[..., 0]),
        "L": L,
        "theory": np.asarray(jd.bounds.gd_stable_step(L)),
    }


def _threshold(flags):
    """The smallest grid learning rate flagged, per row, and whether the flagged set is
    the whole grid above it."""
    first = jd.first_flagged(flags)
    upper = np.array([i >= 0 and f[i:].all() for f, i in zip(flags, first)])
    return STABILITY_LRS[first], upper


def compute(quick: bool = False) -> dict:
    return {"convex": _convex_part(quick), "gd": _gd_part(), "stability": _stability_part()}


# --- figures and headline --------------------------------------------------------------


def _step_figure(cv) -> Figure:
    res, lrs = cv["result"], np.asarray(cv["result"].axes["lr"])
    fig = Figure(figsize=(12, 5), layout="constrained")
    ax = fig.subplots()
    names = [f.__name__ for f in FAMILIES]
    jd.plots.lr_sensitivity(
        res,
        "lr",
        metric="avg_suboptimality",
        ax=ax,
        label=[f"{n}: median" for n in names],
        xlabel="constant step, or the schedule's base step eta_0",
        ylabel=f"f(x_bar_T) - f* at T = {T}",
        title=f"convex SGD bound at T = {T}",
    )
    for j, name in enumerate(names):
        ax.plot(
            lrs,
            cv["empirical"][:, j, -1],
            "o",
            mfc="none",
            color=f"C{j}",
            ms=6,
            label=f"{name}: mean E f(x_bar_T) - f*",
        )
        ax.plot(
            lrs, cv["bound"][:, j, -1], "--", color=f"C{j}", lw=1.6, label=f"{name}: bound 12.4.17"
        )
    ax.axvline(
        cv["eta_star"], color="k", lw=1, ls=":", label=f"r / (G sqrt T) = {cv['eta_star']:.4f}"
    )
    ax.plot([cv["eta_star"]], [cv["bound_star"]], "k*", ms=12, label="r G / sqrt T")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))  # joined
    return fig


def _over_t_figure(cv) -> Figure:
    res, lrs = cv["result"], np.asarray(cv["result"].axes["lr"])
    fig = Figure(figsize=(12, 8), layout="constrained")
    cases = [
        ("constant", cv["eta_star"], "constant step r/(G sqrt T)"),
        ("constant", D2L_ETA, "constant step 0.1 (d2l)"),
        ("d2l_exponential", D2L_ETA, "0.1 exp(-0.1 t) (d2l)"),
        ("d2l_polynomial", D2L_ETA, "0.1 (1 + 0.1 t)^(-1/2) (d2l)"),
    ]
    names = [f.__name__ for f in FAMILIES]
    for ax, (fam, lr, title) in zip(fig.subplots(2, 2).ravel(), cases):
        i, j = int(np.argmin(np.abs(lrs - lr))), names.index(fam)
        jd.plots.bound_vs_empirical(
            res,
            cv["bound"][i, j],
            select={"lr": lrs[i], "family": fam},
            bound_label=f"bound 12.4.17 (G = {cv['G'][i, j]:.2f})",
            label=f"mean over {res.shape[-1]} seeds",
            ylabel="f(x_bar_T) - f*",
            ax=ax,
            title=title,
        )
    return fig


def _gd_figure(gdp) -> Figure:
    fig = Figure(figsize=(14, 4.6), layout="constrained")
    hub = [f"Huber, kink for n = {nt:g}" for nt in N_TARGETS]
    for ax, h in zip(fig.subplots(1, 3, sharey=True), H_VALUES):
        bounds = {
            "Drori-Teboulle L r^2/(4nh+2)": gdp["tight"][h],
            "classical r^2/(2 gamma n)": gdp["classical"][h],
        }
        kw = dict(metric="suboptimality", select={"h": h}, band=None, ax=ax, xlabel="step n")
        jd.plots.bound_vs_empirical(
            gdp["ls"],
            bounds,
            label=f"least squares, cond {gdp['cond']:.0e}",
            bound_style=[{"color": "k", "lw": 2}, {"color": "0.5"}],
            ylabel="f(x_n) - f*  (L = r = 1)",
            title=f"GD, step gamma = {h:g}/L",
            **kw,
        )
        p = jd.plots.bound_vs_empirical(gdp["huber"], {}, label=hub, style={"lw": 1.2}, **kw)
        for line, nt in zip(p.artists["lines"], N_TARGETS):
            ax.plot([nt], [float(gdp["tight"][h][int(nt) - 1])], "o", color=line.get_color())
        ax.set_ylim(1e-5, 3)
        ax.legend(fontsize="x-small", loc="lower left")
    return fig


def _threshold_figure(st) -> Figure:
    fig = Figure(figsize=(17, 4.8), layout="constrained")
    sres = st["result"]
    emp, _ = _threshold(st["blown"])
    for k, ax in enumerate(fig.subplots(1, len(S_VALUES), sharey=True)):
        s, th = S_VALUES[k], float(st["theory"][k])
        window = [float(v) for v in STABILITY_LRS if 0.96 * th <= v <= 1.04 * th]
        jd.plots.lr_sensitivity(
            sres,
            "lr",
            band=None,
            ax=ax,
            select={"s": s, "lr": window},
            label="f(x_1000)",
            xlabel="learning rate",
            ylabel="loss after 1000 steps" if k == 0 else "",
            title=f"s = {s:g}, L = {st['L'][k]:g}\nfirst blow-up at {emp[k] / th:.4f} x 2/L",
        )
        ax.axhline(float(sres.loss[k, 0, 0, 0]), color="0.5", lw=1, label="f(x_0)")
        ax.axvline(th, color="k", ls="--", lw=1, label="2/L")
        ax.axvline(emp[k], color="C3", ls=":", lw=1.5, label="first lr with f(x_1000) > f(x_0)")
        ax.set_xticks([0.97 * th, th, 1.03 * th], ["0.97 (2/L)", f"2/L = {th:.3g}", "1.03 (2/L)"])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(window[0] / 1.002, window[-1] * 1.002)  # the edge marks stay inside
        ax.get_legend().remove()
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize="small")
    return fig


def plot(data: dict) -> list[Panel]:
    cv, n_seeds, hl = data["convex"], data["convex"]["result"].shape[-1], summary(data)
    return [
        Panel(
            "bound_vs_step",
            _step_figure(cv),
            f"d2l's convex bound 12.4.17 at T = {T} (dashed) and the empirical "
            f"E f(x_bar_T) - f* (circles: mean over {n_seeds} seeds, the quantity bounded; "
            "solid: median with 10-90% band) against the step size, for constant steps and "
            "d2l's exponential / polynomial schedules (x = their base step). The bound lies "
            f"above every mean (min ratio {hl['convex']['min_ratio_bound_over_empirical']:.2f}"
            "); it is minimised at r/(G sqrt T) (dotted), where it equals r G / sqrt T "
            "(star), while the empirical optimum sits at much larger steps: the bound is "
            "loose on a strongly convex quadratic.",
        ),
        Panel(
            "bound_over_T",
            _over_t_figure(cv),
            "The bound 12.4.17 as a function of T (dashed, from the first logged T = "
            f"{LOG_EVERY}) against the mean averaged-iterate suboptimality with its 10-90% "
            "band, for four configurations. With the exponential schedule the steps sum to a "
            "finite value, so neither the bound nor the iterates go to zero.",
        ),
        Panel(
            "gd_smooth_convex",
            _gd_figure(data["gd"]),
            "Gradient descent with step h/L (h = 1/4, 1/2, 1) against the tight "
            "Drori-Teboulle bound L r^2/(4nh+2) (black) and the classical r^2/(2 gamma n) "
            "(grey), normalised to L = r = 1. An ill-conditioned least-squares problem "
            "stays below both; each Huber function (kink r/(2nh+1)) touches the tight "
            "bound exactly at its own n (dots): the bound cannot be improved.",
        ),
        Panel(
            "gd_threshold",
            _threshold_figure(data["stability"]),
            f"GD's loss after {GD_STEPS} steps against the learning rate within 4% of 2/L "
            "on x1^2 + s x2^2 (one panel per s; the sweep covers 0.0025 to 4 on a grid "
            f"with ratio {STABILITY_LRS[1] / STABILITY_LRS[0]:.4f}). Dashed: the theory 2/L; "
            "dotted: the smallest learning rate whose final loss exceeds the initial one "
            "(grey line), always the first grid point above 2/L. Crosses above each panel "
            "mark runs that overflowed to inf/NaN (their loss is not drawn); they start "
            "about 2% further right, since a growth factor just above 1 needs many steps to "
            "overflow.",
        ),
    ]


def headline(data: dict) -> list[Number]:
    s = summary(data)
    cv, gd, st = s["convex"], s["gd"], s["stability"]
    out = [
        Number("convex SGD: G = sqrt(max E||g_t||^2)", cv["G"], theory=float(np.sqrt(166.0))),
        Number("bound-minimizing step r / (G sqrt T)", cv["eta_star"]),
        Number(
            "f(x_bar_T) - f* at that step",
            cv["empirical_at_eta_star"],
            theory=cv["bound_at_eta_star"],
            note=f"mean of {cv['seeds']} seeds; theory: the bound r G / sqrt T",
        ),
        Number(
            "smallest bound / measurement over all runs",
            cv["min_ratio_bound_over_empirical"],
            "ratio",
            note="> 1: the bound holds",
        ),
        Number("best constant step measured", cv["best_constant_step_empirical"]),
    ]
    for h in ("0.25", "0.5", "1.0"):
        out.append(
            Number(
                f"GD step {h}/L: Huber value / tight bound at its n",
                float(np.max(gd["huber_value_over_tight_bound_at_n_target"][h])),
                "ratio",
                theory=1.0,
            )
        )
    for L, th, e in zip(st["L"], st["theory_2_over_L"], st["empirical_threshold"]):
        out.append(Number(f"GD blow-up threshold, L = {L:g}", e, theory=th, note="theory 2/L"))
    return out


def summary(data: dict) -> dict:
    cv, gdp, st = data["convex"], data["gd"], data["stability"]
    res = cv["result"]
    lrs = np.asarray(res.axes["lr"])
    names = [f.__name__ for f in FAMILIES]
    logged = cv["bound"][..., LOG_EVERY - 1 :: LOG_EVERY]  # T = 10, 20, ..., 1000
    emp = cv["empirical"][..., 1:]
    ratio = logged / emp
    i, j, k = np.unravel_index(np.argmin(ratio), ratio.shape)
    i_star = int(np.argmin(np.abs(lrs - cv["eta_star"])))
    best_const = int(np.argmin(cv["empirical"][:, 0, -1]))
    convex = {
        "T": T,
        "seeds": int(res.shape[-1]),
        "r": cv["r"],
        "G": cv["G0"],
        "G_range_over_configs": [float(cv["G"].min()), float(cv["G"].max())],
        "eta_star": cv["eta_star"],
        "bound_at_eta_star": cv["bound_star"],
        "empirical_at_eta_star": float(cv["empirical"][i_star, 0, -1]),
        "best_constant_step_empirical": float(lrs[best_const]),
        "empirical_at_best_constant_step": float(cv["empirical"][best_const, 0, -1]),
        "min_ratio_bound_over_empirical": float(ratio.min()),
        "min_ratio_at": {"family": names[j], "lr": float(lrs[i]), "T": int(res.step[1:][k])},
        "min_ratio_by_family": {n: float(ratio[:, jj].min()) for jj, n in enumerate(names)},
        "bound_and_empirical_at_T_d2l_eta": {
            n: [
                float(logged[np.argmin(np.abs(lrs - D2L_ETA)), jj, -1]),
                float(emp[np.argmin(np.abs(lrs - D2L_ETA)), jj, -1]),
            ]
            for jj, n in enumerate(names)
        },
    }
    ls = np.asarray(gdp["ls"].metrics["suboptimality"])[:, 0, 1:]  # (h, n)
    hub = np.asarray(gdp["huber"].metrics["suboptimality"])[..., 0, 1:]  # (h, n_target, n)
    gd_out = {
        "L": gdp["L"],
        "r": gdp["r"],
        "least_squares_condition_number": gdp["cond"],
        "least_squares_min_ratio_tight_over_empirical": {},
        "huber_value_over_tight_bound_at_n_target": {},
        "huber_max_over_n_of_value_over_bound": {},
    }
    for a, h in enumerate(H_VALUES):
        tight = gdp["tight"][h]
        gd_out["least_squares_min_ratio_tight_over_empirical"][str(h)] = float(
            np.min(tight / ls[a])
        )
        gd_out["huber_value_over_tight_bound_at_n_target"][str(h)] = [
            float(hub[a, b, int(nt) - 1] / tight[int(nt) - 1]) for b, nt in enumerate(N_TARGETS)
        ]
        gd_out["huber_max_over_n_of_value_over_bound"][str(h)] = float(np.max(hub[a] / tight))
    emp, upper = _threshold(st["blown"])
    nonfinite, _ = _threshold(st["nonfinite"])
    stability = {
        "criterion": "final loss after 1000 steps > initial loss (or non-finite)",
        "L": st["L"].tolist(),
        "theory_2_over_L": st["theory"].tolist(),
        "empirical_threshold": emp.tolist(),
        "ratio_empirical_over_theory": (emp / st["theory"]).tolist(),
        "grid_ratio": float(STABILITY_LRS[1] / STABILITY_LRS[0]),
        "blown_up_set_is_upper_interval": upper.tolist(),
        "nonfinite_threshold_ratio": (nonfinite / st["theory"]).tolist(),
    }
    return {"convex": convex, "gd": gd_out, "stability": stability}


if __name__ == "__main__":
    main(__name__)
