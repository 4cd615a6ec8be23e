"""Classification problems and penalties: closed-form gradients (the material's
derivations), dropout, penalty wrappers, and sweep cells against single runs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd
import jaxdescent.data as data
import jaxdescent.validation as validation

RNG = np.random.default_rng(0)
DIGITS = data.load_digits(seed=0)
X_SMALL, Y_SMALL = DIGITS.train.X[:96], DIGITS.train.y[:96]
X_VAL, Y_VAL = DIGITS.val.X[:64], DIGITS.val.y[:64]
MLP = jd.problems.mlp_classifier(X_SMALL, Y_SMALL, hidden=(16,), classes=10)


def sgd(lr):
    return optax.sgd(lr)


def tree_allclose(a, b, rtol):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=1e-300)


def tree_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# --- activations (from jax.nn) against the material's closed forms ---------------------


def test_activation_gradients_match_closed_forms():
    x = jnp.array([-3.0, -1.2, -0.1, 0.3, 0.9, 2.5])
    d = lambda f: jax.vmap(jax.grad(f))(x)  # noqa: E731
    s, t = jax.nn.sigmoid(x), jnp.tanh(x)
    np.testing.assert_allclose(d(jax.nn.sigmoid), s * (1 - s), rtol=1e-14)
    np.testing.assert_allclose(d(jax.nn.tanh), 1 - t**2, rtol=1e-14)
    np.testing.assert_array_equal(d(jax.nn.relu), (x > 0).astype(float))
    np.testing.assert_allclose(d(jax.nn.leaky_relu), np.where(x > 0, 1.0, 0.01), rtol=1e-15)


def test_softmax_jacobian_and_the_material_numbers():
    a = jnp.array([0.2317, 0.3873, 0.8968])  # the material's torch.rand(3)
    p = jax.nn.softmax(a)
    J = jax.jacobian(jax.nn.softmax)(a)
    # dp_i/da_j = p_i (delta_ij - p_j)
    np.testing.assert_allclose(J, np.diag(p) - np.outer(p, p), rtol=1e-13, atol=1e-16)
    # autograd.grad(p[1], a) and autograd.grad(p[2], a), printed to 4 decimals
    np.testing.assert_allclose(J[1], [-0.0691, 0.2034, -0.1343], atol=5e-5)
    np.testing.assert_allclose(J[2], [-0.1150, -0.1343, 0.2493], atol=5e-5)
    np.testing.assert_allclose(J.sum(axis=0), 0.0, atol=1e-16)  # probabilities sum to 1


# --- the perceptron: the material's derivation -----------------------------------------


def test_single_output_perceptron_gradient_is_the_material_derivation():
    x = RNG.normal(size=(1, 10))  # the material's x = torch.randn(1, 10)
    w0 = RNG.normal(size=(10, 1))
    p = jd.problems.perceptron(x, np.ones(1), bias=False)  # t = 1, as F.mse_loss(ones, o)
    out = 1 / (1 + np.exp(-(x @ w0)[0, 0]))
    g = jax.grad(p.objective)({"w": jnp.asarray(w0)})["w"][:, 0]
    # material: E = 1/2 (O - t)^2, dE/dw_j = (O - t) O (1 - O) x_j; MSE has no 1/2: factor 2
    material = (out - 1) * out * (1 - out) * x[0]
    np.testing.assert_allclose(g, 2 * material, rtol=1e-12)
    half = jax.grad(lambda w: 0.5 * p.objective(w))({"w": jnp.asarray(w0)})["w"][:, 0]
    np.testing.assert_allclose(half, material, rtol=1e-12)
    assert float(p.objective({"w": jnp.asarray(w0)})) == pytest.approx((out - 1) ** 2, rel=1e-14)


def test_multi_output_perceptron_gradient_with_bias_over_a_batch():
    n, d, m = 5, 4, 3
    X, T = RNG.normal(size=(n, d)), RNG.uniform(size=(n, m))
    W, b = RNG.normal(size=(d, m)), RNG.normal(size=m)
    p = jd.problems.perceptron(X, T, outputs=m)
    out = 1 / (1 + np.exp(-(X @ W + b)))
    delta = (out - T) * out * (1 - out)  # (n, m): (O_k - t_k) O_k (1 - O_k)
    g = jax.grad(p.objective)({"w": jnp.asarray(W), "b": jnp.asarray(b)})
    # E = mean_{i,k} (O_ik - t_ik)^2: dE/dw_jk = 2 / (n m) sum_i delta_ik x_ij
    np.testing.assert_allclose(g["w"], 2 / (n * m) * X.T @ delta, rtol=1e-12)
    np.testing.assert_allclose(g["b"], 2 / (n * m) * delta.sum(0), rtol=1e-12)
    # int labels with several outputs are one-hot targets, predictions are argmax_k O_k
    q = jd.problems.perceptron(X, np.array([0, 2, 1, 2, 0]), outputs=m)
    np.testing.assert_array_equal(q.data["y"], np.eye(m)[[0, 2, 1, 2, 0]])
    params = {"w": jnp.asarray(W), "b": jnp.asarray(b)}
    np.testing.assert_array_equal(jd.problems.predict(q, params, X), out.argmax(1))


def test_perceptron_learns_a_linearly_separable_set():
    d = data.linearly_separable(60, margin=0.2, seed=1)
    p = jd.problems.perceptron(*d)
    tr = jd.run(p, optax.sgd(5.0), steps=300, log_every=300)
    assert float(jd.problems.accuracy(p, tr.final_params)) == 1.0
    assert float(tr.loss[-1]) < 0.05 < float(tr.loss[0]) == 0.25


# --- logistic and softmax regression -----------------------------------------------------


def test_logistic_regression_loss_gradient_and_smoothness():
    n, d = 30, 3
    X, y = RNG.normal(size=(n, d)), (RNG.uniform(size=n) < 0.5).astype(float)
    p = jd.problems.logistic_regression(X, y)
    w, b = RNG.normal(size=d), 0.3
    z = X @ w + b
    s = 1 / (1 + np.exp(-z))
    params = {"w": jnp.asarray(w), "b": jnp.asarray(b)}
    bce = -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))
    assert float(p.objective(params)) == pytest.approx(bce, rel=1e-13)
    g = jax.grad(p.objective)(params)
    np.testing.assert_allclose(g["w"], X.T @ (s - y) / n, rtol=1e-12)
    assert float(g["b"]) == pytest.approx(np.mean(s - y), rel=1e-12)
    # L = sigma_max([X, 1])^2 / (4 n) is the Hessian's top eigenvalue at 0 (sigmoid' = 1/4)
    flat = lambda v: p.objective({"w": v[:d], "b": v[d]})  # noqa: E731
    top = np.linalg.eigvalsh(np.asarray(jax.jit(jax.hessian(flat))(jnp.zeros(d + 1))))[-1]
    assert float(p.smoothness) == pytest.approx(top, rel=1e-12)
    # stable for huge logits: log(1 + e^1000) = 1000 exactly, no inf / nan
    big = jd.problems.logistic_regression(np.array([[1.0], [-1.0]]), np.array([0.0, 1.0]))
    assert float(big.objective({"w": jnp.array([1000.0]), "b": jnp.array(0.0)})) == 1000.0


def test_softmax_regression_gradient_smoothness_and_stability():
    n, d, C = 25, 4, 3
    X, y = RNG.normal(size=(n, d)), RNG.integers(0, C, n)
    p = jd.problems.softmax_regression(X, y)
    W, b = RNG.normal(size=(d, C)), RNG.normal(size=C)
    Z = X @ W + b
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    Y = np.eye(C)[y]
    params = {"w": jnp.asarray(W), "b": jnp.asarray(b)}
    assert float(p.objective(params)) == pytest.approx(-np.mean(np.log(P[np.arange(n), y])))
    g = jax.grad(p.objective)(params)
    np.testing.assert_allclose(g["w"], X.T @ (P - Y) / n, rtol=1e-12)
    np.testing.assert_allclose(g["b"], (P - Y).mean(0), rtol=1e-12)
    # Boehning's bound: every Hessian eigenvalue is at most L
    flat = lambda v: p.objective({"w": v[: d * C].reshape(d, C), "b": v[d * C :]})  # noqa: E731
    hessian = jax.jit(jax.hessian(flat))
    for v in (np.zeros((d + 1) * C), RNG.normal(size=(d + 1) * C)):
        top = np.linalg.eigvalsh(np.asarray(hessian(jnp.asarray(v))))[-1]
        assert top <= float(p.smoothness) * (1 + 1e-12)
    huge = {"w": 1e4 * jnp.asarray(W), "b": jnp.asarray(b)}
    assert np.isfinite(float(p.objective(huge)))
    assert np.all(np.isfinite(np.asarray(jax.grad(p.objective)(huge)["w"])))


def test_accuracy_predict_and_weights():
    X = np.array([[2.0], [1.0], [-1.0], [-3.0]])
    p = jd.problems.logistic_regression(X, np.array([1, 0, 0, 1]))
    params = {"w": jnp.array([1.0]), "b": jnp.array(0.0)}
    np.testing.assert_array_equal(jd.problems.predict(p, params, X), [1, 1, 0, 0])
    assert float(jd.problems.accuracy(p, params)) == 0.5
    assert float(jd.problems.accuracy(p, params, X[:2], [1, 1])) == 1.0
    assert float(jd.problems.accuracy(p, params, X, [1, 0, 0, 1], weight=[1, 0, 1, 0])) == 1.0
    z = X[:, 0]
    ce = np.log1p(np.exp(-z * np.array([1, -1, -1, 1])))
    assert float(jd.problems.data_loss(p, params)) == pytest.approx(ce.mean(), rel=1e-13)
    w = np.array([1.0, 0, 2, 0])
    got = float(jd.problems.data_loss(p, params, X, [1, 0, 0, 1], weight=w))
    assert got == pytest.approx((w * ce).sum() / w.sum(), rel=1e-13)
    # the data loss ignores a penalty wrapper; the objective does not
    pen = jd.problems.l2(p, 0.5)
    assert float(jd.problems.data_loss(pen, params)) == float(jd.problems.data_loss(p, params))
    assert float(pen.objective(params)) == pytest.approx(ce.mean() + 0.25, rel=1e-13)
    with pytest.raises(TypeError, match="classification problem"):
        jd.problems.accuracy(jd.problems.quadratic(), jnp.zeros(2))


# --- the MLP -----------------------------------------------------------------------------


def test_mlp_init_scaling_seeds_and_fixed_init():
    X, y = np.zeros((3, 400)), np.array([0, 1, 2])
    p = jd.problems.mlp_classifier(X, y, hidden=(300,))
    assert callable(p.init_fn) and p.init is None
    a, b = p.initial_params(jax.random.key(0)), p.initial_params(jax.random.key(1))
    assert [layer["w"].shape for layer in a] == [(400, 300), (300, 3)]
    assert not np.array_equal(a[0]["w"], b[0]["w"])  # each seed draws its own init
    np.testing.assert_array_equal(a[0]["b"], 0.0)
    assert np.std(np.asarray(a[0]["w"])) == pytest.approx(np.sqrt(2 / 400), rel=0.02)  # He
    g = jd.problems.mlp_classifier(X, y, hidden=(300,), activation=jax.nn.tanh)
    w = np.asarray(g.initial_params(jax.random.key(0))[0]["w"])
    assert np.std(w) == pytest.approx(np.sqrt(2 / 700), rel=0.02)  # Glorot
    fixed = jd.problems.mlp_classifier(X, y, hidden=(300,), init_key=7)
    assert fixed.init_fn is None and fixed.init is not None
    tree_equal(fixed.init, p.init_fn(jax.random.key(7)))
    # equal static settings give an equal (hashable) loss and init: one compiled program
    q = jd.problems.mlp_classifier(X + 1, y, hidden=(300,))
    assert q.loss == p.loss and q.init_fn == p.init_fn and hash(q.loss) == hash(p.loss)


def make_mlp(l2=0.0, dropout=0.0):
    """The sweep's problem factory: an MLP with dropout, held-out data and an L2 penalty."""
    p = jd.problems.mlp_classifier(X_SMALL, Y_SMALL, hidden=(16,), classes=10, dropout=dropout)
    return jd.problems.l2(validation.with_heldout(p, X_VAL, Y_VAL), l2)


