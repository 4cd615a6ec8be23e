"""Every optimizer optax and optax.contrib export, in `jd.run` and in a two-point
`jd.sweep` over the learning rate: finite, decreasing on a convex quadratic, and the
sweep's cell bitwise equal to the run.

The list is built from the two namespaces, not written by hand: every public function
with a learning-rate parameter is an optimizer, except the ``scale_by_*`` building
blocks; everything else is skipped with its reason. The skip table is printed at the
end of the test session (pytest's terminal summary: the hook is in tests/conftest.py,
so that it prints under xdist too).
"""

import inspect
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import jaxdescent as jd

LR_NAMES = ("learning_rate", "max_learning_rate")  # polyak_sgd's cap is its step size
LR, OTHER_LR = 0.1, 0.05
STEPS = 8
PROBLEM = jd.problems.quadratic()

# Optimizers whose required arguments besides the learning rate are known.
EXTRA = {
    "optax.contrib.schedule_free": lambda lr: {"base_optimizer": optax.sgd(lr)},
    "optax.noisy_sgd": lambda lr: {"key": jax.random.key(0)},
}
# Optimizers that cannot take jaxdescent's gradients, with the reason.
INCOMPATIBLE = {
    "optax.contrib.dpsgd": (
        "needs per-example gradients (a leading batch axis on every leaf, clipped one "
        "by one); an oracle gives the batch's mean gradient"
    ),
}


def _lr_name(fn):
    params = inspect.signature(fn).parameters
    return next((n for n in LR_NAMES if n in params), None)


def classify():
    """(optimizers: {qualified name: factory lr -> optimizer}, skips: {name: reason})."""
    found, skips = {}, {}
    for module in (optax, optax.contrib):
        for name in sorted(dir(module)):
            if name.startswith("_"):
                continue
            obj = getattr(module, name)
            full = f"{module.__name__}.{name}"
            if not inspect.isfunction(obj):
                kind = (
                    "module"
                    if isinstance(obj, types.ModuleType)
                    else "class"
                    if inspect.isclass(obj)
                    else "type alias or constant"
                )
                skips[full] = f"not a function ({kind})"
                continue
            try:
                sig = inspect.signature(obj)
            except (TypeError, ValueError):
                skips[full] = "no inspectable signature"
                continue
            lr_name = _lr_name(obj)
            returns_tx = "GradientTransformation" in str(sig.return_annotation)
            wraps = any(
                "GradientTransformation" in str(p.annotation) for p in sig.parameters.values()
            )
            if name.startswith("scale_by_"):
                skips[full] = (
                    "a scale_by_* building block: one transformation of an optimizer's "
                    "chain (un-negated: e.g. scale_by_rprop ascends)"
                )
            elif lr_name is None and wraps:
                skips[full] = "a wrapper: transforms another optimizer given to it"
            elif lr_name is None:
                skips[full] = (
                    "a transformation without a learning rate (a building block: clipping, "
                    "noise, masking, moments ...)"
                    if returns_tx
                    else "not a gradient transformation (schedule, loss, tree utility ...)"
                )
            elif full in INCOMPATIBLE:
                skips[full] = INCOMPATIBLE[full]
            else:
                extra = EXTRA.get(full, lambda lr: {})

                def make(lr, obj=obj, lr_name=lr_name, extra=extra):
                    return obj(**{lr_name: lr}, **extra(lr))

                found[full] = make
    return found, skips


OPTIMIZERS, SKIPS = classify()


EQUALITY = "optax_equality:"  # user property: sweep cell vs run, per optimizer


def summary_lines(equality: dict) -> list:
    """The table tests/conftest.py prints in pytest's terminal summary (with or without
    xdist): the optimizers tested, how each sweep cell compared with its run
    (``equality``: name -> "bitwise" | "rounding"), and every skip with its reason."""
    lines = [f"tested ({len(OPTIMIZERS)}): {', '.join(OPTIMIZERS)}"]
    if equality:
        rounding = [n for n, how in equality.items() if how != "bitwise"]
        lines.append(
            f"sweep cell == run: bitwise for {len(equality) - len(rounding)} of "
            f"{len(equality)} checked; to float rounding for {', '.join(rounding) or 'none'}"
        )
    lines.append(f"skipped ({len(SKIPS)}):")
    lines += [f"  {name}: {reason}" for name, reason in SKIPS.items()]
    return lines


def test_the_table_is_built_from_the_namespaces():
    # Every exported optimizer a user is likely to pick is found, none by hand.
    for name in ("sgd", "adam", "adamw", "lbfgs", "polyak_sgd", "lion", "rmsprop"):
        assert f"optax.{name}" in OPTIMIZERS
    for name in ("sophia", "prodigy", "schedule_free", "momo", "muon", "dog"):
        assert f"optax.contrib.{name}" in OPTIMIZERS
    assert len(OPTIMIZERS) >= 45
    # Non-optimizers are skipped, each with a reason.
    assert "optax.contrib.dpsgd" in SKIPS and "per-example" in SKIPS["optax.contrib.dpsgd"]
    assert "building block" in SKIPS["optax.scale_by_adam"]
    assert "schedule" in SKIPS["optax.cosine_decay_schedule"]
    assert set(SKIPS).isdisjoint(OPTIMIZERS) and all(SKIPS.values())
    print(f"\n{len(OPTIMIZERS)} optimizers tested; {len(SKIPS)} names skipped:")
    for name, reason in SKIPS.items():
        print(f"  {name}: {reason}")


