"""Hand-written reference programs for the benchmark workloads, and the plain loops.

Each ``hand_*`` is the program a careful user would write directly in JAX for one
workload: ``jit(vmap(vmap(scan)))`` with time-major logs, doing the same work as the
`jd.sweep` it is compared with (same steps, same noise stream per seed, loss and
gradient norm logged). The ``python_*`` functions are the material's own style: plain
Python / NumPy loops, one run at a time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# --- W1: the seeds' y = w * x, per-sample SGD ----------------------------------------

X_DATA = np.array([1.0, 2.0, 3.0])
Y_DATA = np.array([2.0, 4.0, 6.0])


def hand_w1(lrs, n_seeds: int, epochs: int, unroll: int = 1):
    """Per-sample SGD in data order on y = w x from w = 1; loss (full MSE) every step.
    Deterministic, so seeds share one run (as jd.sweep's batching does too)."""
    x, y = jnp.asarray(X_DATA, jnp.float32), jnp.asarray(Y_DATA, jnp.float32)
    steps = epochs * len(X_DATA)

    def one(lr):
        def step(w, t):
            i = t % 3
            g = 2 * x[i] * (x[i] * w - y[i])
            w = w - lr * g
            r = w * x - y
            return w, (jnp.mean(r * r), jnp.abs(jnp.mean(2 * x * r)))

        _, logs = jax.lax.scan(step, jnp.float32(1.0), jnp.arange(steps), unroll=unroll)
        return logs

    logs = jax.vmap(one, out_axes=1)(lrs)  # (steps, lrs)
    return jax.tree.map(lambda a: jnp.broadcast_to(a[:, :, None], a.shape + (n_seeds,)), logs)


def python_w1(lr: float, epochs: int):
    """Seed 002's loop, transcribed (one configuration)."""
    w, losses = 1.0, []
    for _ in range(epochs):
        for xv, yv in zip(X_DATA, Y_DATA):
            w = w - lr * 2 * xv * (xv * w - yv)
            losses.append(sum((xi * w - yi) ** 2 for xi, yi in zip(X_DATA, Y_DATA)) / 3)
    return w, losses


# --- W2: d2l's noisy quadratic with polynomial decay ----------------------------------

SCALES = np.array([1.0, 2.0])
INIT = np.array([-5.0, -2.0])


def hand_w2(lrs, seeds, steps: int):
    """SGD on x1^2 + 2 x2^2 with N(0, 1) gradient noise drawn from (seed key, step),
    eta_t = lr (0.1 t + 1)^(-1/2); loss and gradient norm logged every step,
    time-major (steps, lrs, seeds). The noise of all steps is drawn before the scan in
    one vectorized call (per-step draws run the generator's own loop at every step)."""
    scales = jnp.asarray(SCALES, jnp.float32)
    keys = jax.vmap(jax.random.key)(seeds)
    oracle_keys = jax.vmap(lambda k: jax.random.split(k)[1])(keys)
    x0 = jnp.broadcast_to(jnp.asarray(INIT, jnp.float32), (len(lrs), len(seeds), 2))
    ts = jnp.arange(steps)

    def noise(t):
        return jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, t), (2,)))(oracle_keys)

    z_all = jax.vmap(noise)(ts)  # (steps, seeds, 2)

    def step(x, tz):
        t, z = tz
        g = 2 * scales * x + z[None]
        x = x - lrs[:, None, None] * (0.1 * t + 1.0) ** -0.5 * g
        return x, (jnp.sum(scales * x * x, -1), jnp.sqrt(jnp.sum((2 * scales * x) ** 2, -1)))

    _, logs = jax.lax.scan(step, x0, (ts, z_all))
    return logs


def python_w2(lr: float, seed: int, steps: int):
    """d2l's loop with a pure schedule instead of its global t (one configuration)."""
    rng = np.random.default_rng(seed)
    x1, x2, losses = INIT[0], INIT[1], []
    for t in range(steps):
        g1 = 2 * x1 + rng.normal()
        g2 = 4 * x2 + rng.normal()
        eta = lr * (0.1 * t + 1) ** -0.5
        x1, x2 = x1 - eta * g1, x2 - eta * g2
        losses.append(x1 * x1 + 2 * x2 * x2)
    return losses


# --- W3: full-batch GD on least squares, one data set for all learning rates ----------


def hand_w3(lrs, X, y, steps: int):
    """GD on mean (X w - y)^2 for every learning rate at once: the lrs are the columns of
    W, so each step is two matrix-matrix products, X @ W and X.T @ R."""
    n = X.shape[0]
    W0 = jnp.zeros((X.shape[1], len(lrs)), X.dtype)

    def step(W, _):
        R = X @ W - y[:, None]
        G = (2.0 / n) * (X.T @ R)
        W = W - lrs[None, :] * G
        R1 = X @ W - y[:, None]
        return W, jnp.mean(R1 * R1, axis=0)

    _, losses = jax.lax.scan(step, W0, None, length=steps)
    return losses


def matmuls_w3(X, W, R):
    """The two products of one step at the sweep's shapes, alone (the limit)."""
    return X @ W, X.T @ R
