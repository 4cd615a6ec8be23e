"""Every bad input gets a clear error before anything is compiled.

One table: input -> exception type -> key words of the message. The row ids carry the
number of the case in the adversarial survey of version 0.1
(``shared/findings/bad_inputs_v0.1.md``; ``x`` marks cases added here). For every row
the test also checks that no run or sweep program was compiled, that the exception was
raised by jaxdescent (or by the user's own function), not inside JAX or NumPy, and that
no warning was emitted on the way.
"""

from __future__ import annotations

import os
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxdescent as jd
from jaxdescent import bounds, data, oracles, schedules, validation
from jaxdescent.problems import classification

PKG = os.path.dirname(jd.__file__)

# --- small inputs shared by the rows (built lazily, nothing compiled) -------------------


def quad():
    return jd.problems.quadratic()


def sgd(lr=0.1):
    return optax.sgd(lr)


def run(problem=None, optimizer=None, **kw):
    kw.setdefault("steps", 4)
    return jd.run(quad() if problem is None else problem, optimizer or sgd(), **kw)


def sweep(problem=None, make=None, grid=None, **kw):
    kw.setdefault("steps", 4)
    return jd.plan(
        quad() if problem is None else problem,
        make or (lambda lr: optax.sgd(lr)),
        {"lr": [0.01, 0.1]} if grid is None else grid,
        **kw,
    )


def vector_loss(x, batch):
    return x**2


def int_loss(x, batch):
    return 3


def int_array_loss(x, batch):
    return jnp.sum(x.astype(jnp.int32))


def one_arg_loss(x):
    return jnp.sum(x**2)


def sq_loss(x, batch):
    return jnp.sum(x**2)


