"""`jd.run` under JAX transformations (jit, vmap, grad, jvp) and `jd.hypergrad`.

Everything runs on d2l's quadratic f = x1^2 + 2 x2^2 from (-5, -2), where full-batch
gradient descent has a closed form: x_T,i = (1 - 2 s_i lr)^T x_0,i, so
f(x_T) = sum_i s_i x_0,i^2 (1 - 2 s_i lr)^(2T) and its derivatives in lr are exact by
hand. float64 throughout (conftest).
"""

import operator

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd
from jaxdescent import compiler

QUAD = jd.problems.quadratic()  # scales (1, 2), init (-5, -2)
S = np.array([1.0, 2.0])
X0 = np.array([-5.0, -2.0])
T = 20
LR = 0.05
NOISE = jd.oracles.gaussian_noise(1.0)
# Runs under a transformation are compiled without jaxdescent's compile options (as
# part of the caller's program), so they may round differently from a top-level run:
# measured, at most 2e-16 relative (one ulp) on these runs.
ROUNDING = 1e-13


def gd_loss_derivative(lr, k):
    """The k-th derivative in lr of f(x_T) for full-batch GD (closed form)."""
    n = 2 * T
    falling = np.prod([n - j for j in range(k)])  # n (n-1) ... (n-k+1)
    return np.sum(S * X0**2 * falling * (-2 * S) ** k * (1 - 2 * S * lr) ** (n - k))


def final_loss(lr, oracle=None):
    return jd.run(QUAD, optax.sgd(lr), steps=T, oracle=oracle, key=jax.random.key(3)).final_loss


def assert_traces_close(a, b, rtol=ROUNDING):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=0), a, b)


# ------------------------------------------------------------------- trace detection


TRANSFORMATIONS = {
    "jit": lambda f: jax.jit(f)(1.0),
    "vmap": lambda f: jax.vmap(f)(jnp.ones(2)),
    "grad": lambda f: jax.grad(f)(1.0),
    "jvp": lambda f: jax.jvp(f, (1.0,), (1.0,)),
    "vjp": lambda f: jax.vjp(f, 1.0),
    "linearize": lambda f: jax.linearize(f, 1.0),
    "eval_shape": lambda f: jax.eval_shape(f, 1.0),
    "scan": lambda f: jax.lax.scan(lambda c, _: (f(c), None), 1.0, None, length=2),
    "checkpoint": lambda f: jax.checkpoint(f)(1.0),
    "grad of vmap": lambda f: jax.grad(lambda x: jax.vmap(f)(x * jnp.ones(2)).sum())(1.0),
}


@pytest.mark.parametrize("transform", TRANSFORMATIONS.values(), ids=TRANSFORMATIONS.keys())
def test_tracing_is_true_under_every_transformation(transform):
    seen = []

    def probe(x):  # a new function per test: no trace cached from another
        seen.append(compiler.tracing())
        return x * x

    assert compiler.tracing() is False
    transform(probe)
    assert seen and all(seen)
    assert compiler.tracing() is False  # nothing left behind


def test_tracing_is_false_at_jax_top_level():
    assert compiler.tracing() is False
    with jax.core.eval_context():  # JAX's top level again, even inside a trace
        assert compiler.tracing() is False
    assert jax.jit(lambda: jnp.asarray(compiler.tracing()))()


def test_entry_point_keeps_the_options_program_for_top_level_calls():
    square = compiler.entry_point(lambda x: x * x)
    top = square("cpu")  # compiled with compiler.options("cpu"), cached
    assert square("cpu") is top
    nested = []
    assert jax.grad(lambda x: nested.append(square("cpu")) or square("cpu")(x))(3.0) == 6.0
    assert nested[0] is not top  # a plain jax.jit: a nested jit may carry no options
    assert square("cpu") is top  # a traced call leaves the top-level program alone


# ------------------------------------------------------------------ jd.run under jax.*


def test_run_under_jit_equals_the_top_level_run():
    top = jd.run(QUAD, optax.sgd(LR), steps=T)
    # the optimizer built inside the user's jit: nothing traced among the arguments
    assert_traces_close(jax.jit(lambda: jd.run(QUAD, optax.sgd(LR), steps=T))(), top)
    # the problem built from traced arrays inside the jit (its checks skip tracers)
    by_scales = jax.jit(lambda s, x0: jd.run(jd.problems.quadratic(s, x0), optax.sgd(LR), steps=T))(
        jnp.asarray(S), jnp.asarray(X0)
    )
    assert_traces_close(by_scales, top)


