"""The activations experiment: jax.grad against the closed-form derivatives, and the
softmax Jacobian against p_i (delta_ij - p_j) and the material's printout."""

import numpy as np

from experiments import _common

NAME = "activations"


def test_activations_match_closed_forms_and_the_material(tmp_path, float32):
    record = _common.run(NAME, tmp_path, quick=True, verbose=False)
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    for name in ("sigmoid", "tanh", "relu", "leaky_relu"):
        assert h[f"max_abs_error_{name}"] < 1e-6, name
    assert h["max_abs_error_relu"] == 0.0 and h["max_abs_error_leaky_relu"] == 0.0
    # JAX's conventions at the kink, and the saturating derivatives
    assert h["grad_at_zero_relu"] == 0.0 and h["grad_at_zero_leaky_relu"] == 1.0
    assert h["grad_at_zero_sigmoid"] == 0.25 and h["sigmoid_grad_max"] == 0.25
    assert h["grad_at_zero_tanh"] == 1.0
    s6 = 1 / (1 + np.exp(-6.0))
    assert abs(h["sigmoid_grad_at_6"] - s6 * (1 - s6)) < 1e-7
    assert abs(h["tanh_grad_at_6"] - (1 - np.tanh(6.0) ** 2)) < 1e-6
    # softmax: p, the Jacobian's closed form, the material's rows to 4 decimals
    a = np.array([0.2317, 0.3873, 0.8968])
    p = np.exp(a) / np.exp(a).sum()
    np.testing.assert_allclose(h["softmax_p"], p, rtol=1e-6)
    np.testing.assert_allclose(h["softmax_jacobian"], np.diag(p) - np.outer(p, p), atol=1e-6)
    assert h["softmax_jacobian_max_error"] < 1e-6
    assert h["softmax_material_max_diff"] < 5e-5
    assert h["softmax_column_sums_max"] < 1e-6
    assert [f["file"] for f in record["figures"]] == ["activations.png"]
    for fig in record["figures"]:
        assert (tmp_path / NAME / fig["file"]).stat().st_size > 5000 and fig["caption"]
