"""jaxdescent: gradient methods as pure JAX functions, swept as one compiled program."""

from jaxdescent import (
    analysis,
    bounds,
    compiler,
    data,
    metrics,
    oracles,
    plots,
    problems,
    progress,
    rates,
    schedules,
    search,
    tiles,
    validation,
)
from jaxdescent._execute import execute
from jaxdescent._hypergrad import hypergrad
from jaxdescent._plan import SweepPlan, plan
from jaxdescent._run import run, run_keys
from jaxdescent._sweep import sweep
from jaxdescent.analysis import best_index, first_below, first_flagged, last_clear
from jaxdescent.compiler import enable_compilation_cache
from jaxdescent.grid import static
from jaxdescent.plots import smooth
from jaxdescent.problem import Problem
from jaxdescent.results import SweepResult, critical_batch_size, load, steps_to_target
from jaxdescent.trace import Logs, Trace

__version__ = "0.1.0"

__all__ = [
    "Logs",
    "Problem",
    "SweepPlan",
    "SweepResult",
    "Trace",
    "analysis",
    "best_index",
    "bounds",
    "compiler",
    "critical_batch_size",
    "data",
    "enable_compilation_cache",
    "execute",
    "first_below",
    "first_flagged",
    "hypergrad",
    "last_clear",
    "load",
    "metrics",
    "oracles",
    "plan",
    "plots",
    "problems",
    "progress",
    "rates",
    "run",
    "run_keys",
    "schedules",
    "search",
    "smooth",
    "static",
    "steps_to_target",
    "sweep",
    "tiles",
    "validation",
]