SGD = optax.sgd(0.3)  # shared by the runs below: one compiled program per problem structure
KW = dict(steps=12, log_every=4, metrics=validation.metrics())


def test_mlp_sweep_cell_equals_a_single_run():
    grid = {"lr": [0.05, 0.3], "l2": [0.0, 1e-2], "dropout": [0.0, 0.5]}
    res = jd.sweep(make_mlp, sgd, grid, seeds=2, **KW)
    assert res.loss.shape == (2, 2, 2, 2, 4)
    for lam, rate, seed in [(1e-2, 0.5, 1), (0.0, 0.0, 0)]:
        cell = res.sel(lr=0.3, l2=lam, dropout=rate, seed=seed)
        tr = jd.run(make_mlp(lam, rate), SGD, key=jax.random.key(seed), **KW)
        for name in ("loss", "grad_norm", "final_loss"):
            np.testing.assert_allclose(getattr(cell, name), getattr(tr, name), rtol=1e-10)
        for name in tr.metrics:
            np.testing.assert_allclose(cell.metrics[name], tr.metrics[name], rtol=1e-10)
        tree_allclose(cell.params, tr.params, rtol=1e-10)
    # seeds start from their own inits; dropout changes the path; the penalty is
    # exactly loss - data_loss
    w0 = res.params[0]["w"]  # (lr, l2, dropout, seed, log, 64, 16)
    assert not np.allclose(w0[0, 0, 0, 0, 0], w0[0, 0, 0, 1, 0])
    assert not np.allclose(w0[1, 0, 0, 0, -1], w0[1, 0, 1, 0, -1])
    cell = res.sel(lr=0.3, l2=1e-2, dropout=0.5, seed=0)
    pen = jax.vmap(jd.problems.penalty)(cell.params)
    np.testing.assert_allclose(cell.loss - cell.metrics["data_loss"], 1e-2 * pen, rtol=1e-8)
    assert np.all(np.diff(res.sel(lr=0.3, l2=0.0, dropout=0.0).metrics["data_loss"]) < 0)


