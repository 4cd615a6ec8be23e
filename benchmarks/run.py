"""The speed table: jd.sweep against hand-written JAX, loops of jd.run, plain Python
loops, and the hardware limit, side by side in one process.

    python benchmarks/run.py [--quick] [--reps 7] [--skip-rss]

Every timing is a median over repetitions after a warm-up call; compile time is
measured apart (the XLA compile events of the first call). Loops over configurations
are timed on a subset and extrapolated per configuration (labelled "~").

Workloads:
  W1  the seeds' y = w x: per-sample SGD, 100 epochs, 64 learning rates x 16 seeds
  W2  d2l's noisy quadratic: 64 learning rates x 64 seeds, 1000 steps, polynomial decay,
      loss logged every step
  W3  least squares n=4096, d=256: full-batch GD, 256 learning rates, 200 steps, one
      shared data set
  W4  the digits MLP sweep (8 learning rates x 2 weight decays x 4 seeds), when
      benchmarks/mlp_sweep_vs_loop.py is present
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxdescent as jd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

_compile_seconds = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, secs, **kw: (
        _compile_seconds.append(secs)
        if event
        in (
            "/jax/core/compile/backend_compile_duration",
            "/jax/core/compile/jaxpr_to_mlir_module_duration",
            "/jax/core/compile/jaxpr_trace_duration",
        )
        else None
    )
)


def compile_seconds(fn) -> float:
    """Calls ``fn`` once; the XLA compile seconds of that call (tracing and lowering
    included)."""
    start = len(_compile_seconds)
    jax.block_until_ready(fn())
    return sum(_compile_seconds[start:])


def side_by_side(fns: dict, reps: int) -> dict:
    """Medians of ``fns`` (name -> zero-argument call) timed in turn, rep by rep, so a
    shared machine's slow spells fall on all of them; each is warmed up first."""
    for fn in fns.values():
        jax.block_until_ready(fn())
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


_sweep_module = sys.modules["jaxdescent.sweep"]


def program_of(call):
    """The compiled program a ``jd.sweep`` call runs, as a zero-argument call with the
    same arguments: the engine's time without the host's validation and assembly."""
    captured = {}
    programs = _sweep_module._programs

    def recording(platform):
        program = programs(platform)

        def run(*args, **kwargs):
            captured["call"] = lambda: program(*args, **kwargs)
            return program(*args, **kwargs)

        run.eval_shape = program.eval_shape
        return run

    _sweep_module._programs = recording
    try:
        call()
    finally:
        _sweep_module._programs = programs
    return captured["call"]


def fmt(seconds, approx=False):
    if seconds is None:
        return "-"
    s = f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"
    return ("~" if approx else "") + s


def sgd(lr):
    return optax.sgd(lr)


def poly_sgd(lr):
    return optax.sgd(jd.schedules.polynomial(lr, alpha=0.5, beta=0.1))


# --- the workloads ----------------------------------------------------------------------


def w1(reps, quick):
    lrs = np.geomspace(1e-3, 0.05, 64).astype(np.float32)
    seeds, epochs = 16, 100
    steps = 3 * epochs
    problem = jd.problems.linear_regression(ref.X_DATA, ref.Y_DATA)
    oracle = jd.oracles.per_sample("cyclic")
    row = {"name": "W1 y=wx SGD, 64 lr x 16 seeds, 300 steps", "configs": 64 * seeds}
    kw = dict(seeds=seeds, steps=steps, oracle=oracle, keep_params=False)

    def sweep():
        return jd.sweep(problem, sgd, {"lr": lrs}, **kw).loss

    def sweep_unrolled():
        return jd.sweep(problem, sgd, {"lr": lrs}, unroll=8, **kw).loss

    row["compile"] = compile_seconds(sweep)
    t = side_by_side(
        {
            "sweep": sweep,
            "program": program_of(sweep),
            "hand": lambda: h1(jnp.asarray(lrs)),
            "sweep_unroll": sweep_unrolled,
            "program_unroll": program_of(sweep_unrolled),
            "hand_unroll": lambda: h1u(jnp.asarray(lrs)),
        },
        max(reps, 15),
    )
    row.update(t)
    row["loop"] = run_loop(problem, sgd, lrs[:4], range(4), steps, oracle)
    t0 = time.perf_counter()
    for lr in lrs[:8]:
        ref.python_w1(float(lr), epochs)
    row["python"] = (time.perf_counter() - t0) / 8 * 64 * seeds
    return row


