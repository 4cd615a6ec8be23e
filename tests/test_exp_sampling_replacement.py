"""Sampling with vs without replacement: coverage against 12.4.18/12.4.19, and floors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdescent as jd
from experiments import _common
from experiments import sampling_replacement as exp


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with jax.enable_x64(False):  # as users run it
        rec = _common.run("sampling_replacement", out, quick=True, verbose=False)
    rec["folder"] = out / "sampling_replacement"
    return rec


def test_coverage_reads_the_runs_own_streams():
    # the key the run hands its oracle (here a function-oracle that returns the key's
    # bits as the gradient, so one step of sgd(-1) writes them into the params) ...
    def key_as_gradient(problem, params, step, key):
        return 0.0, (jax.random.key_data(key) % 4096).astype(params.dtype)  # exact floats

    seed = 3
    problem = jd.problems.quadratic((1.0, 1.0), init=(0.0, 0.0))
    trace = jd.run(problem, optax.sgd(-1.0), steps=1, oracle=key_as_gradient, key=seed)
    # ... is the key the coverage counts draw from
    mine = np.asarray(jax.random.key_data(exp.oracle_keys(seed + 1)[seed])) % 4096
    np.testing.assert_array_equal(np.asarray(trace.final_params), mine.astype(float))

    # a whole-epoch minibatch is the permutation per_sample("shuffle") reads step by step
    n, key = 10, exp.oracle_keys(1)[0]
    shuffle, whole = jd.oracles.per_sample("shuffle"), jd.oracles.minibatch(n)

    @jax.jit
    def streams():
        one_by_one = jax.vmap(lambda t: shuffle.indices(n, t, key)[0])(jnp.arange(3 * n))
        return one_by_one, jax.vmap(lambda e: whole.indices(n, e, key))(jnp.arange(3)).ravel()

    one_by_one, by_epoch = streams()
    np.testing.assert_array_equal(np.asarray(one_by_one), np.asarray(by_epoch))


def test_coverage_matches_12_4_18_and_12_4_19(record):
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    n = 1000
    assert abs(h["seen_theory_n1000"] - (1 - (1 - 1 / n) ** n)) < 1e-12
    assert abs(h["seen_with_replacement_n1000"] - (1 - (1 - 1 / n) ** n)) < 0.02
    assert abs(h["once_with_replacement_n1000"] - (1 - 1 / n) ** (n - 1)) < 0.02
    assert abs(h["seen_with_replacement_n1000"] - (1 - np.exp(-1))) < 0.02
    for m in exp.COVERAGE_NS:
        assert abs(h[f"seen_with_replacement_n{m}"] - h[f"seen_theory_n{m}"]) < 0.03
        assert abs(h[f"once_with_replacement_n{m}"] - h[f"once_theory_n{m}"]) < 0.03
    assert h["seen_without_replacement"] == 1.0
    assert h["seen_without_replacement_min"] == 1.0
    assert h["once_without_replacement_min"] == 1.0


def test_reshuffling_has_the_lower_floor(record):
    # the page's typed headline: names in words, values in at most 4 significant figures
    assert record["headline"] and all(
        n["name"] and len(n["text"]) <= 10 for n in record["headline"]
    )
    h = record["summary"]
    replace, shuffle = h["final_suboptimality_replace"], h["final_suboptimality_shuffle"]
    assert shuffle[0] < replace[0] / 3  # smallest step: a much lower floor without replacement
    assert h["floor_slope_replace"] < 1.6  # ~ lr^1
    assert h["floor_slope_shuffle"] > 1.8  # ~ lr^2
    assert np.all(np.diff(replace) > 0) and np.all(np.diff(shuffle) > 0)


def test_figures_are_written(record):
    assert len(record["figures"]) == 3
    for fig in record["figures"]:
        assert (record["folder"] / fig["file"]).stat().st_size > 5000
        assert fig["caption"]
