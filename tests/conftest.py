"""Shared test setup: float64 (the material's numbers are exact in float64) and a
compile counter built on jax.monitoring."""

import contextlib

import jax
import pytest

jax.config.update("jax_enable_x64", True)

_compiles = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: (
        _compiles.append(event) if event == "/jax/core/compile/backend_compile_duration" else None
    )
)


class CompileCounter:
    """Counts XLA backend compilations inside a `with counter.count():` block."""

    def __init__(self):
        self.n = 0

    @contextlib.contextmanager
    def count(self):
        start = len(_compiles)
        try:
            yield self
        finally:
            self.n = len(_compiles) - start


@pytest.fixture
def compiles():
    return CompileCounter()


@pytest.fixture
def float32():
    """Runs a test in float32, as users run the experiments (x64 is on for the rest)."""
    with jax.enable_x64(False):
        yield
