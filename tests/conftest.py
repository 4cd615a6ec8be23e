"""Shared test setup: float64 (the material's numbers are exact in float64) and a
compile counter built on jax.monitoring."""

import contextlib

import jax
import pytest

jax.config.update("jax_enable_x64", True)

_compiles = []  # the function name of every XLA backend compilation
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: (
        _compiles.append(kw.get("fun_name", ""))
        if event == "/jax/core/compile/backend_compile_duration"
        else None
    )
)
_PROGRAMS = ("jit(tile_program)", "jit(trajectory)")


class CompileCounter:
    """Counts XLA backend compilations inside a `with counter.count():` block: all of
    them (``n``), and those of a run's or a sweep's program (``programs``; tiny eager
    operations, e.g. building a problem from concrete values, are not programs)."""

    def __init__(self):
        self.n = 0
        self.programs = 0

    @contextlib.contextmanager
    def count(self):
        start = len(_compiles)
        try:
            yield self
        finally:
            names = _compiles[start:]
            self.n = len(names)
            self.programs = sum(name in _PROGRAMS for name in names)


@pytest.fixture
def compiles():
    return CompileCounter()


@pytest.fixture
def float32():
    """Runs a test in float32, as users run the experiments (x64 is on for the rest)."""
    with jax.enable_x64(False):
        yield


def pytest_terminal_summary(terminalreporter):
    """Prints tests/test_optax_all.py's table (optimizers tested, each sweep cell's
    equality with its run, every skipped name with its reason) when that file ran."""
    reports = [
        r
        for rs in terminalreporter.stats.values()
        for r in rs
        if getattr(r, "when", None) == "call" and "test_optax_all.py" in getattr(r, "nodeid", "")
    ]
    if not reports:
        return
    import test_optax_all

    prefix = test_optax_all.EQUALITY
    equality = {
        k[len(prefix) :]: v for r in reports for k, v in r.user_properties if k.startswith(prefix)
    }
    terminalreporter.section("optax optimizers: tested and skipped")
    for line in test_optax_all.summary_lines(equality):
        terminalreporter.write_line(line)
