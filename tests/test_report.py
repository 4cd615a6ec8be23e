"""The report runner: any module that follows `experiments.contract` becomes a section
of index.html with its typed, formatted headline numbers and full-size figure links."""

import json
import re
import sys
import types

import numpy as np
import pytest
from matplotlib.figure import Figure

from experiments import __main__ as report
from experiments import _common
from experiments.contract import Number, Panel


def fake_study(wide: bool = True):
    """A study in the contract that computes nothing heavy."""
    m = types.ModuleType("experiments.fake_study")
    m.TITLE = "A fake study"
    m.ABOUT = "Shows that the runner needs only the contract (d2l 0.0)."
    m.compute = lambda quick: {"x": np.arange(3.0), "quick": quick}

    def plot(data):
        fig = Figure(figsize=(12 if wide else 5, 3))
        fig.add_subplot().plot(data["x"])
        return [Panel("line", fig, "a line <through> three points")]

    m.plot = plot
    m.headline = lambda data: [
        Number("largest x", float(data["x"].max()), "units", theory=2.0),
        Number("a small number", 0.000123456789, note="shown to 4 significant figures"),
        Number("a count", 42),
    ]
    return m


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setitem(sys.modules, "experiments.fake_study", fake_study())
    monkeypatch.setattr(report, "STUDIES", [*report.STUDIES, "fake_study"])


def test_any_contract_module_becomes_a_section(tmp_path, fake):
    report.main(["--quick", "--out", str(tmp_path), "--only", "fake_study"])
    index = (tmp_path / "index.html").read_text()
    assert "<h2>A fake study</h2>" in index and "(d2l 0.0)" in index
    assert "<li><a href='#fake_study'>A fake study</a>" in index  # the contents list
    # the figure opens full size on click, spans the page when wide, caption escaped
    assert (
        "<figure class='wide'><a href='fake_study/line.png' title='open full size'>"
        "<img src='fake_study/line.png' style='max-width:1320px'" in index
    )  # never drawn larger than its own pixels
    assert "a line &lt;through&gt; three points" in index
    assert (tmp_path / "fake_study" / "line.png").stat().st_size > 3000
    # the headline as a table: words, formatted values, theory beside measurement, units
    rows = re.findall(
        r"<tr><td>([^<]*)</td><td class='num'>([^<]*)</td>"
        r"<td class='num'>([^<]*)</td><td>([^<]*)</td>",
        index,
    )
    assert rows == [
        ("largest x", "2", "2", "units"),
        ("a small number", "0.0001235", "", ""),
        ("a count", "42", "", ""),
    ]
    assert "{" not in re.sub(r"<style>.*</style>", "", index, flags=re.S)  # no dict dumps
    assert re.search(r"Run time \d+\.\d s", index)
    record = json.loads((tmp_path / "fake_study" / "results.json").read_text())
    assert record["headline"][1]["text"] == "0.0001235" and record["quick"] is True
    assert json.loads((tmp_path / "summary.json").read_text()) == {
        "fake_study": {"largest x": 2.0, "a small number": 0.000123456789, "a count": 42}
    }


def test_narrow_figures_sit_two_a_row(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "experiments.fake_study", fake_study(wide=False))
    record = _common.run("fake_study", tmp_path, verbose=False)
    assert record["figures"][0]["width"] == 550
    path = report.write_index(tmp_path, [record], 1.0, quick=False)
    assert "<figure><a href='fake_study/line.png'" in path.read_text()


def test_the_runner_refuses_untyped_headlines(tmp_path, monkeypatch):
    m = fake_study()
    m.headline = lambda data: {"largest x": 2.0}
    monkeypatch.setitem(sys.modules, "experiments.fake_study", m)
    with pytest.raises(TypeError, match="Number"):
        _common.run("fake_study", tmp_path, verbose=False)


def test_number_format():
    assert [_common.fmt(v) for v in (3.14159265, 1234567.0, 2.0, -0.5, float("nan"))] == [
        "3.142",
        "1.235e+06",
        "2",
        "-0.5",
        "NaN",
    ]
    assert _common.fmt(np.float32(0.1)) == "0.1" and _common.fmt(np.int64(7)) == "7"
    assert _common.fmt(True) == "yes" and _common.fmt((1e-3, 2e-3)) == "0.001 to 0.002"


def test_a_real_study_quick(tmp_path, float32):
    record = _common.run("linear_grid_search", tmp_path, quick=True, verbose=False)
    assert len(record["figures"]) == 4
    s = record["summary"]
    assert s["grid_argmin_w"] == 2.0 and abs(s["mse_at_w0"] - 56 / 3) < 1e-4
    assert s["rastrigin_coarse_best"] > 3.9 and s["evaluations_by_dim"] == [10, 50, 250]
    texts = {n["name"]: (n["text"], n["theory_text"]) for n in record["headline"]}
    assert texts["MSE at w = 0"] == ("18.67", "18.67")


def test_a_panel_may_hold_a_jd_plots_plot(tmp_path, monkeypatch):
    import jaxdescent as jd

    m = fake_study(wide=False)
    drawn = m.plot

    def plot(data):
        (panel,) = drawn(data)
        fig = panel.figure
        return [panel._replace(figure=jd.plots.Plot(fig, fig.axes[0], {}))]

    m.plot = plot
    monkeypatch.setitem(sys.modules, "experiments.fake_study", m)
    record = _common.run("fake_study", tmp_path, verbose=False)
    assert (tmp_path / "fake_study" / "line.png").stat().st_size > 3000
    assert record["figures"][0]["width"] == 550


def test_every_study_follows_the_contract_and_runs_as_a_script():
    import importlib
    import inspect

    from experiments.__main__ import STUDIES

    assert len(STUDIES) == len(set(STUDIES)) == 16
    for name in STUDIES:
        module = importlib.import_module(f"experiments.{name}")
        for attr in ("TITLE", "ABOUT", "compute", "headline", "plot"):
            assert hasattr(module, attr), (name, attr)
        assert 'if __name__ == "__main__":\n    main(__name__)' in inspect.getsource(module), name
