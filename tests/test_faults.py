"""Results you can trust on disk: stale results are never reused (14 code and data
edits between two processes), a damaged store is repaired tile by tile, two
processes on one ``out`` agree, and jaxdescent never deletes or follows what it did
not make."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import optax
import pytest

import jaxdescent as jd

# --- the stale-result matrix ----------------------------------------------------------
# One sweep written as a module; each edit changes one thing a user may change between
# two runs. Process A runs the base sweep into one `out` per edit; process B runs each
# edited module on its `out` (every one must be refused: another fingerprint) and the
# unchanged module on a copy (it must resume: the stored result, equal).

BASE = """
import jax, jax.numpy as jnp, numpy as np, optax, jaxdescent as jd
SCALE = 1.0
X = np.array([1.0, 2.0, 3.0, 4.0]); Y = np.array([2.0, 4.1, 5.9, 8.2])

def loss(w, batch):
    return jnp.mean((w * batch["x"] - batch["y"]) ** 2)

def init(key):
    return jax.random.normal(key, ()) * 0.1

def gap(w):
    return jnp.abs(w - 2.0)

def slow(t):
    return 1.0 / (1.0 + 0.1 * t)

def fast(t):
    return 1.0 / (1.0 + 0.5 * t)

def problem_factory(l2):
    base = jd.Problem(loss, init, data={"x": jnp.asarray(X), "y": jnp.asarray(Y)})
    return jd.problems.l2(base, l2)

def make(lr, sched):
    return optax.sgd(lambda t: SCALE * 0.5 * lr * sched(t))

def run(out, **kw):
    return jd.sweep(problem_factory, make,
                    {"lr": [0.01, 0.05], "l2": [0.0, 0.1], "sched": [slow, fast]},
                    seeds=2, steps=8, oracle=jd.oracles.minibatch(2),
                    metrics={"gap": gap}, out=out, progress=False, **kw)
"""

EDITS = {  # name -> (old, new) in BASE
    "loss body": ('- batch["y"]) ** 2)', '- batch["y"]) ** 2) * 1.0001'),
    "sgd to adam": ("optax.sgd(lambda", "optax.adam(lambda"),
    "constant in make": ("SCALE * 0.5 *", "SCALE * 0.6 *"),
    "module constant": ("SCALE = 1.0", "SCALE = 1.5"),
    "random init body": ("* 0.1\n", "* 0.2\n"),
    "metric body": ("jnp.abs(w - 2.0)", "jnp.abs(w - 2.5)"),
    "schedule on a static axis": ("0.5 * t)", "0.6 * t)"),
    "data in a factory": ("8.2])", "8.3])"),
    "l2 strength grid": ('"l2": [0.0, 0.1]', '"l2": [0.0, 0.2]'),
    "learning rate grid": ('"lr": [0.01, 0.05]', '"lr": [0.01, 0.06]'),
    "seeds": ("seeds=2", "seeds=[0, 5]"),
    "steps": ("steps=8", "steps=10"),
    "oracle": ("minibatch(2)", "minibatch(3)"),
    "loss name kept, model changed": ("(w * batch", "(w * w * batch"),
}

DRIVER = """
import importlib.util, json, sys, numpy as np
def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m
jobs = json.loads(sys.argv[1]); report = {}; modules = {}
for name, module, out in jobs:
    if module not in modules:  # one module object per file: its sweeps share a program
        modules[module] = load(module, "sweep_" + str(len(modules)))
    m = modules[module]
    try:
        r = m.run(out)
        report[name] = ["ran", np.asarray(r.loss).tolist()]
    except ValueError as e:
        report[name] = ["refused", str(e)]
