"""The momentum-theory study (quick): Goh's optimum, empirical rates on the exact
heavy-ball rate, the stability edge, and d2l 12.6's eta = 0.6 rescued by momentum."""

import numpy as np

from experiments import momentum_theory as study
from experiments.contract import Number, Panel


def test_momentum_theory_quick():
    data = study.compute(quick=True)
    numbers = {n.name: n for n in study.headline(data)}
    assert all(isinstance(n, Number) for n in numbers.values())
    assert round(numbers["optimal lr*"].value, 4) == 3.3058
    assert round(numbers["optimal momentum beta*"].value, 5) == 0.66942
    at_opt = numbers["rate at (lr*, beta*)"]
    assert round(at_opt.theory, 5) == 0.81818
    # the double root at the optimum: t rho^t over steps 300..600 reads rho (600/300)^(1/300)
    assert abs(at_opt.value / (at_opt.theory * 2 ** (1 / 300)) - 1) < 1e-3
    assert numbers["max relative rate error, converging cells"].value < 5e-3
    assert numbers["cells whose stability matches lr L < 2 + 2 beta"].value == 1.0
    d2l = {
        (eta, beta): numbers[f"d2l 12.6: f(x_20), eta = {eta}, beta = {beta}"].value
        for eta in (0.4, 0.6)
        for beta in (0.0, 0.5)
    }
    assert d2l[(0.6, 0.0)] > 1e6 and d2l[(0.6, 0.5)] < 1e-4  # diverges; momentum rescues
    assert d2l[(0.4, 0.5)] < 0.01 * d2l[(0.4, 0.0)]
    panels = study.plot(data)
    assert [p.name for p in panels] == ["rate_heatmap", "rate_along_optimal_beta", "d2l_paths"]
    assert all(isinstance(p, Panel) and p.caption for p in panels)
    np.testing.assert_allclose(data["theory"][0, 0], 1 - 0.1 * 0.01)  # lr 0.1, beta 0
