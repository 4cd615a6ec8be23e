"""SGD with and without replacement (d2l 12.4.4, exercise 3; eqs. 12.4.18 and 12.4.19).

Per-sample SGD on a noisy least-squares problem (n = 100 examples, d = 8, noise sd 0.5,
data seed 0) draws its example either uniformly with replacement
(``per_sample("replace")``) or from a fresh permutation each epoch
(``per_sample("shuffle")``); both orders x five constant learning rates x many seeds are
one program. With a constant step, sampling with replacement settles at a floor that
grows like the step; a reshuffled pass ends each epoch much closer to the optimum, with a
floor that shrinks like the step squared.

Why: in n draws with replacement an example is picked at least once with probability
1 - (1 - 1/n)^n ~ 1 - 1/e ~ 0.632 (12.4.18) and exactly once with probability
(1 - 1/n)^(n-1) ~ 1/e ~ 0.368 (12.4.19); a permutation reads every example exactly once.
The coverage fractions are counted from the very indices the runs draw
(``oracle.indices(n, step, key)`` with each seed's oracle key): with replacement for n
from 10 to 1000 in one program (n is traced there), without replacement for the runs'
n = 100 (and 10 and 1000 in the full run; a permutation's length is static, so each n is
a program of its own).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

import jaxdescent as jd
from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "SGD with vs without replacement: convergence, and how much of the data an epoch sees"
ABOUT = (
    "d2l 12.4.4 (exercise 3, eqs. 12.4.18 and 12.4.19): per-sample SGD drawing examples with "
    "replacement or from a fresh permutation each epoch, on noisy least squares: the noise "
    "floor grows like the step with replacement and like its square without; the coverage "
    "fractions are counted from the runs' own index streams."
)

ORDERS = ["replace", "shuffle"]
LABELS = {"replace": "with replacement", "shuffle": "without replacement (reshuffled)"}
LRS = np.geomspace(0.004, 0.064, 5)
COVERAGE_NS = (10, 20, 50, 100, 200, 500, 1000)


def regression_problem(n: int = 100, d: int = 8, noise: float = 0.5, seed: int = 0):
    """Noisy linear data y = X w + e with standard normal features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + noise * rng.normal(size=n)
    return jd.problems.least_squares(X, y)


def seen_at_least_once(n):
    """12.4.18: P(an example is drawn at least once in n draws with replacement)."""
    n = np.asarray(n, dtype=float)
    return 1 - (1 - 1 / n) ** n


def seen_exactly_once(n):
    """12.4.19: P(an example is drawn exactly once in n draws with replacement)."""
    n = np.asarray(n, dtype=float)
    return (1 - 1 / n) ** (n - 1)


def oracle_keys(seeds: int):
    """The oracle key of each seed's run (seed s runs with ``jax.random.key(s)``)."""
    return jax.vmap(lambda s: jd.run_keys(jax.random.key(s))[1])(jnp.arange(seeds))


def draws_with_replacement(n, epochs: int, seeds: int, n_max: int):
    """The examples ``per_sample("replace")`` reads at steps e*n + j (j < n_max) of each
    seed's run: (seeds, epochs, n_max); only j < n belong to epoch e. ``n`` may be traced."""
    oracle = jd.oracles.per_sample("replace")
    steps = jnp.arange(epochs)[:, None] * n + jnp.arange(n_max)
    per_key = jax.vmap(jax.vmap(lambda t, k: oracle.indices(n, t, k)[0], (0, None)), (0, None))
    return jax.vmap(lambda k: per_key(steps, k))(oracle_keys(seeds))


def _fractions(idx, n, n_max: int):
    """Fractions of the n examples read >= 1 and == 1 times by the first n entries of idx."""
    real = (jnp.arange(n_max) < n).astype(jnp.int32)
    counts = jnp.zeros(n_max, jnp.int32).at[idx].add(real)
    return jnp.sum(counts >= 1) / n, jnp.sum(counts == 1) / n


