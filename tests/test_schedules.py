"""Tests for jaxdescent.schedules: hand values, optax equivalence, tracing behaviour."""

import jax

jax.config.update("jax_enable_x64", True)

import doctest  # noqa: E402
import math  # noqa: E402

import chex  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

from jaxdescent import schedules  # noqa: E402

COUNTS = jnp.arange(0, 400)


def _optax_values(schedule, counts=COUNTS):
    """Evaluates an optax schedule on every count, calling it with scalar counts as optax does."""
    return np.asarray(jax.jit(jax.vmap(schedule))(counts))


def _ours(schedule, counts=COUNTS):
    return np.asarray(schedule(counts))


# --------------------------------------------------------------------------- hand values


def test_constant_hand_values_and_shape():
    sched = schedules.constant(0.3)
    out = sched(jnp.arange(5))
    assert out.shape == (5,)
    np.testing.assert_array_equal(out, [0.3] * 5)
    assert sched(7).shape == ()
    assert jnp.issubdtype(schedules.constant(1)(0).dtype, jnp.floating)


def test_piecewise_constant_hand_values():
    sched = schedules.piecewise_constant((3, 5), [1.0, 0.1, 0.01])
    expected = [1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01, 0.01]
    np.testing.assert_array_equal(sched(jnp.arange(8)), expected)
    for c, e in enumerate(expected):
        assert float(sched(c)) == e
    # No boundaries: a constant schedule.
    np.testing.assert_array_equal(schedules.piecewise_constant([], [0.5])(jnp.arange(3)), 0.5)
    # Values may be given as an array.
    sched = schedules.piecewise_constant([1], jnp.array([2.0, 0.0]))
    np.testing.assert_array_equal(sched(jnp.arange(3)), [2.0, 0.0, 0.0])


def test_exponential_hand_values():
    sched = schedules.exponential(0.5, 0.2)
    for c in range(6):
        assert float(sched(c)) == pytest.approx(0.5 * math.exp(-0.2 * c), rel=1e-15)
    sched = schedules.exponential(0.5, 0.2, offset=3)
    assert float(sched(1)) == pytest.approx(0.5 * math.exp(-0.2 * 4), rel=1e-15)


def test_polynomial_hand_values():
    sched = schedules.polynomial(2.0, alpha=0.5, beta=0.1)
    for c in range(6):
        assert float(sched(c)) == pytest.approx(2.0 * (0.1 * c + 1) ** -0.5, rel=1e-15)
    sched = schedules.polynomial(1.0, alpha=2.0, beta=1.0)
    np.testing.assert_allclose(sched(jnp.arange(4)), [1.0, 1 / 4, 1 / 9, 1 / 16], rtol=1e-15)


def test_inverse_sqrt_hand_values_and_polynomial_identity():
    sched = schedules.inverse_sqrt(3.0, timescale=4.0)
    for c in range(6):
        assert float(sched(c)) == pytest.approx(3.0 / math.sqrt(1 + c / 4.0), rel=1e-15)
    np.testing.assert_allclose(
        schedules.inverse_sqrt(3.0, 4.0, offset=2)(COUNTS),
        schedules.polynomial(3.0, 0.5, 0.25, offset=2)(COUNTS),
        rtol=1e-14,
    )


def test_cosine_hand_values():
    sched = schedules.cosine(1.0, steps=4, final=0.2)
    expected = [0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * c / 4)) for c in range(5)] + [0.2]
    np.testing.assert_allclose(sched(jnp.arange(6)), expected, rtol=1e-15)
    sched = schedules.cosine(2.0, steps=7, final=0.0, warmup=3)
    hand = [0.0, 2 / 3, 4 / 3, 2.0, 2 * 0.5 * (1 + math.cos(math.pi / 4)), 1.0]
    hand += [2 * 0.5 * (1 + math.cos(3 * math.pi / 4)), 0.0, 0.0]
    np.testing.assert_allclose(sched(jnp.arange(9)), hand, rtol=1e-15, atol=1e-15)