print("REPORT" + json.dumps(report))
"""


def _drive(tmp_path, jobs):
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(jobs)],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={**os.environ, "JAX_ENABLE_X64": "0"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("REPORT")][-1]
    return json.loads(line[len("REPORT") :])


def test_every_edit_is_detected_and_unchanged_code_resumes(tmp_path):
    base = tmp_path / "base.py"
    base.write_text(BASE)
    jobs_a, jobs_b = [], []
    for i, (name, (old, new)) in enumerate(EDITS.items()):
        assert BASE.count(old) >= 1, name
        edited = tmp_path / f"edit{i}.py"
        edited.write_text(BASE.replace(old, new))
        for suffix in (".zarr", ".npz"):
            out = str(tmp_path / f"out{i}{suffix}")
            jobs_a.append([name + suffix, str(base), out])
            jobs_b.append([name + suffix, str(edited), out])
    for suffix in (".zarr", ".npz"):
        same = ["unchanged" + suffix, str(base), str(tmp_path / f"same{suffix}")]
        jobs_a.append(same)
        jobs_b.append(same)
    first = _drive(tmp_path, jobs_a)
    assert all(v[0] == "ran" for v in first.values())
    second = _drive(tmp_path, jobs_b)
    expected = sorted(n + sfx for n in EDITS for sfx in (".zarr", ".npz"))
    refused = sorted(n for n, v in second.items() if v[0] == "refused")
    assert refused == expected, set(expected) - set(refused)  # 14 of 14 detected, both stores
    assert all("overwrite=True" in second[n][1] for n in expected)
    for suffix in (".zarr", ".npz"):  # a fresh process resumes unchanged code
        assert second["unchanged" + suffix] == first["unchanged" + suffix]


def test_overwrite_replaces_and_default_keeps(tmp_path):
    out = str(tmp_path / "r.npz")
    kw = dict(seeds=2, steps=5, out=out, progress=False)
    a = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr), {"lr": [0.1]}, **kw)
    with pytest.raises(ValueError, match="overwrite=True"):
        jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(2 * lr), {"lr": [0.1]}, **kw)
    assert (jd.load(out).loss == a.loss).all()  # kept
    b = jd.sweep(
        jd.problems.quadratic(), lambda lr: optax.sgd(2 * lr), {"lr": [0.1]}, overwrite=True, **kw
    )
    assert (jd.load(out).loss == b.loss).all() and not (b.loss == a.loss).all()


def test_function_oracle_resumes(tmp_path):
    """A function oracle (once fingerprinted by its repr, a memory address) resumes."""
    module = tmp_path / "fo.py"
    module.write_text(
        BASE.replace("oracle=jd.oracles.minibatch(2)", "oracle=noisy")
        + textwrap.dedent(
            """
            def noisy(problem, params, step, key):
                loss, g = jax.value_and_grad(problem.objective)(params)
                return loss, g + 0.1 * jax.random.normal(key, jnp.shape(g))
            """
        )
    )
    out = str(tmp_path / "fo.zarr")
    first = _drive(tmp_path, [["fo", str(module), out]])
    again = _drive(tmp_path, [["fo", str(module), out]])
    assert first == again and first["fo"][0] == "ran"


# --- damaged tiles --------------------------------------------------------------------


def _sweep(out, **kw):
    return jd.sweep(
        jd.problems.quadratic(), lambda lr: optax.sgd(lr), {"lr": [0.01, 0.05, 0.1, 0.2]},
        seeds=4, steps=10, chunk_size=4, oracle=jd.oracles.gaussian_noise(1.0), out=out,
        keep_params=False, progress=False, **kw,
    )  # fmt: skip


def _chunk(store, array, tile):
    """The file of ``array``'s chunk of tile ``tile`` (one tile = one chunk; the
    point-chunk index is the tile's, all others 0)."""
    arr = store / array / "c"
    parts = {"loss": [0, 0, tile, 0], "final_loss": [0, tile, 0]}[array]
    return arr.joinpath(*map(str, parts))


DAMAGES = {
    "truncated": lambda f, other: f.write_bytes(f.read_bytes()[:7]),
    "empty": lambda f, other: f.write_bytes(b""),
    "bit flip": lambda f, other: f.write_bytes(_flip(f.read_bytes())),
    "wrong size": lambda f, other: f.write_bytes(f.read_bytes() + b"\0" * 8),
    "another tile's data": lambda f, other: f.write_bytes(other.read_bytes()),
    "altered values": lambda f, other: f.write_bytes(
        (np.frombuffer(f.read_bytes(), np.float32) * 0.5).astype(np.float32).tobytes()
    ),
    "deleted": lambda f, other: f.unlink(),
}