def test_run_under_vmap_over_learning_rates_and_keys():
    lrs = jnp.array([0.02, LR])
    runs = jax.vmap(lambda lr: jd.run(QUAD, optax.sgd(lr), steps=T))(lrs)
    assert_traces_close(
        jax.tree.map(operator.itemgetter(1), runs), jd.run(QUAD, optax.sgd(LR), steps=T)
    )
    t = np.arange(T + 1)[:, None]
    exact = np.sum(S * X0**2 * (1 - 2 * S * np.asarray(lrs)[:, None, None]) ** (2 * t), -1)
    np.testing.assert_allclose(runs.loss, exact, rtol=1e-12)  # both rates: GD's closed form
    keys = jax.random.split(jax.random.key(0), 3)
    opt = optax.sgd(LR)
    noisy = jax.vmap(lambda k: jd.run(QUAD, opt, steps=T, oracle=NOISE, key=k))(keys)
    for i in range(3):
        one = jd.run(QUAD, opt, steps=T, oracle=NOISE, key=keys[i])
        assert_traces_close(jax.tree.map(operator.itemgetter(i), noisy), one)


def test_grad_and_jvp_of_run_equal_the_closed_form_for_gd():
    assert float(final_loss(LR)) == pytest.approx(gd_loss_derivative(LR, 0), rel=1e-13)
    # the learning rate is traced only inside the optimizer's closure
    exact = gd_loss_derivative(LR, 1)
    np.testing.assert_allclose(jax.grad(final_loss)(LR), exact, rtol=1e-12)
    np.testing.assert_allclose(jax.jvp(final_loss, (LR,), (1.0,))[1], exact, rtol=1e-12)


@pytest.mark.parametrize("oracle", [None, NOISE], ids=["full_batch", "gaussian_noise"])
def test_hypergradient_equals_central_finite_difference(oracle):
    # The run is a deterministic function of lr (the noise depends on key and step).
    # FD step: the truncation error h^2 f'''/6 is 1.2e-9 relative at h = 1e-6
    # (measured: it falls as h^2 from 1.2e-7 at 1e-5), rounding about 1e-12.
    h = 1e-6
    f = jax.jit(lambda lr: final_loss(lr, oracle))
    fd = (f(LR + h) - f(LR - h)) / (2 * h)
    grad = jax.grad(lambda lr: final_loss(lr, oracle))(LR)
    np.testing.assert_allclose(grad, fd, rtol=1e-7)  # the brief asks 1e-5
    if oracle is not None:  # the noise changes the path: not the GD gradient
        assert abs(grad - gd_loss_derivative(LR, 1)) > 1e-3


def test_grad_through_a_schedule_parameter():
    def make(lr, rate):
        return optax.sgd(jd.schedules.exponential(lr, rate))

    point = {"lr": LR, "rate": 0.05}
    value, grad = jd.hypergrad(QUAD, make, point, steps=T)
    f = jax.jit(lambda lr, rate: jd.run(QUAD, make(lr, rate), steps=T).final_loss)
    np.testing.assert_allclose(value, f(LR, 0.05), rtol=ROUNDING)
    h = 1e-6
    fd_lr = (f(LR + h, 0.05) - f(LR - h, 0.05)) / (2 * h)
    fd_rate = (f(LR, 0.05 + h) - f(LR, 0.05 - h)) / (2 * h)
    np.testing.assert_allclose(grad["lr"], fd_lr, rtol=1e-7)
    np.testing.assert_allclose(grad["rate"], fd_rate, rtol=1e-7)
    assert grad["rate"] > 0  # decaying faster leaves more loss


# ---------------------------------------------------------------------- jd.hypergrad


