"""A sweep call identical to the previous one reuses its plan; any change to an argument,
a global a factory reads, or the environment plans afresh (`jaxdescent.reuse`)."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd

SCALE = 1.0


def make(lr):
    return optax.sgd(lr * SCALE)


def call(**changes):
    kw = dict(
        problem=jd.problems.quadratic(),
        make_optimizer=make,
        grid={"lr": [0.1, 0.2]},
        seeds=2,
        steps=5,
        oracle=jd.oracles.gaussian_noise(1.0),
        progress=False,
    )
    kw.update(changes)
    problem, make_optimizer, grid = kw.pop("problem"), kw.pop("make_optimizer"), kw.pop("grid")
    return jd.plan(problem, make_optimizer, grid, **kw)


def test_an_identical_call_reuses_the_plan_and_gives_the_same_numbers():
    first = call()
    assert call() is first  # fresh but equal problem, oracle and grid objects
    a = jd.execute(first)
    b = jd.sweep(jd.problems.quadratic(), make, {"lr": [0.1, 0.2]}, seeds=2, steps=5,
                 oracle=jd.oracles.gaussian_noise(1.0), progress=False)  # fmt: skip
    np.testing.assert_array_equal(a.loss, b.loss)


@pytest.mark.parametrize(
    "changes",
    [
        {"grid": {"lr": [0.1, 0.3]}},
        {"grid": {"lr": np.array([0.1, 0.2])}},  # same numbers, another type: afresh
        {"grid": {"lr": [0.1, 0.2], "b1": jd.static([0.9])}},
        {"seeds": [0, 2]},
        {"seeds": 3},
        {"steps": 6},
        {"log_every": 5},
        {"oracle": jd.oracles.gaussian_noise(0.5)},
        {"oracle": None},
        {"problem": jd.problems.quadratic(scales=[1.0, 3.0])},
        {"problem": jd.problems.quadratic().replace(init=jnp.array([1.0, 1.0]))},
        {"make_optimizer": lambda lr: optax.sgd(lr)},
        {"keep_params": False},
        {"metrics": {"distance": "distance"}},
        {"average": "uniform"},
        {"chunk_size": 1},
        {"unroll": 2},
        {"devices": "all"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_any_changed_argument_plans_afresh(changes):
    if "b1" in changes.get("grid", {}):
        changes["make_optimizer"] = lambda lr, b1: optax.sgd(lr, momentum=b1)
    base = call()
    assert call() is base
    other = call(**changes)
    assert other is not base


def test_axis_order_is_part_of_the_key():
    two = lambda lr, momentum: optax.sgd(lr, momentum=momentum)  # noqa: E731
    a = call(make_optimizer=two, grid={"lr": [0.1, 0.2], "momentum": [0.0, 0.5, 0.9]})
    b = call(make_optimizer=two, grid={"momentum": [0.0, 0.5, 0.9], "lr": [0.1, 0.2]})
    assert b is not a
    assert [x.name for x in a.grid.axes] == ["lr", "momentum"]
    assert [x.name for x in b.grid.axes] == ["momentum", "lr"]
    assert jd.execute(b).loss.shape[:2] == (3, 2)


def test_a_changed_global_plans_afresh_and_computes_with_it(monkeypatch):
    base = call()
    before = jd.execute(base).loss
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 0.5)
    other = call()
    assert other is not base
    assert not np.array_equal(jd.execute(other).loss, before)


def test_environment_changes_plan_afresh():
    base = call()
    x64 = bool(jax.config.jax_enable_x64)
    with jax.enable_x64(not x64):
        other = call()
        assert other is not base
        assert other.grid.values["lr"].dtype == (np.float32 if x64 else np.float64)
    assert base.grid.values["lr"].dtype == (np.float64 if x64 else np.float32)
    assert call(progress=True) is not base


def test_out_and_memory_budget_never_reuse(tmp_path):
    assert call(memory_budget=2**26) is not call(memory_budget=2**26)
    out = str(tmp_path / "r.npz")
    assert call(out=out) is not call(out=out)


def test_plan_arrays_shared_by_results_are_read_only():
    res = jd.execute(call())
    with pytest.raises(ValueError, match="read-only"):
        res.axes["lr"][0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        res.axes["seed"][0] = 7
    p = call()
    with pytest.raises(ValueError, match="read-only"):
        p.seeds[0] = 3
    with pytest.raises(ValueError, match="read-only"):
        p.grid.values["lr"][0] = 3.0


def test_a_mutated_array_argument_plans_afresh():
    lrs = np.array([0.1, 0.2])
    base = call(grid={"lr": lrs})
    lrs[1] = 0.25  # the same array object, changed in place
    other = call(grid={"lr": lrs})
    assert other is not base
    np.testing.assert_array_equal(other.grid.axes[0].values, [0.1, 0.25])


def test_large_jax_arrays_are_keyed_by_identity():
    # more than MAX_KEYED_BYTES: the same array objects reuse the plan without hashing
    # them; equal arrays built afresh are not hashed either, so they plan afresh
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.normal(size=(2000, 160)), jnp.float32)
    y = X @ jnp.ones(160, jnp.float32)
    problem = jd.problems.least_squares(X, y)
    base = call(problem=problem, oracle=None)
    assert call(problem=problem, oracle=None) is base
    twin = jd.problems.least_squares(jnp.array(X), jnp.array(y))
    other = call(problem=twin, oracle=None)
    assert other is not base
    np.testing.assert_array_equal(jd.execute(other).loss, jd.execute(base).loss)


def test_arguments_too_large_to_hash_are_never_reused():
    from jaxdescent import reuse

    big = np.linspace(1e-3, 0.1, 300_000)  # 2.4 MB of NumPy labels, hashed per call
    assert call(grid={"lr": big}) is not call(grid={"lr": big})
    args = dict(problem=jd.problems.quadratic(), make_optimizer=make, grid={"lr": big},
                seeds=1, steps=1, oracle=None, log_every=1, keep_params=True, metrics=None,
                average=None, chunk_size=None, memory_budget=None, devices=None, out=None,
                overwrite=False, progress=False, unroll=1, limits=())  # fmt: skip
    assert reuse.reuse_key(args, jax_arrays_by_identity=True) is None
    args["grid"] = {"lr": big[:1000]}
    assert reuse.reuse_key(args, jax_arrays_by_identity=True) is not None


def test_calls_alternating_between_a_few_sweeps_reuse_each_plan():
    from jaxdescent import reuse

    a, b = call(), call(unroll=4)
    assert call() is a and call(unroll=4) is b and call() is a
    others = [call(steps=10 + i) for i in range(reuse.RECENT)]
    assert call() is not a  # pushed out by RECENT newer plans
    assert call(steps=10 + reuse.RECENT - 1) is others[-1]
