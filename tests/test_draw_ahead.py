"""Random numbers drawn ahead in segments equal the ones drawn step by step, and the
compile options jaxdescent passes to XLA."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd
from jaxdescent import compiler
from jaxdescent._run import blocks_per_draw


def with_draw_budget(plan, draw_bytes):
    """The plan with another per-run budget for numbers drawn ahead (0: per step)."""
    run = plan.spec.run._replace(draw_bytes=draw_bytes)
    return plan._replace(spec=plan.spec._replace(run=run))


REG = jd.problems.linear_regression(np.linspace(-1, 1, 40), np.linspace(-1, 1, 40) * 2 + 0.3)
QUAD = jd.problems.quadratic()

ORACLES = [
    (QUAD, jd.oracles.gaussian_noise(0.7)),
    (REG, jd.oracles.per_sample("shuffle")),
    (REG, jd.oracles.per_sample("replace")),
    (REG, jd.oracles.minibatch(8)),
    (REG, jd.oracles.gaussian_noise(0.3, jd.oracles.minibatch(4, replace=True))),
]


@pytest.mark.parametrize("problem, oracle", ORACLES)
def test_drawn_ahead_equals_drawn_in_the_step(problem, oracle):
    key = jax.random.key(3)
    x = problem.initial_params(key)
    for step in (0, 7, 41):
        drawn = oracle.draws(problem, x, step, key)
        assert jax.tree.leaves(drawn), "these oracles draw something"
        a = oracle.evaluate(problem, x, step, key, drawn)
        b = oracle.evaluate(problem, x, step, key)
        for u, v in zip(jax.tree.leaves(a[:2]), jax.tree.leaves(b[:2])):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("problem, oracle", ORACLES[:3])
@pytest.mark.parametrize("log_every", [1, 3])
def test_drawing_in_spans_or_in_the_step_changes_nothing(problem, oracle, log_every):
    """A run drawn ahead all at once, in spans refilled as the loop goes (the last one
    reaching past the run), and step by step gives the same trace: the same random numbers
    (bitwise, above), the arithmetic to the last bit or two (XLA contracts multiply-adds
    differently in differently shaped programs)."""
    steps = 57 * log_every
    kw = dict(steps=steps, oracle=oracle, log_every=log_every)
    whole = jd.run(problem, optax.sgd(0.05), key=jax.random.key(5), **kw)
    plan = jd.plan(problem, optax.sgd(0.05), {}, seeds=[5], **kw)
    for budget in (40, 0):  # spans of a few steps; drawn in the step
        tr = jd.execute(with_draw_budget(plan, budget)).isel(seed=0)
        np.testing.assert_allclose(tr.loss, whole.loss, rtol=1e-13)
        np.testing.assert_allclose(tr.params, whole.params, rtol=1e-13, atol=1e-15)
        assert int(tr.diverged_at) == int(whole.diverged_at) == -1


def test_span_sizes():
    # nothing drawn: one span; drawn: as many blocks as the budget allows
    assert blocks_per_draw(1001, 1, 0, 1 << 22) == 1001
    assert blocks_per_draw(1001, 1, 8, 1 << 22) == 1001
    assert blocks_per_draw(1001, 10, 8 * 4096, 1 << 22) == 12  # 4 MiB a run
    assert blocks_per_draw(10_001, 1, 64, 1 << 22) == 10_001
    assert blocks_per_draw(10_001, 1, 64, 4096) == 64  # 4 KiB a run
    assert blocks_per_draw(10, 1, 64, 1) == 1  # at least one block


def test_sweep_equals_runs_when_drawing_in_spans():
    oracle = jd.oracles.gaussian_noise(1.0)
    lrs = np.array([0.01, 0.1])
    plan = jd.plan(QUAD, optax.sgd, {"learning_rate": lrs}, seeds=[0, 4], steps=30, oracle=oracle)
    res = jd.execute(with_draw_budget(plan, 64))  # 8 steps of 2 floats
    default = jd.execute(plan)
    np.testing.assert_array_equal(res.loss, default.loss)  # the same numbers, bitwise
    for i, lr in enumerate(lrs):
        for j, seed in enumerate([0, 4]):
            tr = jd.run(QUAD, optax.sgd(lr), steps=30, oracle=oracle, key=jax.random.key(seed))
            np.testing.assert_allclose(res.loss[i, j], tr.loss, rtol=1e-12)


def test_compile_options_per_platform(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    opts = compiler.options("cpu")
    assert opts == compiler.CPU_OPTIONS  # this jaxlib accepts them
    assert compiler.options("gpu") is None and compiler.options("tpu") is None
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=")
    assert compiler.options("cpu") is None  # the user's own choice stands


def test_programs_are_compiled_with_the_options():
    fn = compiler.jit(lambda x: jnp.sum(x * x))("cpu")
    text = fn.lower(jnp.ones((64, 2), jnp.float32)).compile().as_text()
    assert "__ynn_fusion" not in text  # the small reduction stays with XLA
