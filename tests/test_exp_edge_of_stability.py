"""The edge-of-stability study (quick): the sharpness logged inside one sweep hovers at
2/eta for GD and at (2 + 2 beta)/eta for the heavy ball, while the loss decreases."""

import numpy as np

from experiments import edge_of_stability as study
from experiments.contract import Number, Panel


def test_edge_of_stability_quick(float32):
    data = study.compute(quick=True)
    numbers = study.headline(data)
    assert all(isinstance(n, Number) for n in numbers) and len(numbers) == 4
    ratio = {n.name: n.value for n in numbers}
    # GD: eta = 0.3 starts above its edge 6.67 and drops onto it; eta = 0.25 sharpens to 8
    assert abs(ratio["hover / edge, eta = 0.3, beta = 0.0"] - 1) < 0.02
    assert abs(ratio["hover / edge, eta = 0.25, beta = 0.0"] - 1) < 0.03
    # heavy ball, beta = 0.5: at its edge (2 + 2 beta)/eta = 6.67, still sharpening toward 8
    assert abs(ratio["hover / edge, eta = 0.45, beta = 0.5"] - 1) < 0.03
    assert 0.8 < ratio["hover / edge, eta = 0.375, beta = 0.5"] < 1.03
    # never above the edge for long, no divergence, and the loss went down
    assert not data["diverged"].any()
    assert np.all(data["loss"][..., -1] < 0.05 * data["loss"][..., 0])
    # the sharpness started above the lower edge: the drop to the edge is the catapult
    assert data["sharpness"][0, 0, 0] > 1.5 * data["edges"][0]
    panels = study.plot(data)
    assert [p.name for p in panels] == ["sharpness", "loss"]
    assert all(isinstance(p, Panel) and p.caption for p in panels)