def test_hypergrad_is_the_run_and_its_closed_form_and_compiles_once(compiles):
    value, grad = jd.hypergrad(QUAD, optax.sgd, LR, steps=T)
    np.testing.assert_allclose(value, jd.run(QUAD, optax.sgd(LR), steps=T).final_loss, rtol=1e-13)
    np.testing.assert_allclose(grad, gd_loss_derivative(LR, 1), rtol=1e-12)
    other = jd.problems.quadratic((1.0, 3.0), (1.0, 1.0))  # same shapes: same program
    with compiles.count():
        again = jd.hypergrad(QUAD, optax.sgd, 0.02, steps=T)
        jd.hypergrad(other, optax.sgd, LR, steps=T, key=1)
    assert compiles.n == 0
    np.testing.assert_allclose(again.grad, gd_loss_derivative(0.02, 1), rtol=1e-12)


def test_hypergrad_of_a_curve_objective():
    # the mean of the logged losses f(x_0), ..., f(x_T), each in closed form
    value, grad = jd.hypergrad(
        QUAD, optax.sgd, LR, steps=T, log_every=1, objective=lambda tr: tr.loss.mean()
    )
    t = np.arange(T + 1)[:, None]
    q = 1 - 2 * S * LR
    np.testing.assert_allclose(value, np.mean(np.sum(S * X0**2 * q ** (2 * t), -1)), rtol=1e-13)
    slope = S * X0**2 * 2 * t * q ** (2 * t - 1) * (-2 * S)
    np.testing.assert_allclose(grad, np.mean(np.sum(slope, -1)), rtol=1e-12)


def test_hypergrad_agrees_with_the_slope_of_a_sweep():
    # np.gradient of a sweep's final loss over a fine grid is a central difference at
    # the grid's spacing h: its error is h^2 f'''/6 (closed form), far above rounding.
    h = 2.5e-4
    lrs = LR + h * np.arange(-20, 21)
    res = jd.sweep(QUAD, lambda lr: optax.sgd(lr), {"lr": lrs}, seeds=1, steps=T, log_every=T)
    slope = np.gradient(res.final_loss.mean(axis=-1), lrs)[1:-1]  # ends are one-sided
    grads = jax.vmap(lambda lr: jd.hypergrad(QUAD, optax.sgd, lr, steps=T).grad)(lrs)
    # |f'''| is monotone on the grid: its largest value within h of each point
    f3 = np.abs([gd_loss_derivative(lr, 3) for lr in lrs])
    tol = 1.5 * h**2 / 6 * np.maximum(f3[:-2], f3[2:])
    err = np.abs(slope - np.asarray(grads[1:-1]))
    assert np.all(err <= tol), np.max(err / tol)  # measured: err = 0.98 h^2 |f'''| / 6
    assert np.all(tol < 2e-4 * np.abs(grads[1:-1]))  # a fine grid: 2e-4 relative or better


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(hyperparams=[0.1, 0.2]), TypeError, "`hyperparams` must be a real number"),
        (dict(hyperparams=jnp.ones(2)), ValueError, "must be a scalar"),
        (dict(hyperparams=True), TypeError, "`hyperparams` must be a real number"),
        (dict(hyperparams={}), ValueError, "empty dict"),
        (dict(hyperparams={"lr": 0.1, "beta": 0.5}), TypeError, "cannot be called with"),
        (dict(make_optimizer=optax.sgd(0.1)), TypeError, "`make_optimizer` must be a function"),
        (dict(make_optimizer=lambda lr: lr), TypeError, "GradientTransformation"),
        (dict(log_every=3), ValueError, "must divide `steps`"),
        (dict(objective="loss"), ValueError, "`objective` must be 'final_loss'"),
        (dict(objective=lambda tr: tr.loss), ValueError, "must return a real scalar"),
        # (gaussian_noise(-1.0) is refused when built now; an oracle the problem cannot serve)
        (dict(oracle=jd.oracles.per_sample()), ValueError, "the problem has no `data`"),
    ],
)
def test_hypergrad_checks_its_arguments(kwargs, error, match):
    args = dict(make_optimizer=lambda lr: optax.sgd(lr), hyperparams=LR, steps=T, log_every=1)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        jd.hypergrad(QUAD, **args)


def test_a_sweep_inside_a_transformation_is_a_clear_error():
    def f(lr):
        res = jd.sweep(jd.problems.quadratic(), lambda a: optax.sgd(a * lr), {"a": [1.0]},
                       steps=5, progress=False)  # fmt: skip
        return res.final_loss

    for transform in (jax.jit, jax.grad):
        with pytest.raises(TypeError, match="cannot run inside a JAX transformation"):
            transform(f)(0.1)
