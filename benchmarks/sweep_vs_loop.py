"""One compiled sweep against a Python loop of single runs, side by side in one process.

Workload: d2l's noisy quadratic f = x1^2 + 2 x2^2 with N(0, 1) gradient noise, SGD
with the polynomial-decay schedule eta * (0.1 t + 1)^(-1/2), 64 learning rates x 64
seeds = 4096 configurations, 1000 steps, loss logged at every step.

Both sides are warmed up first (the sweep compiles one program; the loop compiles
one program per learning rate, since each `optax.sgd(schedule)` is a new optimizer
object, and then reuses it for all 64 seeds); compile times are reported apart.
Timings are medians over repetitions.

    python benchmarks/sweep_vs_loop.py [--lrs 64] [--seeds 64] [--steps 1000] [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np
import optax

import jaxdescent as jd


def make_optimizer(lr):
    return optax.sgd(jd.schedules.polynomial(lr, alpha=0.5, beta=0.1))


def timed(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lrs", type=int, default=64)
    ap.add_argument("--seeds", type=int, default=64)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--loop-reps", type=int, default=3)
    args = ap.parse_args(argv)

    problem = jd.problems.quadratic()
    oracle = jd.oracles.gaussian_noise(1.0)
    lrs = np.geomspace(1e-3, 0.4, args.lrs)
    n = args.lrs * args.seeds
    kw = dict(steps=args.steps, oracle=oracle, keep_params=False)

    def run_sweep():
        return jd.sweep(problem, make_optimizer, {"lr": lrs}, seeds=args.seeds, **kw).loss

    t0 = time.perf_counter()
    jax.block_until_ready(run_sweep())
    sweep_first = time.perf_counter() - t0
    sweep_time, _ = timed(run_sweep, args.reps)

    optimizers = [make_optimizer(float(lr)) for lr in lrs]
    keys = [jax.random.key(s) for s in range(args.seeds)]

    def run_loop():
        return [jd.run(problem, opt, key=k, **kw).loss for opt in optimizers for k in keys]

    t0 = time.perf_counter()
    first_loop = run_loop()
    jax.block_until_ready(first_loop)
    loop_first = time.perf_counter() - t0
    loop_time, _ = timed(run_loop, args.loop_reps)

    # the two agree: same configurations, same keys
    sweep_loss = np.asarray(run_sweep())
    loop_loss = np.stack([np.asarray(x) for x in first_loop]).reshape(sweep_loss.shape)
    max_rel = float(np.max(np.abs(sweep_loss - loop_loss) / np.maximum(np.abs(loop_loss), 1e-30)))

    print(
        f"# sweep vs loop: noisy quadratic, {args.lrs} lrs x {args.seeds} seeds = {n} configs, "
        f"{args.steps} steps, polynomial decay  ({jax.default_backend()}, "
        f"{jax.device_count()} device(s), jax {jax.__version__})"
    )
    print("| | jd.sweep (one program) | Python loop of jd.run |")
    print("|---|---|---|")
    print(
        f"| first call (compile + run) | {sweep_first:.3f} s | {loop_first:.2f} s "
        f"({args.lrs} programs) |"
    )
    print(
        f"| compile, estimated (first - median) | {sweep_first - sweep_time:.3f} s | "
        f"{loop_first - loop_time:.2f} s |"
    )
    print(
        f"| run, median | {sweep_time * 1e3:.2f} ms (reps={args.reps}) | "
        f"{loop_time:.3f} s (reps={args.loop_reps}) |"
    )
    print(f"| per configuration | {sweep_time / n * 1e6:.2f} us | {loop_time / n * 1e6:.1f} us |")
    print(
        f"\nspeed-up of the sweep over the loop (run medians): {loop_time / sweep_time:.0f}x "
        f"(target >= 50x)"
    )
    print(f"max relative difference sweep vs loop losses: {max_rel:.1e}")


if __name__ == "__main__":
    main()
