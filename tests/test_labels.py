"""Labels that tell the truth: axes keep the values as given (float64 / int64 / the
objects), `sel` matches them exactly, static axes by identity first, values that do
not fit the traced dtype are refused before compiling, saved results keep the labels;
and the analysis verbs on 1-, 2- and 3-axis results with static axes."""

import jax
import numpy as np
import optax
import pytest

import jaxdescent as jd
from jaxdescent.trace import Trace

QUAD = jd.problems.quadratic()


def fast(t):
    return 1.0


def slow(t):
    return 0.1


# --- exact labels, whatever precision the sweep computes in ----------------------------


def test_float32_sweep_keeps_float64_labels(float32):
    quad = jd.problems.quadratic()  # float32 init
    res = jd.sweep(quad, lambda lr: optax.sgd(lr), {"lr": [1e-3, 0.1]}, seeds=2, steps=4)
    assert res.loss.dtype == np.float32  # computed in float32
    assert res.axes["lr"].dtype == np.float64
    assert res.axes["lr"][0] == 1e-3  # not float32(1e-3) = 0.0010000000474974513
    assert res.axes["lr"].tolist() == [1e-3, 0.1]
    cell = res.sel(lr=1e-3, seed=1)
    tr = jd.run(quad, optax.sgd(1e-3), steps=4)
    np.testing.assert_allclose(cell.loss, tr.loss, rtol=1e-6)
    # float32(1e-3) is not the label 1e-3: refused, with the nearest label named
    with pytest.raises(ValueError, match=r"not on the axis.*nearest: 0\.001"):
        res.sel(lr=np.float32(1e-3))
    # float rounding of the user's own arithmetic still finds the label
    assert res.sel(lr=0.1 * 3 / 3, seed=0).loss.shape == (5,)
    np.testing.assert_array_equal(res.best("lr").values, 0.1)


def test_int_labels_are_int64_and_exact():
    res = jd.sweep(
        QUAD,
        lambda lr, k: optax.sgd(lr * (k > 0)),
        {"lr": [0.1], "k": [2**40, 3]},
        seeds=1,
        steps=2,
    )
    assert res.axes["k"].dtype == np.int64 and res.axes["k"].tolist() == [2**40, 3]
    assert res.sel(k=2**40, lr=0.1, seed=0).loss.shape == (3,)
    with pytest.raises(ValueError, match="not on the axis"):
        res.sel(k=2**40 + 1)


@pytest.mark.parametrize(
    "grid, words",
    [
        ({"lr": [0.1], "k": [2**32]}, ["grid['k']", "4294967296", "int32", "wrap"]),
        ({"lr": [0.1], "k": [-(2**31) - 1]}, ["grid['k']", "int32"]),
        ({"lr": [1e39]}, ["grid['lr']", "1e+39", "float32", "inf", "jax_enable_x64"]),
        ({"lr": [0.1, -1e-40]}, ["grid['lr']", "-1e-40", "float32", "become 0"]),
    ],
)
def test_values_that_do_not_fit_are_refused_before_compiling(float32, compiles, grid, words):
    with compiles.count(), pytest.raises(ValueError) as err:
        jd.sweep(QUAD, lambda lr, k=0: optax.sgd(lr), grid, steps=2)
    assert compiles.programs == 0
    for w in words:
        assert w in str(err.value)


def test_large_values_are_fine_in_float64(compiles):
    # x64 on: 2**32 fits int64, 1e39 fits float64
    g = jd.grid.make_grid({"k": [2**32], "lr": [1e39, 1e-300]})
    assert g.values["k"].dtype == np.int64 and g.values["k"][0] == 2**32
    assert g.values["lr"].tolist() == [1e39, 1e-300]


# --- static axes: identity first, ambiguity refused -----------------------------------


def test_two_lambdas_with_one_label():
    fast_l, slow_l = (lambda t: 1.0), (lambda t: 0.1)
    res = jd.sweep(
        QUAD,
        lambda lr, s: optax.sgd(lambda t: lr * s(t)),
        {"lr": [0.1], "s": [fast_l, slow_l]},
        seeds=1,
        steps=5,
    )
    want_slow = jd.run(QUAD, optax.sgd(lambda t: 0.1 * slow_l(t)), steps=5)
    want_fast = jd.run(QUAD, optax.sgd(lambda t: 0.1 * fast_l(t)), steps=5)
    got_slow = res.sel(s=slow_l, lr=0.1, seed=0)
    np.testing.assert_allclose(got_slow.final_loss, want_slow.final_loss, rtol=1e-12)
    np.testing.assert_allclose(res.sel(s=fast_l, lr=0.1, seed=0).loss, want_fast.loss, rtol=1e-12)
    assert float(want_slow.final_loss) > 2 * float(want_fast.final_loss)  # distinct cells
    assert res.sel(s=[slow_l, fast_l]).axes["s"] == (slow_l, fast_l)
    with pytest.raises(ValueError, match="ambiguous.*positions \\[0, 1\\]"):
        res.sel(s="<lambda>")
    with pytest.raises(ValueError, match="ambiguous"):
        res.sel(s=lambda t: 1.0)  # a third lambda: its label matches both


