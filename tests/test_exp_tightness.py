"""The tightness study (quick): every horizon's Huber witness lands on the Drori-Teboulle
bound, typical problems stay below it, the classical bound is about twice as loose."""

import numpy as np

from experiments import tightness as study
from experiments.contract import Number, Panel


def test_tightness_quick():
    data = study.compute(quick=True)
    numbers = {n.name: n for n in study.headline(data)}
    assert all(isinstance(n, Number) for n in numbers.values())
    assert numbers["max |witness f(x_n) - bound(n)| over horizons"].value < 1e-15
    assert abs(numbers["L r^2 / (4n + 2) at L = 3, r = 1, n = 4"].value - 1 / 6) < 1e-15
    assert numbers["classical / tight bound at n = 100"].value == 402 / 200
    for name in ("quadratic", "least squares", "logistic"):
        ratio = numbers[f"{name}: suboptimality / bound at n = 100"].value
        assert 0 <= ratio < 0.25, name
        curve = data["typical"][name][1:]
        assert np.all(curve <= data["bound"] + 1e-15), name  # below the bound at every n
    assert numbers["logistic: suboptimality / bound at n = 100"].value < 1e-6
    assert data["horizons"][0] == 1 and data["horizons"][-1] == 100 and len(data["horizons"]) >= 10
    panels = study.plot(data)
    assert [p.name for p in panels] == ["bound_vs_problems", "witness_curves"]
    assert all(isinstance(p, Panel) and p.caption for p in panels)
