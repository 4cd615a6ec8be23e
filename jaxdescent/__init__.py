"""jaxdescent: gradient methods as pure JAX functions, swept as one compiled program."""

from jaxdescent import oracles, problems
from jaxdescent.problem import Problem
from jaxdescent.results import SweepResult, load
from jaxdescent.run import Trace, run
from jaxdescent.sweep import static, sweep

__version__ = "0.1.0"

__all__ = [
    "Problem",
    "SweepResult",
    "Trace",
    "load",
    "oracles",
    "problems",
    "run",
    "static",
    "sweep",
]
