"""Chunks, memory budgets, streaming to disk with resume, several devices, process shares."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import optax
import pytest

import jaxdescent as jd
from jaxdescent import chunks
from jaxdescent.chunks import process_slice

QUAD = jd.problems.quadratic()
NOISY = jd.oracles.gaussian_noise(1.0)


def sgd_m(lr, momentum):
    return optax.sgd(lr, momentum=momentum)


GRID = {"lr": np.linspace(0.01, 0.3, 10), "momentum": [0.0, 0.5, 0.9]}
KW = dict(seeds=4, steps=40, oracle=NOISY, log_every=10)


@pytest.fixture(scope="module")
def reference():
    return jd.sweep(QUAD, sgd_m, GRID, **KW)


def assert_same(a, b):
    for x, y in zip(_leaves(a), _leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def _leaves(r):
    return jax.tree.leaves((r.loss, r.grad_norm, r.params, r.final_params, r.diverged_at))


def test_memory_budget_picks_chunks(reference):
    small = jd.sweep(QUAD, sgd_m, GRID, memory_budget=40_000, **KW)
    per = small.meta["points_per_chunk"]
    assert 1 <= per < 30  # the budget forced several chunks
    assert_same(small, reference)
    with pytest.raises(ValueError, match="memory_budget"):
        jd.sweep(QUAD, sgd_m, GRID, memory_budget=10, **KW)
    with pytest.raises(ValueError, match="not both"):
        jd.sweep(QUAD, sgd_m, GRID, memory_budget=1e6, chunk_size=8, **KW)


def test_out_saves_and_reloads(reference, tmp_path, compiles):
    path = tmp_path / "sweep.npz"
    first = jd.sweep(QUAD, sgd_m, GRID, out=path, chunk_size=12, **KW)
    assert_same(first, reference)
    assert path.exists() and not (tmp_path / "sweep.npz.partial").exists()
    with compiles.count():
        again = jd.sweep(QUAD, sgd_m, GRID, out=path, chunk_size=12, **KW)
    assert compiles.n == 0  # loaded, not recomputed
    assert_same(again, reference)
    # a different sweep to the same path is computed afresh
    other = jd.sweep(QUAD, sgd_m, {**GRID, "lr": GRID["lr"] * 0.5}, out=path, chunk_size=12, **KW)
    assert not np.allclose(other.loss, reference.loss)


SWEEP_MODULE = textwrap.dedent(
    """
    import numpy as np, optax, jaxdescent as jd

    def make(lr):
        return optax.sgd(lr)

    def run(path):
        return jd.sweep(jd.problems.quadratic(), make, {"lr": np.linspace(0.01, 0.3, 40)},
                        seeds=64, steps=20_000, log_every=1000,
                        oracle=jd.oracles.gaussian_noise(1.0), chunk_size=64, out=path,
                        keep_params=False)
    """
)


def test_killed_sweep_resumes_to_the_same_result(tmp_path, monkeypatch, float32):
    (tmp_path / "sweepdef.py").write_text(SWEEP_MODULE)
    path = tmp_path / "long.npz"
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import sweepdef; "
    code += f"sweepdef.run({str(path)!r})"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "JAX_ENABLE_X64": "0"},
    )
    partial = tmp_path / "long.npz.partial"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and len(list(partial.glob("chunk_*.npz"))) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list(partial.glob("chunk_*.npz")))
    assert 3 <= finished < 40 and not path.exists(), "killed mid-way"

    # the same call again, here: it computes only the chunks that were missing
    monkeypatch.syspath_prepend(str(tmp_path))
    import sweepdef

    saved = []
    original = chunks.ChunkStore.save
    monkeypatch.setattr(
        chunks.ChunkStore,
        "save",
        lambda self, lo, outs: (saved.append(lo), original(self, lo, outs)),
    )
    resumed = sweepdef.run(path)
    assert len(saved) == 40 - finished
    assert path.exists() and not partial.exists()
    full = sweepdef.run(tmp_path / "fresh.npz")  # uninterrupted
    assert len(saved) == 40 - finished + 40
    for a, b in zip(_leaves(resumed), _leaves(full), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(jd.load(path).loss, full.loss)


SHARDED = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, numpy as np, optax, jaxdescent as jd
    assert jax.device_count() == 4
    def make(lr, momentum):
        return optax.sgd(lr, momentum=momentum)
    grid = {"lr": np.linspace(0.01, 0.3, 7), "momentum": [0.0, 0.9]}  # 14 points: padded to 16
    kw = dict(seeds=3, steps=30, oracle=jd.oracles.gaussian_noise(1.0), log_every=10)
    one = jd.sweep(jd.problems.quadratic(), make, grid, **kw)
    four = jd.sweep(jd.problems.quadratic(), make, grid, devices="all", **kw)
    two = jd.sweep(jd.problems.quadratic(), make, grid, devices=jax.devices()[:2], chunk_size=6,
                   **kw)
    for r in (four, two):
        for a, b in zip(jax.tree.leaves((one.loss, one.params, one.final_params, one.diverged_at)),
                        jax.tree.leaves((r.loss, r.params, r.final_params, r.diverged_at))):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    print("ok", four.meta["points_per_chunk"], two.meta["points_per_chunk"])
    """
)


def test_sharded_over_four_devices_equals_one(tmp_path):
    script = tmp_path / "sharded.py"
    script.write_text(SHARDED)
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JAX_ENABLE_X64": "0"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[:3] == ["ok", "16", "2"]


def test_process_shares_partition_the_configurations():
    for n in (0, 1, 7, 64, 1000):
        for count in (1, 2, 3, 8):
            parts = [process_slice(n, i, count) for i in range(count)]
            covered = np.concatenate([np.arange(n)[p] for p in parts])
            np.testing.assert_array_equal(covered, np.arange(n))
            sizes = [p.stop - p.start for p in parts]
            assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError):
        process_slice(10, 3, 3)
    with pytest.raises(ValueError, match="devices"):
        jd.sweep(QUAD, sgd_m, GRID, devices="gpu", **KW)


def test_progress_counts_every_step(monkeypatch):
    import tqdm.auto

    updates, ticks = [], []

    class Bar:
        def __init__(self, total, **kw):
            self.total = total

        def update(self, n):
            updates.append(n)

        def close(self):
            pass

    original = chunks.progress_tick
    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    monkeypatch.setattr(chunks, "progress_tick", lambda n: (ticks.append(int(n)), original(n)))
    res = jd.sweep(QUAD, sgd_m, GRID, chunk_size=48, progress=True, **KW)
    jax.effects_barrier()
    # 40 steps, logged every 10: a report at each ~5% crossed by a block (10, 20, 30,
    # 40 steps done), in each of the 3 chunks; the bar adds up to every step
    assert ticks == [10, 20, 30, 40] * 3 and res.meta["points_per_chunk"] == 12
    assert sum(updates) == 3 * 40
    quiet = jd.sweep(QUAD, sgd_m, GRID, chunk_size=48, progress=False, **KW)
    np.testing.assert_array_equal(res.loss, quiet.loss)
