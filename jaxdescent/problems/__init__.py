"""Built-in problems: test functions on R^d and regression on data."""

from jaxdescent.problems.functions import (
    HIMMELBLAU_MINIMA,
    himmelblau,
    quadratic,
    rastrigin,
    rosenbrock,
)
from jaxdescent.problems.regression import least_squares, linear_regression

__all__ = [
    "HIMMELBLAU_MINIMA",
    "himmelblau",
    "least_squares",
    "linear_regression",
    "quadratic",
    "rastrigin",
    "rosenbrock",
]
