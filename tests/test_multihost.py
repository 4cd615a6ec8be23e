"""Two processes (``jax.distributed``, gloo collectives on CPU, 2 devices each: one
global mesh of 4) give bitwise the results of one plain process, every process returns
the whole result, and only process 0 writes ``out=``.

The test launches this file as a script three times: processes 0 and 1 of a
distributed run (``devices="all"``) and one plain process (1 device, no ``devices``).
Each runs the same sweeps (`sweeps`) and saves every array of every result to
``<role>.npz``; the test compares them bitwise.
"""

import os
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import optax

import jaxdescent as jd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_S = 240
ROLES = ("0", "1", "single")


def sweeps(out_dir: str, devices) -> tuple[dict, dict]:
    """The sweeps every process runs, in order: name -> `SweepResult`, and name ->
    (shard, tile count, seeds per tile) of its plan.

    ``points``: 7 learning rates x 2 seeds (split over points, padded to 8).
    ``seeds``: 2 x 7 (split over seeds, padded). ``many_seeds``: 1 point x 64 seeds in
    tiles of at most 16 (split over seeds). ``zarr`` / ``npz``: 3 x 6 in tiles of at
    most 6 runs, streamed to ``out_dir``; ``*_again``: the same call once more (read
    back, nothing recomputed).
    """

    def sgd(lr):
        return optax.sgd(lr, momentum=0.5)

    lrs = [0.05, 0.1, 0.2]
    zarr = dict(chunk_size=6, out=os.path.join(out_dir, "s.zarr"))
    npz = dict(chunk_size=6, out=os.path.join(out_dir, "s.npz"))
    cases = {
        "points": ({"lr": np.linspace(0.02, 0.3, 7)}, dict(seeds=2)),
        "seeds": ({"lr": [0.05, 0.2]}, dict(seeds=7)),
        "many_seeds": ({"lr": [0.1]}, dict(seeds=64, chunk_size=16)),
        "zarr": ({"lr": lrs}, dict(seeds=6, **zarr)),
        "zarr_again": ({"lr": lrs}, dict(seeds=6, **zarr)),
        "npz": ({"lr": lrs}, dict(seeds=6, **npz)),
        "npz_again": ({"lr": lrs}, dict(seeds=6, **npz)),
    }
    quad, noise = jd.problems.quadratic(), jd.oracles.gaussian_noise(1.0)
    results, tilings = {}, {}
    for name, (grid, kw) in cases.items():
        kw = dict(oracle=noise, steps=40, log_every=10, devices=devices, **kw)
        t = jd.plan(quad, sgd, grid, **kw).tiling
        tilings[name] = (str(t.shard), t.count, t.seeds)
        results[name] = jd.sweep(quad, sgd, grid, **kw)
    return results, tilings


def arrays(result) -> dict:
    """Every array of a `SweepResult` (axes and trace leaves), read into memory."""
    out = {f"axis/{k}": np.asarray(v) for k, v in result.axes.items()}
    leaves = jax.tree.leaves(result.trace, is_leaf=lambda x: hasattr(x, "__array__"))
    out.update({f"leaf/{i}": np.asarray(a) for i, a in enumerate(leaves)})
    return out


def _writes_under(root: str, log: list):
    """An audit hook that appends to ``log`` every file-system change under ``root``."""
    changes = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "shutil.rmtree", "os.truncate"}
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def hook(event, args):
        if event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
            mode, flags = args[1], args[2]
            writes = (
                any(c in mode for c in "wax+")
                if isinstance(mode, str)
                else bool((flags or 0) & write_flags)
            )
            if writes and os.fspath(args[0]).startswith(root):
                log.append((event, os.fspath(args[0])))
        elif event in changes and args and isinstance(args[0], str | bytes | os.PathLike):
            if os.fspath(args[0]).startswith(root):
                log.append((event, os.fspath(args[0])))

    return hook


