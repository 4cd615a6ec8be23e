"""`jd.sweep`: cells equal runs, one compilation, chunking, divergence, selection."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd

QUAD = jd.problems.quadratic()
NOISY = jd.oracles.gaussian_noise(1.0)
RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(24, 3)), RNG.normal(size=24)
LSQ = jd.problems.least_squares(X, Y)
LINE = jd.problems.linear_regression([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])


def sgd(lr):
    return optax.sgd(lr)


def sgd_momentum(lr, momentum):
    return optax.sgd(lr, momentum=momentum)


def adam(lr):
    return optax.adam(lr)


def poly_decay(lr):
    return optax.sgd(lambda t: lr * (1 + 0.1 * t) ** -0.5)


def exp_decay(lr):
    return optax.sgd(lambda t: lr * jnp.exp(-0.01 * t))


def with_schedule(lr, schedule):
    return optax.sgd(lambda t: lr * schedule(t))


def constant(t):
    return 1.0


def inverse_time(t):
    return 1.0 / (1.0 + 0.05 * t)


def assert_trace_close(cell, tr, rtol=1e-12):
    for name in ("loss", "grad_norm", "final_loss", "diverged", "diverged_at"):
        np.testing.assert_allclose(
            np.asarray(getattr(cell, name)),
            np.asarray(getattr(tr, name)),
            rtol=rtol,
            atol=1e-300,
            err_msg=name,
        )
    for a, b in zip(jax.tree.leaves(cell.params), jax.tree.leaves(tr.params)):
        np.testing.assert_allclose(a, b, rtol=rtol)
    for k in tr.metrics:
        np.testing.assert_allclose(cell.metrics[k], tr.metrics[k], rtol=rtol)


CASES = {
    "noisy quadratic, sgd lr x momentum": dict(
        problem=QUAD,
        make=sgd_momentum,
        grid={"lr": [0.02, 0.1], "momentum": [0.0, 0.5, 0.9]},
        oracle=NOISY,
        steps=40,
        log_every=4,
        run_problem=lambda p: QUAD,
        run_oracle=lambda p: NOISY,
    ),
    "least squares, minibatch shuffle, adam": dict(
        problem=LSQ,
        make=adam,
        grid={"lr": [0.01, 0.1]},
        oracle=jd.oracles.minibatch(5),
        steps=30,
        log_every=5,
        run_problem=lambda p: LSQ,
        run_oracle=lambda p: jd.oracles.minibatch(5),
    ),
    "line, per-sample with replacement, poly decay": dict(
        problem=LINE,
        make=poly_decay,
        grid={"lr": [0.01, 0.05]},
        oracle=jd.oracles.per_sample("replace"),
        steps=30,
        log_every=3,
        run_problem=lambda p: LINE,
        run_oracle=lambda p: jd.oracles.per_sample("replace"),
    ),
    "problem factory over scales, noise factory": dict(
        problem=lambda s2: jd.problems.quadratic(scales=(1.0, s2)),
        make=sgd,
        grid={"lr": [0.05, 0.1], "s2": [2.0, 8.0], "noise": [0.0, 0.5]},
        oracle=lambda noise: jd.oracles.gaussian_noise(noise),
        steps=20,
        log_every=10,
        run_problem=lambda p: jd.problems.quadratic(scales=(1.0, p["s2"])),
        run_oracle=lambda p: jd.oracles.gaussian_noise(p["noise"]),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_cell_equals_its_single_run(case):
    c = CASES[case]
    metrics = {"dist0": lambda x: jnp.sqrt(jnp.sum(x**2))}
    res = jd.sweep(
        c["problem"],
        c["make"],
        c["grid"],
        seeds=[0, 5],
        steps=c["steps"],
        oracle=c["oracle"],
        log_every=c["log_every"],
        metrics=metrics,
    )
    names = list(c["grid"])
    assert res.loss.shape == tuple(len(v) for v in c["grid"].values()) + (
        2,
        c["steps"] // c["log_every"] + 1,
    )
    assert list(res.axes) == names + ["seed"]
    cells = list(np.ndindex(*res.shape))
    for idx in cells[:: max(1, len(cells) // 5)] + cells[-1:]:  # a spread of cells, both ends
        point = {n: res.axes[n][i] for n, i in zip(names, idx[:-1])}
        seed = int(res.axes["seed"][idx[-1]])
        tr = jd.run(
            c["run_problem"](point),
            c["make"](**{k: v for k, v in point.items() if k in ("lr", "momentum")}),
            steps=c["steps"],
            oracle=c["run_oracle"](point),
            key=jax.random.key(seed),
            log_every=c["log_every"],
            metrics=metrics,
        )
        assert_trace_close(res.isel(**dict(zip(names + ["seed"], idx))), tr)


def test_unrolled_schedule_axis_in_one_program(compiles):
    grid = {"lr": [0.05, 0.1, 0.2], "schedule": [constant, inverse_time]}
    with compiles.count():
        res = jd.sweep(QUAD, with_schedule, grid, seeds=3, steps=30, oracle=NOISY)
    assert compiles.programs == 1  # one program for both schedules (plus tiny eager ops)
    assert res.loss.shape == (3, 2, 3, 31) and res.axes["schedule"] == (constant, inverse_time)
    for sched in (constant, inverse_time):
        cell = res.sel(lr=0.1, schedule=sched, seed=2)
        tr = jd.run(QUAD, with_schedule(0.1, sched), steps=30, oracle=NOISY, key=jax.random.key(2))
        assert_trace_close(cell, tr)
    assert res.sel(schedule="inverse_time").loss.shape == (3, 3, 31)  # by label too


def test_static_axis_sweeps_shapes():
    res = jd.sweep(
        LSQ,
        sgd,
        {"lr": [0.05], "size": jd.static([1, 4, 8])},
        seeds=2,
        steps=12,
        oracle=lambda size: jd.oracles.minibatch(size),
        log_every=12,
    )
    assert res.loss.shape == (1, 3, 2, 2)
    tr = jd.run(
        LSQ,
        sgd(0.05),
        steps=12,
        oracle=jd.oracles.minibatch(4),
        key=jax.random.key(1),
        log_every=12,
    )
    assert_trace_close(res.sel(lr=0.05, size=4, seed=1), tr)


def test_common_random_numbers_across_grid_points():
    # The noise depends on the seed only: two grid points that are the same optimizer see
    # identical noise; different seeds see different noise.
    res = jd.sweep(
        QUAD,
        lambda lr, tag: optax.sgd(lr),
        {"lr": [0.1], "tag": [1.0, 2.0]},
        seeds=2,
        steps=20,
        oracle=NOISY,
    )
    np.testing.assert_array_equal(res.params[0, 0], res.params[0, 1])
    assert not np.allclose(res.params[0, 0, 0], res.params[0, 0, 1])
    # the minibatch indices are shared too: identical optimizers => identical paths
    res = jd.sweep(
        LSQ,
        lambda lr, tag: optax.sgd(lr),
        {"lr": [0.05], "tag": [0.0, 1.0]},
        seeds=2,
        steps=10,
        oracle=jd.oracles.minibatch(4),
    )
    np.testing.assert_array_equal(res.params[0, 0], res.params[0, 1])


def test_second_sweep_compiles_nothing(compiles):
    def make(X, Y):
        return jd.problems.least_squares(X, Y)

    grid = {"lr": [0.01, 0.02, 0.05], "momentum": [0.0, 0.9]}
    jd.sweep(make(X, Y), sgd_momentum, grid, seeds=[0, 1], steps=20, oracle=NOISY, log_every=5)
    X2, Y2 = RNG.normal(size=X.shape), RNG.normal(size=Y.shape)
    new = make(X2, Y2).replace(init=jnp.ones(3))
    with compiles.count():
        res = jd.sweep(
            new,
            sgd_momentum,
            {"lr": [0.3, 0.2, 0.1], "momentum": [0.5, 0.6]},
            seeds=[7, 8],
            steps=20,
            oracle=jd.oracles.gaussian_noise(0.3),
            log_every=5,
        )
    assert compiles.n == 0
    tr = jd.run(
        new,
        sgd_momentum(0.2, 0.6),
        steps=20,
        oracle=jd.oracles.gaussian_noise(0.3),
        key=jax.random.key(8),
        log_every=5,
    )
    assert_trace_close(res.sel(lr=0.2, momentum=0.6, seed=8), tr)


def test_program_size_is_flat_in_configs_and_steps():
    sizes = {}
    for n_lr, steps in [(2, 10), (64, 10), (2, 1000)]:
        plan = jd.plan(
            QUAD,
            sgd,
            {"lr": np.linspace(0.01, 0.1, n_lr)},
            seeds=2,
            steps=steps,
            oracle=NOISY,
            log_every=steps // 2,
            keep_params=False,
        )
        sizes[(n_lr, steps)] = len(plan.lower().as_text().splitlines())
    assert len(set(sizes.values())) == 1, sizes


def test_tiled_sweep_is_identical():
    kw = dict(seeds=4, steps=25, oracle=NOISY, log_every=5)
    grid = {"lr": np.linspace(0.01, 0.3, 7), "momentum": [0.0, 0.9]}
    full = jd.sweep(QUAD, sgd_momentum, grid, **kw)
    for chunk in (1, 3, 4, 12, 100):
        part = jd.sweep(QUAD, sgd_momentum, grid, chunk_size=chunk, **kw)
        for a, b in zip(jax.tree.leaves(full.trace), jax.tree.leaves(part.trace), strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="chunk_size"):
        jd.sweep(QUAD, sgd_momentum, grid, chunk_size=0, **kw)


def test_divergence_stays_in_its_cell():
    lrs = [0.05, 0.2, 50.0, 0.4]
    res = jd.sweep(QUAD, sgd, {"lr": lrs}, seeds=2, steps=300, oracle=NOISY, log_every=30)
    div = np.asarray(res.diverged)
    np.testing.assert_array_equal(
        div, [[False, False], [False, False], [True, True], [False, False]]
    )
    assert np.all(np.asarray(res.diverged_at)[2] > 0)
    assert np.all(np.isfinite(np.asarray(res.loss)[[0, 1, 3]]))
    tr = jd.run(QUAD, sgd(0.4), steps=300, oracle=NOISY, key=jax.random.key(1), log_every=30)
    assert_trace_close(res.sel(lr=0.4, seed=1), tr)
    tr = jd.run(QUAD, sgd(50.0), steps=300, oracle=NOISY, key=jax.random.key(1), log_every=30)
    assert int(res.sel(lr=50.0, seed=1).diverged_at) == int(tr.diverged_at)


def test_seed_only_sweep_and_fixed_optimizer():
    res = jd.sweep(QUAD, optax.sgd(0.1), {}, seeds=3, steps=10, oracle=NOISY)
    assert res.loss.shape == (3, 11) and list(res.axes) == ["seed"]
    tr = jd.run(QUAD, optax.sgd(0.1), steps=10, oracle=NOISY, key=jax.random.key(2))
    assert_trace_close(res.sel(seed=2), tr)


def test_selection_verbs():
    res = jd.sweep(
        QUAD,
        sgd_momentum,
        {"lr": [0.01, 0.1, 0.2], "momentum": [0.0, 0.9]},
        seeds=[3, 5, 9],
        steps=10,
        oracle=NOISY,
    )
    sub = res.sel(lr=[0.2, 0.01], seed=5)
    assert sub.loss.shape == (2, 2, 11) and list(sub.axes) == ["lr", "momentum"]
    np.testing.assert_array_equal(sub.loss[0, 1], res.loss[2, 1, 1])
    np.testing.assert_array_equal(res.isel(lr=-1).loss, res.loss[2])
    cell = res.sel(lr=0.1, momentum=0.9, seed=9)
    assert isinstance(cell, jd.Trace) and cell.params.shape == (11, 2)
    with pytest.raises(ValueError, match="not on the axis"):
        res.sel(lr=0.5)
    with pytest.raises(ValueError, match="unknown axis"):
        res.sel(learning_rate=0.1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(grid={"lr": []}), "empty"),
        (dict(grid={"lr": [[0.1, 0.2], [0.3, 0.4]]}), "1-D"),
        (dict(grid={"lr": 0.1}), "1-D"),
        (dict(grid={"lr": [0.1], "beta": [0.9]}), "beta"),
        (dict(grid={"momentum": [0.9]}), "lr"),
        (dict(grid={"lr": [0.1], "seed": [1]}), "reserved"),
        (dict(grid={"lr": [0.1]}, steps=0), "steps"),
        (dict(grid={"lr": [0.1]}, log_every=7), "log_every"),
        (dict(grid={"lr": [0.1]}, seeds=0), "seeds"),
        (dict(grid={"lr": [0.1]}, seeds=[1, 1]), "distinct"),
        (dict(grid={"lr": [0.1]}, oracle=jd.oracles.minibatch(30)), "larger than the data set"),
        (
            dict(
                grid={"lr": [0.1], "size": [2, 4]}, oracle=lambda size: jd.oracles.minibatch(size)
            ),
            "static",
        ),
        (dict(grid={"lr": [0.1]}, problem=lambda lr: 3.0), "jd.Problem"),
    ],
)
def test_bad_sweep_input_fails_before_compiling(kwargs, match, compiles):
    args = dict(problem=LSQ, make=sgd, steps=10, log_every=1)
    args.update(kwargs)
    problem, make, grid = args.pop("problem"), args.pop("make"), args.pop("grid")
    with compiles.count(), pytest.raises((ValueError, TypeError), match=match):
        jd.sweep(problem, make, grid, **args)
    assert compiles.programs == 0  # nothing of the sweep was compiled


def test_a_keyless_run_is_computed_once_and_repeated_over_seeds():
    """Full-batch GD and data-order SGD read no key: one run per point, repeated over
    the seeds, bitwise jd.run; a random start or a sampling oracle is per seed."""
    p = jd.problems.linear_regression([1.0, 2, 3], [2.0, 4, 6], init=1.0)
    for oracle in (None, jd.oracles.per_sample("cyclic")):
        res = jd.sweep(p, lambda lr: optax.sgd(lr), {"lr": [0.01, 0.05]}, seeds=3, steps=30,
                       oracle=oracle, progress=False)  # fmt: skip
        for i, lr in enumerate([0.01, 0.05]):
            run = jd.run(p, optax.sgd(lr), steps=30, oracle=oracle, key=jax.random.key(2))
            for s in range(3):
                np.testing.assert_array_equal(res.loss[i, s], run.loss)
                np.testing.assert_array_equal(res.final_params[i, s], run.final_params)
    noisy = jd.sweep(p, lambda lr: optax.sgd(lr), {"lr": [0.01]}, seeds=3, steps=30,
                     oracle=jd.oracles.per_sample("shuffle"), progress=False)  # fmt: skip
    assert not (noisy.loss[0, 0] == noisy.loss[0, 1]).all()
    random_start = p.replace(init=lambda key: jax.random.normal(key, ()))
    res = jd.sweep(random_start, lambda lr: optax.sgd(lr), {"lr": [0.01]}, seeds=3, steps=5,
                   progress=False)  # fmt: skip
    assert len({float(v) for v in res.final_params[0]}) == 3