@pytest.fixture(scope="module")
def sweep():
    """ONE sweep for all optimizers: the learning rate traced (2 points), the optimizer
    a static axis (unrolled): one compiled program instead of one per optimizer."""
    names = list(OPTIMIZERS)
    return jd.sweep(
        PROBLEM,
        lambda lr, opt: OPTIMIZERS[opt](lr),
        {"lr": [OTHER_LR, LR], "opt": jd.static(names)},
        seeds=1,
        steps=STEPS,
    )


FIELDS = ("loss", "grad_norm", "final_loss", "final_params")


def _final(make, lr):
    return np.asarray(jd.run(PROBLEM, make(lr), steps=STEPS).final_params)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_runs_and_sweeps(name, sweep, record_property):
    tr = jd.run(PROBLEM, OPTIMIZERS[name](LR), steps=STEPS)
    loss = np.asarray(tr.loss)
    assert loss.dtype == np.float64 and np.all(np.isfinite(loss)), name
    assert not bool(tr.diverged)
    assert loss[-1] < loss[0], f"{name}: {loss[0]} -> {loss[-1]}"

    both = np.asarray(sweep.sel(opt=name, seed=0).loss)  # (lr, step)
    assert sweep.axes["lr"].tolist() == [OTHER_LR, LR]
    assert np.all(np.isfinite(both)) and np.all(both[:, -1] < both[:, 0]), name
    cell = sweep.sel(lr=LR, opt=name, seed=0)
    got = {f: np.asarray(getattr(cell, f)) for f in FIELDS}
    want = {f: np.asarray(getattr(tr, f)) for f in FIELDS}
    # The sweep's cell equals the run to float rounding, not always bit for bit: the
    # run folds the learning rate in as a constant, the sweep traces it (vmapped), and
    # XLA may then round a product or quotient differently (1 ulp). Most optimizers'
    # cells are bitwise the run (counted below); the others agree to 1e-12 relative,
    # except where the optimizer itself amplifies a 1-ulp change of the learning rate
    # (contrib.madgrad: its run moves by 1e-8 when lr moves by one ulp): there the cell
    # is within 4 times what the run moves when the learning rate is one ulp larger.
    if all(np.array_equal(got[f], want[f]) for f in FIELDS):
        record_property(EQUALITY + name, "bitwise")
        return
    record_property(EQUALITY + name, "rounding")
    if all(np.allclose(got[f], want[f], rtol=1e-12, atol=1e-14) for f in FIELDS):
        return
    sensitivity = np.max(
        np.abs(_final(OPTIMIZERS[name], LR) - _final(OPTIMIZERS[name], np.nextafter(LR, 1.0)))
    )
    assert sensitivity > 1e-12, f"{name}: cell and run differ beyond rounding"
    np.testing.assert_allclose(
        got["final_params"], want["final_params"], rtol=0, atol=4 * sensitivity
    )


def test_sophia_gets_the_batch_loss_as_obj_fn():
    # jd.run against optax's own loop, where obj_fn is the objective (full batch): the
    # same iterates (float rounding: one is compiled as a scan, the other op by op).
    opt = optax.contrib.sophia(LR, update_interval=1, weight_decay=0.0)
    tr = jd.run(PROBLEM, opt, steps=STEPS, log_every=STEPS)
    x = PROBLEM.initial_params(jax.random.key(0))
    state = opt.init(x)
    for _ in range(STEPS):
        g = jax.grad(PROBLEM.objective)(x)
        updates, state = opt.update(g, state, x, obj_fn=PROBLEM.objective)
        x = optax.apply_updates(x, updates)
    np.testing.assert_allclose(np.asarray(tr.final_params), np.asarray(x), rtol=1e-12)
    assert float(tr.final_loss) < float(tr.loss[0])


def _checking_sgd(lr, check_obj_fn=True):
    """SGD whose update is NaN unless its extra arguments all describe the gradient's
    own batch: ``value`` = value_fn(x) = obj_fn(x), and ``grad`` = the gradient of
    obj_fn at x = the gradient it is given."""

    def update(grads, state, params, *, value, grad, value_fn, obj_fn, **unused):
        fn = obj_fn if check_obj_fn else value_fn
        v, g = jax.value_and_grad(fn)(params)
        same = (
            (jnp.abs(v - value) <= 1e-12 * jnp.abs(value))
            & (value_fn(params) == value)
            & jnp.all(jnp.abs(g - grads) <= 1e-12 * (1 + jnp.abs(grads)))
            & jnp.all(grad == grads)
        )
        return jnp.where(same, -lr * grads, jnp.nan), state

    return optax.GradientTransformationExtraArgs(lambda p: optax.EmptyState(), update)


def test_extra_args_describe_the_same_minibatch():
    # A sampled oracle (minibatches of 2 of 6 examples): every step's value, grad,
    # value_fn and obj_fn are of the batch whose gradient the step takes. The check
    # fails (NaN: diverged) as soon as one of them is the full objective instead.
    x = jnp.arange(1.0, 7.0)
    p = jd.problems.linear_regression(x, 2 * x + jnp.sin(x))
    oracle = jd.oracles.minibatch(2)
    tr = jd.run(p, _checking_sgd(0.01), steps=12, oracle=oracle)
    assert not bool(tr.diverged) and float(tr.final_loss) < float(tr.loss[0])
    full = optax.GradientTransformationExtraArgs(
        lambda params: optax.EmptyState(),
        lambda g, s, params, **kw: _checking_sgd(0.01).update(
            g, s, params, **{**kw, "obj_fn": p.objective}
        ),
    )
    assert bool(jd.run(p, full, steps=12, oracle=oracle).diverged)
