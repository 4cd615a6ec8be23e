"""Tiles of runs: seeds split across tiles, memory budgets, streaming to a zarr store
with resume, several devices, process shares, progress."""

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
from jaxdescent.store import ZarrStore
from jaxdescent.tiles import choose_tiling, process_slice

QUAD = jd.problems.quadratic()
NOISY = jd.oracles.gaussian_noise(1.0)


def sgd_m(lr, momentum):
    return optax.sgd(lr, momentum=momentum)


GRID = {"lr": np.linspace(0.01, 0.3, 10), "momentum": [0.0, 0.5, 0.9]}
KW = dict(seeds=4, steps=40, oracle=NOISY, log_every=10)


@pytest.fixture(scope="module")
def reference():
    return jd.sweep(QUAD, sgd_m, GRID, **KW)


def run_script(path, text, *args):
    """Runs ``text`` as a fresh float32 Python process; its completed process."""
    path.write_text(text)
    out = subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JAX_ENABLE_X64": "0"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def assert_same(a, b):
    """Every array of two results (or traces) equal, bitwise."""
    ta = a.trace if isinstance(a, jd.SweepResult) else a
    tb = b.trace if isinstance(b, jd.SweepResult) else b
    for x, y in zip(jax.tree.leaves(ta), jax.tree.leaves(tb), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_tilings_cover_every_run_with_less_than_a_tile_of_padding():
    for n_points, n_seeds in [(1, 1), (1, 7), (64, 1), (10, 3), (7, 200), (64, 4096)]:
        for max_runs in (None, 1, 2, 5, 63, 64, 1000, 10**9):
            for devices in (1, 4):
                t = choose_tiling(n_points, n_seeds, max_runs, devices)
                seen = np.zeros((n_points, n_seeds), int)
                for i in range(t.count):
                    p0, p1, s0, s1 = t.bounds(i)
                    seen[p0:p1, s0:s1] += 1
                    take_p, take_s = t.take(i)
                    assert len(take_p) == t.points and len(take_s) == t.seeds
                assert (seen == 1).all()  # every run once
                if devices == 1 and t.seeds == n_seeds:
                    assert t.padded_runs - n_points * n_seeds < t.runs  # < one tile
                elif devices == 1:  # seeds split: < one tile of seeds per point
                    assert t.seed_tiles * t.seeds - n_seeds < t.seeds
                    if max_runs is not None and n_points * n_seeds > 1:
                        assert t.runs <= max(max_runs, 2)
                if n_points * n_seeds > 1:
                    assert t.runs > 1  # a batch of one compiles differently
                if devices > 1:
                    extent = t.seeds if t.shard == "seeds" else t.points
                    assert extent % devices == 0
    # the old failure: 64 points under a budget of 63 were two chunks of 63
    t = choose_tiling(64, 1, 63)
    assert (t.points, t.count) == (32, 2)
    # 1 point x 4096 seeds on 4 devices: each device gets 1024 runs, not a copy
    t = choose_tiling(1, 4096, None, 4)
    assert (t.points, t.seeds, t.shard) == (1, 4096, "seeds")


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 7, 12, 40, 119])
def test_tiles_splitting_seeds_equal_the_untiled_sweep(reference, chunk):
    tiled = jd.sweep(QUAD, sgd_m, GRID, chunk_size=chunk, **KW)
    assert tiled.meta["tile"][0] * tiled.meta["tile"][1] <= max(chunk, 2)
    assert_same(tiled, reference)


