"""The material's printed numbers, reproduced exactly in float64."""

import numpy as np
import optax

import jaxdescent as jd

X_DATA, Y_DATA = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
PROBLEM = jd.problems.linear_regression(X_DATA, Y_DATA, init=1.0)


def seed_gd(epochs, lr=0.01):
    """Seed 000's full-batch loop, transcribed: returns (w, cost before each update)."""
    w, costs = 1.0, []
    for _ in range(epochs):
        cost = sum((x * w - y) ** 2 for x, y in zip(X_DATA, Y_DATA)) / len(X_DATA)
        grad = sum(2 * x * (x * w - y) for x, y in zip(X_DATA, Y_DATA)) / len(X_DATA)
        w -= lr * grad
        costs.append(cost)
    return w, costs


def seed_sgd(epochs, lr=0.01):
    """Seed 002's per-sample loop, transcribed: returns (w, grads seen)."""
    w, grads = 1.0, []
    for _ in range(epochs):
        for x, y in zip(X_DATA, Y_DATA):
            grad = 2 * x * (x * w - y)
            w = w - lr * grad
            grads.append(grad)
    return w, grads


def test_per_sample_sgd_predict_4_is_exact():
    tr = jd.run(PROBLEM, optax.sgd(0.01), steps=30, oracle=jd.oracles.per_sample("cyclic"))
    assert float(4 * tr.final_params) == 7.804863933862125
    assert float(4 * tr.final_params) == 4 * seed_sgd(10)[0]
    # every iterate of the per-sample loop, not only the last one
    w, ws = 1.0, []
    for _ in range(10):
        for x, y in zip(X_DATA, Y_DATA):
            w = w - 0.01 * (2 * x * (x * w - y))
            ws.append(w)
    # (XLA may fuse a multiply-add, so intermediate iterates agree to an ulp)
    np.testing.assert_allclose(np.asarray(tr.params)[1:], ws, rtol=4e-16, atol=0)


def test_per_sample_oracle_sees_the_printed_gradients():
    # Seed 002 prints grad = -2.0, -7.84, -16.2288 in the first epoch.
    oracle = jd.oracles.per_sample("cyclic")
    _, grads = seed_sgd(1)
    assert grads == [-2.0, -7.84, -16.2288] or np.allclose(grads, [-2.0, -7.84, -16.2288])
    tr = jd.run(PROBLEM, optax.sgd(0.01), steps=3, oracle=oracle)
    ws = np.asarray(tr.params)
    for t in range(3):
        _, g = oracle(PROBLEM, ws[t], t, None)
        assert float(g) == grads[t]


def test_full_batch_gd_is_exact():
    tr = jd.run(PROBLEM, optax.sgd(0.01), steps=100)
    w, costs = seed_gd(100)
    assert float(tr.final_params) == 1.9999444396553017 == w
    # the logged loss at t = 0..99 is the cost the loop printed before each update (the
    # compiled program may fuse w*x - y into one multiply-add: equal to rounding)
    np.testing.assert_allclose(np.asarray(tr.loss)[:100], costs, rtol=0, atol=1e-15)
    ws = [1.0]
    for _ in range(100):
        ws.append(ws[-1] - 0.01 * sum(2 * x * (x * ws[-1] - y) for x, y in zip(X_DATA, Y_DATA)) / 3)
    np.testing.assert_allclose(np.asarray(tr.params), ws, rtol=4e-16, atol=0)
    assert float(4 * seed_gd(0)[0]) == 4.0  # predict(4) before training