def test_mlp_logits_inverted_dropout():
    h = 2000
    layer0 = {"w": jnp.ones((1, h)), "b": jnp.zeros(h)}
    layer1 = {"w": jnp.eye(h), "b": jnp.zeros(h)}
    X = jnp.ones((1, 1))
    ident = lambda v: v  # noqa: E731
    kept = jd.problems.mlp_logits([layer0, layer1], X, ident, dropout=0.25, key=jax.random.key(0))
    values = np.unique(np.asarray(kept))
    np.testing.assert_allclose(values, [0.0, 1 / 0.75], rtol=1e-15)  # dropped or scaled 1/(1-p)
    assert np.mean(np.asarray(kept) == 0) == pytest.approx(0.25, abs=0.03)
    no_key = jd.problems.mlp_logits([layer0, layer1], X, ident, dropout=0.25)
    np.testing.assert_array_equal(no_key, 1.0)  # evaluation: every unit, unscaled


def test_dropout_is_off_at_evaluation_and_rate_zero_is_no_dropout():
    drop = jd.problems.mlp_classifier(X_SMALL, Y_SMALL, hidden=(16,), dropout=0.5, init_key=0)
    plain = jd.problems.mlp_classifier(X_SMALL, Y_SMALL, hidden=(16,), init_key=0)
    assert drop.stochastic and not plain.stochastic
    params = drop.init
    assert float(drop.objective(params)) == float(plain.objective(params))
    assert float(jd.problems.accuracy(drop, params)) == float(jd.problems.accuracy(plain, params))
    train = float(drop.batch_loss(params, drop.data, jax.random.key(1)))
    assert train != float(drop.objective(params))
    zero = jd.problems.mlp_classifier(X_SMALL, Y_SMALL, hidden=(16,), dropout=0.0, init_key=0)
    assert float(zero.batch_loss(params, zero.data, jax.random.key(1))) == float(
        plain.objective(params)
    )