def test_mlp_adam_minibatch_float32_tiles_equal_bitwise(float32):
    """The MLP classifier, Adam, minibatches, float32: XLA's own matrix products give
    every run the same arithmetic in tiles of any size (jd.compiler)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 12)).astype(np.float32)
    y = np.arange(48) % 4
    mlp = jd.problems.mlp_classifier(X, y, hidden=(16,), classes=4)
    grid = {"lr": np.geomspace(1e-3, 1e-1, 3)}
    kw = dict(seeds=5, steps=12, log_every=4, oracle=jd.oracles.minibatch(8))
    full = jd.sweep(mlp, optax.adam, {"learning_rate": grid["lr"]}, **kw)
    assert full.loss.dtype == np.float32
    for chunk in (1, 2, 3, 5, 7):
        part = jd.sweep(mlp, optax.adam, {"learning_rate": grid["lr"]}, chunk_size=chunk, **kw)
        assert_same(part, full)


def test_memory_budget_sizes_tiles_from_a_measured_tile(reference):
    plan = jd.plan(QUAD, sgd_m, GRID, memory_budget=60_000, **KW)
    assert plan.tile_bytes is not None and plan.predicted_peak <= 60_000
    assert plan.tiling.count > 1  # the budget forced several tiles
    assert_same(jd.execute(plan), reference)
    with pytest.raises(ValueError, match="memory_budget"):
        jd.sweep(QUAD, sgd_m, GRID, memory_budget=10, **KW)
    for bad in (float("nan"), -1, 0, True, "1GB"):
        with pytest.raises(ValueError, match="memory_budget"):
            jd.sweep(QUAD, sgd_m, GRID, memory_budget=bad, **KW)
    with pytest.raises(ValueError, match="not both"):
        jd.sweep(QUAD, sgd_m, GRID, memory_budget=1e6, chunk_size=8, **KW)


def test_a_result_larger_than_the_budget_streams_to_a_store(tmp_path, compiles):
    kw = dict(seeds=64, steps=200, oracle=NOISY, log_every=1)
    grid = {"lr": np.linspace(0.01, 0.3, 8), "momentum": [0.0, 0.9]}
    budget = 2**20  # the result is ~2.4 MiB
    with compiles.count():
        with pytest.raises(ValueError, match="out="):
            jd.sweep(QUAD, sgd_m, grid, memory_budget=budget, **kw)
    assert compiles.programs == 0  # refused before compiling
    path = tmp_path / "big.zarr"
    res = jd.sweep(QUAD, sgd_m, grid, memory_budget=budget, out=str(path), **kw)
    assert res.lazy and res.meta["tiles"] > 1
    assert jd.load(path).lazy
    full = jd.sweep(QUAD, sgd_m, grid, **kw)
    assert_same(res.load(), full)  # bitwise, every array
    for lr, m, seed in [(full.axes["lr"][3], 0.9, 17), (full.axes["lr"][7], 0.0, 63)]:
        cell = res.sel(lr=lr, momentum=m, seed=seed)  # reads one run
        run_kw = dict(steps=200, oracle=NOISY, log_every=1)
        tr = jd.run(QUAD, sgd_m(lr, m), key=jax.random.key(seed), **run_kw)
        np.testing.assert_allclose(cell.loss, tr.loss, rtol=1e-12)
        np.testing.assert_allclose(cell.params, tr.params, rtol=1e-12)
    # orthogonal selections read from the store equal the array's
    sub = res.isel(lr=[1, 5], seed=slice(3, 9))
    np.testing.assert_array_equal(sub.loss, full.loss[[1, 5]][:, :, 3:9])
    np.testing.assert_array_equal(res.loss[2, 1, :, -1], full.loss[2, 1, :, -1])


SWEEP_MODULE = textwrap.dedent(
    """
    import numpy as np, optax, jaxdescent as jd

    def make(lr):
        return optax.sgd(lr)

    def run(path):
        return jd.sweep(jd.problems.quadratic(), make, {"lr": np.linspace(0.01, 0.3, 40)},
                        seeds=64, steps=20_000, log_every=1000,
                        oracle=jd.oracles.gaussian_noise(1.0), chunk_size=64, out=path,
                        keep_params=False, progress=False)
    """
)


@pytest.mark.parametrize("suffix", [".npz", ".zarr"])
def test_killed_sweep_resumes_to_the_same_result(tmp_path, monkeypatch, float32, suffix):
    (tmp_path / "sweepdef.py").write_text(SWEEP_MODULE)
    path = tmp_path / ("long" + suffix)
    store = tmp_path / ("long.npz.partial" if suffix == ".npz" else "long.zarr")
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import sweepdef; "
    code += f"sweepdef.run({str(path)!r})"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "JAX_ENABLE_X64": "0"},
    )
    marks = store / ".tiles"

    def finished():  # marks being written end in .tmp
        return len([m for m in marks.iterdir() if not m.name.endswith(".tmp")])

    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if marks.exists() and finished() >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = finished()
    assert 3 <= finished < 40, "killed mid-way"
    assert suffix == ".zarr" or not path.exists()

    # the same call again, here: it computes only the tiles that were missing
    monkeypatch.syspath_prepend(str(tmp_path))
    import sweepdef

    calls = []
    original = ZarrStore.write
    monkeypatch.setattr(
        ZarrStore, "write", lambda self, i, *a: (calls.append(i), original(self, i, *a))[1]
    )
    resumed = sweepdef.run(path)
    assert len(calls) == 40 - finished
    assert suffix == ".zarr" or (path.exists() and not store.exists())
    full = sweepdef.run(tmp_path / ("fresh" + suffix))  # uninterrupted
    assert len(calls) == 40 - finished + 40
    assert_same(resumed.load(), full.load())
    np.testing.assert_array_equal(np.asarray(jd.load(path).loss), np.asarray(full.loss))


def test_out_saves_and_reloads(reference, tmp_path, compiles):
    path = tmp_path / "sweep.npz"
    first = jd.sweep(QUAD, sgd_m, GRID, out=path, chunk_size=12, **KW)
    assert_same(first, reference)
    assert path.exists() and not (tmp_path / "sweep.npz.partial").exists()
    with compiles.count():
        again = jd.sweep(QUAD, sgd_m, GRID, out=path, chunk_size=12, **KW)
    assert compiles.n == 0  # loaded, not recomputed
    assert_same(again, reference)
    # a different sweep to the same path is refused (the stored result is kept) ...
    half = {**GRID, "lr": GRID["lr"] * 0.5}
    with pytest.raises(ValueError, match="overwrite=True"):
        jd.sweep(QUAD, sgd_m, half, out=path, chunk_size=12, **KW)
    assert_same(jd.load(path), reference)
    # ... unless asked: then it is computed afresh
    other = jd.sweep(QUAD, sgd_m, half, out=path, chunk_size=12, overwrite=True, **KW)
    assert not np.allclose(other.loss, reference.loss)
    with pytest.raises(ValueError, match="out"):
        jd.sweep(QUAD, sgd_m, GRID, out="", **KW)


SHARDED = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, numpy as np, optax, jaxdescent as jd
    assert jax.device_count() == 4
    def make(lr, momentum):
        return optax.sgd(lr, momentum=momentum)
    def same(a, b):
        for x, y in zip(jax.tree.leaves(a.trace), jax.tree.leaves(b.trace), strict=True):
            np.testing.assert_array_equal(x, y)
    grid = {"lr": np.linspace(0.01, 0.3, 7), "momentum": [0.0, 0.9]}  # 14 points: padded to 16
    kw = dict(seeds=3, steps=30, oracle=jd.oracles.gaussian_noise(1.0), log_every=10)
    one = jd.sweep(jd.problems.quadratic(), make, grid, **kw)
    four = jd.sweep(jd.problems.quadratic(), make, grid, devices="all", **kw)
    two = jd.sweep(jd.problems.quadratic(), make, grid, devices=jax.devices()[:2], chunk_size=6,
                   **kw)
    same(one, four); same(one, two)
    # 1 point x 4096 seeds: sharded over seeds, 1024 runs a device
    q = dict(seeds=4096, steps=30, oracle=jd.oracles.gaussian_noise(1.0), log_every=10)
    seeds_one = jd.sweep(jd.problems.quadratic(), make, {"lr": [0.1], "momentum": [0.5]}, **q)
    plan = jd.plan(jd.problems.quadratic(), make, {"lr": [0.1], "momentum": [0.5]},
                   devices="all", **q)
    seeds_four = jd.execute(plan)
    same(seeds_one, seeds_four)
    tiled = jd.sweep(jd.problems.quadratic(), make, {"lr": [0.1], "momentum": [0.5]},
                     devices="all", chunk_size=1000, **q)
    same(seeds_one, tiled)
    print("ok", four.meta["tile"], two.meta["tile"], plan.tiling.shard, plan.tiling.seeds,
          tiled.meta["tile"])
    """
)