# The hand-written programs are compiled at their fastest: with jaxdescent's option
# that keeps reductions out of YNNPACK (XLA's default makes W2's reference 5-8x slower),
# without the one that trades nothing of jaxdescent's speed for compile time but costs
# the reference ~25% (W2: 7.0 ms against 9.0 ms).
_OPTIONS = jd.compiler.options(jax.default_backend()) or {}
HAND_OPTIONS = {k: v for k, v in _OPTIONS.items() if k != "xla_cpu_use_fusion_emitters"} or None
h1 = jax.jit(lambda lrs: ref.hand_w1(lrs, 16, 100), compiler_options=HAND_OPTIONS)
h1u = jax.jit(lambda lrs: ref.hand_w1(lrs, 16, 100, unroll=8), compiler_options=HAND_OPTIONS)


def run_loop(problem, make, lrs, seeds, steps, oracle, log_every=1):
    """Seconds per configuration of a Python loop of jd.run (one optimizer object per
    learning rate, reused for its seeds), after a warm-up pass that compiles."""
    opts = [make(float(lr)) for lr in lrs]
    keys = [jax.random.key(s) for s in seeds]

    def loop():
        return [
            jd.run(
                problem,
                o,
                key=k,
                steps=steps,
                oracle=oracle,
                log_every=log_every,
                keep_params=False,
            ).loss
            for o in opts
            for k in keys
        ]

    jax.block_until_ready(loop())
    t0 = time.perf_counter()
    jax.block_until_ready(loop())
    return (time.perf_counter() - t0) / (len(opts) * len(keys))


def w2(reps, quick):
    lrs = np.geomspace(1e-3, 0.4, 64).astype(np.float32)
    n_seeds, steps = 64, 1000
    problem, oracle = jd.problems.quadratic(), jd.oracles.gaussian_noise(1.0)
    row = {"name": "W2 noisy quadratic, 64 lr x 64 seeds, 1000 steps", "configs": 64 * n_seeds}
    kw = dict(seeds=n_seeds, steps=steps, oracle=oracle, keep_params=False)

    def sweep():
        return jd.sweep(problem, poly_sgd, {"lr": lrs}, **kw).loss

    row["compile"] = compile_seconds(sweep)
    t = side_by_side(
        {
            "sweep": sweep,
            "program": program_of(sweep),
            "hand": lambda: h2(jnp.asarray(lrs), jnp.arange(n_seeds)),
        },
        max(reps, 11),
    )
    row.update(t)
    row["loop"] = run_loop(problem, poly_sgd, lrs[:4], range(8), steps, oracle)
    t0 = time.perf_counter()
    for lr in lrs[:4]:
        ref.python_w2(float(lr), 0, steps)
    row["python"] = (time.perf_counter() - t0) / 4 * row["configs"]
    # the limit: writing the two logged traces (loss, grad norm) at measured bandwidth
    nbytes = 2 * (steps + 1) * row["configs"] * 4
    row["limit"] = nbytes / bandwidth()
    row["limit_what"] = f"write {nbytes / 1e6:.0f} MB of logs"
    return row


h2 = jax.jit(lambda lrs, seeds: ref.hand_w2(lrs, seeds, 1000), compiler_options=HAND_OPTIONS)


def bandwidth():
    a = np.ones(16 * 2**20, np.float32)
    b = np.empty_like(a)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(b, a)
        times.append(time.perf_counter() - t0)
    return 2 * a.nbytes / min(times)  # read + write


def w3(reps, quick):
    n, d, L, steps = 4096, 256, 256, 200
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)).astype(np.float32) / np.sqrt(d)
    y = (X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)).astype(np.float32)
    lrs = np.geomspace(1e-3, 1.0, L).astype(np.float32)
    problem = jd.problems.least_squares(X, y)
    row = {"name": "W3 least squares 4096x256, 256 lr, 200 steps (GD)", "configs": L}
    kw = dict(seeds=1, steps=steps, keep_params=False)

    def sweep():
        return jd.sweep(problem, sgd, {"lr": lrs}, **kw).loss

    row["compile"] = compile_seconds(sweep)
    Xj, yj, lj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(lrs)
    row.update(
        side_by_side(
            {"sweep": sweep, "program": program_of(sweep), "hand": lambda: h3(lj, Xj, yj)}, reps
        )
    )
    W = jnp.zeros((d, L), jnp.float32)
    R = jnp.zeros((n, L), jnp.float32)
    mm = jax.jit(ref.matmuls_w3)
    t_mm = side_by_side({"mm": lambda: mm(Xj, W, R)}, max(reps, 9))["mm"]
    row["limit"] = t_mm * steps
    row["limit_what"] = "X@W and X.T@R per step, alone"
    row["loop"] = run_loop(problem, sgd, lrs[:4], [0], steps, None)
    return row


