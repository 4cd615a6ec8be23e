"""jaxdescent: gradient methods as pure JAX functions, swept as one compiled program."""

from jaxdescent import (
    bounds,
    compiler,
    data,
    metrics,
    oracles,
    plots,
    problems,
    schedules,
    search,
    validation,
)
from jaxdescent.plots import smooth
from jaxdescent.problem import Problem
from jaxdescent.results import SweepResult, load
from jaxdescent.run import Trace, run, run_keys
from jaxdescent.sweep import static, sweep

__version__ = "0.1.0"

__all__ = [
    "Problem",
    "SweepResult",
    "Trace",
    "bounds",
    "compiler",
    "data",
    "load",
    "metrics",
    "oracles",
    "plots",
    "problems",
    "run",
    "run_keys",
    "schedules",
    "search",
    "smooth",
    "static",
    "sweep",
    "validation",
]
