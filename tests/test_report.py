"""The report runner: one experiment's files, and index.html pointing at them."""

import json
import re

from experiments import __main__ as report


def test_report_index_links_every_figure(tmp_path):
    report.main(["--quick", "--out", str(tmp_path), "--only", "linear_grid_search"])
    index = (tmp_path / "index.html").read_text()
    srcs = re.findall(r"<img src='([^']+)'", index)
    assert len(srcs) == 4
    for src in srcs:
        assert (tmp_path / src).stat().st_size > 5000  # a real PNG, not an empty file
    record = json.loads((tmp_path / "linear_grid_search" / "results.json").read_text())
    assert record["headline"]["grid_argmin_w"] == 2.0
    assert abs(record["headline"]["mse_at_w0"] - 56 / 3) < 1e-4
    assert record["headline"]["rastrigin_coarse_best"] > 3.9
    assert record["headline"]["evaluations_by_dim"] == [10, 50, 250]
    for fig in record["figures"]:
        assert fig["caption"] and fig["file"] in index
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary) == ["linear_grid_search"]
