"""What every experiment shares: the command line, saving figures, results.json.

An experiment module defines

* ``TITLE`` (one line) and a module docstring (what it shows),
* ``compute(quick: bool) -> dict``: the sweeps, returning arrays / SweepResults,
* ``plot(data, out: Path) -> list[Figure]``: `jd.plots` figures, each with a caption set
  by `figure`; they are saved as PNGs by the runner,
* ``headline(data) -> dict``: the numbers that matter (JSON-able floats/ints/lists),

and ends with ``if __name__ == "__main__": main(__name__)``. Then
``python -m experiments.NAME [--out DIR] [--quick]`` writes ``DIR/NAME/*.png`` and
``DIR/NAME/results.json`` and prints a short summary.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

DEFAULT_OUT = Path("report")


def figure(fig, name: str, caption: str):
    """Tags a figure with its file name (without .png) and caption for the runner."""
    fig._jd_name = name
    fig._jd_caption = caption
    return fig


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return _jsonable(np.asarray(x).tolist())
    if isinstance(x, float) and not np.isfinite(x):
        return str(x)
    return x


def run(name: str, out: Path = DEFAULT_OUT, quick: bool = False, verbose: bool = True) -> dict:
    """Runs experiment ``name``; returns what it wrote to results.json."""
    module = importlib.import_module(f"experiments.{name}")
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = module.compute(quick=quick)
    t_compute = time.perf_counter() - t0
    figures = []
    for fig in module.plot(data, folder):
        fname = f"{fig._jd_name}.png"
        fig.savefig(folder / fname, dpi=110)
        figures.append({"file": fname, "caption": fig._jd_caption})
    record = {
        "name": name,
        "title": module.TITLE,
        "description": (module.__doc__ or "").strip().split("\n\n")[0],
        "quick": quick,
        "seconds": {"compute": round(t_compute, 2), "total": round(time.perf_counter() - t0, 2)},
        "headline": _jsonable(module.headline(data)),
        "figures": figures,
    }
    tmp = folder / "results.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, folder / "results.json")
    if verbose:
        print(f"== {name}: {module.TITLE}  ({record['seconds']['total']:.1f} s)")
        for k, v in record["headline"].items():
            print(f"   {k}: {_short(v)}")
        print(f"   figures: {', '.join(f['file'] for f in figures)} -> {folder}")
    return record


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list) and len(v) > 8:
        return f"[{', '.join(_short(x) for x in v[:8])}, ...] ({len(v)} values)"
    if isinstance(v, list):
        return "[" + ", ".join(_short(x) for x in v) + "]"
    return str(v)


def parse(argv, description: str):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: report)")
    ap.add_argument("--quick", action="store_true", help="small sweeps for a fast check")
    return ap.parse_args(argv)


def main(module_name: str, argv=None) -> None:
    """Command line of one experiment module."""
    name = module_name.rsplit(".", 1)[-1]
    if module_name == "__main__":  # python -m experiments.NAME
        name = Path(sys.modules["__main__"].__file__).stem
    doc = (sys.modules[module_name].__doc__ or name).strip().splitlines()[0]
    args = parse(argv, doc)
    run(name, args.out, args.quick)
