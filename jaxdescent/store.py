"""Where a sweep's tiles go: arrays in memory, or an on-disk zarr store that a killed
sweep resumes from and that is read back lazily.

Both hold every `Trace` leaf in the program's layout: logs (combos, n_log, points,
seeds, ...) and one-value-per-run fields (combos, points, seeds, ...), where combos are
the static axes' combinations and points the numeric grid points, both flattened. A
tile is then one rectangular region -- in the zarr store exactly one chunk of each
array, so writing a tile never rewrites another's data. `Layout` turns that layout into
the result's, (*grid axes in the user's order, seed, [step], ...): a view of the
arrays in memory, an index mapping over the store (`LazyArray`).

The store (a directory ``<path>``, zarr format 3, no compression):
``step``, ``loss``, ``grad_norm``, ``final_loss``, ``diverged``, ``diverged_at``,
``metrics/<name>``, ``params/<i>`` and ``final_params/<i>`` (the leaves of the params
pytree, in ``jax.tree`` order), ``axis/<name>`` (numeric axes' values at each point);
its attributes hold the format, the fingerprint of the sweep, the axes, the tiling and
the result's meta. ``<path>/.jaxdescent.json`` is the manifest (format, fingerprint,
tiling), written last when the store is made: a folder without it is not jaxdescent's
and is never deleted. ``<path>/.tiles/<i>.json`` marks tile ``i`` finished: written
atomically after the tile's data, it holds the fingerprint, the tile's index and bounds
and a SHA-256 of its data, all checked before the tile is reused. ``<path>/.users/``
holds one lease per process using the store; ``<path>.lock`` is its file lock. Every array has
dimension names, so ``xarray.open_zarr(path)`` opens it (dims ``combo``, ``step``,
``point``, ``seed``; the numeric axes are coordinates along ``point``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import tempfile
import uuid
import warnings
from typing import NamedTuple

import filelock
import jax
import numpy as np
import zarr

from jaxdescent.trace import FINAL, LOGGED, Trace

__all__ = [
    "FORMAT",
    "MANIFEST",
    "LazyArray",
    "Layout",
    "MemoryStore",
    "ZarrStore",
    "check_stored",
    "fingerprint",
    "npz_fingerprint",
    "read_manifest",
    "tile_checksum",
    "write_file",
]

FORMAT = "jaxdescent.SweepStore/1"


def fingerprint(*parts) -> str:
    """A hash of arrays and JSON-able facts (what decides a sweep's results)."""
    h = hashlib.sha256()
    for part in parts:
        for leaf in jax.tree.leaves(part):
            if isinstance(leaf, str | int | float | bool):
                h.update(json.dumps(leaf).encode())
            else:
                a = np.asarray(leaf)
                h.update(str((a.dtype, a.shape)).encode())
                h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class Layout(NamedTuple):
    """How the stored (combos, [n_log], points, seeds, ...) maps to the result's axes."""

    static_shape: tuple  # sizes of the static axes, in grid order
    numeric_shape: tuple  # sizes of the numeric axes, in grid order
    order: tuple  # per grid axis in the user's order: ("static" | "numeric", position)

    @classmethod
    def of(cls, axes) -> Layout:
        order, n_s, n_n = [], 0, 0
        for a in axes:
            if a.numeric:
                order.append(("numeric", n_n))
                n_n += 1
            else:
                order.append(("static", n_s))
                n_s += 1
        return cls(
            tuple(len(a.values) for a in axes if not a.numeric),
            tuple(len(a.values) for a in axes if a.numeric),
            tuple(order),
        )

    def _perm(self, logged: bool, ndim: int) -> list:
        # expanded stored axes: (*static, [T], *numeric, S, *rest)
        n_s, n_n = len(self.static_shape), len(self.numeric_shape)
        t = 1 if logged else 0
        where = {("static", i): i for i in range(n_s)}
        where.update({("numeric", i): n_s + t + i for i in range(n_n)})
        grid = [where[o] for o in self.order]
        seed = n_s + t + n_n
        head = grid + [seed] + ([n_s] if logged else [])
        return head + list(range(seed + 1, ndim))

    def view(self, a: np.ndarray, logged: bool) -> np.ndarray:
        """The result's view of a stored array held in memory (no copy)."""
        t = a.shape[1:2] if logged else ()
        rest = a.shape[(3 if logged else 2) :]
        a = a.reshape(self.static_shape + t + self.numeric_shape + rest)
        return a.transpose(self._perm(logged, a.ndim))


class LazyArray:
    """A stored array read on demand in the result's layout. Indexing is orthogonal
    (each axis by an int, a slice or a list of positions) and reads only what it
    selects; ``np.asarray`` reads it whole."""

    def __init__(self, stored, layout: Layout, logged: bool):
        self.stored, self.layout, self.logged = stored, layout, logged
        st = stored.shape
        n_s, n_n = len(layout.static_shape), len(layout.numeric_shape)
        t = st[1:2] if logged else ()
        rest = st[(3 if logged else 2) :]
        expanded = layout.static_shape + t + layout.numeric_shape + rest
        perm = layout._perm(logged, n_s + len(t) + n_n + len(rest))
        self.shape = tuple(expanded[p] for p in perm)
        self.dtype = np.dtype(stored.dtype)

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))
    nbytes = property(lambda self: self.size * self.dtype.itemsize)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"LazyArray(shape={self.shape}, dtype={self.dtype})"

    def __array__(self, dtype=None, copy=None):
        a = self[()]
        return a if dtype is None else a.astype(dtype)

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            i = key.index(Ellipsis)
            key = key[:i] + (slice(None),) * (self.ndim - len(key) + 1) + key[i + 1 :]
        key = key + (slice(None),) * (self.ndim - len(key))
        if len(key) > self.ndim:
            raise IndexError(f"too many indices for an array of {self.ndim} dimensions")
        picks, drop = [], []
        for k, n in zip(key, self.shape):
            if isinstance(k, int | np.integer):
                if not -n <= k < n:
                    raise IndexError(f"index {k} is out of range for an axis of {n}")
                picks.append(np.asarray([int(k) % n]))
                drop.append(True)
            else:
                picks.append(np.arange(n)[k])
                drop.append(False)
        lay = self.layout
        n_grid = len(lay.order)
        grid_picks, seed_pick = picks[:n_grid], picks[n_grid]
        t_pick = picks[n_grid + 1] if self.logged else None
        rest = picks[n_grid + (2 if self.logged else 1) :]
        s_sel = [grid_picks[i] for i, (kind, _) in enumerate(lay.order) if kind == "static"]
        n_sel = [grid_picks[i] for i, (kind, _) in enumerate(lay.order) if kind == "numeric"]
        u = _flat(s_sel, lay.static_shape)
        g = _flat(n_sel, lay.numeric_shape)
        stored_key = (u,) + ((t_pick,) if self.logged else ()) + (g, seed_pick) + tuple(rest)
        t = (len(t_pick),) if self.logged else ()
        want = tuple(len(x) for x in s_sel) + t + tuple(len(x) for x in n_sel)
        try:
            a = _read(self.stored, stored_key)
            # (|u|, [|t|], |g|, |s|, ...) -> expanded selection axes -> the result's order
            a = a.reshape(want + a.shape[len(t) + 2 :])
        except Exception as e:  # a chunk file truncated, emptied or resized on disk
            root = getattr(getattr(self.stored, "store", None), "root", "")
            name = getattr(getattr(self.stored, "store_path", None), "path", "")
            where = os.path.join(str(root), name) if root else name or "the store"
            raise ValueError(
                f"reading {where!r} of a sweep store failed: its chunk files are damaged "
                f"({type(e).__name__}: {e}). Run the same jd.sweep(..., out=...) call again: "
                "it checks every tile and computes damaged ones anew."
            ) from None
        a = a.transpose(lay._perm(self.logged, a.ndim))
        return a.reshape(tuple(s for s, d in zip(a.shape, drop) if not d) + a.shape[len(drop) :])


