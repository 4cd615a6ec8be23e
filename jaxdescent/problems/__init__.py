"""Built-in problems: test functions on R^d, regression and classification on data,
and penalty wrappers."""

from jaxdescent.problems.classification import (
    accuracy,
    data_loss,
    logistic_regression,
    mlp_classifier,
    mlp_logits,
    perceptron,
    predict,
    softmax_regression,
)
from jaxdescent.problems.functions import (
    HIMMELBLAU_MINIMA,
    himmelblau,
    quadratic,
    rastrigin,
    rosenbrock,
)
from jaxdescent.problems.penalties import l1, l2, penalty
from jaxdescent.problems.regression import least_squares, linear_regression
from jaxdescent.problems.worst_case import huber_worst_case

__all__ = [
    "HIMMELBLAU_MINIMA",
    "accuracy",
    "data_loss",
    "himmelblau",
    "huber_worst_case",
    "l1",
    "l2",
    "least_squares",
    "linear_regression",
    "logistic_regression",
    "mlp_classifier",
    "mlp_logits",
    "penalty",
    "perceptron",
    "predict",
    "quadratic",
    "rastrigin",
    "rosenbrock",
    "softmax_regression",
]