def test_warmup_hand_values():
    inner = schedules.exponential(1.0, 0.5)
    sched = schedules.warmup(inner, steps=4, start=0.2)
    hand = [0.2, 0.4, 0.6, 0.8, 1.0, math.exp(-0.5), math.exp(-1.0)]
    np.testing.assert_allclose(sched(jnp.arange(7)), hand, rtol=1e-15)
    # steps=0 leaves the schedule unchanged.
    np.testing.assert_array_equal(schedules.warmup(inner, 0)(COUNTS), inner(COUNTS))


def test_optimal_convex_value():
    sched = schedules.optimal_convex(r=3.0, G=2.0, steps=16)
    np.testing.assert_allclose(sched(jnp.arange(5)), 3.0 / (2.0 * 4.0), rtol=1e-15)


# --------------------------------------------------------------------------- d2l reproduction


def _d2l_sequence(lr_fn_factory, steps):
    """Re-implements d2l's loop: a global t = 1, incremented before each use of the rate."""
    state = {"t": 1}

    def lr():
        state["t"] += 1
        return lr_fn_factory(state["t"])

    return [lr() for _ in range(steps)]


def test_exponential_offset_reproduces_d2l():
    d2l = _d2l_sequence(lambda t: math.exp(-0.1 * t), 1000)
    ours = schedules.exponential(1.0, 0.1, offset=2)(jnp.arange(1000))
    np.testing.assert_allclose(ours, d2l, rtol=1e-13)


def test_polynomial_offset_reproduces_d2l():
    d2l = _d2l_sequence(lambda t: (1 + 0.1 * t) ** (-0.5), 1000)
    ours = schedules.polynomial(1.0, alpha=0.5, beta=0.1, offset=2)(jnp.arange(1000))
    np.testing.assert_allclose(ours, d2l, rtol=1e-13)


# --------------------------------------------------------------------------- optax equivalence


def test_constant_matches_optax():
    np.testing.assert_array_equal(
        _ours(schedules.constant(0.07)), _optax_values(optax.constant_schedule(0.07))
    )


@pytest.mark.parametrize(
    "boundaries, values",
    [((10, 50, 200), [0.3, 0.1, 0.02, 0.005]), ((1,), [1.0, 2.0]), ((), [0.4])],
)
def test_piecewise_constant_matches_optax(boundaries, values):
    scales = {b: values[i + 1] / values[i] for i, b in enumerate(boundaries)}
    reference = optax.piecewise_constant_schedule(values[0], scales or None)
    np.testing.assert_allclose(
        _ours(schedules.piecewise_constant(boundaries, values)),
        _optax_values(reference),
        rtol=1e-14,
    )


@pytest.mark.parametrize("rate", [0.0, 0.01, 0.3])
@pytest.mark.parametrize("offset", [0, 2])
def test_exponential_matches_optax(rate, offset):
    reference = optax.exponential_decay(
        0.2 * math.exp(-rate * offset), transition_steps=1, decay_rate=math.exp(-rate)
    )
    np.testing.assert_allclose(
        _ours(schedules.exponential(0.2, rate, offset=offset)),
        _optax_values(reference),
        rtol=1e-12,
    )


def test_polynomial_degenerate_cases_match_optax():
    np.testing.assert_allclose(
        _ours(schedules.polynomial(0.3, alpha=0.0, beta=0.7)),
        _optax_values(optax.constant_schedule(0.3)),
        rtol=1e-15,
    )
    horizon = 400
    reference = optax.linear_schedule(0.3, 0.3 * (1 + 0.05 * horizon), horizon)
    np.testing.assert_allclose(
        _ours(schedules.polynomial(0.3, alpha=-1.0, beta=0.05)),
        _optax_values(reference),
        rtol=1e-13,
    )


