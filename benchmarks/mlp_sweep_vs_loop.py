"""The digits MLP's 64-configuration sweep as one program against a Python loop of runs.

Workload: the `mlp_digits` experiment's model -- scikit-learn's digits (1079 training
images of 64 pixels, standardized), one hidden ReLU layer of 128 units, cross-entropy --
trained by minibatch SGD (32 examples a step, reshuffled every epoch) with momentum 0.9
and weight decay on the weights, for a fixed number of steps (default 500). Grid: 8
learning rates (1e-3 .. 1, log-spaced) x 2 weight decays (0, 1e-3) x 4 seeds = 64 runs;
the loss on the whole training set is logged every 50 steps.

The sweep is one `jd.sweep` call (one compiled program); the loop calls `jd.run` 64 times,
with one optax optimizer object per (lr, wd) reused for its 4 seeds, so it compiles 16
programs. Both are warmed up first (compile times are reported apart), then timed; the
timings are medians over repetitions. The two must agree: same configurations, same keys.
They do to float32 rounding (~1e-5) at the rates where training settles; at the largest
rates (the edge of stability and beyond) the runs are chaotic and rounding differences
between the batched and the single programs grow, which the per-rate table shows.

    python benchmarks/mlp_sweep_vs_loop.py [--steps 500] [--log-every 50] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import jax
import numpy as np

import jaxdescent as jd
import jaxdescent.data as jdata

HIDDEN = (128,)
BATCH = 32
LRS = np.geomspace(1e-3, 1.0, 8)
WDS = (0.0, 1e-3)
SEEDS = 4

# the experiment's optimizer: SGD + momentum, decoupled weight decay on the weights
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.mlp_digits import MOMENTUM, make_optimizer  # noqa: E402


def timed(fn, reps):
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), os.times()
        jax.block_until_ready(fn())
        c1 = os.times()
        times.append(time.perf_counter() - t0)
        cpu.append(c1.user - c0.user)
    return statistics.median(times), statistics.median(cpu)


def first_call(fn):
    t0, c0 = time.perf_counter(), os.times()
    out = fn()
    jax.block_until_ready(out)
    return out, time.perf_counter() - t0, os.times().user - c0.user


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--loop-reps", type=int, default=3)
    args = ap.parse_args(argv)

    split = jdata.load_digits(seed=0)
    problem = jd.problems.mlp_classifier(*split.train, hidden=HIDDEN, classes=split.classes)
    oracle = jd.oracles.minibatch(BATCH)
    n = len(LRS) * len(WDS) * SEEDS
    kw = dict(steps=args.steps, log_every=args.log_every, oracle=oracle, keep_params=False)

    def run_sweep():
        return jd.sweep(problem, make_optimizer, {"lr": LRS, "wd": WDS}, seeds=SEEDS, **kw).loss

    sweep_loss, sweep_first, sweep_first_cpu = first_call(run_sweep)
    sweep_time, sweep_cpu = timed(run_sweep, args.reps)

    optimizers = [make_optimizer(float(lr), wd) for lr in LRS for wd in WDS]  # 16 objects
    keys = [jax.random.key(s) for s in range(SEEDS)]

    def run_loop():
        return [jd.run(problem, opt, key=k, **kw).loss for opt in optimizers for k in keys]

    loop_loss, loop_first, loop_first_cpu = first_call(run_loop)
    loop_time, loop_cpu = timed(run_loop, args.loop_reps)

    # The two agree: same configurations, same keys. At rates where training is at or past
    # the edge of stability the runs are chaotic, so float32 rounding differences between
    # the batched and the single programs grow there; the comparison is shown per rate.
    a = np.asarray(sweep_loss, dtype=float)
    b = np.stack([np.asarray(x) for x in loop_loss]).reshape(a.shape).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(a - b) / np.abs(b)
    per_lr = np.nanmax(rel.reshape(len(LRS), -1), axis=1)
    same_nonfinite = bool(np.array_equal(np.isfinite(a), np.isfinite(b)))

    print(
        f"# sweep vs loop: digits MLP 64-{HIDDEN[0]}-10, {len(LRS)} lrs x {len(WDS)} weight "
        f"decays x {SEEDS} seeds = {n} runs, {args.steps} steps of minibatch {BATCH}, SGD + "
        f"momentum {MOMENTUM}, loss logged every {args.log_every}  ({jax.default_backend()}, "
        f"{jax.device_count()} device(s), {os.cpu_count()} CPUs, jax {jax.__version__})"
    )
    print("| | jd.sweep (one program) | Python loop of jd.run |")
    print("|---|---|---|")
    print(
        f"| first call (compile + run) | {sweep_first:.2f} s (cpu {sweep_first_cpu:.1f} s) | "
        f"{loop_first:.2f} s (cpu {loop_first_cpu:.1f} s; {len(optimizers)} programs) |"
    )
    print(
        f"| compile, estimated (first - median) | {sweep_first - sweep_time:.2f} s | "
        f"{loop_first - loop_time:.2f} s |"
    )
    print(
        f"| run, median | {sweep_time:.3f} s (cpu {sweep_cpu:.2f} s, reps={args.reps}) | "
        f"{loop_time:.3f} s (cpu {loop_cpu:.2f} s, reps={args.loop_reps}) |"
    )
    print(f"| per run | {sweep_time / n * 1e3:.1f} ms | {loop_time / n * 1e3:.1f} ms |")
    print(
        f"\nspeed-up of the sweep over the loop (run medians): {loop_time / sweep_time:.1f}x; "
        f"first calls (compile included): {loop_first / sweep_first:.1f}x"
    )
    print("\nagreement, max relative difference of the logged losses (over wd, seeds, steps):")
    print("| lr | " + " | ".join(f"{lr:.3g}" for lr in LRS) + " |")
    print("|---" * (len(LRS) + 1) + "|")
    print("| max rel. diff | " + " | ".join(f"{v:.1e}" for v in per_lr) + " |")
    print(f"non-finite losses at the same places: {same_nonfinite}")


if __name__ == "__main__":
    main()
