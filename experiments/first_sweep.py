"""A first sweep: d2l's noisy quadratic, 8 learning rates x 16 seeds, one program.

python -m experiments.first_sweep
"""

from __future__ import annotations

import time

import numpy as np
import optax

import jaxdescent as jd


def compute(steps: int = 200, seeds: int = 16):
    """SGD with d2l's polynomial decay on f = x1^2 + 2 x2^2 with N(0, 1) gradient noise."""
    return jd.sweep(
        jd.problems.quadratic(),
        lambda lr: optax.sgd(jd.schedules.polynomial(lr, alpha=0.5, beta=0.1)),
        {"lr": np.geomspace(0.01, 0.6, 8)},
        seeds=seeds,
        steps=steps,
        oracle=jd.oracles.gaussian_noise(1.0),
        log_every=10,
    )


def main():
    t0 = time.perf_counter()
    result = compute()
    final = np.asarray(result.final_loss)  # (lr, seed)
    print(f"{result}  [{time.perf_counter() - t0:.2f} s including compilation]")
    print("   lr     median f(x_T)   10%-90% over seeds   diverged")
    for i, lr in enumerate(result.axes["lr"]):
        lo, med, hi = np.quantile(final[i], [0.1, 0.5, 0.9])
        div = int(np.sum(np.asarray(result.diverged)[i]))
        print(f"{lr:7.3f}   {med:12.4g}   [{lo:8.3g}, {hi:8.3g}]   {div:5d}")


if __name__ == "__main__":
    main()