h3 = jax.jit(lambda lrs, X, y: ref.hand_w3(lrs, X, y, 200), compiler_options=HAND_OPTIONS)


def w4(reps, quick):
    """The digits MLP sweep of benchmarks/mlp_sweep_vs_loop.py (no hand-written column)."""
    import mlp_sweep_vs_loop as mlp

    split = jd.data.load_digits(seed=0)
    problem = jd.problems.mlp_classifier(*split.train, hidden=mlp.HIDDEN, classes=split.classes)
    oracle = jd.oracles.minibatch(mlp.BATCH)
    steps = 500
    row = {
        "name": f"W4 digits MLP, 8 lr x 2 wd x 4 seeds, {steps} steps",
        "configs": len(mlp.LRS) * len(mlp.WDS) * mlp.SEEDS,
        "hand": None,
    }
    kw = dict(seeds=mlp.SEEDS, steps=steps, log_every=50, oracle=oracle, keep_params=False)

    def sweep():
        return jd.sweep(problem, mlp.make_optimizer, {"lr": mlp.LRS, "wd": mlp.WDS}, **kw).loss

    row["compile"] = compile_seconds(sweep)
    row["sweep"] = side_by_side({"sweep": sweep}, max(1, reps // 2))["sweep"]

    def make(lr):
        return mlp.make_optimizer(lr, 1e-3)

    row["loop"] = run_loop(problem, make, mlp.LRS[:2], range(2), steps, oracle, log_every=50)
    return row


def progress_overhead(reps, quick) -> dict:
    """Sweeps with the progress bar on against off: label -> time ratio (W2 at 1000 and
    10,000 steps; W4, the digits MLP, unless ``quick``)."""
    import contextlib
    import io

    lrs = np.geomspace(1e-3, 0.4, 64).astype(np.float32)
    problem, oracle = jd.problems.quadratic(), jd.oracles.gaussian_noise(1.0)
    calls = {}
    for steps in (1000, 10_000):

        def sweep(progress, steps=steps):
            return jd.sweep(
                problem,
                poly_sgd,
                {"lr": lrs},
                seeds=64,
                steps=steps,
                oracle=oracle,
                keep_params=False,
                progress=progress,
            ).loss

        calls[f"W2, {steps} steps"] = sweep
    if not quick:
        import mlp_sweep_vs_loop as mlp

        split = jd.data.load_digits(seed=0)
        mlp_problem = jd.problems.mlp_classifier(
            *split.train, hidden=mlp.HIDDEN, classes=split.classes
        )

        def mlp_sweep(progress):
            return jd.sweep(
                mlp_problem,
                mlp.make_optimizer,
                {"lr": mlp.LRS, "wd": mlp.WDS},
                seeds=mlp.SEEDS,
                steps=500,
                log_every=50,
                oracle=jd.oracles.minibatch(mlp.BATCH),
                keep_params=False,
                progress=progress,
            ).loss

        calls["W4, 500 steps"] = mlp_sweep
    out = {}
    for label, sweep in calls.items():
        with contextlib.redirect_stderr(io.StringIO()):
            t = side_by_side(
                {"off": lambda s=sweep: s(False), "on": lambda s=sweep: s(True)},
                reps if label.startswith("W2") else max(2, reps // 2),
            )
        out[label] = (t["off"], t["on"] / t["off"])
    return out


def compile_flatness():
    """Compile seconds of the W2 sweep at 64 and 4096 configs, 100 and 10,000 steps."""
    problem, oracle = jd.problems.quadratic(), jd.oracles.gaussian_noise(1.0)
    out = {}
    for n_lr, n_seeds, steps in [(8, 8, 1000), (64, 64, 1000), (64, 64, 100), (64, 64, 10_000)]:

        def make(lr):  # a fresh factory: this sweep compiles anew
            return optax.sgd(jd.schedules.polynomial(lr, alpha=0.5, beta=0.1))

        start = len(_compile_seconds)
        jax.block_until_ready(
            jd.sweep(
                problem,
                make,
                {"lr": np.geomspace(1e-3, 0.4, n_lr)},
                seeds=n_seeds,
                steps=steps,
                oracle=oracle,
                keep_params=False,
                log_every=steps // 100,
            ).loss
        )
        out[(n_lr * n_seeds, steps)] = sum(_compile_seconds[start:])
    return out


RSS_SCRIPT = """
import resource, sys, numpy as np, optax, jaxdescent as jd
n_seeds = int(sys.argv[1])
def make(lr):
    return optax.sgd(jd.schedules.polynomial(lr, alpha=0.5, beta=0.1))
res = jd.sweep(jd.problems.quadratic(), make, {"lr": np.geomspace(1e-3, 0.4, 64)},
               seeds=n_seeds, steps=1000, log_every=100, oracle=jd.oracles.gaussian_noise(1.0),
               keep_params=False, memory_budget=2**30)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, res.meta["points_per_chunk"])
"""


def peak_rss(n_seeds):
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(n_seeds)], capture_output=True, text=True, check=True
    )
    kb, per_chunk = out.stdout.split()
    return int(kb) * 1024, int(per_chunk)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--skip-rss", action="store_true")
    args = ap.parse_args(argv)
    reps = 3 if args.quick else args.reps
    print(
        f"# jaxdescent benchmarks ({jax.default_backend()}, {jax.device_count()} device(s), "
        f"{os.cpu_count()} CPU cores, jax {jax.__version__}); medians of {reps} runs"
    )
    rows = [w1(reps, args.quick), w2(reps, args.quick), w3(reps, args.quick), w4(reps, args.quick)]
    print(
        "\n| workload | jd.sweep | its program | compile | hand-written | sweep / hand | "
        "program / hand | loop of jd.run | loop / sweep | plain Python | python / sweep | limit "
        "| limit / sweep |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        loop_total = r["loop"] * r["configs"]
        py, lim, hand, prog = r.get("python"), r.get("limit"), r.get("hand"), r.get("program")
        cells = [
            r["name"],
            fmt(r["sweep"]),
            fmt(prog),
            fmt(r["compile"]),
            fmt(hand),
            f"{r['sweep'] / hand:.2f}" if hand else "-",
            f"{prog / hand:.2f}" if hand and prog else "-",
            fmt(loop_total, True),
            f"{loop_total / r['sweep']:.0f}x",
            fmt(py, True),
            f"{py / r['sweep']:.0f}x" if py else "-",
            f"{fmt(lim)} ({r['limit_what']})" if lim else "-",
            f"{lim / r['sweep']:.2f}" if lim else "-",
        ]
        print("| " + " | ".join(cells) + " |")
    r1 = rows[0]
    print(
        f"\nW1 with unroll=8: jd.sweep {fmt(r1['sweep_unroll'])} (program "
        f"{fmt(r1['program_unroll'])}) vs hand-written unrolled {fmt(r1['hand_unroll'])} "
        f"(program / hand {r1['program_unroll'] / r1['hand_unroll']:.2f}); unroll speed-up: "
        f"sweep {r1['sweep'] / r1['sweep_unroll']:.2f}x, hand-written "
        f"{r1['hand'] / r1['hand_unroll']:.2f}x"
    )
    print(
        "\n`its program`: the compiled program jd.sweep runs, called alone; the difference "
        "to `jd.sweep` is the host's work per call (checks, grid, assembling the result). "
        f"Hand-written programs are compiled with {HAND_OPTIONS}, jaxdescent's with {_OPTIONS}."
    )
    print("\nprogress bar, on vs off, side by side:")
    for label, (off, ratio) in progress_overhead(reps, args.quick).items():
        print(f"- {label} ({fmt(off)} without): {100 * (ratio - 1):+.1f}%")
    flat = compile_flatness()
    print(
        "\ncompile time of the W2 sweep (s): "
        + ", ".join(f"{c} configs x {s} steps: {t:.2f}" for (c, s), t in flat.items())
    )
    if not args.skip_rss:
        for n_seeds in (64, 4096):
            rss, per = peak_rss(n_seeds)
            print(
                f"peak RSS, W2 with {64 * n_seeds} configs (log_every=100, memory_budget=1 GiB, "
                f"{per} points per chunk): {rss / 2**30:.2f} GiB"
            )


if __name__ == "__main__":
    main()