def test_static_values_match_by_equality_then_label():
    res = jd.sweep(
        QUAD,
        lambda lr, s, n: optax.sgd(lambda t: lr * s(t) / n),
        {"lr": [0.1], "s": [fast, slow], "n": jd.static([1, 2])},
        seeds=1,
        steps=3,
    )
    assert res.axes["n"] == (1, 2)
    a = res.sel(n=2, s="slow", lr=0.1, seed=0)  # equality; label of a named function
    b = res.sel(n=2.0, s=slow, lr=0.1, seed=0)
    np.testing.assert_array_equal(a.loss, b.loss)
    with pytest.raises(ValueError, match="not on the axis"):
        res.sel(n=3)


# --- saved results keep the labels ----------------------------------------------------


@pytest.mark.parametrize("suffix", ["npz", "zarr"])
def test_labels_round_trip(float32, tmp_path, suffix):
    path = str(tmp_path / f"r.{suffix}")
    grid = {"lr": [1e-3, 0.1], "s": [fast, slow], "n": jd.static([1, 2]), "k": [3]}
    make = lambda lr, s, n, k: optax.sgd(lambda t: lr * s(t) / n)  # noqa: E731
    res = jd.sweep(jd.problems.quadratic(), make, grid, seeds=2, steps=3, out=path)
    back = jd.load(path)
    for r in (res, back):
        assert r.axes["lr"].dtype == np.float64 and r.axes["lr"].tolist() == [1e-3, 0.1]
        assert r.axes["k"].dtype == np.int64 and r.axes["k"].tolist() == [3]
        assert r.axes["n"] == (1, 2) and type(r.axes["n"][0]) is int
    assert back.axes["s"] == ("fast", "slow")  # functions come back as their labels
    np.testing.assert_array_equal(
        np.asarray(back.sel(lr=1e-3, s="slow", n=2, k=3, seed=1).loss),
        np.asarray(res.sel(lr=1e-3, s=slow, n=2, k=3, seed=1).loss),
    )
    again = str(tmp_path / "again.npz")
    back.load().save(again)
    assert jd.load(again).axes["lr"].tolist() == [1e-3, 0.1]


def test_loaded_lambdas_are_ambiguous(tmp_path):
    res = jd.sweep(
        QUAD,
        lambda lr, s: optax.sgd(lambda t: lr * s(t)),
        {"lr": [0.1], "s": [lambda t: 1.0, lambda t: 0.5]},
        seeds=1,
        steps=2,
    )
    res.save(tmp_path / "r.npz")
    back = jd.load(tmp_path / "r.npz")
    assert back.axes["s"] == ("<lambda>", "<lambda>")
    with pytest.raises(ValueError, match="ambiguous"):
        back.sel(s="<lambda>")
    assert back.isel(s=1, lr=0, seed=0).loss.shape == (3,)


# --- the analysis verbs on 1-, 2- and 3-axis results ----------------------------------


def synthetic(axes: dict, final: np.ndarray, diverged=None) -> jd.SweepResult:
    """A result whose loss falls linearly from 10 to ``final`` over 3 logged steps."""
    final = np.asarray(final, dtype=float)
    loss = np.stack([np.full_like(final, 10.0), (10.0 + final) / 2, final], axis=-1)
    div = np.zeros(final.shape, bool) if diverged is None else np.asarray(diverged)
    return jd.SweepResult.of(
        axes,
        {},
        step=np.arange(3),
        loss=loss,
        grad_norm=loss,
        params=None,
        metrics={"twice": 2 * loss},
        final_params=final[..., None],
        final_loss=final,
        diverged=div,
        diverged_at=np.where(div, 1, -1),
    )


def one_axis():
    # one grid axis (lr) and seeds: the most common sweep
    final = np.array([[4.0, 6.0], [1.0, 9.0], [3.0, 3.0]])  # (lr, seed)
    return synthetic({"lr": np.array([0.01, 0.1, 1.0]), "seed": np.array([0, 1])}, final)


