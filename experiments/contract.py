"""The records a study hands to the report runner.

A study module defines

* ``TITLE``: one line;
* ``ABOUT``: one or two sentences: what the study shows and which seed / paper /
  d2l section it reproduces;
* ``compute(quick: bool) -> data``: its sweeps (arrays / `jd.SweepResult`s);
* ``headline(data) -> list[Number]``: the numbers that matter, typed;
* ``plot(data) -> list[Panel]``: its figures, each with a file name and a caption;
* optionally ``summary(data) -> dict``: every number it measured (JSON-able), written to
  ``results.json`` for tests and machines; the page shows only the headline.

The runner (``experiments._common.run``) times ``compute``, saves every panel as
``<out>/<study>/<name>.png`` and formats the headline numbers for the page.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Number(NamedTuple):
    """One headline number: what it is in words, its value, its unit, and theory beside it.

    ``value`` and ``theory`` are floats, ints, or None (not measured / no theory); a
    ``note`` says anything the reader needs to read the number (e.g. "median of 64 seeds").
    """

    name: str
    value: Any
    unit: str = ""
    theory: Any = None
    note: str = ""


class Panel(NamedTuple):
    """One figure of a study: ``name`` becomes ``<name>.png``; ``caption`` is shown under it."""

    name: str
    figure: Any
    caption: str