def test_sharded_over_four_devices_equals_one(tmp_path):
    out = run_script(tmp_path / "sharded.py", SHARDED)
    assert out.stdout.split("\n")[0] == "ok [16, 3] [2, 3] seeds 4096 [1, 512]", out.stdout


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

    updates = []

    class Bar:
        def __init__(self, total, **kw):
            self.total = total

        def update(self, n):
            updates.append(n)

        def close(self):
            pass

    monkeypatch.setattr(jd.progress, "tqdm", Bar)
    monkeypatch.setattr(jd.progress, "DELAY", 0.0)  # a bar from the first report
    assert tqdm.auto.tqdm is not Bar
    res = jd.sweep(QUAD, sgd_m, GRID, chunk_size=48, progress=True, **KW)
    # short tiles: the bar advances once per tile (nothing compiled into the loop)
    assert updates == [40] * 3 and res.meta["tiles"] == 3
    quiet = jd.sweep(QUAD, sgd_m, GRID, chunk_size=48, progress=False, **KW)
    assert_same(res, quiet)
    # a tile predicted long reports from inside its loop, about every 5% of a run
    updates.clear()
    monkeypatch.setattr(jd.progress, "IN_LOOP_WORK", 1)
    plan = jd.plan(QUAD, sgd_m, GRID, chunk_size=48, progress=True, **KW)
    assert plan.spec.in_loop_progress
    again = jd.execute(plan)
    assert updates == [10, 10, 10, 10] * 3
    assert_same(again, quiet)