# --- penalties -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["quadratic", "mlp-dropout"])
def test_strength_zero_equals_no_penalty(case):
    if case == "quadratic":  # args, fixed init
        problem, kw = jd.problems.quadratic(), dict(steps=10, log_every=5)
    else:  # stochastic (dropout keys), args, a random init per seed, held-out data
        kw = KW  # the penalized run shares its program with the sweep test's run
        problem = validation.with_heldout(
            jd.problems.mlp_classifier(X_SMALL, Y_SMALL, hidden=(16,), classes=10, dropout=0.5),
            X_VAL,
            Y_VAL,
        )
    base = jd.run(problem, SGD, key=jax.random.key(3), **kw)
    pen = jd.run(jd.problems.l2(problem, 0.0), SGD, key=jax.random.key(3), **kw)
    for name in ("loss", "grad_norm", "final_loss"):
        np.testing.assert_allclose(getattr(pen, name), getattr(base, name), rtol=1e-14)
    for name in base.metrics:
        np.testing.assert_allclose(pen.metrics[name], base.metrics[name], rtol=1e-14)
    tree_allclose(pen.params, base.params, rtol=1e-14)
    # L1 at strength 0: the same objective and gradient, also with a dropout key
    l1 = jd.problems.l1(problem, 0.0)
    k = jax.random.key(5)
    both = jax.jit(
        lambda x: [(q.batch_loss(x, q.data, k), jax.grad(q.objective)(x)) for q in (l1, problem)]
    )
    with_l1, without = both(problem.initial_params(jax.random.key(0)))
    tree_equal(with_l1, without)


