"""Activation functions and their derivatives from ``jax.grad``, against the closed forms.

The material (seed 004, sections 5.3 and 6.4) introduces sigmoid, tanh, ReLU and leaky
ReLU with their derivatives, and softmax with its Jacobian. Here each activation is the
``jax.nn`` function, its derivative is ``jax.vmap(jax.grad(f))`` on a grid of 2001
points in [-6, 6], and it is compared with the closed form:

* sigmoid' = s (1 - s), at most 1/4 (at 0);
* tanh' = 1 - tanh^2, at most 1;
* relu' = [x > 0] (JAX takes 0 at x = 0);
* leaky_relu' = 1 for x >= 0, the slope 0.01 below (JAX takes 1 at x = 0).

Sigmoid's and tanh's derivatives vanish away from 0 (sigmoid' < 0.0025 beyond |x| = 6),
and a product of sigmoid derivatives over L layers is at most 4^-L: the vanishing
gradients the material blames on them; ReLU's derivative is 1 on its whole active side.

Softmax p = softmax(a) has the Jacobian dp_i / da_j = p_i (delta_ij - p_j), from
``jax.jacobian``, shown for the material's vector a = [0.2317, 0.3873, 0.8968] (its
``torch.rand(3)``), whose rows 1 and 2 the material prints from ``torch.autograd.grad``.
No optimization runs here: the "sweep" is the vmapped gradient over the grid.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from experiments._common import main
from experiments.contract import Number, Panel

TITLE = "Activations and their derivatives from jax.grad; the softmax Jacobian"
ABOUT = (
    "Sigmoid, tanh, ReLU and leaky ReLU with their derivatives from jax.grad against the "
    "closed forms, and the softmax Jacobian p_i (delta_ij - p_j) against the material's "
    "autograd printout (seed 004, sections 5.3 and 6.4)."
)

LIMIT = 6.0
POINTS = 2001
LEAKY_SLOPE = 0.01  # jax.nn.leaky_relu's default negative_slope
ACTIVATIONS = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jax.nn.tanh,
    "relu": jax.nn.relu,
    "leaky_relu": jax.nn.leaky_relu,
}
#: The material's softmax input (torch.rand(3)) and its printed gradients of p[1], p[2].
SOFTMAX_INPUT = (0.2317, 0.3873, 0.8968)
MATERIAL_ROWS = {1: (-0.0691, 0.2034, -0.1343), 2: (-0.1150, -0.1343, 0.2493)}


def closed_form(name: str, x):
    """The textbook derivative of activation ``name`` at ``x``."""
    if name == "sigmoid":
        s = jax.nn.sigmoid(x)
        return s * (1 - s)
    if name == "tanh":
        return 1 - jnp.tanh(x) ** 2
    if name == "relu":
        return (x > 0).astype(x.dtype)
    return jnp.where(x >= 0, 1.0, LEAKY_SLOPE).astype(x.dtype)


@jax.jit
def _evaluate(x):
    out = {}
    for name, f in ACTIVATIONS.items():
        grad = jax.vmap(jax.grad(f))(x)
        out[name] = {"value": f(x), "grad": grad, "closed": closed_form(name, x)}
    return out


def compute(quick: bool = False) -> dict:
    x = jnp.linspace(-LIMIT, LIMIT, POINTS)  # 0 is on the grid (POINTS is odd)
    curves = jax.tree.map(np.asarray, _evaluate(x))
    zero = jnp.zeros(())
    at_zero = {name: float(jax.grad(f)(zero)) for name, f in ACTIVATIONS.items()}
    a = jnp.asarray(SOFTMAX_INPUT)
    p = jax.nn.softmax(a)
    jac = jax.jacobian(jax.nn.softmax)(a)
    return {
        "x": np.asarray(x),
        "curves": curves,
        "grad_at_zero": at_zero,
        "softmax_p": np.asarray(p),
        "softmax_jacobian": np.asarray(jac),
        "softmax_closed": np.asarray(jnp.diag(p) - jnp.outer(p, p)),
    }


def _errors(data) -> dict:
    return {
        name: float(np.max(np.abs(c["grad"] - c["closed"]))) for name, c in data["curves"].items()
    }


def plot(data: dict) -> list[Panel]:
    x, curves = data["x"], data["curves"]
    errors = _errors(data)
    fig = Figure(figsize=(14, 7.5), layout="constrained")
    axes = fig.subplots(2, 3)
    panels = list(axes.ravel())
    sparse = slice(None, None, 100)
    for ax, name in zip(panels[:4], ACTIVATIONS):
        c = curves[name]
        ax.plot(x, c["value"], lw=1.8, label=f"{name}(x)")
        ax.plot(x, c["grad"], lw=1.8, label="jax.grad")
        ax.plot(x[sparse], c["closed"][sparse], "k.", ms=5, label="closed form")
        ax.axhline(0, color="0.7", lw=0.6)
        ax.axvline(0, color="0.7", lw=0.6)
        ax.set_title(f"{name}: max |grad - closed form| = {errors[name]:.1e}", fontsize="medium")
        ax.set_xlabel("x")
        ax.legend(fontsize="small", loc="upper left")
    panels[2].set_ylim(-0.5, 3.0)
    panels[3].set_ylim(-0.5, 3.0)

    log_ax = panels[4]
    for name, style in zip(ACTIVATIONS, ("-", "-", "-", "--")):  # leaky over relu: dashed
        grad = curves[name]["grad"]
        log_ax.semilogy(x, np.where(grad > 0, grad, np.nan), style, lw=1.8, label=name)
    log_ax.axhline(0.25, color="0.5", ls=":", lw=1, label="1/4")
    log_ax.set_ylim(1e-6, 2.0)
    log_ax.set_xlabel("x")
    log_ax.set_ylabel("derivative (jax.grad)")
    log_ax.set_title("derivatives on a log scale (relu: 0 for x <= 0)", fontsize="medium")
    log_ax.legend(fontsize="small", loc="lower center")

    jac_ax = panels[5]
    J = data["softmax_jacobian"]
    im = jac_ax.imshow(J, cmap="RdBu_r", vmin=-0.3, vmax=0.3)
    fig.colorbar(im, ax=jac_ax, label="dp_i / da_j")
    for i in range(3):
        for j in range(3):
            jac_ax.text(j, i, f"{J[i, j]:.4f}", ha="center", va="center", fontsize="small")
    jac_ax.set_xticks(range(3), [f"a_{j} = {v}" for j, v in enumerate(SOFTMAX_INPUT)])
    p = data["softmax_p"]
    jac_ax.set_yticks(range(3), [f"p_{i} = {v:.4f}" for i, v in enumerate(p)])
    jac_ax.set_title("softmax Jacobian p_i (delta_ij - p_j)", fontsize="medium")
    h = summary(data)
    caption = (
        "Sigmoid, tanh, ReLU and leaky ReLU (jax.nn) on [-6, 6] with their derivatives from "
        "jax.vmap(jax.grad(f)) and the closed forms (dots): s (1 - s), 1 - tanh^2, the step "
        "[x > 0], and 1 / 0.01. They agree to rounding (largest difference "
        f"{max(errors.values()):.1e}). Bottom middle, on a log scale: sigmoid's derivative "
        "never exceeds 1/4 and falls like e^-|x|, tanh's like e^-2|x|, while ReLU's is 1 on "
        "its active side and leaky ReLU's never below 0.01. Bottom right: the softmax "
        "Jacobian for the material's a = (0.2317, 0.3873, 0.8968); its rows 1 and 2 match "
        "the material's autograd printout to its 4 decimals (largest difference "
        f"{h['softmax_material_max_diff']:.1e}), and each column sums to 0 because the "
        "probabilities sum to 1."
    )
    return [Panel("activations", fig, caption)]


def headline(data: dict) -> list[Number]:
    s = summary(data)
    worst = max(s[f"max_abs_error_{name}"] for name in ACTIVATIONS)
    return [
        Number("largest |jax.grad - closed form|, all four", worst, theory=0.0, note="float32"),
        Number("largest sigmoid derivative", s["sigmoid_grad_max"], theory=0.25),
        Number(
            "sigmoid derivative at x = 6",
            s["sigmoid_grad_at_6"],
            theory=float(np.exp(-6) / (1 + np.exp(-6)) ** 2),
        ),
        Number("tanh derivative at x = 6", s["tanh_grad_at_6"], theory=1 - np.tanh(6.0) ** 2),
        Number("relu derivative at 0", s["grad_at_zero_relu"], note="JAX's convention"),
        Number("leaky relu derivative at 0", s["grad_at_zero_leaky_relu"], note="JAX's convention"),
        Number(
            "softmax Jacobian: largest difference from the material",
            s["softmax_material_max_diff"],
            note="the material prints 4 decimals",
        ),
        Number("softmax Jacobian: largest column sum", s["softmax_column_sums_max"], theory=0.0),
    ]


def summary(data: dict) -> dict:
    J = data["softmax_jacobian"]
    curves = data["curves"]
    material = max(
        float(np.max(np.abs(J[i] - np.asarray(row)))) for i, row in MATERIAL_ROWS.items()
    )
    out = {f"max_abs_error_{name}": v for name, v in _errors(data).items()}
    out.update({f"grad_at_zero_{name}": v for name, v in data["grad_at_zero"].items()})
    return {
        **out,
        "sigmoid_grad_max": float(np.max(curves["sigmoid"]["grad"])),
        "sigmoid_grad_at_6": float(curves["sigmoid"]["grad"][-1]),
        "tanh_grad_at_6": float(curves["tanh"]["grad"][-1]),
        "softmax_p": data["softmax_p"].tolist(),
        "softmax_jacobian": np.round(J, 6).tolist(),
        "softmax_jacobian_max_error": float(np.max(np.abs(J - data["softmax_closed"]))),
        "softmax_material_max_diff": material,
        "softmax_column_sums_max": float(np.max(np.abs(J.sum(axis=0)))),
    }


if __name__ == "__main__":
    main(__name__)