def _flip(b: bytes) -> bytes:
    b = bytearray(b)
    b[len(b) // 2] ^= 0x10
    return bytes(b)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_tile_is_recomputed_with_a_warning(tmp_path, float32, damage):
    out = tmp_path / "s.zarr"
    ref = _sweep(str(out))
    ref_loss = np.asarray(ref.loss).copy()
    target, other = _chunk(out, "loss", 1), _chunk(out, "loss", 0)
    DAMAGES[damage](target, other)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = _sweep(str(out))
    messages = [str(w.message) for w in caught]
    assert any("tile 1" in m and "computed again" in m for m in messages), messages
    assert not any("tile 0" in m or "tile 2" in m for m in messages)
    np.testing.assert_array_equal(np.asarray(again.loss), ref_loss)


@pytest.mark.parametrize("damage", ["missing mark", "foreign mark", "garbage mark"])
def test_a_tile_without_a_valid_mark_is_recomputed(tmp_path, float32, damage):
    out = tmp_path / "s.zarr"
    ref_loss = np.asarray(_sweep(str(out)).loss).copy()
    mark = out / ".tiles" / "2.json"
    if damage == "missing mark":
        mark.unlink()
    elif damage == "foreign mark":
        record = json.loads(mark.read_text())
        record["tile"] = 3
        mark.write_text(json.dumps(record))
    else:
        mark.write_text("{not json")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        again = _sweep(str(out))
    np.testing.assert_array_equal(np.asarray(again.loss), ref_loss)
    assert json.loads(mark.read_text())["tile"] == 2


@pytest.mark.parametrize("damage", ["truncated", "bit flip", "header", "not npz", "shape"])
def test_load_refuses_a_damaged_file_naming_it(tmp_path, damage):
    path = tmp_path / "r.npz"
    res = _sweep(None)
    res.save(path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "bit flip":
        raw = bytearray(path.read_bytes())
        i = raw.find(b"loss.npy") + 200  # inside the loss array's data
        raw[i] ^= 0x01
        path.write_bytes(bytes(raw))
    elif damage == "header":  # a digit of the loss array's shape in its .npy header
        raw = bytearray(path.read_bytes())
        i = raw.find(b"'shape': (", raw.find(b"loss.npy")) + len(b"'shape': (")
        raw[i] = ord("7") if raw[i] != ord("7") else ord("3")
        path.write_bytes(bytes(raw))
    elif damage == "not npz":
        np.save(path.with_suffix(".npy"), np.zeros(3))
        path = path.with_suffix(".npy")
    else:  # a consistent file whose arrays disagree with its axes
        bad = res.replace(loss=np.asarray(res.loss)[:2])
        bad.save(path)
    with pytest.raises(ValueError, match=str(path.name)):
        jd.load(path)


def test_a_damaged_npz_result_is_recomputed_by_its_sweep(tmp_path):
    out = tmp_path / "r.npz"
    ref = _sweep(str(out))
    raw = bytearray(out.read_bytes())
    raw[raw.find(b"loss.npy") + 200] ^= 0x01
    out.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="computed again"):
        again = _sweep(str(out))
    np.testing.assert_array_equal(np.asarray(again.loss), np.asarray(ref.loss))
    np.testing.assert_array_equal(jd.load(out).loss, np.asarray(ref.loss))


# --- what jaxdescent did not make -----------------------------------------------------


@pytest.mark.parametrize("suffix", [".zarr", ".npz"])
def test_a_foreign_folder_is_never_deleted(tmp_path, suffix):
    folder = tmp_path / ("mine.zarr" if suffix == ".zarr" else "mine.npz.partial")
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    out = tmp_path / ("mine" + suffix)
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="not a jaxdescent store"):
            _sweep(str(out), overwrite=overwrite)
    assert (folder / "precious.txt").read_text() == "keep me"


def test_temp_files_never_follow_links_and_results_get_the_umask(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    out = tmp_path / "r.npz"
    # a link planted at every name a predictable writer might use
    for name in (".r.npz.tmp", "r.npz.tmp", ".r.npz.partial.tmp"):
        os.symlink(victim, tmp_path / name)
    old = os.umask(0o022)
    try:
        _sweep(str(out))
    finally:
        os.umask(old)
    assert victim.read_text() == "untouched"
    assert not out.is_symlink()
    assert oct(out.stat().st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize("out", ["", 3, b"x.npz", ["x"]])
def test_out_must_be_a_path(out):
    with pytest.raises((TypeError, ValueError), match="`out` must"):
        _sweep(out)


# --- two processes on one out ---------------------------------------------------------

CONCURRENT = """
import sys, numpy as np, optax, jaxdescent as jd
r = jd.sweep(jd.problems.quadratic(), lambda lr: optax.sgd(lr),
             {"lr": np.linspace(0.01, 0.3, 12)}, seeds=16, steps=400, log_every=10,
             chunk_size=16, oracle=jd.oracles.gaussian_noise(1.0), out=sys.argv[1],
             keep_params=False, progress=False)
np.save(sys.argv[2], np.asarray(r.loss))
"""


@pytest.mark.parametrize("suffix", [".zarr", ".npz"])
def test_two_processes_on_one_out_agree(tmp_path, suffix):
    out = str(tmp_path / ("shared" + suffix))
    env = {**os.environ, "JAX_ENABLE_X64": "0"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, out, str(tmp_path / f"r{i}.npy")],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for i in range(2)
    ]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    r0, r1 = np.load(tmp_path / "r0.npy"), np.load(tmp_path / "r1.npy")
    np.testing.assert_array_equal(r0, r1)
    stored = np.asarray(jd.load(out).loss)
    np.testing.assert_array_equal(stored, r0)
    if suffix == ".npz":
        assert not os.path.exists(out + ".partial")  # the last user removed it


def test_loading_a_damaged_finished_store_names_it(tmp_path):
    out = tmp_path / "s.zarr"
    _sweep(str(out))
    _chunk(out, "loss", 1).write_bytes(b"")
    res = jd.load(out)
    np.asarray(res.final_loss)  # intact arrays still read
    with pytest.raises(ValueError, match=r"s\.zarr.*loss.*damaged"):
        np.asarray(res.loss)
