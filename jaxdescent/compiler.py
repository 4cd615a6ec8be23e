"""The XLA options jaxdescent's programs are compiled with, per platform.

On CPU, XLA hands reductions to a library kernel (YNNPACK) by default. Over the tiny
trailing axes of a sweep -- the 2 coordinates of each of thousands of runs, reduced
to a loss and a gradient norm at every step -- that kernel is an order of magnitude
slower than XLA's own loop (measured on d2l's noisy quadratic: 32 ms against 3.4 ms
for one reduction per step over 4096 x 2 values, 1000 steps). jaxdescent's programs
keep the library for matrix products, where it is fast, and let XLA emit the rest.

They also use XLA's established CPU emitters for fused loops rather than the newer
fusion emitters: the same speed on every benchmark workload (within noise), and a
quarter less compile time (0.70 s against 0.95 s for the W2 sweep: the step loop and
the vectorized random-number loops drawn ahead of it).

A user who sets ``xla_cpu_experimental_ynn_fusion_type`` in ``XLA_FLAGS`` keeps that
choice: jaxdescent then passes no option. Other platforms get no options, and a jaxlib
that knows neither option compiles with its defaults.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp

__all__ = ["options", "jit"]

_YNN = "xla_cpu_experimental_ynn_fusion_type"
CPU_OPTIONS = {
    _YNN: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION",
    "xla_cpu_use_fusion_emitters": False,
}


@functools.cache
def _accepted() -> bool:
    """Whether this jaxlib knows the options (a tiny program compiled with them)."""
    try:
        fn = jax.jit(lambda x: jnp.sum(x * x), compiler_options=CPU_OPTIONS)
        fn.lower(jnp.ones((4, 2), jnp.float32)).compile()
        return True
    except Exception:  # an unknown option or value: compile with XLA's defaults
        return False


def options(platform: str) -> dict | None:
    """The compile options for programs that run on ``platform`` ("cpu", "gpu", ...)."""
    if platform != "cpu" or _YNN in os.environ.get("XLA_FLAGS", ""):
        return None
    return dict(CPU_OPTIONS) if _accepted() else None


def jit(fn, **jit_kwargs):
    """``jax.jit(fn, **jit_kwargs)``, compiled with `options` of the platform it is
    called for: ``jit(fn)(platform)`` returns the jitted function (cached)."""

    @functools.cache
    def for_platform(platform: str):
        return jax.jit(fn, compiler_options=options(platform), **jit_kwargs)

    return for_platform
