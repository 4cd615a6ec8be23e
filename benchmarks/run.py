"""The speed table: jd.sweep against hand-written JAX, loops of jd.run, plain Python
loops, and the hardware limit, side by side in one process; then the progress bar's
cost, compile times, and a Monte-Carlo sweep's time and peak memory with and without a
memory budget.

    python benchmarks/run.py [--quick] [--reps 7] [--skip-rss]

Every timing is a median over repetitions after a warm-up call; compile time is
measured apart (the XLA compile events of the first call). Loops over configurations
are timed on a subset and extrapolated per configuration (labelled "~"). Sweeps run
with ``progress=False`` unless the progress bar is what is measured. Peak memory is
measured in a fresh process per configuration (``ru_maxrss`` at its end).

Workloads:
  W1  the seeds' y = w x: per-sample SGD, 100 epochs, 64 learning rates x 16 seeds
  W2  d2l's noisy quadratic: 64 learning rates x 64 seeds, 1000 steps, polynomial decay,
      loss logged every step
  W3  least squares n=4096, d=256: full-batch GD, 256 learning rates, 200 steps, one
      shared data set
  W4  the digits MLP sweep (8 learning rates x 2 weight decays x 4 seeds), when
      benchmarks/mlp_sweep_vs_loop.py is present
  MC  a Monte-Carlo sweep of W2's problem: 1 learning rate x 200,000 seeds, 1000 steps,
      logged every 10, with ``memory_budget=2**28`` and without a budget
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def keep_freed_memory() -> bool:
    """Asks glibc's allocator to keep freed memory in the process (mallopt: trim
    threshold 1 GiB, mmap threshold 32 MiB), before JAX allocates anything.

    A program's outputs are fresh buffers at every call. By default glibc hands large
    freed blocks back to the system, and the next call then pays a page fault per 4 KiB
    of fresh buffer: W2's 33 MB of logs cost ~8,000-10,000 faults, ~8 ms, more than the
    computation. Whether that happens depends on which allocator arena served the call,
    so the very same program measured 4.5 ms in one process and 13.5 ms in another. The
    setting applies to every column alike; the faults per call are printed beside the
    times. Returns whether it was applied (Linux with glibc only)."""
    if "--os-allocator" in sys.argv or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_trim_threshold, 1 << 30) and libc.mallopt(m_mmap_threshold, 1 << 25))


KEPT_FREED_MEMORY = keep_freed_memory()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxdescent as jd  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

COMPILE_EVENTS = (
    "/jax/core/compile/backend_compile_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/jaxpr_trace_duration",
)
_compile_seconds = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, secs, **kw: _compile_seconds.append(secs) if event in COMPILE_EVENTS else None
)


def compile_seconds(fn) -> float:
    """Calls ``fn`` once; the XLA compile seconds of that call (tracing and lowering
    included)."""
    start = len(_compile_seconds)
    jax.block_until_ready(fn())
    return sum(_compile_seconds[start:])


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def side_by_side(fns: dict, reps: int) -> dict:
    """Medians of ``fns`` (name -> zero-argument call) timed in turn, rep by rep, so a
    shared machine's slow spells fall on all of them; each is warmed up first. Also
    ``<name>_faults``: the median of the page faults each call took (fresh memory)."""
    for fn in fns.values():
        jax.block_until_ready(fn())
    times = {k: [] for k in fns}
    faults = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            f0 = minor_faults()
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[k].append(time.perf_counter() - t0)
            faults[k].append(minor_faults() - f0)
    out = {k: statistics.median(v) for k, v in times.items()}
    out.update({f"{k}_faults": statistics.median(v) for k, v in faults.items()})
    return out


def program_of(problem, make_optimizer, grid, compiler_options=None, **kwargs):
    """The compiled program a ``jd.sweep(problem, make_optimizer, grid, **kwargs)`` call
    runs, as a zero-argument call on the same inputs: the engine's time without the
    host's planning and assembly (with ``compiler_options``: the same program compiled
    with these options instead). The sweep must fit in one tile."""
    p = jd.plan(problem, make_optimizer, grid, **kwargs)
    if p.tiling.count != 1:
        raise ValueError(f"program_of times single-tile sweeps; this plan is {p!r}.")
    values, seeds = p.tile_inputs(0)
    if compiler_options is not None:  # the same program, compiled with other options
        compiled = p.lower(0).compile(compiler_options)
        return lambda: compiled(p.problem, p.oracle, values, seeds)
    return lambda: p.program.call(p.problem, p.oracle, values, seeds, p.keyed_spec)


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
    args = (problem, sgd, {"lr": lrs})
    kw = dict(seeds=seeds, steps=steps, oracle=oracle, keep_params=False, progress=False)

    def sweep():
        return jd.sweep(*args, **kw).loss

    def sweep_unrolled():
        return jd.sweep(*args, unroll=8, **kw).loss

    row["compile"] = compile_seconds(sweep)
    t = side_by_side(
        {
            "sweep": sweep,
            "program": program_of(*args, **kw),
            "hand": lambda: h1(jnp.asarray(lrs)),
            "sweep_unroll": sweep_unrolled,
            "program_unroll": program_of(*args, unroll=8, **kw),
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


# The hand-written programs are compiled at their fastest: matrix products (and
# convolutions) in YNNPACK, reductions out of it (XLA's default also hands it the
# reductions, which makes W2's reference 5-8x slower), and without jaxdescent's
# loop-emitter option, which costs the reference ~25% (W2: 7.0 ms against 9.0 ms).
# jaxdescent itself keeps YNNPACK off entirely (bitwise-equal tiles, `jd.compiler`).
# Where jaxdescent passes no options (another platform, or XLA_FLAGS choosing), neither
# do the hand-written programs.
_YNN = "xla_cpu_experimental_ynn_fusion_type"
_OPTIONS = jd.compiler.options(jax.default_backend())
HAND_OPTIONS = (
    {_YNN: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"}
    if _OPTIONS and _YNN in _OPTIONS
    else None
)
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
    args = (problem, poly_sgd, {"lr": lrs})
    kw = dict(seeds=n_seeds, steps=steps, oracle=oracle, keep_params=False, progress=False)

    def sweep():
        return jd.sweep(*args, **kw).loss

    row["compile"] = compile_seconds(sweep)
    t = side_by_side(
        {
            "sweep": sweep,
            "program": program_of(*args, **kw),
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
    args = (problem, sgd, {"lr": lrs})
    kw = dict(seeds=1, steps=steps, keep_params=False, progress=False)

    def sweep():
        return jd.sweep(*args, **kw).loss

    row["compile"] = compile_seconds(sweep)
    Xj, yj, lj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(lrs)
    row.update(
        side_by_side(
            {
                "sweep": sweep,
                "program": program_of(*args, **kw),
                "hand": lambda: h3(lj, Xj, yj),
                # what keeping matrix products out of YNNPACK costs (`jd.compiler`)
                "program_ynn": program_of(*args, compiler_options=HAND_OPTIONS, **kw),
            },
            reps,
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
    kw = dict(
        seeds=mlp.SEEDS,
        steps=steps,
        log_every=50,
        oracle=oracle,
        keep_params=False,
        progress=False,
    )

    def sweep():
        return jd.sweep(problem, mlp.make_optimizer, {"lr": mlp.LRS, "wd": mlp.WDS}, **kw).loss

    row["compile"] = compile_seconds(sweep)
    row["sweep"] = side_by_side({"sweep": sweep}, max(1, reps // 2))["sweep"]

    def make(lr):
        return mlp.make_optimizer(lr, 1e-3)

    row["loop"] = run_loop(problem, make, mlp.LRS[:2], range(2), steps, oracle, log_every=50)
    return row


def progress_overhead(reps, quick) -> dict:
    """Sweeps with the progress bar on against off, side by side: label -> (seconds
    off, on / off, whether the tile compiles in-loop reports). W2 at 1000 and 10,000
    steps; W4, the digits MLP, unless ``quick``. ``progress=True`` forces the bar on
    although stderr is not a terminal here (the default, None, would turn it off); the
    bar writes to a discarded buffer."""
    lrs = np.geomspace(1e-3, 0.4, 64).astype(np.float32)
    problem, oracle = jd.problems.quadratic(), jd.oracles.gaussian_noise(1.0)
    calls = {}
    for steps in (1000, 10_000):
        args = (problem, poly_sgd, {"lr": lrs})
        kw = dict(seeds=64, steps=steps, oracle=oracle, keep_params=False)
        calls[f"W2, {steps} steps"] = (args, kw)
    if not quick:
        import mlp_sweep_vs_loop as mlp

        split = jd.data.load_digits(seed=0)
        mlp_problem = jd.problems.mlp_classifier(
            *split.train, hidden=mlp.HIDDEN, classes=split.classes
        )
        args = (mlp_problem, mlp.make_optimizer, {"lr": mlp.LRS, "wd": mlp.WDS})
        kw = dict(
            seeds=mlp.SEEDS,
            steps=500,
            log_every=50,
            oracle=jd.oracles.minibatch(mlp.BATCH),
            keep_params=False,
        )
        calls["W4, 500 steps"] = (args, kw)
    out = {}
    for label, (args, kw) in calls.items():
        in_loop = jd.plan(*args, progress=True, **kw).spec.in_loop_progress

        def sweep(progress, args=args, kw=kw):
            return jd.sweep(*args, progress=progress, **kw).loss

        with contextlib.redirect_stderr(io.StringIO()):
            t = side_by_side(
                {"off": lambda s=sweep: s(False), "on": lambda s=sweep: s(True)},
                max(reps, 9) if label.startswith("W2") else max(2, reps // 2),
            )
        out[label] = (t["off"], t["on"] / t["off"], in_loop)
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
                progress=False,
            ).loss
        )
        out[(n_lr * n_seeds, steps)] = sum(_compile_seconds[start:])
    return out


# A sweep of W2's problem in a fresh process: its first call (compile included, compile
# seconds apart), then `reps` warm calls, then the process's peak RSS. An error (e.g. a
# result larger than the memory available) is reported, not raised.
# The peak is VmHWM, the high-water mark of the child's own address space. Its
# ru_maxrss is no use here: Linux carries the high-water mark of the address space a
# process replaces at exec over into it, and subprocess spawns by vfork, so a child's
# ru_maxrss is at least this (large) process's peak RSS at the time (measured: a child
# of a 2 GiB parent reports 2 GiB, its VmHWM 13 MiB). Both are reported.
CHILD_SCRIPT = """
import json, resource, statistics, sys, time
import jax, numpy as np, optax, jaxdescent as jd
cfg = json.loads(sys.argv[1])
compile_seconds = []
jax.monitoring.register_event_duration_secs_listener(
    lambda e, s, **kw: compile_seconds.append(s) if e in cfg["events"] else None
)
def make(lr):
    return optax.sgd(jd.schedules.polynomial(lr, alpha=0.5, beta=0.1))
