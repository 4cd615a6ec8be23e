"""Studies built on jaxdescent: each module is one vectorized sweep, runnable with
``python -m experiments.NAME``."""
