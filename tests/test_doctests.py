"""Every docstring example in the package runs and prints what it says
(the equivalent of ``pytest --doctest-modules jaxdescent``), in float32 as users run it."""

import doctest
import importlib
import pkgutil

import jax
import pytest

import jaxdescent

MODULES = sorted(m.name for m in pkgutil.walk_packages(jaxdescent.__path__, prefix="jaxdescent."))


@pytest.mark.parametrize("name", ["jaxdescent", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    with jax.enable_x64(False):
        result = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
        )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_examples_are_there():
    finder = doctest.DocTestFinder()
    examples = sum(
        len(t.examples) for name in MODULES for t in finder.find(importlib.import_module(name))
    )
    assert examples >= 100  # every public name with a runnable example
