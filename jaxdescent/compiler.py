"""The XLA options jaxdescent's programs are compiled with, per platform.

On CPU, XLA hands reductions and matrix products to a library (YNNPACK) by default.
jaxdescent's programs use XLA's own kernels for both:

* reductions: over the tiny trailing axes of a sweep -- the 2 coordinates of each of
  thousands of runs, reduced to a loss and a gradient norm at every step -- the
  library is an order of magnitude slower than XLA's own loop (measured on d2l's noisy
  quadratic: 32 ms against 3.4 ms for one reduction per step over 4096 x 2 values);
* matrix products: the library's kernels round differently for different batch
  shapes (measured: a run's MLP losses in float32 change in the 7th digit with the
  number of runs batched beside it), so a sweep cut into tiles of another size would
  not give bitwise the same numbers. XLA's own dot emitter gives every run the same
  arithmetic whatever the tile (only a batch of one run differs, which tiles avoid).
  The cost is speed where matrix products dominate: W3 of benchmarks/run.py (least
  squares, 4096 x 256) takes 1.7x as long. A user who prefers the library's speed
  sets ``xla_cpu_experimental_ynn_fusion_type`` in ``XLA_FLAGS`` (then jaxdescent
  passes no option at all) and gives up bitwise-equal tiling.

They also use XLA's established CPU emitters for fused loops rather than the newer
fusion emitters: the same speed on every benchmark workload (within noise), and a
quarter less compile time (0.70 s against 0.95 s for the W2 sweep: the step loop and
the vectorized random-number loops drawn ahead of it).

A user who sets ``xla_cpu_experimental_ynn_fusion_type`` in ``XLA_FLAGS`` keeps that
choice: jaxdescent then passes no option. Other platforms get no options, and a jaxlib
that knows neither option compiles with its defaults.

XLA takes compile options for a whole program only, so JAX accepts them on a top-level
``jax.jit`` alone. When a jaxdescent entry point is called while a JAX transformation
traces its caller (a user's ``jax.jit``, ``jax.vmap``, ``jax.grad``, ...), its program
becomes part of the caller's, and `entry_point` hands it over without options: the
caller's program is compiled with whatever options the caller chose.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.extend.core
import jax.numpy as jnp

__all__ = ["enable_compilation_cache", "entry_point", "jit", "options", "tracing"]

_YNN = "xla_cpu_experimental_ynn_fusion_type"
CPU_OPTIONS = {
    _YNN: "",
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


def tracing() -> bool:
    """Whether a JAX transformation is tracing the caller right now.

    True inside a function being transformed by ``jax.jit``, ``jax.vmap``,
    ``jax.grad``, ``jax.jvp``, ``jax.eval_shape``, ``lax.scan``, ... -- also when no
    argument of the caller is a tracer (``jax.grad(lambda lr: jd.run(p,
    optax.sgd(lr), steps=10).final_loss)`` traces ``lr`` inside the optimizer's
    closure only). False at the top level, where a program jaxdescent compiles is a
    whole XLA program of its own.

    JAX keeps the current trace in a context variable; at the top level it is the
    evaluation trace, which ``jax.core.eval_context()`` installs. The check compares
    the two through ``jax.extend.core.get_opaque_trace_state()``, the comparison JAX
    provides to libraries for exactly this (both are public API; ``jax.core``'s
    internal ``trace_state_clean()`` asks the same question).

    Example:
      >>> import jax
      >>> from jaxdescent import compiler
      >>> compiler.tracing()
      False
      >>> bool(jax.jit(lambda: compiler.tracing())())  # a Python bool, constant-folded
      True
    """
    current = jax.extend.core.get_opaque_trace_state()
    with jax.core.eval_context():
        top = jax.extend.core.get_opaque_trace_state()
    return current != top


def entry_point(fn, **jit_kwargs):
    """``fn`` compiled for a jaxdescent entry point: ``entry_point(fn)(platform)`` is
    `jit`'s function (compiled with `options`, cached) when called at the top level,
    and a plain ``jax.jit(fn, **jit_kwargs)`` while a JAX transformation is `tracing`
    the caller (then the program is part of the caller's, which JAX compiles, and a
    nested ``jax.jit`` may not carry compile options).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxdescent import compiler
      >>> square = compiler.entry_point(lambda x: x * x)
      >>> float(square("cpu")(3.0))
      9.0
      >>> float(jax.grad(lambda x: square("cpu")(x))(3.0))  # nested: no options
      6.0
    """
    top = jit(fn, **jit_kwargs)
    nested = jax.jit(fn, **jit_kwargs)

    def for_platform(platform: str):
        return nested if tracing() else top(platform)

    return for_platform


def enable_compilation_cache(path, *, min_compile_seconds: float = 0.0) -> None:
    """Keeps compiled programs on disk under ``path`` (JAX's persistent compilation
    cache), so a new process running the same sweep loads its program instead of
    compiling it again. Opt-in; call it before the first sweep of a process.

    The cache key is JAX's: the program's text, the compile options, the devices and
    the jax/jaxlib versions -- a changed program is compiled anew, never mistaken for
    a stored one. ``min_compile_seconds``: programs that compile faster are not stored
    (0: store every program).

    Example:
      >>> import tempfile, jaxdescent as jd
      >>> jd.enable_compilation_cache(tempfile.mkdtemp())  # doctest: +SKIP
    """
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(f"enable_compilation_cache: `path` must be a folder path, got {path!r}.")
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", os.fspath(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