def xy(n=10, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % 2


def logistic():
    return jd.problems.logistic_regression(*xy())


def softmax():
    X, y = xy(12, 3)
    return jd.problems.softmax_regression(X, y % 3 if False else np.arange(12) % 3)


def bad_grads_oracle(problem, params, step, key):
    return problem.objective(params), jnp.zeros(3)


def metric_boom(params):
    raise RuntimeError("metric boom")


def noise_factory(noise):
    return jd.oracles.gaussian_noise(noise)


def branching(lr):
    return optax.sgd(lr) if lr > 0.05 else optax.adam(lr)


def boom(lr):
    raise RuntimeError("factory boom")


def result():
    """A hand-made 1-axis result (lr x seed x 3 logged steps), nothing computed."""
    axes = {"lr": np.array([0.01, 0.1]), "seed": np.array([0, 1])}
    z = np.zeros((2, 2, 3))
    return jd.SweepResult.of(
        axes,
        {"steps": 2, "log_every": 1},
        step=np.arange(3),
        loss=z,
        grad_norm=z,
        params=None,
        metrics={},
        final_params=np.zeros((2, 2, 2)),
        final_loss=z[..., -1],
        diverged=np.zeros((2, 2), bool),
        diverged_at=np.full((2, 2), -1),
    )


def files(tmp):
    """Damaged or foreign files for jd.load."""
    out = {}
    out["garbage"] = tmp / "garbage.npz"
    out["garbage"].write_bytes(b"\x00not a zip file at all" * 10)
    valid = tmp / "valid.npz"
    np.savez(valid, a=np.arange(100.0))
    out["truncated"] = tmp / "truncated.npz"
    raw = valid.read_bytes()
    out["truncated"].write_bytes(raw[: len(raw) // 2])
    out["no_meta"] = valid
    out["bad_meta"] = tmp / "bad_meta.npz"
    np.savez(out["bad_meta"], __meta__=np.frombuffer(b"{not json", np.uint8))
    out["text"] = tmp / "notes.txt"
    out["text"].write_text("hello\n")
    return out


# --- the table -----------------------------------------------------------------------
# (id, thunk(tmp_files) -> raises, exception type, regex on the message + notes)


CASES = [
    # jd.run
    ("1-run-problem-str", lambda f: jd.run("quadratic", sgd(), steps=3), TypeError, "`problem`"),
    ("2-run-optimizer-str", lambda f: jd.run(quad(), "sgd", steps=3), TypeError, "`optimizer`"),
    ("3-run-steps-0", lambda f: run(steps=0), ValueError, "`steps` must be a positive int"),
    ("4-run-steps-neg", lambda f: run(steps=-5), ValueError, "`steps` must be a positive int"),
    ("5-run-steps-float", lambda f: run(steps=10.0), ValueError, "`steps` must be a positive"),
    ("6-run-log-every", lambda f: run(steps=10, log_every=3), ValueError, "use steps=9 or 12"),
    ("7-run-log-every-0", lambda f: run(log_every=0), ValueError, "`log_every` must be"),
    ("10-run-key-str", lambda f: run(key="abc"), TypeError, "`key` must be"),
    ("12-run-key-huge", lambda f: run(key=2**70), ValueError, "`key`.*64 bits"),
    ("13-run-oracle-str", lambda f: run(oracle="full"), TypeError, "`oracle` must be"),
    (
        "14-run-per-sample-no-data",
        lambda f: run(oracle=oracles.per_sample()),
        ValueError,
        "no `data`.*full_batch",
    ),
    ("15-run-metric-typo", lambda f: run(metrics={"d": "distanc"}), TypeError, "`metrics`"),
    ("16-run-metrics-list", lambda f: run(metrics=["distance"]), TypeError, "`metrics` must"),
    ("17-run-average-typo", lambda f: run(average="steps"), ValueError, "`average` must"),
    ("18-run-unroll-0", lambda f: run(unroll=0), ValueError, "`unroll` must be a positive"),
    (
        "20-run-loss-vector",
        lambda f: run(jd.Problem(vector_loss, jnp.ones(3))),
        ValueError,
        r"`loss` must return a scalar, got shape \(3,\).*jnp.sum",
    ),
    (
        "21-run-loss-python-int",
        lambda f: run(jd.Problem(int_loss, jnp.ones(3))),
        TypeError,
        "`loss` must return a real floating-point scalar, got dtype int",
    ),
    (
        "22-run-loss-int-array",
        lambda f: run(jd.Problem(int_array_loss, jnp.ones(3))),
        TypeError,
        "`loss` must return a real floating-point scalar.*astype",
    ),
    ("28-run-steps-huge", lambda f: run(steps=10**12), ValueError, r"`steps` must be < 2\*\*31"),
    (
        "x-hypergrad-loss-vector",
        lambda f: jd.hypergrad(jd.Problem(vector_loss, jnp.ones(3)), optax.sgd, 0.1, steps=3),
        ValueError,
        "`loss` must return a scalar",
    ),
    (
        "19-run-keyword-typo",
        lambda f: jd.run(quad(), sgd(), steps=3, stepz=10),
        TypeError,
        "unexpected keyword argument 'stepz'",
    ),
    (
        "27-run-metric-raises",
        lambda f: run(metrics={"m": metric_boom}),
        RuntimeError,
        "metric boom",
    ),
    ("x-run-keep-params-str", lambda f: run(keep_params="no"), TypeError, "`keep_params`"),
    (
        "x-run-loss-tuple",
        lambda f: run(jd.Problem(lambda x, b: (jnp.sum(x), x), jnp.ones(2))),
        TypeError,
        "`loss` must return one real scalar",
    ),
    # jd.Problem
    ("30-problem-loss-str", lambda f: jd.Problem("x**2", 1.0), TypeError, "`loss` must be a"),
    ("31-problem-init-none", lambda f: jd.Problem(sq_loss, None), ValueError, "`init` is req"),
    (
        "32-problem-init-nan",
        lambda f: jd.Problem(sq_loss, [np.nan, 1.0]),
        ValueError,
        "`init` has non-finite",
    ),
    (
        "33-problem-init-inf",
        lambda f: jd.Problem(sq_loss, [np.inf, 1.0]),
        ValueError,
        "`init` has non-finite",
    ),
    (
        "34-problem-data-lengths",
        lambda f: jd.Problem(sq_loss, 1.0, data={"x": np.ones(3), "y": np.ones(4)}),
        ValueError,
        "same leading",
    ),
    (
        "35-problem-data-scalar",
        lambda f: jd.Problem(sq_loss, 1.0, data={"x": 1.0}),
        ValueError,
        "leading example axis",
    ),
    ("36-problem-data-empty", lambda f: jd.Problem(sq_loss, 1.0, data={}), ValueError, "no arr"),
    (
        "37-problem-data-0-examples",
        lambda f: jd.Problem(sq_loss, 1.0, data={"x": np.ones((0, 2))}),
        ValueError,
        "`data` has 0 examples",
    ),
    ("38-problem-replace", lambda f: quad().replace(bogus=1), TypeError, "unknown fields"),
    (
        "39-problem-loss-arity",
        lambda f: jd.Problem(one_arg_loss, jnp.ones(2)),
        TypeError,
        r"`loss` is called as loss\(params, batch\)",
    ),
    (
        "x-problem-loss-arity-args",
        lambda f: jd.Problem(sq_loss, jnp.ones(2), args=jnp.ones(2)),
        TypeError,
        r"loss\(params, batch, args\)",
    ),
    (
        "x-problem-data-nan",
        lambda f: jd.Problem(sq_loss, 1.0, data={"x": np.array([1.0, np.nan])}),
        ValueError,
        r"`data` has 1 non-finite.*\['x'\].*remove or impute",
    ),
    (
        "x-problem-args-nan",
        lambda f: jd.Problem(lambda x, b, a: a * x, 1.0, args=np.nan),
        ValueError,
        "`args` has 1 NaN",
    ),
    (
        "x-problem-constant-nan",
        lambda f: jd.Problem(sq_loss, 1.0, smoothness=np.nan),
        ValueError,
        "`smoothness` has 1 NaN.*pass None when unknown",
    ),
    # jd.problems
    (
        "40-linreg-empty",
        lambda f: jd.problems.linear_regression([], []),
        ValueError,
        "`x` must be a non-empty",
    ),
    (
        "41-linreg-lengths",
        lambda f: jd.problems.linear_regression([1.0, 2, 3], [1.0, 2]),
        ValueError,
        "same length",
    ),
    (
        "42-linreg-nan-x",
        lambda f: jd.problems.linear_regression([1.0, np.nan, 3], [1.0, 2, 3]),
        ValueError,
        r"`x` has non-finite values.*\[1\]",
    ),
    (
        "43-linreg-inf-y",
        lambda f: jd.problems.linear_regression([1.0, 2, 3], [1.0, 2, np.inf]),
        ValueError,
        r"`y` has non-finite values.*\[2\]",
    ),
    (
        "44-linreg-2d",
        lambda f: jd.problems.linear_regression([[1.0, 2]], [1.0]),
        ValueError,
        "1-D",
    ),
    (
        "45-linreg-x-zero",
        lambda f: jd.problems.linear_regression([0.0, 0, 0], [1.0, 2, 3]),
        ValueError,
        "`x` is all zero.*nonzero",
    ),
    (
        "x-linreg-bias-x-constant",
        lambda f: jd.problems.linear_regression([2.0, 2, 2], [1.0, 2, 3], bias=True),
        ValueError,
        "`x` is constant.*two distinct",
    ),
    ("47-quadratic-empty", lambda f: jd.problems.quadratic(()), ValueError, "non-empty"),
    (
        "48-quadratic-init-length",
        lambda f: jd.problems.quadratic((1.0, 2.0), init=(1.0, 2, 3)),
        ValueError,
        "pass an init of length 2",
    ),
    (
        "49-quadratic-init-nan",
        lambda f: jd.problems.quadratic(init=(np.nan, 1.0)),
        ValueError,
        "non-finite",
    ),
    (
        "50-quadratic-scales-nan",
        lambda f: jd.problems.quadratic(scales=(np.nan, 1.0)),
        ValueError,
        "(?i)nan",
    ),
    ("51-rosenbrock-1d", lambda f: jd.problems.rosenbrock(init=(1.0,)), ValueError, "at least 2"),
    ("52-rastrigin-dim-0", lambda f: jd.problems.rastrigin(dim=0), ValueError, "`dim` must"),
    ("53-rastrigin-dim-float", lambda f: jd.problems.rastrigin(dim=2.0), ValueError, "`dim`"),
    (
        "54-himmelblau-init",
        lambda f: jd.problems.himmelblau(init=(1.0, 2, 3)),
        ValueError,
        "length 2",
    ),
    (
        "55-least-squares-1d",
        lambda f: jd.problems.least_squares(np.ones(4), np.ones(4)),
        ValueError,
        "`X` must be 2-D",
    ),
    (
        "56-least-squares-y",
        lambda f: jd.problems.least_squares(np.ones((5, 3)), np.ones(4)),
        ValueError,
        r"`y` must have shape \(5,\)",
    ),
    (
        "57-logistic-labels",
        lambda f: jd.problems.logistic_regression(np.ones((2, 1)), np.array([0, 2])),
        ValueError,
        "labels must be 0/1.*softmax_regression",
    ),
    (
        "58-softmax-float-labels",
        lambda f: jd.problems.softmax_regression(np.ones((2, 1)), np.array([0.5, 1.0])),
        ValueError,
        "integer class indices",
    ),
    (
        "59-softmax-classes-1",
        lambda f: jd.problems.softmax_regression(np.ones((2, 1)), [0, 0], classes=1),
        ValueError,
        "`classes` must be",
    ),
    (
        "60-mlp-hidden-neg",
        lambda f: jd.problems.mlp_classifier(np.ones((2, 1)), [0, 1], hidden=(-3,)),
        ValueError,
        "`hidden`.*jd.static",
    ),
    (
        "61-mlp-hidden-float",
        lambda f: jd.problems.mlp_classifier(np.ones((2, 1)), [0, 1], hidden=(2.5,)),
        ValueError,
        "`hidden`",
    ),
    ("62-l2-negative", lambda f: jd.problems.l2(quad(), -1.0), ValueError, "`strength` must"),
    ("63-l2-not-problem", lambda f: jd.problems.l2("p", 0.1), TypeError, "`problem` must be"),
    (
        "64-softmax-negative-labels",
        lambda f: jd.problems.softmax_regression(np.ones((2, 1)), [-1, 1]),
        ValueError,
        "labels must be >= 0",
    ),
    (
        "65-logistic-x-nan",
        lambda f: jd.problems.logistic_regression(np.array([[1.0], [np.nan]]), [0, 1]),
        ValueError,
        r"`data` has 1 non-finite.*\['X'\]",
    ),
    (
        "x-least-squares-x-nan",
        lambda f: jd.problems.least_squares(np.array([[1.0, np.nan], [0.0, 1.0]]), [1.0, 2.0]),
        ValueError,
        r"`data` has 1 non-finite.*\['X'\]",
    ),
    (
        "x-mlp-x-inf",
        lambda f: jd.problems.mlp_classifier(np.array([[np.inf], [1.0]]), [0, 1], hidden=(2,)),
        ValueError,
        r"`data` has 1 non-finite.*\['X'\]",
    ),
    # jd.oracles
    ("70-per-sample-order", lambda f: oracles.per_sample("random"), ValueError, "`order`"),
    ("71-minibatch-0", lambda f: oracles.minibatch(0), ValueError, "`size`.*jd.static"),
    ("72-minibatch-float", lambda f: oracles.minibatch(2.5), ValueError, "`size`"),
    (
        "73-minibatch-too-big",
        lambda f: run(
            jd.problems.linear_regression([1.0, 2, 3], [2.0, 4, 6]), oracle=oracles.minibatch(100)
        ),  # fmt: skip
        ValueError,
        "larger than the data set",
    ),
    ("74-noise-negative", lambda f: oracles.gaussian_noise(-1.0), ValueError, "`scale`.*>= 0"),
    ("75-noise-nan", lambda f: oracles.gaussian_noise(np.nan), ValueError, "`scale`.*NaN"),
    ("76-noise-base-str", lambda f: oracles.gaussian_noise(1.0, "full"), TypeError, "`base`"),
    ("77-minibatch-both", lambda f: oracles.minibatch(2, True, cyclic=True), ValueError, "not b"),
    ("78-noise-scale-str", lambda f: oracles.gaussian_noise("1.0"), TypeError, "`scale` must"),
    (
        "79-function-oracle-grads",
        lambda f: run(oracle=bad_grads_oracle),
        ValueError,
        r"gradients shaped like the params.*\(2,\).*\(3,\)",
    ),
    (
        "x-run-oracle-factory",
        lambda f: run(oracle=noise_factory),
        TypeError,
        r"`oracle` function must take \(problem, params, step, key\).*grid",
    ),
    # jd.schedules
    (
        "80-piecewise-order",
        lambda f: schedules.piecewise_constant([5, 2], [1.0, 0.5, 0.1]),
        ValueError,
        "strictly increasing",
    ),
    (
        "81-piecewise-float",
        lambda f: schedules.piecewise_constant([2.5], [1.0, 0.5]),
        ValueError,
        "static Python int",
    ),
    (
        "82-piecewise-values",
        lambda f: schedules.piecewise_constant([2], [1.0, 0.5, 0.1]),
        ValueError,
        "len.boundaries. . 1",
    ),
    ("83-cosine-steps-0", lambda f: schedules.cosine(0.1, steps=0), ValueError, "`steps`"),
    ("84-cosine-warmup", lambda f: schedules.cosine(0.1, 10, warmup=10), ValueError, "`warmup`"),
    ("85-warmup-number", lambda f: schedules.warmup(0.1, 5), ValueError, "constant.eta."),
    (
        "86-warmup-steps",
        lambda f: schedules.warmup(schedules.constant(0.1), -1),
        ValueError,
        "`steps` must be >= 0",
    ),
    ("88-optimal-steps-0", lambda f: schedules.optimal_convex(1, 1, 0), ValueError, "`steps`"),
    (
        "89-optimal-g-0",
        lambda f: schedules.optimal_convex(r=1.0, G=0.0, steps=10),
        ValueError,
        "`G` must be > 0",
    ),
    (
        "90-exponential-str",
        lambda f: schedules.exponential("0.1", 0.1),
        TypeError,
        "exponential: `eta` must be a real number",
    ),
    ("91-constant-nan", lambda f: schedules.constant(np.nan), ValueError, "`eta` must be a num"),
    ("92-cosine-steps-float", lambda f: schedules.cosine(0.1, 10.0), ValueError, "static"),
    (
        "x-piecewise-value-str",
        lambda f: schedules.piecewise_constant([2], ["a", 0.1]),
        TypeError,
        r"`values\[0\]`",
    ),
    (
        "x-inverse-sqrt-timescale",
        lambda f: schedules.inverse_sqrt(0.1, timescale=0.0),
        ValueError,
        "`timescale` must be > 0",
    ),
    # jd.bounds
    (
        "100-sgd-etas-empty",
        lambda f: bounds.sgd_convex(r=1.0, G=1.0, etas=[]),
        ValueError,
        "non-empty 1-D",
    ),
    (
        "101-sgd-r-negative",
        lambda f: bounds.sgd_convex(r=-1.0, G=1.0, etas=[0.1]),
        ValueError,
        "`r` must be >= 0",
    ),
    (
        "102-sgd-etas-negative",
        lambda f: bounds.sgd_convex(r=1.0, G=1.0, etas=[-0.1, 0.1]),
        ValueError,
        "`etas` must be >= 0",
    ),
    ("104-stable-no-L", lambda f: bounds.gd_stable_step(), ValueError, "`L` is required"),
    (
        "105-strongly-step",
        lambda f: bounds.gd_strongly_convex(L=2.0, mu=1.0, r=1.0, steps=3, step_size=-0.1),
        ValueError,
        "`step_size` must be positive",
    ),
    (
        "106-moments-shapes",
        lambda f: bounds.quadratic_sgd_moments([1.0, 2], [1.0, 2, 3], [0.1], 1.0),
        ValueError,
        "must broadcast",
    ),
    (
        "107-constants-unknown",
        lambda f: bounds.constants(jd.problems.himmelblau(), names=("L",)),
        ValueError,
        "problem.smoothness is unknown",
    ),
    (
        "108-smooth-steps-float",
        lambda f: bounds.gd_smooth_convex(L=1.0, r=1.0, steps=5.5),
        ValueError,
        "static Python int",
    ),
    (
        "109-optimal-T-0",
        lambda f: bounds.sgd_convex_optimal(r=1.0, G=1.0, T=0),
        ValueError,
        "`T`",
    ),
    (
        "110-smooth-L-negative",
        lambda f: bounds.gd_smooth_convex(L=-1.0, r=1.0, steps=5),
        ValueError,
        "`L` must be >= 0",
    ),
    (
        "x-stable-L-negative",
        lambda f: bounds.gd_stable_step(-4.0),
        ValueError,
        "`L` must be >= 0",
    ),
    (
        "x-optimal-G-0",
        lambda f: bounds.sgd_convex_optimal(r=1.0, G=0.0, T=10),
        ValueError,
        "`G` must be > 0",
    ),
    (
        "x-moments-noise-negative",
        lambda f: bounds.quadratic_sgd_moments([1.0], [1.0], [0.1], -1.0),
        ValueError,
        "`noise` must be >= 0",
    ),
    (
        "x-classical-r-str",
        lambda f: bounds.gd_smooth_convex_classical(L=1.0, r="1", steps=2),
        TypeError,
        "`r` must be a real number",
    ),
    # jd.sweep / jd.plan
    ("120-grid-empty", lambda f: sweep(grid={"lr": []}), ValueError, "is empty"),
    ("121-grid-nan", lambda f: sweep(grid={"lr": [0.1, np.nan]}), ValueError, r"NaN.*\[1\]"),
    (
        "x-grid-nan-array",
        lambda f: sweep(grid={"lr": np.array([0.1, np.nan])}),
        ValueError,
        "NaN",
    ),
    ("123-grid-scalar", lambda f: sweep(grid={"lr": 0.1}), ValueError, r"wrap a single value"),
    ("124-grid-2d", lambda f: sweep(grid={"lr": [[0.1, 0.2]]}), ValueError, "must be 1-D"),
    ("125-grid-name", lambda f: sweep(grid={"lrr": [0.1]}), ValueError, "needs .'lr'."),
    (
        "126-grid-strings",
        lambda f: sweep(grid={"lr": ["0.1", "0.2"]}),
        TypeError,
        r"numbers written as strings.*\[0\.1, 0\.2\]",
    ),
    (
        "131-grid-bools",
        lambda f: sweep(grid={"lr": [True, False]}),
        TypeError,
        r"booleans.*jd.static\(\[True, False\]\)",
    ),
    ("129-grid-seed", lambda f: sweep(grid={"seed": [1]}), ValueError, "pass seeds="),
    ("130-grid-list", lambda f: sweep(grid=[("lr", [0.1])]), TypeError, "`grid` must be a dict"),
    ("132-seeds-0", lambda f: sweep(seeds=0), ValueError, "`seeds` must be >= 1"),
    ("133-seeds-neg", lambda f: sweep(seeds=-3), ValueError, "`seeds` must be >= 1"),
    ("134-seeds-dup", lambda f: sweep(seeds=[1, 1]), ValueError, "distinct"),
    ("135-seeds-neg-list", lambda f: sweep(seeds=[-1]), ValueError, "non-negative"),
    ("136-seeds-huge", lambda f: sweep(seeds=[2**40]), ValueError, r"2\*\*31"),
    ("137-seeds-float", lambda f: sweep(seeds=2.0), TypeError, "`seeds` must be"),
    ("138-seeds-empty", lambda f: sweep(seeds=[]), ValueError, "empty"),
    ("139-seeds-bool", lambda f: sweep(seeds=True), TypeError, "bool"),
    ("140-seeds-floats", lambda f: sweep(seeds=[0.5, 1.5]), TypeError, "`seeds` must be"),
    ("141-sweep-log-every", lambda f: sweep(steps=10, log_every=3), ValueError, "`log_every`"),
    ("142-chunk-0", lambda f: sweep(chunk_size=0), ValueError, "`chunk_size` must be"),
    ("144-chunk-float", lambda f: sweep(chunk_size=2.5), ValueError, "`chunk_size` must be"),
    ("145-budget-tiny", lambda f: sweep(memory_budget=1), ValueError, "`memory_budget`=1"),
    ("146-budget-neg", lambda f: sweep(memory_budget=-1), ValueError, "`memory_budget` must"),
    ("147-budget-nan", lambda f: sweep(memory_budget=np.nan), ValueError, "positive, finite"),
    ("148-budget-inf", lambda f: sweep(memory_budget=np.inf), ValueError, "positive, finite"),
    (
        "149-chunk-and-budget",
        lambda f: sweep(chunk_size=2, memory_budget=10**6),
        ValueError,
        "not both",
    ),
    ("150-devices-str", lambda f: sweep(devices="gpu"), ValueError, "`devices` must"),
    ("151-devices-empty", lambda f: sweep(devices=[]), ValueError, "`devices` must"),
    ("152-devices-ints", lambda f: sweep(devices=[0, 1]), ValueError, "`devices` must"),
    ("156-factory-raises", lambda f: sweep(make=boom), RuntimeError, "factory boom"),
    (
        "157-factory-number",
        lambda f: sweep(make=lambda lr: lr),
        TypeError,
        r"`make_optimizer\(...\)` must be an optax",
    ),
    ("158-factory-str", lambda f: sweep(make="sgd"), TypeError, "`make_optimizer` must be"),
    (
        "159-factory-positional",
        lambda f: sweep(make=lambda lr, /: optax.sgd(lr)),
        TypeError,
        "positional-only",
    ),
    (
        "160-problem-factory-value",
        lambda f: sweep(problem=lambda lr: 3.0),
        TypeError,
        "must return a jd.Problem",
    ),
    (
        "162-factory-missing-axis",
        lambda f: sweep(make=lambda lr, momentum: optax.sgd(lr, momentum)),
        ValueError,
        "needs .'momentum'.",
    ),
    (
        "163-factory-control-flow",
        lambda f: sweep(make=branching),
        TypeError,
        r"`make_optimizer` uses a numeric grid value \(\['lr'\]\) in Python control flow.*"
        r"jd.static",
    ),
    (
        "164-problem-factory-shape",
        lambda f: sweep(
            problem=lambda dim: jd.problems.rastrigin(dim),
            make=lambda: optax.sgd(0.01),
            grid={"dim": [2, 3]},
        ),
        ValueError,
        r"`dim` must be a positive int.*static axis.*jd.static",
    ),
    (
        "165-problem-none",
        lambda f: jd.plan(None, sgd, {"lr": [0.1]}, steps=3),
        TypeError,
        "`problem` must be",
    ),
    (
        "166-oracle-factory-unknown-axis",
        lambda f: sweep(oracle=noise_factory),
        TypeError,
        r"\(problem, params, step, key\).*grid axes",
    ),
    (
        "168-grid-ragged",
        lambda f: sweep(grid={"lr": [0.1, [0.2]]}),
        ValueError,
        "mixes numbers with list",
    ),
    (
        "169-static-unhashable",
        lambda f: sweep(
            make=lambda lr, b: optax.sgd(lr), grid={"lr": [0.1], "b": jd.static([[1], [2]])}
        ),
        TypeError,
        "hashable",
    ),
    ("170-grid-array", lambda f: sweep(grid=np.ones(3)), TypeError, "`grid` must be a dict"),
    ("172-keep-params-str", lambda f: sweep(keep_params="no"), TypeError, "`keep_params`"),
    ("x-progress-str", lambda f: sweep(progress="yes"), TypeError, "`progress`"),
    (
        "x-sweep-loss-vector",
        lambda f: sweep(problem=jd.Problem(vector_loss, jnp.ones(3))),
        ValueError,
        "`loss` must return a scalar",
    ),
    (
        "x-sweep-loss-int",
        lambda f: sweep(
            problem=lambda lr: jd.Problem(int_loss, jnp.ones(3)), make=lambda: optax.sgd(0.1)
        ),  # fmt: skip
        TypeError,
        "`loss` must return a real floating-point scalar",
    ),
    (
        "x-sweep-function-oracle-grads",
        lambda f: sweep(oracle=bad_grads_oracle),
        ValueError,
        "gradients shaped like the params",
    ),
    ("161-sweep-keyword-typo", lambda f: sweep(seed=4), TypeError, "unexpected keyword"),
    ("255-out-empty", lambda f: sweep(out=""), ValueError, "`out` must name a file"),
    ("256-out-bytes", lambda f: sweep(out=b"x.npz"), TypeError, r"`out`.*out.decode\(\)"),
    ("x-out-int", lambda f: sweep(out=3), TypeError, "`out` must be a path"),
    # SweepResult and jd.load
    ("180-sel-missing", lambda f: result().sel(lr=0.123), ValueError, "not on the axis"),
    ("181-sel-axis", lambda f: result().sel(lrr=0.1), ValueError, "unknown axis 'lrr'"),
    ("182-sel-str", lambda f: result().sel(lr="0.1"), ValueError, "pass a number"),
    ("185-sel-seed", lambda f: result().sel(seed=99), ValueError, "seed=99 is not on the axis"),
    ("183-isel-range", lambda f: result().isel(lr=5), IndexError, "out of range"),
    pytest.param(
        "184-isel-float",
        lambda f: result().isel(lr=1.5),
        TypeError,
        "isel",
        id="184-isel-float",
    ),
    ("187-save-int-path", lambda f: result().save(123), TypeError, "os.PathLike"),
    ("189-best-axis", lambda f: result().best("momentum"), ValueError, "unknown axis"),
    pytest.param(
        "190-best-metric",
        lambda f: result().best("lr", metric="nonexistent"),
        ValueError,
        "nonexistent",
        id="190-best-metric",
    ),
    pytest.param(
        "193-best-reduce",
        lambda f: result().best("lr", reduce="medain"),
        ValueError,
        "reduce",
        id="193-best-reduce",
    ),
    ("192-mean-axis", lambda f: result().mean("bogus"), ValueError, "unknown axis"),
    ("200-load-missing", lambda f: jd.load(f["text"].parent / "no.npz"), FileNotFoundError, ""),
    (
        "201-load-garbage",
        lambda f: jd.load(f["garbage"]),
        ValueError,
        "garbage.npz is not a readable jaxdescent result",
    ),
    (
        "202-load-truncated",
        lambda f: jd.load(f["truncated"]),
        ValueError,
        "truncated.npz is not a readable jaxdescent result.*damaged",
    ),
    (
        "203-load-no-meta",
        lambda f: jd.load(f["no_meta"]),
        ValueError,
        "valid.npz is not a readable jaxdescent result.*no jaxdescent metadata",
    ),
    (
        "207-load-meta-not-json",
        lambda f: jd.load(f["bad_meta"]),
        ValueError,
        "bad_meta.npz is not a readable.*metadata does not decode",
    ),
    (
        "x-load-text",
        lambda f: jd.load(f["text"]),
        ValueError,
        "notes.txt is not a readable jaxdescent result",
    ),
    ("x-load-dir", lambda f: jd.load(f["text"].parent), ValueError, "not a jaxdescent sweep st"),
    # jd.search
    (
        "x-search-loss-vector",
        lambda f: jd.search.grid_search(jd.Problem(vector_loss, jnp.ones(2)), [[0.0, 1], [0.0, 1]]),
        ValueError,
        "`loss` must return a scalar",
    ),
    (
        "x-search-ranges-str",
        lambda f: jd.search.grid_search(jd.problems.linear_regression([1.0, 2], [2.0, 4]), "abc"),
        TypeError,
        "`ranges` must hold real numbers",
    ),
    (
        "x-search-ranges-nan",
        lambda f: jd.search.grid_search(
            jd.problems.linear_regression([1.0, 2], [2.0, 4]), [0.0, np.nan]
        ),
        ValueError,
        "non-finite",
    ),
    # jd.data
    ("220-split-x-1d", lambda f: data.split(np.ones(10), np.zeros(10)), ValueError, "2-D"),
    (
        "221-split-fractions",
        lambda f: data.split(*xy(), val=0.6, test=0.5),
        ValueError,
        "no training",
    ),
    ("222-split-val-neg", lambda f: data.split(*xy(), val=-0.1), ValueError, "`val` must be"),
    ("223-split-seed-neg", lambda f: data.split(*xy(), seed=-1), ValueError, "`seed` must be"),
    (
        "224-split-x-nan",
        lambda f: data.split(np.where(np.eye(10, 2) > 0, np.nan, 1.0), np.arange(10) % 2),
        ValueError,
        r"`X` has 2 non-finite.*rows \[0, 1\].*impute",
    ),
    (
        "225-split-float-labels",
        lambda f: data.split(np.ones((10, 2)), np.where(np.arange(10) % 2, 0.6, 0.3)),
        ValueError,
        "float labels.*merge classes",
    ),
    (
        "x-split-str-labels",
        lambda f: data.split(np.ones((4, 2)), np.array(["a", "b", "a", "b"])),
        TypeError,
        "return_inverse",
    ),
    (
        "226-split-y-length",
        lambda f: data.split(np.ones((10, 2)), np.zeros(9)),
        ValueError,
        r"`y` must have shape \(10,\)",
    ),
    ("227-kfold-k-1", lambda f: data.kfold(10, k=1), ValueError, "`k` must be"),
    ("228-kfold-k-big", lambda f: data.kfold(10, k=11), ValueError, "`k` must be"),
    ("229-xor-n-0", lambda f: data.xor(n=0), ValueError, "`n` must be"),
    ("230-spirals-classes", lambda f: data.spirals(classes=1), ValueError, "`classes` must"),
    (
        "231-separable-margin",
        lambda f: data.linearly_separable(margin=-1),
        ValueError,
        "`margin`",
    ),
    ("233-split-indices-0", lambda f: data.split_indices(0), ValueError, "`n` must be"),
    ("234-kfold-n-float", lambda f: data.kfold(10.5, 2), ValueError, "`n` must be"),
    # jd.validation
    (
        "240-kfold-problem-k",
        lambda f: validation.kfold_problem(jd.problems.logistic_regression, *xy(), k=1),
        ValueError,
        "`k` must be",
    ),
    (
        "241-heldout-x-1d",
        lambda f: validation.with_heldout(logistic(), np.ones(3), np.zeros(3)),
        ValueError,
        "`X` must be 2-D",
    ),
    (
        "242-early-mode",
        lambda f: validation.early_stopping(result(), "loss", mode="minimum"),
        ValueError,
        "`mode`",
    ),
    ("243-cv-no-fold", lambda f: validation.cv_summary(result()), ValueError, "'fold' axis"),
    (
        "244-early-metric",
        lambda f: validation.early_stopping(result(), "val_los"),
        ValueError,
        "no logged metric 'val_los'",
    ),
    (
        "245-val-metrics-no-heldout",
        lambda f: run(logistic(), metrics=validation.metrics()),
        ValueError,
        "with_heldout",
    ),
    (
        "246-early-patience",
        lambda f: validation.early_stopping(result(), "loss", patience=0),
        ValueError,
        "`patience`",
    ),
    (
        "247-heldout-features",
        lambda f: validation.with_heldout(logistic(), np.ones((4, 3)), np.zeros(4)),
        ValueError,
        r"`X` has examples of shape \(3,\) but the problem's model takes \(2,\)",
    ),
    (
        "248-kfold-fold-range",
        lambda f: validation.kfold_problem(
            lambda X, y: jd.problems.logistic_regression(X, y), *xy(), k=5
        )(7),
        ValueError,
        "`fold` must be an int in 0..4",
    ),
    (
        "249-heldout-labels-range",
        lambda f: validation.with_heldout(softmax(), np.ones((2, 3)), np.array([0, 5])),
        ValueError,
        r"labels in \[0, 5\].*classes 0..2",
    ),
    (
        "x-heldout-binary-labels",
        lambda f: validation.with_heldout(logistic(), np.ones((2, 2)), np.array([0, 2])),
        ValueError,
        "0/1 labels",
    ),
]


def _param(case):
    if not hasattr(case, "marks"):
        return pytest.param(*case, id=case[0])
    return case


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return files(tmp_path_factory.mktemp("bad_files"))


@pytest.mark.parametrize("case, thunk, exc, words", [_param(c) for c in CASES])
def test_bad_input(case, thunk, exc, words, bad_files, compiles):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with compiles.count(), pytest.raises(exc) as info:
            thunk(bad_files)
    text = "\n".join([str(info.value), *getattr(info.value, "__notes__", [])])
    assert info.type is exc  # not merely a subclass (e.g. JAX's own TypeErrors)
    assert re.search(words, text, flags=re.S), text
    assert compiles.programs == 0, "the error came after compiling a program"
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], caught
    # raised by jaxdescent (or the user's own function in this file), not inside JAX/NumPy
    origin = str(info.traceback[-1].path)
    assert origin.startswith(PKG) or origin == __file__ or exc is FileNotFoundError, origin


# --- inputs that are accepted, and what they become -----------------------------------


def test_integer_init_is_cast_to_float():
    """Integer params are cast, not refused: init=[1, 2] starts at [1., 2.] and a run
    from it equals the run from the float start (one GD step by hand: x - 0.1 * 2 x)."""
    p_int = jd.Problem(sq_loss, jnp.array([1, 2]))
    assert jnp.issubdtype(p_int.init.dtype, jnp.floating)
    p_fn = jd.Problem(sq_loss, lambda key: jnp.array([1, 2]))
    assert jnp.issubdtype(p_fn.initial_params(jax.random.key(0)).dtype, jnp.floating)
    tr = jd.run(p_int, optax.sgd(0.1), steps=1)
    np.testing.assert_allclose(np.asarray(tr.final_params), [0.8, 1.6], rtol=1e-12)


def test_integer_valued_float_labels_are_cast():
    """data.split keeps float labels that are whole numbers (a lossless cast)."""
    s = data.split(np.arange(20.0)[:, None], (np.arange(20) % 2).astype(float), val=0.25, test=0)
    assert s.classes == 2 and s.train.y.dtype.kind == "i"
    assert sorted(set(np.asarray(s.train.y).tolist())) == [0, 1]


def test_nonfinite_values_produced_while_running_stay_diverged():
    """Bad *data* raise; a NaN the run itself produces (loss of log at a negative point)
    is recorded as divergence at the step it appears, not raised."""
    p = jd.Problem(lambda x, b: jnp.log(x), jnp.array(1.0))
    tr = jd.run(p, optax.sgd(2.0), steps=2)  # x_1 = 1 - 2 * 1 = -1: log(-1) is NaN
    assert bool(tr.diverged) and int(tr.diverged_at) == 1
    assert np.isfinite(np.asarray(tr.loss)[0]) and np.isnan(np.asarray(tr.loss)[1])


def test_check_examples_are_public_and_pass_good_heldout_data():
    p = validation.with_heldout(softmax(), np.ones((2, 3)), np.array([0, 2]))
    assert validation.heldout(p)["X"].shape == (2, 3)
    classification.check_examples(softmax(), np.ones((1, 3)), np.array([1]), "here")


def test_load_reads_back_what_save_wrote(tmp_path):
    path = tmp_path / "r.npz"
    result().save(path)
    back = jd.load(path)
    np.testing.assert_array_equal(back.axes["lr"], [0.01, 0.1])
    np.testing.assert_array_equal(back.final_params, np.zeros((2, 2, 2)))


# --- properties ----------------------------------------------------------------------

numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
negatives = st.floats(max_value=-1e-6, min_value=-1e6, allow_nan=False)
non_numbers = st.one_of(
    st.text(max_size=4), st.none(), st.booleans(), st.lists(st.text(), min_size=1, max_size=2)
)


@settings(max_examples=25, deadline=None)
@given(r=negatives, which=st.sampled_from(["sgd", "smooth", "classical", "strong", "stable"]))
def test_bounds_refuse_any_negative_constant(r, which):
    calls = {
        "sgd": lambda: bounds.sgd_convex(r=r, G=1.0, etas=[0.1]),
        "smooth": lambda: bounds.gd_smooth_convex(L=r, r=1.0, steps=2),
        "classical": lambda: bounds.gd_smooth_convex_classical(L=1.0, r=r, steps=2),
        "strong": lambda: bounds.gd_strongly_convex(L=r, mu=0.0, r=1.0, steps=2),
        "stable": lambda: bounds.gd_stable_step(r),
    }
    with pytest.raises(ValueError, match=r"`(r|L)` must be >= 0"):
        calls[which]()


@settings(max_examples=25, deadline=None)
@given(bad=non_numbers, family=st.sampled_from(["constant", "exponential", "polynomial"]))
def test_schedules_refuse_non_numbers(bad, family):
    make = {
        "constant": lambda: schedules.constant(bad),
        "exponential": lambda: schedules.exponential(bad, 0.1),
        "polynomial": lambda: schedules.polynomial(bad),
    }[family]
    with pytest.raises(TypeError, match=f"{family}: `eta` must be a real number"):
        make()


@settings(max_examples=20, deadline=None)
@given(values=st.lists(st.booleans(), min_size=1, max_size=4))
def test_boolean_grid_axes_are_refused(values):
    with pytest.raises(TypeError, match="booleans"):
        sweep(grid={"lr": values})


@settings(max_examples=20, deadline=None)
@given(values=st.lists(numbers, min_size=1, max_size=3), at=st.integers(0, 3))
def test_nan_anywhere_in_a_grid_axis_is_refused(values, at):
    values = values[:at] + [float("nan")] + values[at:]
    with pytest.raises(ValueError, match=rf"NaN at position \[{min(at, len(values) - 1)}\]"):
        sweep(grid={"lr": values})