def test_penalty_gradients_weights_only_and_constants():
    p = jd.problems.mlp_classifier(X_SMALL[:10], Y_SMALL[:10], hidden=(8,), classes=10, init_key=0)
    params = jax.tree.map(lambda a: a, p.init)  # new containers
    params[0]["w"] = params[0]["w"].at[0, 0].set(0.0)
    lam = 0.3
    grad = lambda q: jax.jit(jax.grad(q.objective))(params)  # noqa: E731
    g0 = grad(p)
    g2, g1 = grad(jd.problems.l2(p, lam)), grad(jd.problems.l1(p, lam))
    gb = grad(jd.problems.l2(p, lam, biases=True))
    for i in range(2):
        np.testing.assert_allclose(g2[i]["w"] - g0[i]["w"], lam * params[i]["w"], atol=1e-15)
        np.testing.assert_array_equal(g2[i]["b"], g0[i]["b"])  # biases unpenalized
        np.testing.assert_allclose(gb[i]["b"] - g0[i]["b"], lam * params[i]["b"], atol=1e-15)
        diff = g1[i]["w"] - g0[i]["w"]
        np.testing.assert_allclose(diff, lam * np.sign(params[i]["w"]), atol=1e-15)
    assert float(g1[0]["w"][0, 0] - g0[0]["w"][0, 0]) == 0.0  # subgradient 0 at w = 0
    # constants: all leaves penalized -> shifted by lambda; else dropped
    q = jd.problems.l2(jd.problems.quadratic(), lam)
    assert float(q.smoothness) == pytest.approx(4.3) and float(q.strong_convexity) == 2.3
    assert q.minimizer is None and q.min_value is None
    lr = jd.problems.l2(jd.problems.linear_regression([1.0, 2], [2.0, 4], bias=True), lam)
    assert lr.smoothness is None and lr.strong_convexity is None
    assert jd.problems.l1(jd.problems.quadratic(), lam).smoothness is None
    with pytest.raises(ValueError, match="nothing would be penalized"):
        jd.problems.l2(jd.Problem(lambda q, b: jnp.sum(q["b"] ** 2), {"b": jnp.ones(2)}), 1.0)