def _flat(picks: list, shape: tuple) -> np.ndarray:
    """Flat (C order) positions of the cartesian product of per-axis picks."""
    if not shape:
        return np.zeros(1, np.int64)
    grids = np.meshgrid(*picks, indexing="ij")
    return np.ravel_multi_index([g.reshape(-1) for g in grids], shape).astype(np.int64)


def _read(stored, key) -> np.ndarray:
    if any(len(k) == 0 for k in key):
        return np.empty(tuple(len(k) for k in key) + stored.shape[len(key) :], stored.dtype)
    return np.asarray(stored.oindex[key])


# --- the two stores -----------------------------------------------------------------------


def leaf_shapes(tile: Trace, n_combos, n_points, n_seeds) -> Trace:
    """The stored shapes of every leaf, from one tile's output of the first combo."""

    def shape(field):
        def one(a):
            if field in LOGGED:  # (n_log, P, S, ...)
                return (n_combos, a.shape[0], n_points, n_seeds) + a.shape[3:], a.dtype
            return (n_combos, n_points, n_seeds) + a.shape[2:], a.dtype

        return one

    return tile._replace(
        **{f: jax.tree.map(shape(f), getattr(tile, f)) for f in LOGGED + FINAL}, step=None
    )


def _write(arrays: Trace, outs: tuple, bounds) -> None:
    """Writes one tile (a `Trace` per combo, padded) into stored arrays (any indexable)."""
    p0, p1, s0, s1 = bounds
    for u, out in enumerate(outs):
        for field in LOGGED + FINAL:
            dst, src = jax.tree.leaves(getattr(arrays, field)), jax.tree.leaves(getattr(out, field))
            for d, a in zip(dst, src):
                if field in LOGGED:
                    d[u, :, p0:p1, s0:s1] = np.asarray(a)[:, : p1 - p0, : s1 - s0]
                else:
                    d[u, p0:p1, s0:s1] = np.asarray(a)[: p1 - p0, : s1 - s0]


