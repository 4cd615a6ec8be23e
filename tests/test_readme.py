"""The README's code runs as written (its blocks, in order, in one namespace)."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run(tmp_path, monkeypatch, float32):
    monkeypatch.chdir(tmp_path)  # the examples write runs/ here
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["result"].loss.shape == (32, 2, 64, 101)
    store = tmp_path / "runs" / "big.zarr"  # the big sweep streamed to a store
    loaded = namespace["jd"].load(store)
    assert loaded.lazy and loaded.loss.shape == (64, 4096, 11)
