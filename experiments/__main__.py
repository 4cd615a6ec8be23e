"""Runs every experiment and writes a browsable report: ``DIR/index.html``.

python -m experiments [--out report] [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import html
import json
import time
from pathlib import Path

from experiments import _common

EXPERIMENTS = [
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
]


def write_index(out: Path, records: list[dict], seconds: float, quick: bool) -> Path:
    """index.html: every figure with its caption, and each experiment's headline numbers."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>jaxdescent experiments</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}",
        "figure{display:inline-block;margin:.5em;max-width:520px;vertical-align:top}",
        "img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em}",
        "table{border-collapse:collapse;font-size:.9em}",
        "td,th{border:1px solid #ccc;padding:2px 6px}",
        "nav a{margin-right:1em}</style></head><body>",
        "<h1>jaxdescent experiments</h1>",
        f"<p>{len(records)} experiments, {seconds:.1f} s in all"
        f"{' (quick run: small sweeps)' if quick else ''}. Every figure is drawn from a "
        "vectorized sweep: all configurations and seeds of a study ran as one compiled "
        "program.</p><nav>",
    ]
    parts += [f"<a href='#{r['name']}'>{html.escape(r['name'])}</a>" for r in records]
    parts.append("</nav>")
    for r in records:
        parts.append(f"<h2 id='{r['name']}'>{html.escape(r['title'])}</h2>")
        parts.append(f"<p>{html.escape(r['description'])}</p>")
        parts.append("<table><tr><th>headline</th><th>value</th></tr>")
        for k, v in r["headline"].items():
            parts.append(
                f"<tr><td>{html.escape(k)}</td><td>{html.escape(_common._short(v))}</td></tr>"
            )
        parts.append(f"</table><p><small>{r['seconds']['total']:.1f} s</small></p>")
        for f in r["figures"]:
            src = f"{r['name']}/{f['file']}"
            cap = html.escape(f["caption"])
            parts.append(
                f"<figure><a href='{src}'><img src='{src}' alt='{cap}'></a>"
                f"<figcaption>{cap}</figcaption></figure>"
            )
    parts.append("</body></html>")
    path = out / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run every jaxdescent experiment into one report.")
    ap.add_argument("--out", type=Path, default=_common.DEFAULT_OUT)
    ap.add_argument("--quick", action="store_true", help="small sweeps (under 2 minutes in all)")
    ap.add_argument("--only", nargs="*", default=None, help="run only these experiments")
    args = ap.parse_args(argv)
    names = args.only or EXPERIMENTS
    unknown = sorted(set(names) - set(EXPERIMENTS))
    if unknown:
        ap.error(f"unknown experiments {unknown}; choose from {EXPERIMENTS}")
    t0 = time.perf_counter()
    records = [_common.run(name, args.out, args.quick) for name in names]
    seconds = time.perf_counter() - t0
    index = write_index(args.out, records, seconds, args.quick)
    (args.out / "summary.json").write_text(
        json.dumps({r["name"]: r["headline"] for r in records}, indent=2)
    )
    print(f"\nwrote {index} ({len(records)} experiments, {seconds:.1f} s)")


if __name__ == "__main__":
    main()