def test_l2_with_sgd_equals_add_decayed_weights_on_the_weights():
    d = data.linearly_separable(40, dim=3, flip=0.1, seed=2)
    p = jd.problems.logistic_regression(*d)
    lam = 0.1
    pen = jd.run(jd.problems.l2(p, lam), SGD, steps=30, log_every=30)
    mask = {"w": True, "b": False}
    decay = optax.chain(optax.add_decayed_weights(lam, mask=mask), optax.sgd(0.3))
    dec = jd.run(p, decay, steps=30, log_every=30)
    tree_allclose(pen.final_params, dec.final_params, rtol=1e-12)
    # ... but the logged loss includes the penalty only in the first
    w = pen.final_params["w"]
    assert float(pen.final_loss - dec.final_loss) == pytest.approx(lam / 2 * float(w @ w), rel=1e-9)


def test_penalty_strength_and_new_data_reuse_the_program(compiles):
    kw = dict(steps=30, log_every=30)
    x1 = RNG.normal(size=(40, 3))
    y1 = (x1[:, 0] > 0).astype(float)
    first = jd.run(jd.problems.l2(jd.problems.logistic_regression(x1, y1), 0.1), SGD, **kw)
    x2 = RNG.normal(size=(40, 3))
    with compiles.count():  # new data, new strength: same shapes, same program
        second = jd.run(jd.problems.l2(jd.problems.logistic_regression(x2, y1), 0.7), SGD, **kw)
    assert compiles.n == 0
    assert float(first.final_loss) != float(second.final_loss)


def test_bad_arguments_fail_with_a_fix():
    with pytest.raises(ValueError, match="tuple of positive Python ints"):
        jd.problems.mlp_classifier(X_SMALL, Y_SMALL, hidden=(16.0,))
    with pytest.raises(ValueError, match=r"rate in \[0, 1\)"):
        jd.problems.mlp_classifier(X_SMALL, Y_SMALL, dropout=1.0)
    with pytest.raises(ValueError, match="pass classes >= 10"):
        jd.problems.softmax_regression(X_SMALL, Y_SMALL, classes=5)
    with pytest.raises(ValueError, match="flatten images"):
        jd.problems.softmax_regression(np.zeros((4, 2, 2)), np.arange(4))
    with pytest.raises(ValueError, match="0/1"):
        jd.problems.logistic_regression(X_SMALL, Y_SMALL)
    with pytest.raises(ValueError, match=">= 0"):
        jd.problems.l2(MLP, -1.0)
    with pytest.raises(ValueError, match="`classes` is required when `y` is traced"):
        jax.jit(lambda y: jd.problems.softmax_regression(X_SMALL, y).objective(None))(Y_SMALL)


def test_float32_throughout(float32):
    s = data.load_iris()
    assert s.train.X.dtype == jnp.float32
    key = jax.random.key(0)
    mlp = jd.problems.mlp_classifier(*s.train, hidden=(8,), dropout=0.2)
    binary = (s.train.X, (s.train.y == 1).astype(int))
    problems = [
        jd.problems.l2(mlp, 0.1),
        jd.problems.l1(jd.problems.softmax_regression(*s.train), 0.1),
        jd.problems.logistic_regression(*binary),
        jd.problems.perceptron(*binary),
    ]
    for p in problems:
        x = p.initial_params(key)
        assert {leaf.dtype for leaf in jax.tree.leaves(x)} == {jnp.dtype(jnp.float32)}
        values = jax.jit(
            lambda x, p=p: (
                p.objective(x),
                p.batch_loss(x, p.data, key),
                jd.problems.accuracy(p, x, *s.val),
                jd.problems.data_loss(p, x, *s.val),
            )
        )(x)
        assert [v.dtype for v in values] == [jnp.float32] * 4


def test_docstring_examples():
    import doctest

    import jaxdescent.problems.classification as classification
    import jaxdescent.problems.penalties as penalties

    for module in (classification, penalties):
        failures, tried = doctest.testmod(module)
        assert tried > 5 and failures == 0, module.__name__