def test_one_axis_verbs():
    r = one_axis()
    b = r.best("lr")  # medians 5, 5, 3 -> lr = 1.0
    assert float(b.values) == 1.0 and int(b.index) == 2 and float(b.score) == 3.0
    assert b.result.axes == {"seed": r.axes["seed"]}
    np.testing.assert_array_equal(b.result.final_loss, [3.0, 3.0])
    b = r.best("lr", reduce="mean")  # means 5, 5, 3
    assert float(b.values) == 1.0
    b = r.best("lr", metric="twice")  # twice the final loss: the same choice
    assert float(b.score) == 6.0
    m = r.mean("seed")
    np.testing.assert_array_equal(m.final_loss, [5.0, 5.0, 3.0])
    assert list(m.axes) == ["lr"]
    t = r.mean("lr")
    np.testing.assert_allclose(t.final_loss, [8 / 3, 6.0])
    all_gone = m.mean("lr")  # the last axis: a Trace
    assert isinstance(all_gone, Trace) and float(all_gone.final_loss) == 13 / 3
    q = r.quantile([0.0, 1.0])
    np.testing.assert_array_equal(q.final_loss, [[4.0, 1.0, 3.0], [6.0, 9.0, 3.0]])
    np.testing.assert_array_equal(r.quantile(0.5, axis="lr").final_loss, [3.0, 6.0])
    np.testing.assert_array_equal(r.unstable(), np.zeros((3, 2), bool))
    np.testing.assert_array_equal(
        r.unstable(factor=0.5), [[False, True], [False, True]] + [[False, False]]
    )
    assert isinstance(r.sel(lr=0.1, seed=1), Trace)
    assert float(r.sel(lr=0.1, seed=1).final_loss) == 9.0
    assert r.isel(lr=[2, 0]).axes["lr"].tolist() == [1.0, 0.01]
    assert r.isel(lr=slice(1, None)).final_loss.shape == (2, 2)
    # one seed selected: best scores each configuration by its one run
    assert float(r.sel(seed=1).best("lr").values) == 1.0  # 6, 9, 3


def test_best_ignores_diverged_runs_and_all_diverged_scores_inf():
    final = np.array([[1.0, 2.0], [0.5, 0.1]])
    r = synthetic(
        {"lr": np.array([0.1, 0.2]), "seed": np.array([0, 1])},
        final,
        diverged=[[False, False], [True, True]],
    )
    b = r.best("lr")
    assert float(b.values) == 0.1 and float(b.score) == 1.5


def two_static_axes():
    # (opt: static objects, lr, seed) with hand values
    final = np.array(
        [
            [[5.0, 7.0], [2.0, 2.0], [9.0, 9.0]],  # opt = fast
            [[1.0, 3.0], [4.0, 4.0], [8.0, 8.0]],  # opt = slow
        ]
    )
    axes = {"opt": (fast, slow), "lr": np.array([0.01, 0.1, 1.0]), "seed": np.array([3, 4])}
    return synthetic(axes, final)


def test_two_axis_verbs_with_a_static_axis():
    r = two_static_axes()
    b = r.best("lr")  # per opt: fast -> 0.1 (median 2), slow -> 0.01 (median 2)
    np.testing.assert_array_equal(b.values, [0.1, 0.01])
    np.testing.assert_array_equal(b.index, [1, 0])
    np.testing.assert_array_equal(b.score, [2.0, 2.0])
    assert b.result.axes["opt"] == (fast, slow)
    np.testing.assert_array_equal(b.result.final_loss, [[2.0, 2.0], [1.0, 3.0]])
    o = r.best("opt")  # per lr: medians (6 vs 2), (2 vs 4), (9 vs 8)
    assert o.values.dtype == object and list(o.values) == [slow, fast, slow]
    np.testing.assert_array_equal(o.score, [2.0, 2.0, 8.0])
    np.testing.assert_array_equal(r.mean("opt").final_loss, [[3.0, 5.0], [3.0, 3.0], [8.5, 8.5]])
    np.testing.assert_array_equal(r.sel(opt=slow, seed=4).final_loss, [3.0, 4.0, 8.0])
    np.testing.assert_array_equal(r.sel(opt="fast", lr=1.0).final_loss, [9.0, 9.0])
    assert r.isel(opt=[1]).axes["opt"] == (slow,)
    assert r.sel(opt=[slow, fast]).axes["opt"] == (slow, fast)
    assert r.unstable().shape == (2, 3, 2) and not r.unstable().any()