@functools.partial(jax.jit, static_argnames=("epochs", "seeds"))
def _coverage_with_replacement(ns, epochs: int, seeds: int):
    n_max = COVERAGE_NS[-1]

    def one_n(n):
        idx = draws_with_replacement(n, epochs, seeds, n_max)
        return jax.vmap(jax.vmap(lambda i: _fractions(i, n, n_max)))(idx)

    return jax.lax.map(one_n, ns)  # one n at a time: (n_values, seeds, epochs) each


@functools.partial(jax.jit, static_argnames=("n", "epochs", "seeds"))
def _coverage_without_replacement(n: int, epochs: int, seeds: int):
    # per_sample("shuffle") reads the permutation of epoch e = step // n one entry per
    # step; minibatch(n).indices(n, e, key) is that same permutation, whole
    whole = jd.oracles.minibatch(n)
    perms = jax.vmap(lambda k: jax.vmap(lambda e: whole.indices(n, e, k))(jnp.arange(epochs)))(
        oracle_keys(seeds)
    )
    return jax.vmap(jax.vmap(lambda i: _fractions(i, n, n)))(perms)


def coverage(epochs: int, seeds: int, shuffle_ns) -> dict:
    """Fractions of the n examples read at least once ("seen") and exactly once ("once")
    in each epoch of n draws: arrays (n_values, seeds, epochs), for COVERAGE_NS with
    replacement and for ``shuffle_ns`` without."""
    seen, once = _coverage_with_replacement(jnp.asarray(COVERAGE_NS), epochs, seeds)
    shuffled = [_coverage_without_replacement(n, epochs, seeds) for n in shuffle_ns]
    return {
        "replace": {"ns": COVERAGE_NS, "seen": np.asarray(seen), "once": np.asarray(once)},
        "shuffle": {
            "ns": tuple(shuffle_ns),
            "seen": np.stack([np.asarray(s) for s, _ in shuffled]),
            "once": np.stack([np.asarray(o) for _, o in shuffled]),
        },
    }


def compute(quick: bool = False) -> dict:
    problem = regression_problem()
    n = problem.n_examples
    epochs = 20 if quick else 40
    seeds = 16 if quick else 128
    runs = jd.sweep(
        problem,
        lambda lr: optax.sgd(lr),
        {"order": ORDERS, "lr": LRS},
        oracle=lambda order: jd.oracles.per_sample(order),
        seeds=seeds,
        steps=epochs * n,
        log_every=n // 4,
        keep_params=False,
        metrics={"suboptimality": "suboptimality"},
    )
    # every n with replacement (one program, n traced); without replacement, the runs' own
    # n = 100 (and 10 and 1000 in the full run: each n is a program of its own)
    cov_epochs, cov_seeds = (10, 16) if quick else (40, 64)
    shuffle_ns = (n,) if quick else (10, n, 1000)
    cov = coverage(cov_epochs, cov_seeds, shuffle_ns)
    return {"runs": runs, "problem": problem, "coverage": cov, "cov_epochs": cov_epochs}


# --- reading the results ----------------------------------------------------------------


def _coverage_result(data) -> jd.SweepResult:
    """The with-replacement fractions as a SweepResult over seeds with n on the 'step' axis
    (each seed's value averaged over its epochs), so that `jd.plots` can draw them."""
    cov = data["coverage"]["replace"]
    metrics = {name: np.moveaxis(cov[name].mean(-1), 0, -1)[None] for name in ("seen", "once")}
    shape = metrics["seen"].shape[:2]  # (1 sampling, seeds)
    return jd.SweepResult.of(
        axes={"sampling": ("with replacement",), "seed": np.arange(shape[1])},
        step=np.asarray(cov["ns"]),
        loss=np.full(metrics["seen"].shape, np.nan),
        grad_norm=np.full(metrics["seen"].shape, np.nan),
        params=None,
        metrics=metrics,
        final_params=None,
        final_loss=np.full(shape, np.nan),
        diverged=np.zeros(shape, bool),
        diverged_at=np.full(shape, -1),
        meta={"what": "fraction of the n examples drawn in an epoch of n draws"},
    )