class MemoryStore:
    """The result's arrays in memory (NumPy, read-only), in the stored layout.

    A sweep of one tile that needs no padding and has one static combination keeps
    the tile's own host arrays (no copy); otherwise the arrays are allocated at the
    first write and filled tile by tile."""

    def __init__(self, shapes: Trace):
        self.shapes = shapes
        self._arrays = None

    @property
    def arrays(self) -> Trace:
        if self._arrays is None:
            self._arrays = self.shapes._replace(
                **{
                    f: _map_specs(lambda spec: np.empty(spec[0], spec[1]), getattr(self.shapes, f))
                    for f in LOGGED + FINAL
                }
            )
        return self._arrays

    def done(self, bounds: list) -> np.ndarray:
        return np.zeros(len(bounds), bool)

    def write(self, i: int, outs: tuple, bounds) -> None:
        if self._arrays is None and len(outs) == 1 and self._whole(outs[0]):
            tile = outs[0]
            self._arrays = tile._replace(
                **{
                    f: jax.tree.map(lambda a: np.asarray(a)[None], getattr(tile, f))
                    for f in LOGGED + FINAL
                },
                step=None,
            )
            return
        _write(self.arrays, outs, bounds)

    def _whole(self, tile: Trace) -> bool:
        """Whether ``tile`` (one combination) is the whole result, unpadded."""
        for f in LOGGED + FINAL:
            specs = jax.tree.leaves(getattr(self.shapes, f), is_leaf=_is_spec)
            leaves = jax.tree.leaves(getattr(tile, f))
            if len(specs) != len(leaves):
                return False
            for (shape, dtype), a in zip(specs, leaves):
                if (1, *a.shape) != tuple(shape) or a.dtype != dtype:
                    return False
        return True

    def finish(self) -> Trace:
        """The arrays, made read-only (a view of a program's output cannot be written)."""
        for f in LOGGED + FINAL:
            for a in jax.tree.leaves(getattr(self.arrays, f)):
                a.flags.writeable = False
        return self.arrays


def _map_specs(fn, tree):
    return jax.tree.map(fn, tree, is_leaf=_is_spec)


def _is_spec(x) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], tuple)


MANIFEST = ".jaxdescent.json"  # a store's manifest: jaxdescent made this folder


def _lock(path: str) -> filelock.FileLock:
    """The lock of the store at ``path`` (a file beside it, ``<path>.lock``): held
    while a store is created, a tile is written or the store is finished/removed."""
    return filelock.FileLock(os.fspath(path) + ".lock")


