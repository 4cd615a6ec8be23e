"""Structural keys: what a Python function computes, as a hashable value, so that a
freshly created but identical function (a notebook cell run twice) finds the program
its twin compiled, and a function that computes something else does not.

The key of a function is its code (bytecode, constants, names; nested functions'
code too), its defaults, the values it closes over and the module globals its code
names, each keyed the same way, recursively. Arrays are keyed by dtype, shape and a
hash of their bytes; floats by their repr (-0.0 is not 0.0); classes, builtins and
anything else without a structure that can be read by identity (so the key never claims
two things are equal when it cannot tell). A user's own modules and classes are keyed
with the attributes the code reads (``cfg.SCALE``, ``Config.scale``); installed modules
(the standard library, site packages, jaxdescent) by name, on the assumption that
nobody reassigns their attributes while a process runs.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import sys
import types
from typing import Any

import jax
import numpy as np

__all__ = ["Keyed", "structural_key"]

_DEPTH = 24  # deeper than this, a value is keyed by identity


class _Identity:
    """Equal only to itself's target (``is``); keeps the target alive while keyed."""

    __slots__ = ("target",)

    def __init__(self, target):
        self.target = target

    def __hash__(self):
        return id(self.target)

    def __eq__(self, other):
        return isinstance(other, _Identity) and other.target is self.target


def _array_key(a) -> tuple:
    if isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
        return ("key", str(a.dtype), _array_key(jax.random.key_data(a)))
    a = np.asarray(a)
    digest = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
    return ("array", a.dtype.str, a.shape, digest)


def _code_key(code: types.CodeType) -> tuple:
    consts = tuple(
        _code_key(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c))
        for c in code.co_consts
    )
    return ("code", code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars)


def _global_names(code: types.CodeType) -> set:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


def structural_key(
    value: Any,
    _depth: int = 0,
    _active: frozenset = frozenset(),
    *,
    jax_arrays_by_identity: bool = False,
) -> Any:
    """A hashable key equal for values that compute the same thing (module docstring).

    ``jax_arrays_by_identity``: key JAX arrays (immutable) by identity instead of their
    bytes: cheaper, and still never equal for different contents (the key holds the
    array, so its identity cannot be reused); two equal arrays then differ.

    Example:
      >>> from jaxdescent.structural import structural_key
      >>> make = lambda: (lambda lr: 2 * lr)
      >>> structural_key(make()) == structural_key(make())
      True
      >>> structural_key(lambda lr: 2 * lr) == structural_key(lambda lr: 3 * lr)
      False
    """
    if isinstance(value, float | complex):  # repr tells -0.0 from 0.0, and NaN equals NaN
        return (type(value).__name__, repr(value))
    if value is None or isinstance(value, bool | int | str | bytes):
        return (type(value).__name__, value)
    if _depth > _DEPTH or id(value) in _active:
        return _Identity(value)
    active = _active | {id(value)}
    key = functools.partial(
        structural_key,
        _depth=_depth + 1,
        _active=active,
        jax_arrays_by_identity=jax_arrays_by_identity,
    )
    if isinstance(value, np.ndarray | np.generic):
        return _array_key(value)
    if isinstance(value, jax.Array):
        if jax_arrays_by_identity or isinstance(value, jax.core.Tracer):
            return _Identity(value)
        return _array_key(value)
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, types.FunctionType):
        code = value.__code__
        cells = tuple(key(_cell(c)) for c in (value.__closure__ or ()))
        used = _global_names(code)
        names = sorted(n for n in used if n in value.__globals__)
        globals_ = tuple((n, key(value.__globals__[n])) for n in names)
        # attributes the code reads from the user's own modules (``cfg.SCALE``)
        attrs = tuple(
            (n, a, key(getattr(value.__globals__[n], a)))
            for n in names
            if isinstance(value.__globals__[n], types.ModuleType)
            and not _installed(value.__globals__[n])
            for a in sorted(used)
            if hasattr(value.__globals__[n], a)
        )
        return (
            "function",
            value.__module__,
            value.__qualname__,
            _code_key(code),
            key(value.__defaults__),
            key(value.__kwdefaults__),
            cells,
            globals_,
            attrs,
        )
    if isinstance(value, types.MethodType):
        return ("method", key(value.__func__), key(value.__self__))
    if isinstance(value, functools.partial):
        return ("partial", key(value.func), key(value.args), key(value.keywords))
    if isinstance(value, Keyed):
        return value.key
    if isinstance(value, list | tuple):
        return (type(value).__name__, _type_key(type(value)), tuple(key(v) for v in value))
    if isinstance(value, dict):
        try:
            items = sorted(value.items(), key=lambda kv: repr(kv[0]))
        except Exception:
            return _Identity(value)
        return ("dict", tuple((key(k), key(v)) for k, v in items))
    if isinstance(value, set | frozenset):
        return ("set", frozenset(key(v) for v in value))
    if isinstance(value, type):
        return _type_key(value)
    if dataclasses.is_dataclass(value):
        fields = tuple((f.name, key(getattr(value, f.name))) for f in dataclasses.fields(value))
        return ("dataclass", _type_key(type(value)), fields)
    if isinstance(value, types.BuiltinFunctionType):
        return _Identity(value)
    state = getattr(value, "__dict__", None)
    if isinstance(state, dict) and not callable(value):
        return ("object", _type_key(type(value)), key(state))
    return _Identity(value)


def _type_key(cls: type):
    """A class by identity; a user's class also by its plain data attributes (a
    ``Config.scale = 2`` between two runs is a change)."""
    module = sys.modules.get(getattr(cls, "__module__", ""), None)
    if module is None or _installed(module):
        return _Identity(cls)
    data = tuple(
        (k, structural_key(v))
        for k, v in sorted(vars(cls).items())
        if isinstance(v, bool | int | float | complex | str | bytes | tuple | np.ndarray)
    )
    return (_Identity(cls), data)


def _installed(module: types.ModuleType) -> bool:
    """Whether a module is part of an installation (the standard library, site
    packages, jaxdescent itself): those do not change while a process runs."""
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    if not origin or origin in ("built-in", "frozen"):
        return True
    if module.__name__.split(".")[0] == "jaxdescent":
        return True
    return any(origin.startswith(p) for p in _PREFIXES)


_PREFIXES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell (a name not yet bound)
        return None


class Keyed:
    """A value that hashes and compares by a structural key computed once (a static
    argument of a compiled program: equal keys share the compiled program).

    ``value`` is the object itself (what the program is traced with); ``key`` its
    `structural_key`.
    """

    __slots__ = ("_hash", "key", "value")

    def __init__(self, value):
        self.value = value
        self.key = structural_key(value)
        self._hash = hash(self.key)

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        # by key alone, never by identity: one object whose closure or globals changed
        # between two keyings is two programs
        return isinstance(other, Keyed) and other._hash == self._hash and other.key == self.key

    def __call__(self, *args, **kwargs):
        """Calls the value (a keyed function stands in for the function)."""
        return self.value(*args, **kwargs)

    def __repr__(self):
        return f"Keyed({self.value!r})"
