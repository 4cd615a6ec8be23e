"""The runner of one study: time it, save its panels, format its headline numbers.

A study module follows `experiments.contract` (``TITLE``, ``ABOUT``, ``compute``,
``headline``, ``plot``; optionally ``summary(data) -> dict`` of every number it
measured, for results.json and tests) and ends with
``if __name__ == "__main__": main(__name__)``. Then
``python -m experiments.NAME [--out DIR] [--quick]`` writes ``DIR/NAME/*.png`` and
``DIR/NAME/results.json`` and prints the headline numbers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from experiments.contract import Number, Panel  # noqa: E402

DEFAULT_OUT = Path("report")
DPI = 110


def jsonable(x):
    """Arrays, NamedTuples and numpy scalars as JSON values; non-finite floats as strings."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return jsonable(np.asarray(x).tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def fmt(value, digits: int = 4) -> str:
    """A headline value for the page: ``digits`` significant figures, ints as ints,
    a pair as a range, None as a dash.

    >>> [fmt(0.0123456), fmt(12345.678), fmt(3), fmt((0.5, 2.0)), fmt(None), fmt(float("inf"))]
    ['0.01235', '1.235e+04', '3', '0.5 to 2', '—', '∞']
    """
    if value is None:
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list) and len(value) == 2:
        return f"{fmt(value[0], digits)} to {fmt(value[1], digits)}"
    if isinstance(value, int | np.integer):
        return str(int(value))
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.{digits}g}"


def number_record(n: Number) -> dict:
    """A `Number` as a JSON record with its formatted text."""
    if not isinstance(n, Number):
        raise TypeError(f"headline() must return experiments.contract.Number items, got {n!r}.")
    return {
        **jsonable(n._asdict()),
        "text": fmt(n.value),
        "theory_text": "" if n.theory is None else fmt(n.theory),
    }


def run(name: str, out: Path = DEFAULT_OUT, quick: bool = False, verbose: bool = True) -> dict:
    """Runs study ``name``; returns what it wrote to results.json."""
    module = importlib.import_module(f"experiments.{name}")
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = module.compute(quick=quick)
    t_compute = time.perf_counter() - t0
    figures = []
    for panel in module.plot(data):
        if not isinstance(panel, Panel):
            raise TypeError(f"{name}.plot() must return experiments.contract.Panel items.")
        fig = getattr(panel.figure, "figure", panel.figure)  # a Figure or a jd.plots.Plot
        fname = f"{panel.name}.png"
        fig.savefig(folder / fname, dpi=DPI)
        width = int(round(fig.get_figwidth() * DPI))
        figures.append({"file": fname, "caption": panel.caption, "width": width})
    numbers = [number_record(n) for n in module.headline(data)]
    summary = module.summary(data) if hasattr(module, "summary") else {}
    record = {
        "name": name,
        "title": module.TITLE,
        "about": module.ABOUT,
        "quick": quick,
        "seconds": {
            "compute": round(t_compute, 2),
            "total": round(time.perf_counter() - t0, 2),
        },
        "headline": numbers,
        "summary": jsonable(summary),
        "figures": figures,
    }
    tmp = folder / "results.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, folder / "results.json")
    if verbose:
        print(f"== {name}: {module.TITLE}  ({record['seconds']['total']:.1f} s)")
        for n in numbers:
            theory = f"  (theory {n['theory_text']})" if n["theory_text"] else ""
            print(f"   {n['name']}: {n['text']} {n['unit']}{theory}")
        print(f"   figures: {', '.join(f['file'] for f in figures)} -> {folder}")
    return record


def main(module_name: str, argv=None) -> None:
    """Command line of one study module."""
    name = module_name.rsplit(".", 1)[-1]
    if module_name == "__main__":  # python -m experiments.NAME
        name = Path(sys.modules["__main__"].__file__).stem
    module = sys.modules[module_name]
    ap = argparse.ArgumentParser(description=getattr(module, "TITLE", name))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: report)")
    ap.add_argument("--quick", action="store_true", help="small sweeps for a fast check")
    args = ap.parse_args(argv)
    run(name, args.out, args.quick)
