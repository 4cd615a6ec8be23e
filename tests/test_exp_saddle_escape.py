"""The saddle-escape study (quick): GD stays on the saddle; SGD's fraction of seeds outside
[-delta, delta] follows the exact Gaussian probability within sampling error."""

import numpy as np
from matplotlib.figure import Figure

from experiments import saddle_escape
from experiments.contract import Number, Panel


def test_saddle_escape_quick(float32):
    data = saddle_escape.compute(quick=True)
    n = saddle_escape.SEEDS
    assert n == 4096 and data["step"].tolist() == list(range(81))
    outside, exact, exit_cdf = data["outside"], data["exact"], data["exit_cdf"]
    # gradient descent (sigma = 0): never leaves x2 = 0, converges to the saddle
    assert np.all(data["paths"][0] == 0) and np.all(outside[0] == 0)
    assert data["gd_final_loss"] < 1e-12
    for k in (1, 2, 3):
        sd = np.sqrt(exact[k] * (1 - exact[k]) / n)
        assert np.all(np.abs(outside[k] - exact[k]) <= 4.5 * sd + 1e-6), k
        assert np.all(exit_cdf[k] >= outside[k])  # the first exit comes no later
        assert exact[k][-1] > 0.75  # most seeds escaped by step 80
    # more noise escapes sooner
    medians = [np.argmax(exact[k] >= 0.5) for k in (1, 2, 3)]
    assert medians == sorted(medians, reverse=True) and medians[-1] < 25

    numbers = saddle_escape.headline(data)
    assert all(isinstance(x, Number) for x in numbers)
    named = {x.name: x for x in numbers}
    assert named["GD: largest |x2| over all steps and seeds"].value == 0.0
    for noise in (0.01, 0.1, 1):
        first = named[f"sigma = {noise:g}: median first-exit step"]
        assert first.value <= first.theory and first.theory - first.value <= 3
        assert named[f"sigma = {noise:g}: largest |empirical - exact| P(|x2| > 1)"].value < 0.03
    panels = saddle_escape.plot(data)
    assert [p.name for p in panels] == ["escape_cdf"]
    assert all(isinstance(p, Panel) and isinstance(p.figure, Figure) and p.caption for p in panels)
