"""No surprise recompiles: a sweep or run rebuilt from fresh but identical code (a
notebook cell run twice) compiles nothing; different code or closed-over values do."""

import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import CompileCounter

import jaxdescent as jd
from jaxdescent.structural import Keyed, structural_key

NOISE = 1.0


def cell(c=0.5, scale=2.0, oracle="noise"):
    """What a notebook cell builds: new lambdas, a new problem, a new oracle each time."""
    make = lambda lr: optax.sgd(jd.schedules.polynomial(lr, alpha=c))  # noqa: E731
    problem = jd.Problem(
        lambda x, batch: scale * (x**2).sum(), init=jnp.array([1.0, -2.0]), name="bowl"
    )
    if oracle == "noise":
        orc = jd.oracles.gaussian_noise(NOISE)
    else:  # a function oracle, rebuilt too

        def orc(problem, params, step, key):
            noise = jax.random.normal(key, params.shape)
            loss, grads = jax.value_and_grad(problem.objective)(params)
            return loss, grads + NOISE * noise

    return jd.sweep(
        problem, make, {"lr": [0.01, 0.1]}, seeds=3, steps=20, oracle=orc, progress=False
    )


@pytest.mark.parametrize("oracle", ["noise", "function"])
def test_identical_rerun_compiles_nothing(oracle):
    first = cell(oracle=oracle)
    with CompileCounter().count() as c:
        again = cell(oracle=oracle)
    assert c.programs == 0
    assert (again.loss == first.loss).all()


def test_changed_closure_value_compiles_once_and_changes_numbers():
    base = cell()
    with CompileCounter().count() as c:
        other = cell(c=0.6)
    assert c.programs == 1
    assert not (other.loss == base.loss).all()
    with CompileCounter().count() as c:
        other_problem = cell(scale=3.0)
    assert c.programs == 1
    assert not (other_problem.loss == base.loss).all()


def test_changed_global_changes_the_key():
    namespace = {"optax": optax, "jd": jd, "K": 1.0}
    code = "make = lambda lr: optax.sgd(K * lr)"
    exec(code, namespace)
    first = structural_key(namespace["make"])
    namespace["K"] = 2.0
    exec(code, namespace)
    assert structural_key(namespace["make"]) != first  # a module-level constant changed
    namespace["K"] = 1.0
    exec(code, namespace)
    assert structural_key(namespace["make"]) == first


def test_run_with_an_identical_optimizer_compiles_nothing():
    p = jd.problems.quadratic()
    jd.run(p, optax.sgd(0.1), steps=20)
    with CompileCounter().count() as c:
        jd.run(p, optax.sgd(0.1), steps=20)
    assert c.programs == 0
    with CompileCounter().count() as c:
        jd.run(p, optax.sgd(0.2), steps=20)
    assert c.programs == 1


def test_keys_tell_code_and_closures_apart():
    def maker(k):
        return lambda lr: optax.sgd(k * lr)

    assert Keyed(maker(1.0)) == Keyed(maker(1.0))
    assert Keyed(maker(1.0)) != Keyed(maker(2.0))
    assert Keyed(lambda lr: optax.sgd(lr)) != Keyed(lambda lr: optax.adam(lr))
    assert Keyed(lambda lr: optax.sgd(lr)) != Keyed(lambda lr: optax.sgd(lr, momentum=0.9))

    class Config:
        scale = 1

    f = lambda lr: optax.sgd(Config.scale * lr)  # noqa: E731
    k1 = structural_key(f)
    Config.scale = 2
    assert structural_key(f) != k1  # a user's class attribute is data