def write_file(path: str, data: bytes | memoryview) -> None:
    """Writes ``data`` to ``path`` atomically: a temp file of a unique name, created
    exclusively (a link planted there is never followed), flushed, given the
    permissions the umask allows, then renamed over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_manifest(path: str) -> dict | None:
    """The manifest of the store at ``path``; None when it has none (or it is not
    one jaxdescent can read)."""
    try:
        with open(os.path.join(path, MANIFEST)) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def check_stored(out: str, kind: str, fp: str, overwrite: bool) -> None:
    """Raises before a sweep runs when ``out`` holds something it must not replace:
    a result of another fingerprint (unless ``overwrite``), or a folder jaxdescent
    did not make (always)."""
    stores = [out] if kind == "zarr" else [out + ".partial"]
    for path in stores:
        if not os.path.lexists(path):
            continue
        with _lock(path):  # a store another process is creating is whole once we hold it
            manifest = read_manifest(path) if os.path.isdir(path) else None
            exists = os.path.lexists(path)
        if not exists:  # removed meanwhile by the process that finished it
            continue
        if manifest is None:
            raise ValueError(
                f"{path!r} exists and is not a jaxdescent store (no {MANIFEST} in it); "
                "jaxdescent never deletes what it did not make: remove it, or choose "
                "another `out`."
            )
        if manifest.get("fingerprint") != fp and not overwrite:
            raise ValueError(_other_result(path))
    if kind == "npz" and os.path.exists(out) and not overwrite:
        stored = npz_fingerprint(out)
        if stored != fp:
            raise ValueError(_other_result(out))


def _other_result(path: str) -> str:
    return (
        f"{path!r} holds the result of another computation (its fingerprint differs: "
        "the code, data, grid, seeds, tiling or versions changed); it is kept. Pass "
        "overwrite=True to replace it, or choose another `out`."
    )


def npz_fingerprint(path: str) -> str | None:
    """The fingerprint stored in an .npz result (None: none, or not readable)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["__meta__"]).decode())
    except Exception:
        return None
    return (meta.get("meta") or {}).get("fingerprint")


def tile_checksum(arrays: Trace, bounds) -> str:
    """A hash of one tile's region of every stored array (what its mark records)."""
    p0, p1, s0, s1 = bounds
    h = hashlib.sha256()
    for field in LOGGED + FINAL:
        for d in jax.tree.leaves(getattr(arrays, field)):
            region = d[:, :, p0:p1, s0:s1] if field in LOGGED else d[:, p0:p1, s0:s1]
            h.update(np.ascontiguousarray(np.asarray(region)).tobytes())
    return h.hexdigest()