def _floors(data) -> np.ndarray:
    """Median over seeds of the final f - f* (an epoch boundary): (order, lr)."""
    sub = np.asarray(data["runs"].metrics["suboptimality"], dtype=float)[..., -1]
    return np.median(sub, axis=-1)


def _slopes(data) -> dict:
    """d log(floor) / d log(lr) per order, fitted over the three smallest steps (the
    small-step regime where theory gives slope 1 with and 2 without replacement)."""
    floors = _floors(data)[:, :3]
    x = np.log(LRS[:3])
    return {o: float(np.polyfit(x, np.log(floors[i]), 1)[0]) for i, o in enumerate(ORDERS)}


# --- figures ----------------------------------------------------------------------------


def _convergence_figure(data: dict) -> Figure:
    runs, problem = data["runs"], data["problem"]
    n = problem.n_examples
    shown = LRS[[0, 2, 4]]
    fig1 = Figure(figsize=(13, 4), layout="constrained")
    axes = fig1.subplots(1, len(shown), sharey=True)
    for ax, lr in zip(axes, shown):
        jd.plots.loss_curves(
            runs,
            "suboptimality",
            select={"lr": lr},
            x="examples",
            examples_per_step=1 / n,
            ax=ax,
            label=[LABELS[o] for o in ORDERS],
            xlabel=f"epochs (n = {n} draws each)",
            ylabel="" if lr != shown[0] else "f(w) - f* (median over seeds)",
            title=f"constant lr {lr:.3g}",
        )

    return fig1


def _floor_figure(data: dict) -> Figure:
    runs = data["runs"]
    fig2 = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax2 = fig2.add_subplot()
    jd.plots.lr_sensitivity(
        runs,
        metric="suboptimality",
        ax=ax2,
        label=[LABELS[o] for o in ORDERS],
        xlabel="constant learning rate",
        ylabel="final f - f* (median over seeds)",
        title="noise floor against the step size",
    )
    floors = _floors(data)
    for i, power in ((0, 1), (1, 2)):  # reference slopes through the smallest step
        ref = floors[i, 0] * (LRS / LRS[0]) ** power
        ax2.plot(LRS, ref, ":", color=f"C{i}", lw=1, label=f"slope {power} (∝ lr^{power})")
    ax2.legend(fontsize="small")  # the reference slopes join the legend
    ax2.set_xticks(LRS, [f"{lr:.3g}" for lr in LRS], minor=False)
    ax2.set_xticks([], minor=True)

    return fig2


def _coverage_figure(data: dict) -> Figure:
    cov = _coverage_result(data)
    ns = np.arange(1, max(COVERAGE_NS) + 1)
    fig3 = Figure(figsize=(11, 4), layout="constrained")
    axes3 = fig3.subplots(1, 2)
    theory = {
        "seen": ("at least once", "1 - (1 - 1/n)^n  (12.4.18)", seen_at_least_once(ns)),
        "once": ("exactly once", "(1 - 1/n)^(n-1)  (12.4.19)", seen_exactly_once(ns)),
    }
    shuffled = data["coverage"]["shuffle"]
    for ax, name, limit in ((axes3[0], "seen", 1 - np.exp(-1.0)), (axes3[1], "once", np.exp(-1))):
        what, text, curve = theory[name]
        jd.plots.bound_vs_empirical(
            cov,
            {text: curve},
            metric=name,
            logy=False,
            style={"marker": "o", "ms": 4},
            label="with replacement (empirical mean)",
            ax=ax,
            xlabel="n (examples = draws per epoch)",
            ylabel="fraction of the n examples",
            title=f"examples drawn {what} in an epoch",
        )
        ax.plot(
            shuffled["ns"],
            shuffled[name].mean(axis=(1, 2)),
            "s",
            color="C3",
            label="without replacement (empirical mean)",
        )
        ax.axhline(limit, color="0.6", lw=0.6, ls="--", label="limit 1 - 1/e or 1/e")
        ax.set_ylim(0, 1.08)
        ax.set_xlim(1.5, 1500)
        ax.legend(fontsize="small", loc="lower left")  # the shuffled runs join the legend
    return fig3