def test_persistent_compilation_cache_stores_programs(tmp_path):
    """`jd.enable_compilation_cache` (in a process of its own: it is process-wide)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, optax, jaxdescent as jd; jd.enable_compilation_cache(sys.argv[1]); "
        "jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr), {'lr': [0.1]}, "
        "steps=5, progress=False)"
    )
    cache = tmp_path / "cache"
    subprocess.run([sys.executable, "-c", code, str(cache)], check=True, timeout=300,
                   env={**os.environ, "JAX_ENABLE_X64": "0"})  # fmt: skip
    assert any(cache.iterdir())  # the sweep's program was written there
    with pytest.raises(ValueError, match="path"):
        jd.enable_compilation_cache("")


def test_keys_tell_negative_zero_and_types_apart():
    assert structural_key(0.0) != structural_key(-0.0)
    assert structural_key(1) != structural_key(1.0) != structural_key(True)
    assert structural_key(float("nan")) == structural_key(float("nan"))

    def maker(c):
        return lambda lr: optax.sgd(lr / c)

    assert Keyed(maker(0.0)) != Keyed(maker(-0.0))


# --- the same function objects, a global they read changed between two calls --------
# (a notebook: ``SCALE = 0.5`` in one cell, the sweep cell run again). No key may be
# remembered by the functions' identity: the second call must compute with the new value.

SCALE = 1.0
CFG = {"scale": 1.0}


def scaled_sgd(lr):
    return optax.sgd(lr * SCALE)


def dict_scaled_sgd(lr):
    return optax.sgd(lr * CFG["scale"])


def scaled_objective(x, batch):
    return SCALE * jnp.sum(x**2)


def scaled_metric(x):
    return SCALE * jnp.sum(x)


def scaled_problem(lr):
    return jd.Problem(scaled_objective, init=jnp.array([1.0, -2.0]), name="scaled")


def scaled_oracle(problem, params, step, key):
    loss, grads = jax.value_and_grad(problem.objective)(params)
    return loss, jax.tree.map(lambda g: SCALE * g, grads)


def _sweep(make, problem=None, **kw):
    problem = problem if problem is not None else jd.problems.quadratic()
    return jd.sweep(problem, make, {"lr": [0.1, 0.2]}, steps=4, progress=False, **kw)


@pytest.mark.parametrize(
    "case", ["optimizer global", "optimizer dict", "objective", "metric", "oracle", "factory"]
)
def test_a_changed_global_is_never_served_a_stale_program(case, monkeypatch):
    def compute(scale=None):
        """The case's sweep reading the global (``scale=None``), or the same sweep built
        with ``scale`` closed over instead: other code, so no cache can serve it."""

        def fixed(f):  # the global read replaced by a closed-over number
            return f if scale is None else functools.partial(f, scale=scale)

        def sgd(lr, scale=None):
            return optax.sgd(lr * (SCALE if scale is None else scale))

        def objective(x, batch, scale=None):
            return (SCALE if scale is None else scale) * jnp.sum(x**2)

        def metric(x, scale=None):
            return (SCALE if scale is None else scale) * jnp.sum(x)

        def oracle(problem, params, step, key, scale=None):
            loss, grads = jax.value_and_grad(problem.objective)(params)
            s = SCALE if scale is None else scale
            return loss, jax.tree.map(lambda g: s * g, grads)

        plain = lambda lr: optax.sgd(lr)  # noqa: E731
        bowl = jd.Problem(fixed(objective), init=jnp.array([1.0, -2.0]), name="s")
        if case == "optimizer global":
            return _sweep(scaled_sgd if scale is None else fixed(sgd)).loss
        if case == "optimizer dict":
            return _sweep(dict_scaled_sgd if scale is None else fixed(sgd)).loss
        if case == "objective":
            return _sweep(plain, bowl).loss
        if case == "metric":
            return _sweep(plain, metrics={"m": fixed(metric)}).metrics["m"]
        if case == "oracle":
            return _sweep(plain, oracle=fixed(oracle)).loss
        return _sweep(plain, lambda lr: bowl).loss

    before = np.asarray(compute())
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 0.25)
    monkeypatch.setitem(CFG, "scale", 0.25)
    after = np.asarray(compute())
    assert not np.array_equal(before, after)
    # and the new numbers are the ones a computation that never saw the old value gives
    np.testing.assert_allclose(np.asarray(compute(scale=0.25)), after, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(compute(scale=1.0)), before, rtol=1e-12)


def test_run_and_hypergrad_see_a_changed_global(monkeypatch):
    problem = jd.Problem(scaled_objective, init=jnp.array([1.0, -2.0]), name="s")
    opt = scaled_sgd(0.1)  # optax closes over the number: the optimizer itself is fixed
    before_run = float(jd.run(problem, opt, steps=3).final_loss)
    before_hg = jd.hypergrad(problem, scaled_sgd, 0.1, steps=3)
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 0.25)
    after_run = float(jd.run(problem, opt, steps=3).final_loss)
    after_hg = jd.hypergrad(problem, scaled_sgd, 0.1, steps=3)
    assert after_run != before_run
    assert float(after_hg.value) != float(before_hg.value)
    assert float(after_hg.grad) != float(before_hg.grad)