class ZarrStore:
    """A sweep's result on disk (module docstring). ``open`` reuses a store of the
    same sweep (fingerprint and tiling) and starts any other of its own afresh;
    ``write`` stores a tile and then its mark; only ``writer`` processes write.

    Faults: a tile is finished only when its mark holds the store's fingerprint, the
    tile's index and bounds and a checksum of its data that the data still match;
    ``done`` checks every mark and reports any other tile as missing (with a warning
    naming the file), so a damaged, foreign or altered tile is recomputed, never used.
    Several processes may run the same sweep on one store: creating it, writing a
    tile (skipped when another process has finished it) and finishing it are done
    under a lock, and a process removes a store only when no other still uses it.
    """

    def __init__(self, path: str, group, writer: bool = True, fingerprint: str | None = None):
        self.path, self.group, self.writer, self.fingerprint = path, group, writer, fingerprint
        self.lease = None

    @classmethod
    def open(cls, path, shapes: Trace, attrs: dict, tile_chunks, extras: dict, writer=True):
        """``extras``: name -> (array, dimension names) stored beside the leaves."""
        path = os.fspath(path)
        fp = attrs.get("fingerprint")
        if not writer:
            return cls(path, zarr.open_group(path, mode="r"), writer, fp)
        keys = ("format", "fingerprint", "tiling")
        with _lock(path):
            manifest = read_manifest(path) if os.path.isdir(path) else None
            if os.path.lexists(path) and manifest is None:
                raise ValueError(
                    f"{path!r} exists and is not a jaxdescent store (no {MANIFEST} in it); "
                    "remove it, or choose another `out`."
                )
            same = manifest is not None and all(manifest.get(k) == attrs.get(k) for k in keys)
            if same:
                try:
                    zarr.open_group(path, mode="r")
                except Exception:  # our store, damaged beyond its tiles: start afresh
                    warnings.warn(
                        f"{path}: the store's metadata is unreadable; starting afresh.",
                        stacklevel=3,
                    )
                    same = False
            if manifest is not None and not same:
                shutil.rmtree(path)  # ours (it has our manifest), of another sweep or damaged
            if not same:
                os.makedirs(path)
                group = zarr.open_group(path, mode="w", zarr_format=3)
                group.attrs.update(attrs)
                _create_arrays(group, shapes, tile_chunks)
                for name, (a, dims) in extras.items():
                    a = np.asarray(a)
                    group.create_array(name, data=a, chunks=a.shape or None, dimension_names=dims)
                os.makedirs(os.path.join(path, ".tiles"), exist_ok=True)
                manifest = json.dumps({k: attrs.get(k) for k in keys}).encode()
                write_file(os.path.join(path, MANIFEST), manifest)  # last: the store is whole
            store = cls(path, zarr.open_group(path, mode="r+"), writer, fp)
            store.lease = store._take_lease()
        return store

    # -- leases: which processes use the store (so none removes it under another) --

    def _take_lease(self) -> str:
        folder = os.path.join(self.path, ".users")
        os.makedirs(folder, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}"
        write_file(os.path.join(folder, name), b"")
        return name

    def _other_users(self) -> list:
        folder = os.path.join(self.path, ".users")
        try:
            names = [n for n in os.listdir(folder) if n != self.lease and not n.endswith(".tmp")]
        except OSError:
            return []
        return [n for n in names if _alive(n)]

    def release(self) -> None:
        """Gives up this process's use of the store (removing the store is `clear`)."""
        if self.lease is not None:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.path, ".users", self.lease))
            self.lease = None

    # -- tiles --

    def _mark(self, i: int) -> str:
        return os.path.join(self.path, ".tiles", f"{i}.json")

    def _valid(self, i: int, bounds, arrays: Trace, quiet: bool = False) -> bool:
        path = self._mark(i)
        if not os.path.exists(path):
            return False
        try:
            with open(path) as f:
                mark = json.load(f)
            ok = (
                mark.get("fingerprint") == self.fingerprint
                and mark.get("tile") == i
                and list(mark.get("bounds", [])) == [int(b) for b in bounds]
                and mark.get("checksum") == tile_checksum(arrays, bounds)
            )
            reason = "its mark or data do not match this sweep (damaged or altered)"
        except Exception as e:  # unreadable mark or chunk
            ok, reason = False, f"it cannot be read ({type(e).__name__}: {e})"
        if not ok and not quiet:
            warnings.warn(
                f"{path}: tile {i} is not used ({reason}); it is computed again.", stacklevel=3
            )
        return ok

    def done(self, bounds: list) -> np.ndarray:
        """Which tiles are finished and intact (``bounds``: every tile's bounds)."""
        arrays = self.arrays()
        return np.asarray([self._valid(i, b, arrays) for i, b in enumerate(bounds)], bool)

    def write(self, i: int, outs: tuple, bounds) -> None:
        if not self.writer:
            return
        with _lock(self.path):
            arrays = self.arrays()
            if os.path.exists(self._mark(i)) and self._valid(i, bounds, arrays, quiet=True):
                return  # another process finished this tile meanwhile
            _write(arrays, outs, bounds)
            mark = {
                "fingerprint": self.fingerprint,
                "tile": i,
                "bounds": [int(b) for b in bounds],
                "checksum": tile_checksum(arrays, bounds),
            }
            write_file(self._mark(i), json.dumps(mark).encode())

    def arrays(self) -> Trace:
        """The stored arrays (zarr), as a `Trace` of leaves in the stored layout."""
        return trace_of(self.group)

    def clear(self) -> None:
        """Removes the store, unless another process still uses it (it then goes when
        the last one clears it)."""
        with _lock(self.path):
            self.release()
            if not self._other_users():
                shutil.rmtree(self.path, ignore_errors=True)

    def finish(self, meta: dict) -> None:
        if self.writer:
            with _lock(self.path):
                self.group.attrs["meta"] = meta
                self.group.attrs["complete"] = True


