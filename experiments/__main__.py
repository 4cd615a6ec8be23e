"""Runs every study and writes a browsable report: ``DIR/index.html``.

python -m experiments [--out report] [--quick] [--only NAME ...] [--cache DIR]

A study is any module of this package that follows `experiments.contract`; register it
in `STUDIES` (the order of the page).
"""

from __future__ import annotations

import argparse
import html
import json
import time
from pathlib import Path

from experiments import _common

STUDIES = [
    "linear_grid_search",
    "gd_sgd_minibatch",
    "sgd_schedules",
    "convergence_bounds",
    "sampling_replacement",
    "himmelblau_optimizers",
    "lr_sensitivity",
    "activations",
    "mlp_digits",
    "kfold",
    "momentum_decay",
    "momentum_theory",
    "batch_size",
    "tightness",
    "edge_of_stability",
    "saddle_escape",
]
EXPERIMENTS = STUDIES  # the former name

#: A figure at least this wide (pixels) spans the page; narrower ones sit two a row.
#: No figure is drawn larger than its own pixel size.
WIDE = 1000

STYLE = """
body{font-family:system-ui,-apple-system,sans-serif;max-width:1400px;margin:1.5em auto;
 padding:0 1.5em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{margin-top:2.2em;border-bottom:2px solid #ddd;padding-bottom:.2em}
.about{max-width:900px}.meta{color:#666;font-size:.9em}
nav ol{columns:2;font-size:.95em}nav li{margin:.15em 0}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
figure{margin:0;flex:0 1 calc(50% - .5em)}figure.wide{flex:1 1 100%}
figure img{width:100%;height:auto;border:1px solid #ddd;cursor:zoom-in}
figcaption{font-size:.88em;color:#333;margin-top:.3em}
table{border-collapse:collapse;font-size:.92em;margin:.6em 0}
th{background:#f3f3f3;text-align:left}td,th{border:1px solid #ccc;padding:3px 8px}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.note{color:#555;font-size:.92em}
"""


def _table(numbers: list[dict]) -> str:
    if not numbers:
        return ""
    rows = [
        "<table><tr><th>quantity</th><th>measured</th><th>theory</th><th>unit</th>"
        "<th>note</th></tr>"
    ]
    for n in numbers:
        cells = (
            f"<td>{html.escape(n['name'])}</td><td class='num'>{html.escape(n['text'])}</td>"
            f"<td class='num'>{html.escape(n['theory_text'])}</td>"
            f"<td>{html.escape(n['unit'])}</td><td class='note'>{html.escape(n['note'])}</td>"
        )
        rows.append(f"<tr>{cells}</tr>")
    return "".join(rows) + "</table>"


def _figures(r: dict) -> str:
    parts = ["<div class='figs'>"]
    for f in r["figures"]:
        src = f"{r['name']}/{f['file']}"
        cap = html.escape(f["caption"])
        wide = " class='wide'" if f["width"] >= WIDE else ""
        parts.append(
            f"<figure{wide}><a href='{src}' title='open full size'><img src='{src}' "
            f"style='max-width:{f['width']}px' "
            f"alt='{html.escape(f['file'])}'></a><figcaption>{cap}</figcaption>"
            "</figure>"
        )
    return "".join(parts) + "</div>"


def write_index(out: Path, records: list[dict], seconds: float, quick: bool) -> Path:
    """index.html: a contents list, then per study its title, what it shows, its headline
    numbers as a table, its run time and its figures (each a link to the full-size PNG)."""
    api = "api/jaxdescent.html"
    api_note = f"<a href='{api}'>API reference</a>" + (
        ""
        if (out / api).exists()
        else " (not generated yet: <code>pip install -e .[docs] &amp;&amp; pdoc -d google "
        f"-o {html.escape(str(out))}/api jaxdescent</code>)"
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>jaxdescent studies</title><style>{STYLE}</style></head><body>",
        "<h1>jaxdescent studies</h1>",
        f"<p class='meta'>{len(records)} studies, {seconds:.1f} s in all on this machine"
        f"{' (quick run: small sweeps)' if quick else ''}. Every figure is drawn from a "
        "vectorized sweep: all configurations and seeds of a study ran as one compiled "
        f"program. Click a figure to open it full size. {api_note}.</p>",
        "<nav><h3>Contents</h3><ol>",
    ]
    parts += [
        f"<li><a href='#{r['name']}'>{html.escape(r['title'])}</a> "
        f"<span class='meta'>({r['seconds']['total']:.1f} s)</span></li>"
        for r in records
    ]
    parts.append("</ol></nav>")
    for r in records:
        parts += [
            f"<section id='{r['name']}'><h2>{html.escape(r['title'])}</h2>",
            f"<p class='about'>{html.escape(r['about'])}</p>",
            _table(r["headline"]),
            f"<p class='meta'>Run time {r['seconds']['total']:.1f} s (computing "
            f"{r['seconds']['compute']:.1f} s); all numbers in "
            f"<a href='{r['name']}/results.json'>results.json</a>.</p>",
            _figures(r),
            "</section>",
        ]
    parts.append("</body></html>")
    path = out / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run every jaxdescent study into one report.")
    ap.add_argument("--out", type=Path, default=_common.DEFAULT_OUT)
    ap.add_argument("--quick", action="store_true", help="small sweeps")
    ap.add_argument("--only", nargs="*", default=None, help="run only these studies")
    ap.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="keep compiled programs in this folder: a later run skips their compilation",
    )
    args = ap.parse_args(argv)
    if args.cache is not None:
        import jax

        jax.config.update("jax_compilation_cache_dir", str(args.cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    names = args.only or STUDIES
    unknown = sorted(set(names) - set(STUDIES))
    if unknown:
        ap.error(f"unknown studies {unknown}; choose from {STUDIES}")
    t0 = time.perf_counter()
    records = [_common.run(name, args.out, args.quick) for name in names]
    seconds = time.perf_counter() - t0
    index = write_index(args.out, records, seconds, args.quick)
    summary = {r["name"]: {n["name"]: n["value"] for n in r["headline"]} for r in records}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {index} ({len(records)} studies, {seconds:.1f} s)")


if __name__ == "__main__":
    main()