def worker(role: str, port: int, out_dir: str) -> None:
    """One process: distributed (``role`` "0"/"1") or plain ("single")."""
    devices = None
    if role != "single":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=int(role)
        )
        assert jax.process_count() == 2 and jax.device_count() == 4, jax.devices()
        devices = "all"
    else:
        assert jax.device_count() == 1, jax.devices()
    writes: list = []
    sys.addaudithook(_writes_under(out_dir, writes))
    results, tilings = sweeps(out_dir, devices)
    writes = list(writes)  # the sweeps' writes, not this function's own below
    saved = {f"{name}/{k}": a for name, r in results.items() for k, a in arrays(r).items()}
    saved.update({f"tiling/{name}": np.asarray(t, dtype=str) for name, t in tilings.items()})
    saved["writes"] = np.asarray([" ".join(w) for w in writes], dtype=str)
    np.savez(os.path.join(out_dir, f"{role}.npz.tmp.npz"), **saved)
    os.replace(os.path.join(out_dir, f"{role}.npz.tmp.npz"), os.path.join(out_dir, f"{role}.npz"))
    if role != "single":
        jax.distributed.shutdown()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path, n: int = 3000) -> str:
    with open(path, errors="replace") as f:
        return f.read()[-n:]


def _launch(tmp_path) -> dict:
    """Runs the three roles at once (the distributed pair in their own out dir, the plain
    process in another); kills them all when one fails or time runs out."""
    port = _free_port()
    flags = os.environ.get("XLA_FLAGS", "")
    base = {**os.environ, "JAX_ENABLE_X64": "0", "JAX_PLATFORMS": "cpu"}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    procs = {}
    for role in ROLES:
        out_dir = tmp_path / ("single" if role == "single" else "multi")
        out_dir.mkdir(exist_ok=True)
        env = dict(base)
        if role != "single":
            env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=2".strip()
        log = tmp_path / f"{role}.log"
        with open(log, "w") as f:
            cmd = [sys.executable, os.path.abspath(__file__), role, str(port), str(out_dir)]
            procs[role] = (subprocess.Popen(cmd, stdout=f, stderr=f, env=env, cwd=REPO), log)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while any(p.poll() is None for p, _ in procs.values()):
            failed = [r for r, (p, _) in procs.items() if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for p, _ in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    failed = [(r, p.returncode, log) for r, (p, log) in procs.items() if p.returncode != 0]
    failed.sort(key=lambda f: f[1] == -9)  # the ones that failed first, then those killed
    assert not failed, "\n".join(
        f"process {r} exited with {rc}:\n{_tail(log)}" for r, rc, log in failed
    )
    return {
        role: dict(np.load(tmp_path / ("single" if role == "single" else "multi") / f"{role}.npz"))
        for role in ROLES
    }


def test_two_processes_equal_one_bitwise(tmp_path):
    got = _launch(tmp_path)
    one = got["single"]
    # the sweeps cover what they say: tiles split over points, over seeds, seeds in tiles
    tiling = {k.split("/")[1]: tuple(got["0"][k]) for k in got["0"] if k.startswith("tiling/")}
    assert tiling["points"][0] == "points" and tiling["seeds"][0] == "seeds", tiling
    assert tiling["many_seeds"][0] == "seeds" and int(tiling["many_seeds"][1]) > 1, tiling
    assert int(tiling["zarr"][1]) > 1 and int(tiling["npz"][1]) > 1, tiling
    for role in ("0", "1"):
        assert set(got[role]) == set(one), role
        for k in sorted(one):
            if k != "writes" and not k.startswith("tiling/"):
                np.testing.assert_array_equal(got[role][k], one[k], err_msg=f"process {role}: {k}")
    # process 0 wrote the stores (the audit hook sees zarr's writes), process 1 nothing
    assert len(got["0"]["writes"]) > 0
    assert list(got["1"]["writes"]) == []
    # what process 0 wrote reads back as the plain process's sweep
    for name in ("zarr", "npz"):
        path = tmp_path / "multi" / f"s.{name}"
        for k, a in arrays(jd.load(path)).items():
            np.testing.assert_array_equal(a, one[f"{name}/{k}"], err_msg=f"{path}: {k}")
    assert not (tmp_path / "multi" / "s.npz.partial").exists()


if __name__ == "__main__":
    try:
        worker(sys.argv[1], int(sys.argv[2]), sys.argv[3])
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)  # not sys.exit: jax.distributed's exit hook would wait for the peer