def _alive(lease: str) -> bool:
    """Whether the process of a lease (``host-pid-uuid``) may still run: a process of
    this host that is gone holds no lease; one of another host is assumed alive."""
    host, pid = lease.rsplit("-", 2)[:2]
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _tree_names(field: str, tree) -> list:
    return [f"{field}/{i}" for i in range(len(jax.tree.leaves(tree)))]


def _create_arrays(group, shapes: Trace, tile_chunks) -> None:
    """One array per leaf, chunked by tile: ``tile_chunks = (points, seeds)``."""
    P, S = tile_chunks
    structure = {}
    for field in LOGGED + FINAL:
        tree = getattr(shapes, field)
        specs = jax.tree.leaves(tree, is_leaf=_is_spec)
        names = [field] if field not in ("params", "final_params", "metrics") else None
        if field == "metrics":
            names = [f"metrics/{k}" for k in sorted(tree)]
            specs = [tree[k] for k in sorted(tree)]
        elif names is None:
            names = _tree_names(field, specs)
        if tree is not None and field in ("params", "final_params"):
            structure[field] = _encode_structure(tree)
        for name, (shape, dtype) in zip(names, specs):
            logged = field in LOGGED
            head = ("combo", "step", "point", "seed") if logged else ("combo", "point", "seed")
            dims = head + tuple(
                f"{name.replace('/', '_')}_dim{i}" for i in range(len(shape) - len(head))
            )
            chunks = (shape[0],) + ((shape[1],) if logged else ()) + (P, S) + shape[len(head) :]
            group.create_array(
                name,
                shape=shape,
                dtype=dtype,
                chunks=tuple(max(1, c) for c in chunks),
                compressors=None,
                fill_value=_fill(dtype),
                dimension_names=dims,
            )
    group.attrs["structure"] = structure


def _fill(dtype):
    kind = np.dtype(dtype).kind
    return np.nan if kind == "f" else (False if kind == "b" else -1)


def _encode_structure(tree) -> str:
    """The params pytree's structure (containers only) as JSON."""

    def enc(t):
        if isinstance(t, dict):
            return {"dict": {str(k): enc(v) for k, v in t.items()}}
        if isinstance(t, list | tuple) and not _is_spec(t):
            return {"list" if isinstance(t, list) else "tuple": [enc(v) for v in t]}
        return {"leaf": None}

    return json.dumps(enc(tree))


def decode_structure(text: str, leaves: list):
    """A pytree from `_encode_structure`'s JSON and its leaves in order."""
    it = iter(leaves)

    def dec(s):
        if "leaf" in s:
            return next(it)
        if "dict" in s:
            return {k: dec(v) for k, v in s["dict"].items()}
        if "list" in s:
            return [dec(v) for v in s["list"]]
        return tuple(dec(v) for v in s["tuple"])

    return dec(json.loads(text))


def trace_of(group) -> Trace:
    """The stored arrays of a zarr group as a `Trace` (``step`` read into memory)."""
    structure = dict(group.attrs.get("structure", {}))

    def tree(field):
        if field not in structure:
            return None
        sub = group[field]
        leaves = [sub[str(i)] for i in range(len(list(sub.array_keys())))]
        return decode_structure(structure[field], leaves)

    metrics = (
        {k: group["metrics"][k] for k in sorted(group["metrics"].array_keys())}
        if ("metrics" in group)
        else {}
    )
    return Trace(
        step=np.asarray(group["step"][...]) if "step" in group else None,
        loss=group["loss"],
        grad_norm=group["grad_norm"],
        params=tree("params"),
        metrics=metrics,
        final_params=tree("final_params"),
        final_loss=group["final_loss"],
        diverged=group["diverged"],
        diverged_at=group["diverged_at"],
    )