def test_three_axes_with_static_axes():
    rng = np.random.default_rng(0)
    final = rng.uniform(0.5, 5.0, size=(2, 3, 2, 4))  # (size, lr, s, seed)
    axes = {
        "size": (1, 8),
        "lr": np.array([0.01, 0.1, 1.0]),
        "s": ((1, 2), (3, 4)),  # tuples as static values
        "seed": np.arange(4),
    }
    r = synthetic(axes, final)
    b = r.best("lr")
    med = np.median(final, axis=-1)  # (size, lr, s)
    np.testing.assert_array_equal(b.index, np.argmin(med, axis=1))
    np.testing.assert_array_equal(b.values, axes["lr"][np.argmin(med, axis=1)])
    np.testing.assert_array_equal(b.score, np.min(med, axis=1))
    assert b.result.final_loss.shape == (2, 2, 4)
    s = r.best("s")
    assert s.values.shape == (2, 3) and s.values[0, 0] in axes["s"]
    assert s.values[0, 0] == axes["s"][int(np.argmin(med[0, 0]))]
    # a tuple that IS a static value selects it; a list of them keeps the axis
    np.testing.assert_array_equal(r.sel(s=(3, 4)).final_loss, final[:, :, 1])
    assert r.sel(s=[(3, 4), (1, 2)]).axes["s"] == ((3, 4), (1, 2))
    assert r.isel(s=slice(None, 1)).axes["s"] == ((1, 2),)
    np.testing.assert_allclose(r.mean("size").final_loss, final.mean(axis=0))
    np.testing.assert_allclose(r.quantile(0.25, "lr").final_loss, np.quantile(final, 0.25, 1))
    assert r.quantile([0.5]).axes["quantile"].tolist() == [0.5]
    np.testing.assert_array_equal(r.unstable(factor=0.1), final > 1.0)


def test_best_on_a_real_one_axis_sweep():
    # lr = 0.3 contracts the quadratic fastest of the three over 20 steps
    res = jd.sweep(QUAD, lambda lr: optax.sgd(lr), {"lr": [0.01, 0.1, 0.3]}, seeds=2, steps=20)
    b = res.best("lr")
    assert float(b.values) == 0.3 and int(b.index) == 2
    tr = jd.run(QUAD, optax.sgd(0.3), steps=20)
    np.testing.assert_allclose(b.result.final_loss, [tr.final_loss] * 2, rtol=1e-12)
    np.testing.assert_allclose(float(b.score), float(tr.final_loss), rtol=1e-12)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda r: r.best("lr", metric="nope"), ValueError, ["metric", "nope", "final_loss"]),
        (lambda r: r.best("lr", metric=3), ValueError, ["metric"]),
        (lambda r: r.best("lr", reduce="max"), ValueError, ["reduce", "median", "mean"]),
        (lambda r: r.best("seed"), ValueError, ["grid axis"]),
        (lambda r: r.best("momentum"), ValueError, ["unknown axis", "momentum"]),
        (lambda r: r.mean("nope"), ValueError, ["unknown axis"]),
        (lambda r: r.mean(0), TypeError, ["axis names are strings"]),
        (lambda r: r.quantile(1.5), ValueError, ["[0, 1]"]),
        (lambda r: r.quantile("a"), TypeError, ["q"]),
        (lambda r: r.quantile([[0.1]]), ValueError, ["1-D"]),
        (lambda r: r.unstable(factor=-1), ValueError, ["factor", "positive"]),
        (lambda r: r.unstable(factor=np.nan), ValueError, ["factor"]),
        (lambda r: r.unstable(factor="2"), ValueError, ["factor"]),
        (lambda r: r.isel(lr=1.5), TypeError, ["isel", "lr=", "sel(lr=...)"]),
        (lambda r: r.isel(lr=True), TypeError, ["isel"]),
        (lambda r: r.isel(lr="0"), TypeError, ["isel"]),
        (lambda r: r.isel(lr=[0, 1.0]), TypeError, ["list of ints"]),
        (lambda r: r.isel(lr=[[0]]), TypeError, ["1-D"]),
        (lambda r: r.isel(lr=3), IndexError, ["out of range", "3 values"]),
        (lambda r: r.isel(lr=[0, -4]), IndexError, ["out of range"]),
        (lambda r: r.sel(lr="0.1"), ValueError, ["numeric", "number"]),
        (lambda r: r.sel(lr=None), ValueError, ["numeric"]),
        (lambda r: r.sel(lr=0.5), ValueError, ["not on the axis", "nearest: 0.1"]),
        (lambda r: r.sel(rate=0.1), ValueError, ["unknown axis", "rate"]),
    ],
)
def test_verb_arguments_are_checked(call, exc, words):
    with pytest.raises(exc) as err:
        call(one_axis())
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_static_grid_values_passed_to_factories_are_the_objects():
    seen = []

    def make(lr, n):
        seen.append(n)
        return optax.sgd(lr / n)

    jd.sweep(QUAD, make, {"lr": [0.1], "n": jd.static([2, 3])}, steps=2)
    assert set(seen) == {2, 3} and all(type(n) is int for n in seen)
    assert jax.numpy.result_type(float) == np.float64