def plot(data: dict) -> list[Panel]:
    runs = data["runs"]
    fig1, fig2, fig3 = _convergence_figure(data), _floor_figure(data), _coverage_figure(data)
    cov = _coverage_result(data)

    h = summary(data)
    slopes = _slopes(data)
    return [
        Panel(
            "convergence",
            fig1,
            f"f - f* of per-sample SGD over {len(runs.axes['seed'])} seeds (median, 10-90% "
            "band) at three constant steps. Both orders fall alike at first; then drawing "
            "with replacement stalls at a noise floor, while a reshuffled pass ends every "
            "epoch far lower (within an epoch it swings up, hence the saw-tooth); the gap "
            "widens as the step shrinks.",
        ),
        Panel(
            "floor_vs_lr",
            fig2,
            "Final f - f* (after a whole number of epochs) against the constant step: "
            f"over the three smallest steps it grows like lr^{slopes['replace']:.2f} with "
            f"replacement (theory: lr^1) and like lr^{slopes['shuffle']:.2f} without (random "
            "reshuffling, theory: lr^2; dotted lines). At the largest steps the two meet: "
            "the iterate then forgets its past within a few draws, and the last few draws of "
            "a permutation look like draws with replacement.",
        ),
        Panel(
            "coverage_vs_n",
            fig3,
            f"Fraction of the n examples drawn at least once (left) and exactly once (right) "
            f"in n draws, from the runs' own index streams ({data['cov_epochs']} epochs x "
            f"{len(cov.axes['seed'])} seeds per n). With replacement it follows 12.4.18 and "
            f"12.4.19 (dashed), e.g. {h['seen_with_replacement_n1000']:.4f} vs "
            f"{h['seen_theory_n1000']:.4f} at n = 1000, tending to 1 - 1/e and 1/e (grey "
            "lines); without replacement both are exactly 1.",
        ),
    ]


def headline(data: dict) -> list[Number]:
    s = summary(data)
    return [
        Number(
            "drawn at least once in an epoch, n = 1000",
            s["seen_with_replacement_n1000"],
            theory=s["seen_theory_n1000"],
            note="with replacement; 12.4.18",
        ),
        Number(
            "drawn exactly once in an epoch, n = 1000",
            s["once_with_replacement_n1000"],
            theory=s["once_theory_n1000"],
            note="with replacement; 12.4.19",
        ),
        Number(
            "drawn at least once, without replacement", s["seen_without_replacement"], theory=1.0
        ),
        Number(
            "noise floor slope with replacement", s["floor_slope_replace"], "d log / d log lr", 1.0
        ),
        Number(
            "noise floor slope without replacement",
            s["floor_slope_shuffle"],
            "d log / d log lr",
            2.0,
        ),
        Number(
            "floor with / without replacement, smallest step",
            s["floor_ratio_replace_over_shuffle"][0],
            "ratio",
        ),
    ]


def summary(data: dict) -> dict:
    cov = data["coverage"]
    rep, shuf = cov["replace"], cov["shuffle"]
    out = {}
    for i, m in enumerate(rep["ns"]):
        out[f"seen_with_replacement_n{m}"] = float(rep["seen"][i].mean())
        out[f"seen_theory_n{m}"] = float(seen_at_least_once(m))
        out[f"once_with_replacement_n{m}"] = float(rep["once"][i].mean())
        out[f"once_theory_n{m}"] = float(seen_exactly_once(m))
    out["without_replacement_ns"] = list(shuf["ns"])
    out["seen_without_replacement"] = float(shuf["seen"].mean())
    out["seen_without_replacement_min"] = float(shuf["seen"].min())
    out["once_without_replacement_min"] = float(shuf["once"].min())
    floors = _floors(data)
    for i, order in enumerate(ORDERS):
        out[f"final_suboptimality_{order}"] = floors[i].tolist()
    out["lrs"] = LRS.tolist()
    out["floor_ratio_replace_over_shuffle"] = (floors[0] / floors[1]).tolist()
    for order, slope in _slopes(data).items():
        out[f"floor_slope_{order}"] = slope
    return out


if __name__ == "__main__":
    main(__name__)
