"""`jd.validation`: held-out metrics, k-fold cross-validation as a sweep axis, early
stopping -- each checked against a direct computation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd
import jaxdescent.data as data
import jaxdescent.validation as validation

IRIS = data.load_iris(seed=0)
ALL_IRIS = data.load_iris(val=0.0, test=0.0, seed=0)  # all 150 examples in train
K = 4  # 150 % 4 = 2: the folds are padded


def softmax3(X, y):
    return jd.problems.softmax_regression(X, y, classes=3)


def sgd(lr):
    return optax.sgd(lr)


KF = validation.kfold_problem(softmax3, *ALL_IRIS.train, k=K, seed=1)
CV_KW = dict(steps=20, log_every=10, oracle=jd.oracles.minibatch(16), metrics=validation.metrics())


def test_of_problem_metrics_resolve_against_the_run_problem(compiles):
    marker = jd.metrics.of_problem(lambda x, problem: problem.objective(x) * 2)
    p = jd.problems.quadratic()
    assert float(jd.metrics.resolve(marker, p)(jnp.array([1.0, 1.0]))) == 6.0
    with pytest.raises(TypeError, match="resolve it"):
        marker(jnp.zeros(2), p)
    assert validation.metrics() == validation.metrics()  # module constants: one program
    plain = jd.problems.softmax_regression(*IRIS.train)
    with compiles.count(), pytest.raises(ValueError, match="held-out examples"):
        jd.run(plain, optax.sgd(0.1), steps=5, metrics=validation.metrics())
    assert compiles.n == 0
    with pytest.raises(TypeError, match="classification problem"):
        jd.run(p, optax.sgd(0.1), steps=5, metrics={"acc": validation.train_accuracy})


def test_heldout_metrics_equal_a_direct_computation_at_every_logged_step():
    base = jd.problems.softmax_regression(*IRIS.train)
    held = validation.with_heldout(base, *IRIS.val)
    assert float(held.smoothness) == float(base.smoothness)  # the objective is unchanged
    p = jd.problems.l2(held, 0.1)
    tr = jd.run(p, optax.sgd(0.5), steps=30, log_every=10, metrics=validation.metrics())
    per_step = jax.vmap(
        lambda x: (
            jd.problems.accuracy(base, x, *IRIS.val),
            jd.problems.data_loss(base, x, *IRIS.val),
            jd.problems.accuracy(base, x),
            base.objective(x),
            0.1 * jd.problems.penalty(x),
        )
    )(tr.params)
    acc_val, loss_val, acc_train, data_loss, pen = map(np.asarray, per_step)
    np.testing.assert_allclose(tr.metrics["val_accuracy"], acc_val, rtol=1e-14)
    np.testing.assert_allclose(tr.metrics["val_loss"], loss_val, rtol=1e-13)
    np.testing.assert_allclose(tr.metrics["accuracy"], acc_train, rtol=1e-14)
    np.testing.assert_allclose(tr.metrics["data_loss"], data_loss, rtol=1e-13)
    np.testing.assert_allclose(tr.loss, data_loss + pen, rtol=1e-13)
    # at t = 0 (W = 0) every class has probability 1/3
    assert tr.metrics["val_loss"][0] == pytest.approx(np.log(3), rel=1e-14)
    assert tr.metrics["val_accuracy"][-1] > 0.8
    # early stopping on a Trace: the params at the best logged step
    es = validation.early_stopping(tr, "val_loss")
    i = int(np.argmin(np.asarray(tr.metrics["val_loss"])))
    assert int(es.best_index) == i and int(es.best_step) == int(tr.step[i])
    np.testing.assert_array_equal(es.params["w"], tr.params["w"][i])
    assert float(es.metrics["val_accuracy"]) == float(tr.metrics["val_accuracy"][i])


def test_padded_folds_weigh_only_their_real_examples():
    X, y = np.asarray(ALL_IRIS.train.X), np.asarray(ALL_IRIS.train.y)
    folds = KF.folds
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    params = {"w": jnp.asarray(W), "b": jnp.asarray(b)}
    Z = X @ W + b
    ce = np.log(np.exp(Z).sum(1)) - Z[np.arange(len(y)), y]
    right = (Z.argmax(1) == y).astype(float)
    for fold in range(K):
        p = KF(fold)
        tw, vw = np.asarray(folds.train_weight[fold]), np.asarray(folds.val_weight[fold])
        tr = np.asarray(folds.train[fold])[tw == 1]
        va = np.asarray(folds.val[fold])[vw == 1]
        assert len(tr) + len(va) == len(y)
        assert float(p.objective(params)) == pytest.approx(ce[tr].mean(), rel=1e-13)
        val_loss = jd.metrics.resolve(validation.val_loss, p)(params)
        val_acc = jd.metrics.resolve(validation.val_accuracy, p)(params)
        assert float(val_loss) == pytest.approx(ce[va].mean(), rel=1e-13)
        assert float(val_acc) == pytest.approx(right[va].mean(), rel=1e-14)
        assert p.smoothness is None  # computed without the padding weights: dropped


def test_kfold_sweep_cells_summary_and_no_recompile(compiles):
    grid = {"fold": range(K), "lr": [0.1, 1.0]}
    res = jd.sweep(KF, sgd, grid, seeds=2, **CV_KW)
    assert res.metrics["val_accuracy"].shape == (K, 2, 2, 3)
    # a cell is the single run of that fold's problem (built eagerly from an int fold)
    cell = res.sel(fold=2, lr=1.0, seed=1)
    tr = jd.run(KF(2), optax.sgd(1.0), key=jax.random.key(1), **CV_KW)
    for name in ("loss", "grad_norm"):
        np.testing.assert_allclose(getattr(cell, name), getattr(tr, name), rtol=1e-10)
    for name in tr.metrics:
        np.testing.assert_allclose(cell.metrics[name], tr.metrics[name], rtol=1e-10)
    # each run's val accuracy is its OWN fold's, recomputed from its final params
    X, y = np.asarray(ALL_IRIS.train.X), np.asarray(ALL_IRIS.train.y)
    for fold in range(K):
        vw = np.asarray(KF.folds.val_weight[fold])
        va = np.asarray(KF.folds.val[fold])[vw == 1]
        fp = res.sel(fold=fold, lr=1.0, seed=0).final_params
        pred = (X[va] @ np.asarray(fp["w"]) + np.asarray(fp["b"])).argmax(1)
        got = res.sel(fold=fold, lr=1.0, seed=0).metrics["val_accuracy"][-1]
        assert float(got) == pytest.approx(np.mean(pred == y[va]), rel=1e-14)
    # the summary: mean and spread over folds x seeds, per learning rate
    s = validation.cv_summary(res)
    final = np.asarray(res.metrics["val_accuracy"])[..., -1]  # (fold, lr, seed)
    per_lr = final.transpose(1, 0, 2).reshape(2, -1)
    np.testing.assert_allclose(s.mean, per_lr.mean(1), rtol=1e-14)
    np.testing.assert_allclose(s.std, per_lr.std(1), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(s.min, per_lr.min(1))
    assert list(s.axes) == ["lr"] and s.values.shape == (2, 2 * K)
    assert float(s.mean[1]) > 0.8
    es = validation.early_stopping(res, "val_loss")
    at_best = validation.cv_summary(res, at=es)
    np.testing.assert_allclose(
        at_best.mean, np.asarray(es.metrics["val_accuracy"]).transpose(1, 0, 2).mean((1, 2))
    )
    # the same k-fold study again (new learning rates): nothing compiles
    with compiles.count():
        jd.sweep(KF, sgd, {"fold": range(K), "lr": [0.3, 3.0]}, seeds=2, **CV_KW)
    assert compiles.n == 0


def test_kfold_errors_before_compiling(compiles):
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = X @ np.array([1.0, -1.0])
    ls = validation.kfold_problem(jd.problems.least_squares, X, y, k=3)
    with pytest.raises(ValueError, match="do not split evenly"):
        ls(0)
    even = validation.kfold_problem(jd.problems.least_squares, X, y, k=5)
    p = even(1)  # k divides n: no weights needed, any {"X", "y"} loss works
    w = jnp.array([0.5, 0.5])
    va = np.asarray(even.folds.val[1])
    expected = np.mean((X[va] @ np.asarray(w) - y[va]) ** 2)
    assert float(jd.metrics.resolve(validation.val_loss, p)(w)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="fold"):
        KF(K)
    no_classes = validation.kfold_problem(jd.problems.softmax_regression, *ALL_IRIS.train, k=K)
    with compiles.count(), pytest.raises(ValueError, match="classes=<number of classes>"):
        jd.sweep(no_classes, sgd, {"fold": range(K), "lr": [0.1]}, steps=2)
    assert compiles.programs == 0


# --- early stopping ------------------------------------------------------------------------


def reference(values, mode, patience):
    """Early stopping with a Python loop over the logged steps (the obvious way)."""
    best, best_i = np.inf, 0
    for i, v in enumerate(values):
        s = np.inf if np.isnan(v) else (v if mode == "min" else -v)
        if s < best:
            best, best_i = s, i
        elif patience is not None and i - best_i >= patience:
            return best_i, i
    return best_i, len(values) - 1


def hand_made_result():
    rng = np.random.default_rng(3)
    shape = (2, 3, 7)  # lr x seed x logged step
    val_loss = rng.normal(size=shape).cumsum(-1)
    val_loss[0, 1, 2] = np.nan
    val_loss[1, 2, :] = np.nan  # a diverged run
    val_loss[1, 0] = [5.0, 4.0, 4.0, 4.0, 3.0, 6.0, 7.0]  # a tie, a late improvement
    return jd.SweepResult.of(
        axes={"lr": np.array([0.1, 0.2]), "seed": np.arange(3)},
        step=np.arange(0, 70, 10),
        loss=rng.normal(size=shape),
        grad_norm=rng.uniform(size=shape),
        params={"w": rng.normal(size=shape + (4,)), "b": rng.normal(size=shape)},
        metrics={"val_loss": val_loss, "val_accuracy": rng.uniform(size=shape)},
        final_params=None,
        final_loss=None,
        diverged=np.zeros(shape[:2], bool),
        diverged_at=-np.ones(shape[:2], int),
        meta={},
    )


@pytest.mark.parametrize(
    "metric, mode, patience",
    [("val_loss", "min", None), ("val_loss", "min", 2), ("val_accuracy", "max", 1)],
)
def test_early_stopping_matches_a_loop_over_steps(metric, mode, patience):
    res = hand_made_result()
    es = validation.early_stopping(res, metric, mode, patience=patience)
    assert es.best_step.shape == es.best_value.shape == (2, 3) and es.params["w"].shape == (2, 3, 4)
    values = res.metrics[metric]
    for i in range(2):
        for s in range(3):
            best, stop = reference(values[i, s], mode, patience)
            assert int(es.best_index[i, s]) == best and int(es.best_step[i, s]) == res.step[best]
            assert int(es.stopped_step[i, s]) == res.step[stop]
            np.testing.assert_array_equal(es.best_value[i, s], values[i, s, best])
            assert float(es.loss[i, s]) == res.loss[i, s, best]
            assert float(es.metrics["grad_norm"][i, s]) == res.grad_norm[i, s, best]
            other = "val_accuracy" if metric == "val_loss" else "val_loss"
            np.testing.assert_array_equal(es.metrics[other][i, s], res.metrics[other][i, s, best])
            np.testing.assert_array_equal(es.params["w"][i, s], res.params["w"][i, s, best])
            assert float(es.params["b"][i, s]) == res.params["b"][i, s, best]
    if patience is None and metric == "val_loss":
        assert int(es.best_step[1, 0]) == 40  # the late improvement counts without patience
        assert int(es.best_index[1, 2]) == 0  # all NaN: nothing is better than the start
    if patience == 2 and metric == "val_loss":
        assert int(es.best_step[1, 0]) == 10 and int(es.stopped_step[1, 0]) == 30
    # a selected cell analyses like the whole result
    cell = validation.early_stopping(res.sel(lr=0.2, seed=0), metric, mode, patience=patience)
    assert int(cell.best_step) == int(es.best_step[1, 0])


def test_early_stopping_errors():
    res = hand_made_result()
    with pytest.raises(ValueError, match="no logged metric 'acc'"):
        validation.early_stopping(res, "acc")
    with pytest.raises(ValueError, match="mode"):
        validation.early_stopping(res, mode="lowest")
    with pytest.raises(ValueError, match="patience"):
        validation.early_stopping(res, patience=0)
    with pytest.raises(ValueError, match="'fold' axis"):
        validation.cv_summary(res)