MONTE_CARLO = textwrap.dedent(
    """
    import sys
    import optax, jaxdescent as jd
    kw = dict(seeds=200_000, steps=1000, log_every=10, keep_params=False, progress=False,
              oracle=jd.oracles.gaussian_noise(1.0))
    make = lambda lr: optax.sgd(jd.schedules.polynomial(lr))
    if sys.argv[1] == "unbudgeted":  # one tile of 200,000 runs: XLA's own accounting
        whole = jd.plan(jd.problems.quadratic(), make, {"lr": [0.1]}, **kw)
        stats = whole.lower().compile().memory_analysis()
        print(stats.temp_size_in_bytes + stats.output_size_in_bytes)
    else:
        budget = int(sys.argv[1])
        plan = jd.plan(jd.problems.quadratic(), make, {"lr": [0.1]}, memory_budget=budget, **kw)
        res = jd.execute(plan)
        assert res.loss.shape == (1, 200_000, 101)
        # the process's own peak: VmHWM (ru_maxrss of a child started by a big process
        # begins at its parent's peak on Linux)
        status = open("/proc/self/status").read()
        peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
        print(peak, plan.tiling.count, plan.predicted_peak)
    """
)


def test_memory_budget_holds_for_a_monte_carlo_sweep(tmp_path):
    """1 learning rate x 200,000 seeds x 1000 steps: without a budget its one program
    needs more than 2 GB (measured: 2.4 GB peak RSS); at B = 256 MiB the process's peak
    stays within 1.25 B + 400 MiB, the runtime and compiler included."""
    budget = 2**28
    unbudgeted = int(run_script(tmp_path / "mc.py", MONTE_CARLO, "unbudgeted").stdout)
    out = run_script(tmp_path / "mc.py", MONTE_CARLO, str(budget))  # a process of its own
    peak, tiles, predicted = (int(x) for x in out.stdout.split())
    assert unbudgeted > 2 * 2**30
    assert tiles > 1 and predicted <= budget
    assert peak <= 1.25 * budget + 400 * 2**20, f"peak RSS {peak / 2**20:.0f} MiB"


def test_bar_appears_only_after_the_delay(monkeypatch):
    made = []

    class Fake:
        def __init__(self, total, **kw):
            self.total, self.n, self.closed = total, 0, False
            made.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    monkeypatch.setattr(jd.progress, "tqdm", Fake)
    now = [0.0]
    bar = jd.progress.Bar(100, clock=lambda: now[0])
    bar.update(10)
    now[0] = jd.progress.DELAY / 2
    bar.update(20)
    assert made == []  # a sweep this short draws nothing
    now[0] = jd.progress.DELAY
    bar.update(5)
    assert len(made) == 1 and made[0].total == 100 and made[0].n == 35  # all steps so far
    bar.update(65)
    bar.close()
    assert made[0].n == 100 and made[0].closed
    quick = jd.progress.Bar(100, clock=lambda: 0.0)
    quick.update(100)
    quick.close()  # never made, nothing to close
    assert len(made) == 1