def sweep():
    p = jd.plan(jd.problems.quadratic(), make, {"lr": np.asarray(cfg["lrs"])},
                seeds=cfg["seeds"], steps=cfg["steps"], log_every=cfg["log_every"],
                oracle=jd.oracles.gaussian_noise(1.0), keep_params=False,
                memory_budget=cfg["budget"], progress=False)
    res = jd.execute(p)
    jax.block_until_ready(res.loss)
    return p
out = {}
try:
    t0 = time.perf_counter()
    p = sweep()
    out["cold"] = time.perf_counter() - t0
    out["compile"] = sum(compile_seconds)
    out["tile"], out["tiles"] = p.meta["tile"], p.meta["tiles"]
    out["result_bytes"], out["predicted_peak"] = p.result_bytes, p.predicted_peak
    del p
    times = []
    for _ in range(cfg["reps"]):
        t0 = time.perf_counter()
        sweep()
        times.append(time.perf_counter() - t0)
    out["warm"] = statistics.median(times) if times else None
except Exception as e:
    out["error"] = f"{type(e).__name__}: {e}"
out["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with open("/proc/self/status") as f:
    hwm = [int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:")]
out["rss"] = hwm[0] if hwm else out["ru_maxrss"]
print(json.dumps(out))
"""


def in_fresh_process(lrs, seeds, steps, log_every, budget, reps) -> dict:
    """`CHILD_SCRIPT`'s report: cold, compile, warm (s), tile, tiles, result_bytes,
    predicted_peak, rss and ru_maxrss (bytes), or error (the child's error text, or how
    it died)."""
    cfg = dict(
        lrs=[float(x) for x in lrs],
        seeds=seeds,
        steps=steps,
        log_every=log_every,
        budget=budget,
        reps=reps,
        events=list(COMPILE_EVENTS),
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD_SCRIPT, json.dumps(cfg)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except subprocess.TimeoutExpired:
        return {"error": "did not finish in 30 minutes"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no error text"]
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
        killed = " (killed: out of memory?)" if done.returncode == -9 else ""
        return {"error": f"the process died ({how}){killed}: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


MC_BUDGET = 2**28


def monte_carlo(reps, quick) -> dict:
    """The Monte-Carlo sweep (1 learning rate x 200,000 seeds, 1000 steps, log_every=10)
    with ``memory_budget=MC_BUDGET`` and without a budget, each in a fresh process."""
    cfg = dict(lrs=[0.1], seeds=200_000, steps=1000, log_every=10)
    n = 1 if quick else max(1, min(3, reps // 2))
    return {
        "budget": in_fresh_process(**cfg, budget=MC_BUDGET, reps=n),
        "none": in_fresh_process(**cfg, budget=None, reps=n),
    }


def budget_rule(budget: int) -> int:
    """The peak RSS a sweep under ``memory_budget=budget`` should stay within."""
    return int(1.25 * budget + 400 * 2**20)


def gib(b) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def print_monte_carlo(mc: dict) -> None:
    print(
        "\nMonte-Carlo sweep (W2's noisy quadratic, 1 lr x 200,000 seeds, 1000 steps, "
        "log_every=10, keep_params=False), each configuration in a fresh process:"
    )
    print("\n| memory_budget | tiles | first call (compile) | warm call | peak RSS | rule |")
    print("|---|---|---|---|---|---|")
    for key, label in (("budget", f"2**28 ({gib(MC_BUDGET)})"), ("none", "none")):
        r = mc[key]
        if "error" in r and "cold" not in r:
            rss = gib(r["rss"]) if "rss" in r else "-"
            print(f"| {label} | {r['error']} | - | - | {rss} | - |")
            continue
        rule = budget_rule(MC_BUDGET) if key == "budget" else None
        held = "" if rule is None else (" (held)" if r["rss"] <= rule else " (**exceeded**)")
        cells = [
            label,
            f"{r['tiles']} of {r['tile'][0]}x{r['tile'][1]}",
            f"{fmt(r['cold'])} ({fmt(r['compile'])})",
            fmt(r.get("warm")),
            gib(r["rss"]),
            f"1.25 B + 400 MiB = {gib(rule)}{held}" if rule else "-",
        ]
        print("| " + " | ".join(cells) + " |")
    b, n = mc["budget"], mc["none"]
    if "cold" in b and "cold" in n:
        rows = [("first call", "cold")] + ([("warm", "warm")] if b.get("warm") else [])
        ratios = ", ".join(f"{what} {b[k] / n[k]:.2f}" for what, k in rows)
        print(f"\ntime with the budget / without (target <= 1.5): {ratios}")
        print(
            f"result {gib(b['result_bytes'])}; the plan's predicted peak under the budget "
            f"{gib(b['predicted_peak'])} (result + one measured tile)"
        )
    print(
        "peak RSS: the child's VmHWM; its ru_maxrss (which includes this process's peak at "
        "the spawn, see CHILD_SCRIPT): "
        + ", ".join(f"{k} {gib(r['ru_maxrss'])}" for k, r in mc.items() if "ru_maxrss" in r)
    )
    for k, r in mc.items():
        if "error" in r and "cold" in r:
            print(f"- {k}: warm calls failed: {r['error']}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--skip-rss", action="store_true", help="no fresh-process memory runs")
    ap.add_argument(
        "--os-allocator",
        action="store_true",
        help="leave glibc's allocator at its defaults (freed buffers go back to the system)",
    )
    args = ap.parse_args(argv)
    reps = 3 if args.quick else args.reps
    print(
        f"# jaxdescent benchmarks ({jax.default_backend()}, {jax.device_count()} device(s), "
        f"{os.cpu_count()} CPU cores, jax {jax.__version__}); medians of {reps} runs",
        flush=True,
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
    print(
        "\npage faults per call (median; fresh memory the allocator had to map): "
        + "; ".join(
            f"{r['name'].split()[0]}: sweep {r['sweep_faults']:.0f}, program "
            f"{r.get('program_faults', 0):.0f}, hand-written {r.get('hand_faults', 0):.0f}"
            for r in rows
            if "sweep_faults" in r
        )
        + (
            ". Freed memory kept in the process (`keep_freed_memory`)."
            if KEPT_FREED_MEMORY
            else ". The system allocator's defaults (--os-allocator)."
        )
    )
    r1 = rows[0]
    print(
        f"\nW1 with unroll=8: jd.sweep {fmt(r1['sweep_unroll'])} (program "
        f"{fmt(r1['program_unroll'])}) vs hand-written unrolled {fmt(r1['hand_unroll'])} "
        f"(program / hand {r1['program_unroll'] / r1['hand_unroll']:.2f}); unroll speed-up: "
        f"sweep {r1['sweep'] / r1['sweep_unroll']:.2f}x, hand-written "
        f"{r1['hand'] / r1['hand_unroll']:.2f}x"
    )
    r3 = rows[2]
    print(
        f"\nW3's program compiled with YNNPACK's matrix products (the hand-written programs' "
        f"options): {fmt(r3['program_ynn'])}; jaxdescent's program without them takes "
        f"{r3['program'] / r3['program_ynn']:.2f}x as long (program / hand with them: "
        f"{r3['program_ynn'] / r3['hand']:.2f})"
    )
    print(
        "\n`its program`: the compiled program jd.sweep runs (`jd.plan(...).program` on the "
        "plan's one tile), called alone; the difference to `jd.sweep` is the host's work "
        "per call (checks, planning, assembling the result). Hand-written programs are "
        f"compiled with {HAND_OPTIONS}; jaxdescent's with {_OPTIONS}.",
        flush=True,
    )
    print(
        "\nprogress bar, progress=True against progress=False, side by side (target <= 5%; "
        "progress=True forces the bar on without a terminal):"
    )
    for label, (off, ratio, in_loop) in progress_overhead(reps, args.quick).items():
        how = "in-loop reports compiled in" if in_loop else "per tile from the host"
        print(f"- {label} ({fmt(off)} without; {how}): {100 * (ratio - 1):+.1f}%", flush=True)
    flat = compile_flatness()
    print(
        "\ncompile time of the W2 sweep (s): "
        + ", ".join(f"{c} configs x {s} steps: {t:.2f}" for (c, s), t in flat.items()),
        flush=True,
    )
    if args.skip_rss:
        return
    print_monte_carlo(monte_carlo(reps, args.quick))
    lrs = np.geomspace(1e-3, 0.4, 64)
    for n_seeds in (64, 4096):
        r = in_fresh_process(lrs, n_seeds, 1000, 100, 2**30, reps=0)
        what = (
            f"{r['tiles']} tile(s) of {r['tile'][0]}x{r['tile'][1]}" if "tile" in r else r["error"]
        )
        print(
            f"peak RSS, W2 with {64 * n_seeds} configs (log_every=100, memory_budget=1 GiB, "
            f"{what}): {gib(r['rss']) if 'rss' in r else '-'} (rule {gib(budget_rule(2**30))})"
        )


if __name__ == "__main__":
    main()