@pytest.mark.parametrize("final", [0.0, 0.01])
def test_cosine_matches_optax(final):
    reference = optax.cosine_decay_schedule(0.5, 300, alpha=final / 0.5)
    np.testing.assert_allclose(
        _ours(schedules.cosine(0.5, 300, final)),
        _optax_values(reference),
        rtol=1e-13,
        atol=1e-15,
    )


@pytest.mark.parametrize("final", [0.0, 0.01])
def test_warmup_cosine_matches_optax(final):
    reference = optax.warmup_cosine_decay_schedule(0.0, 0.5, 40, 300, final)
    ours = schedules.cosine(0.5, 300, final, warmup=40)
    np.testing.assert_allclose(_ours(ours), _optax_values(reference), rtol=1e-13, atol=1e-15)
    # The same schedule written with this module's warmup wrapper.
    wrapped = schedules.warmup(schedules.cosine(0.5, 260, final), 40)
    np.testing.assert_allclose(ours(COUNTS), wrapped(COUNTS), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("start", [0.0, 0.05])
def test_warmup_matches_optax_join(start):
    inner = schedules.polynomial(0.4, 0.5, 0.1)
    reference = optax.join_schedules(
        [optax.linear_schedule(start, float(inner(0)), 25), inner], [25]
    )
    np.testing.assert_allclose(
        _ours(schedules.warmup(inner, 25, start=start)), _optax_values(reference), rtol=1e-14
    )


def test_optimal_convex_matches_optax_constant():
    reference = optax.constant_schedule(2.0 / (0.5 * math.sqrt(100)))
    np.testing.assert_allclose(
        _ours(schedules.optimal_convex(2.0, 0.5, 100)), _optax_values(reference), rtol=1e-15
    )


def test_schedule_drives_optax_sgd():
    """A schedule works as the learning rate of an optax optimizer (count starts at 0)."""
    sched = schedules.exponential(0.1, 0.2)
    opt = optax.sgd(sched)
    x = jnp.array(3.0)
    state = opt.init(x)
    manual = 3.0
    for k in range(5):
        grad = 2 * x
        updates, state = opt.update(grad, state)
        x = optax.apply_updates(x, updates)
        manual = manual - 0.1 * math.exp(-0.2 * k) * 2 * manual
        assert float(x) == pytest.approx(manual, rel=1e-14)


# --------------------------------------------------------------------------- tracing


def test_vmap_over_rate_and_eta_equals_loop():
    rates = jnp.array([0.0, 0.01, 0.1, 1.0])
    etas = jnp.array([0.5, 0.1, 0.2, 1.0])
    counts = jnp.arange(100)
    by_rate = jax.vmap(lambda r: schedules.exponential(0.1, r)(counts))(rates)
    by_eta = jax.vmap(lambda e: schedules.exponential(e, 0.1)(counts))(etas)
    for i in range(4):
        np.testing.assert_array_equal(
            by_rate[i], schedules.exponential(0.1, float(rates[i]))(counts)
        )
        np.testing.assert_array_equal(by_eta[i], schedules.exponential(float(etas[i]), 0.1)(counts))
    assert by_rate.shape == by_eta.shape == (4, 100)


@pytest.mark.parametrize(
    "family",
    [
        lambda p: schedules.constant(p),
        lambda p: schedules.piecewise_constant([5, 20], jnp.stack([p, p / 2, p / 4])),
        lambda p: schedules.exponential(0.3, p, offset=p),
        lambda p: schedules.polynomial(0.3, alpha=p, beta=p),
        lambda p: schedules.inverse_sqrt(p, timescale=p),
        lambda p: schedules.cosine(p, 50, final=p / 10, warmup=5),
        lambda p: schedules.warmup(schedules.exponential(p, p), 10, start=p / 3),
        lambda p: schedules.optimal_convex(p, 2 * p, 10 * p),
    ],
)
def test_every_parameter_can_be_vmapped(family):
    params = jnp.array([0.1, 0.5, 2.0])
    counts = jnp.arange(60)
    batched = jax.vmap(lambda p: family(p)(counts))(params)
    assert batched.shape == (3, 60)
    for i, p in enumerate(params.tolist()):
        np.testing.assert_allclose(batched[i], family(p)(counts), rtol=1e-14)
    assert np.all(np.isfinite(batched))


def test_jit_traces_once_for_different_parameter_values():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def values(eta, rate, final):
        counts = jnp.arange(30)
        return (
            schedules.exponential(eta, rate)(counts)
            + schedules.cosine(eta, 20, final, warmup=3)(counts)
            + schedules.piecewise_constant([4, 9], jnp.stack([eta, rate, final]))(counts)
            + schedules.warmup(schedules.polynomial(eta, rate, final), 5)(counts)
        )

    for eta, rate, final in [(0.1, 0.2, 0.0), (0.3, 0.01, 0.05), (1.0, 1.0, 1.0)]:
        expected = (
            schedules.exponential(eta, rate)(jnp.arange(30))
            + schedules.cosine(eta, 20, final, warmup=3)(jnp.arange(30))
            + schedules.piecewise_constant([4, 9], [eta, rate, final])(jnp.arange(30))
            + schedules.warmup(schedules.polynomial(eta, rate, final), 5)(jnp.arange(30))
        )
        np.testing.assert_allclose(values(eta, rate, final), expected, rtol=1e-14)


def test_traced_scalar_count():
    sched = schedules.cosine(1.0, 10, warmup=2)
    jitted = jax.jit(sched)
    for c in range(12):
        assert float(jitted(c)) == pytest.approx(float(sched(c)), rel=1e-15, abs=1e-16)


def test_gradient_through_warmup_is_finite():
    # The unused branch of the warmup sees a clamped count, so no NaN leaks into gradients.
    def total(alpha):
        inner = schedules.polynomial(1.0, alpha=alpha, beta=2.0)
        return jnp.sum(schedules.warmup(inner, 5)(jnp.arange(20)))

    grad = jax.grad(total)(0.5)
    assert np.isfinite(grad)
    d_rate = jax.grad(lambda r: schedules.exponential(0.1, r)(5))(0.3)
    assert float(d_rate) == pytest.approx(-0.1 * 5 * math.exp(-1.5), rel=1e-14)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: schedules.piecewise_constant([5, 3], [1.0, 2.0, 3.0]), "strictly increasing"),
        (lambda: schedules.piecewise_constant([5, 5], [1.0, 2.0, 3.0]), "strictly increasing"),
        (lambda: schedules.piecewise_constant([2.5], [1.0, 2.0]), r"boundaries\[0\]"),
        (lambda: schedules.piecewise_constant(jnp.array([2, 4]), [1.0, 2.0, 3.0]), "sequence"),
        (lambda: schedules.piecewise_constant([2, 4], [1.0, 2.0]), "len\\(boundaries\\) \\+ 1"),
        (lambda: schedules.cosine(1.0, 0), "`steps` must be >= 1"),
        (lambda: schedules.cosine(1.0, 10.0), "static Python int"),
        (lambda: schedules.cosine(1.0, 10, warmup=10), "smaller than `steps`"),
        (lambda: schedules.cosine(1.0, 10, warmup=-1), "`warmup` must be >= 0"),
        (lambda: schedules.warmup(schedules.constant(1.0), -2), "`steps` must be >= 0"),
        (lambda: schedules.warmup(0.1, 5), "callable"),
        (lambda: schedules.optimal_convex(1.0, 1.0, 0), "positive"),
    ],
)
def test_bad_static_input_raises(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_traced_static_argument_raises_clear_error():
    with pytest.raises(ValueError, match="static Python int"):
        jax.jit(lambda n: schedules.cosine(1.0, n)(0))(10)


def test_docstring_examples_run():
    failures, tried = doctest.testmod(schedules)
    assert tried > 0
    assert failures == 0
