"""The batch-size study (quick): steps to target halve as B doubles at small B and flatten
at large B, on the noisy quadratic model (runs beside the exact moments) and least squares."""

import numpy as np
from matplotlib.figure import Figure

from experiments import batch_size
from experiments.contract import Number, Panel


def test_batch_size_quick(float32):
    data = batch_size.compute(quick=True)
    B = data["nqm_batches"]
    assert B.tolist() == [4, 8, 16, 256]
    exact, runs = data["nqm_exact"], data["nqm_runs"]  # (momentum, B)
    assert np.all(np.isfinite(exact)) and np.all(np.isfinite(runs))
    # perfect scaling at small B (exact and runs), diminishing returns at large B
    assert np.all(np.abs(exact[:, 0] / exact[:, 1] - 2) < 0.25)
    assert np.all(np.abs(runs[:, 0] / runs[:, 1] - 2) < 0.5)
    assert np.all(exact[:, 2] / exact[:, 3] < 6)  # 16x the batch, under 6x fewer steps
    # runs near the exact curve (their best over noisy curves is biased low)
    assert np.all((runs / exact > 0.65) & (runs / exact < 1.2))
    # momentum: no help at small B, a clear one at large B
    assert abs(exact[1, 0] / exact[0, 0] - 1) < 0.1 and exact[1, 3] < 0.8 * exact[0, 3]
    lsq = data["lsq_runs"]
    assert np.all(np.isfinite(lsq)) and np.all(np.diff(lsq, axis=1) < 0)
    assert np.all(lsq[:, 0] / lsq[:, -1] > 2.5)  # 4x the batch: over 2.5x fewer steps

    numbers = batch_size.headline(data)
    assert all(isinstance(n, Number) for n in numbers)
    named = {n.name: n for n in numbers}
    crit = named["NQM critical batch size (momentum 0)"]
    assert 20 < crit.theory < 200 and 0.5 < crit.value / crit.theory < 2
    ratio = named["NQM steps ratio B = 4 / B = 8 (momentum 0)"]
    assert abs(ratio.theory - 2) < 0.25 and abs(ratio.value - 2) < 0.5
    panels = batch_size.plot(data)
    assert [p.name for p in panels] == ["steps_vs_batch"]
    assert all(isinstance(p, Panel) and isinstance(p.figure, Figure) and p.caption for p in panels)
