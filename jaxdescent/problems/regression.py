"""Regression problems with data: the seeds' y = w*x, and least squares.

Their losses are MSEs over a batch (a mean over its examples), so full-batch,
minibatch and per-sample oracles all use the same loss.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxdescent.checks import concrete
from jaxdescent.problem import Problem

__all__ = ["linear_regression", "least_squares"]


def _mean(v):
    # sum / n, as the material writes it (jnp.mean multiplies by 1/n, which rounds differently)
    return jnp.sum(v) / v.shape[0]


def _line_loss(w, batch):
    return _mean((w * batch["x"] - batch["y"]) ** 2)


def _line_bias_loss(p, batch):
    return _mean((p["w"] * batch["x"] + p["b"] - batch["y"]) ** 2)


def _as_1d(v, what: str, name: str):
    a = jnp.asarray(v, dtype=jnp.result_type(float))
    if a.ndim != 1 or a.shape[0] == 0:
        raise ValueError(f"{what}: `{name}` must be a non-empty 1-D sequence, got shape {a.shape}.")
    return a


def linear_regression(x, y, init=1.0, bias: bool = False) -> Problem:
    """The model y_hat = w * x (+ b) fitted by mean squared error.

    This is the seeds' problem: with ``x = [1, 2, 3]``, ``y = [2, 4, 6]`` the MSE is
    minimal (zero) at w = 2.

    Args:
      x, y: 1-D arrays of the same length (the examples).
      init: the starting w (a scalar), or ``{"w": .., "b": ..}`` with ``bias=True``
        (a scalar there starts w at it and b at 0); or a function ``key -> params``.
      bias: fit an intercept too (params become a dict ``{"w", "b"}``).

    Returns:
      A Problem with the closed-form minimizer, min value and the Hessian's extreme
      eigenvalues as smoothness / strong convexity (for bias=False both are
      2 mean(x^2)).

    Example:
      >>> import jaxdescent as jd
      >>> p = jd.problems.linear_regression([1., 2, 3], [2., 4, 6])
      >>> round(float(p.objective(0.0)), 4)   # the seeds' MSE at w = 0: 56 / 3
      18.6667
    """
    xs = _as_1d(x, "linear_regression", "x")
    ys = _as_1d(y, "linear_regression", "y")
    if xs.shape != ys.shape:
        raise ValueError(
            f"linear_regression: `x` and `y` need the same length, got {xs.shape[0]} "
            f"and {ys.shape[0]}."
        )
    for name, a in (("x", concrete(xs)), ("y", concrete(ys))):
        if a is not None and not np.all(np.isfinite(a)):
            raise ValueError(
                f"linear_regression: `{name}` has non-finite values (NaN or inf) at "
                f"{np.flatnonzero(~np.isfinite(a)).tolist()}; drop or fix those examples."
            )
    data = {"x": xs, "y": ys}
    mxx, mx, mxy, my = jnp.mean(xs * xs), jnp.mean(xs), jnp.mean(xs * ys), jnp.mean(ys)
    x_values = concrete(xs)
    singular = x_values is not None and (
        not np.any(x_values) if not bias else np.all(x_values == x_values[0])
    )
    if singular:
        raise ValueError(
            "linear_regression: `x` is "
            + ("all zero" if not bias else "constant")
            + ", so the slope w is not determined (the minimizer is not unique and the "
            "problem is not strongly convex); give x at least "
            + ("one nonzero value." if not bias else "two distinct values.")
        )
    if not bias:
        w_star = mxy / mxx
        loss = _line_loss
        minimizer = w_star
        curv = 2 * mxx
        smooth, strong = curv, curv
        if not callable(init):
            init = jnp.asarray(init, dtype=jnp.result_type(float))
    else:
        var = mxx - mx * mx
        w_star = (mxy - mx * my) / var
        minimizer = {"w": w_star, "b": my - w_star * mx}
        loss = _line_bias_loss
        # Hessian 2 [[mean x^2, mean x], [mean x, 1]]: its eigenvalues in closed form.
        tr, det = mxx + 1.0, mxx - mx * mx
        disc = jnp.sqrt(jnp.maximum(tr * tr / 4 - det, 0.0))
        smooth, strong = 2 * (tr / 2 + disc), 2 * (tr / 2 - disc)
        if not callable(init):
            if isinstance(init, dict):
                init = {
                    "w": jnp.asarray(init["w"], dtype=float),
                    "b": jnp.asarray(init["b"], dtype=float),
                }
            else:
                init = {
                    "w": jnp.asarray(init, dtype=jnp.result_type(float)),
                    "b": jnp.zeros((), jnp.result_type(float)),
                }
    p = Problem(
        loss,
        init,
        data=data,
        minimizer=minimizer,
        smoothness=smooth,
        strong_convexity=strong,
        name="linear_regression",
    )
    return p.replace(min_value=p.objective(minimizer))


def _least_squares_loss(w, batch):
    return _mean((batch["X"] @ w - batch["y"]) ** 2)


def least_squares(X, y, init=None) -> Problem:
    """Mean squared error of a linear model, f(w) = mean_i (x_i . w - y_i)^2.

    Args:
      X: (n, d) design matrix; y: (n,) targets.
      init: (d,) starting point (zeros by default) or a function ``key -> (d,)``.

    Returns:
      A Problem with the least-squares minimizer, its value, and the Hessian's
      extreme eigenvalues 2 sigma_max(X)^2 / n and 2 sigma_min(X)^2 / n (the latter 0
      when d > n) as smoothness / strong convexity.
    """
    Xa = jnp.asarray(X, dtype=jnp.result_type(float))
    ya = jnp.asarray(y, dtype=Xa.dtype)
    if Xa.ndim != 2:
        raise ValueError(f"least_squares: `X` must be 2-D (n, d), got shape {Xa.shape}.")
    if ya.shape != (Xa.shape[0],):
        raise ValueError(f"least_squares: `y` must have shape ({Xa.shape[0]},), got {ya.shape}.")
    n, d = Xa.shape
    if init is None:
        init = jnp.zeros((d,), Xa.dtype)
    elif not callable(init):
        init = jnp.asarray(init, dtype=Xa.dtype)
        if init.shape != (d,):
            raise ValueError(f"least_squares: `init` must have shape ({d},), got {init.shape}.")
    sv = jnp.linalg.svd(Xa, compute_uv=False)
    smooth = 2 * sv[0] ** 2 / n
    strong = 2 * sv[-1] ** 2 / n if n >= d else jnp.zeros((), Xa.dtype)
    w_star = jnp.linalg.lstsq(Xa, ya)[0]
    p = Problem(
        _least_squares_loss,
        init,
        data={"X": Xa, "y": ya},
        minimizer=w_star,
        smoothness=smooth,
        strong_convexity=strong,
        name="least_squares",
    )
    return p.replace(min_value=p.objective(w_star))
