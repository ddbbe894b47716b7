"""Speed paths of every fit kind: compile once per structure (pass@k, Slice-and-Sandwich,
sigmoid), a reused model that samples exactly what a fresh compile samples, nutpie
imported without ArviZ's plotting stack."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from bayescale.core import compiled

SMALL = {"draws": 100, "tune": 100, "chains": 2}


def test_nutpie_is_imported_without_arviz_plotting() -> None:
    code = textwrap.dedent(
        """
        import sys
        from bayescale.core.callbacks import import_nutpie
        nutpie = import_nutpie()
        assert "nutpie" in sys.modules
        assert "arviz" not in sys.modules, "the stand-in must not outlive the import"
        assert "matplotlib" not in sys.modules and "arviz_plots" not in sys.modules
        import arviz, arviz_base
        seen = sys.modules["nutpie.sample"].arviz  # what nutpie calls "arviz"
        assert arviz.from_dict is arviz_base.from_dict
        assert seen.from_dict is arviz_base.from_dict
        assert seen.plot_dist is arviz.plot_dist  # the rest: the real ArviZ
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def _same_draws(reused, fresh, names) -> None:
    assert reused.sampler["compiled"] == "reused"
    assert fresh.sampler["compiled"] == "compiled"
    for name in names:
        a = reused.idata["posterior"].dataset[name].values
        b = fresh.idata["posterior"].dataset[name].values
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.nuts
def test_passk_reuses_its_compiled_model_draw_for_draw() -> None:
    from bayescale.passk import fit
    from bayescale.passk.simulate import simulate_counts

    counts = simulate_counts(n_problems=40, n_samples=50, seed=1)
    other = simulate_counts(n_problems=30, n_samples=50, seed=2)  # fewer cells
    options = {"model": "beta", "progressbar": False, "warn_convergence": False, **SMALL}
    compiled.clear_cache()
    fit(counts, **options)
    reused = fit(other, **options)
    compiled.clear_cache()
    fresh = fit(other, **options)
    _same_draws(reused, fresh, ["a", "b", "pi"])
    ll_reused = reused.idata["log_likelihood"].dataset
    ll_fresh = fresh.idata["log_likelihood"].dataset
    xr.testing.assert_allclose(ll_reused, ll_fresh)


@pytest.mark.nuts
def test_sigmoid_reuses_its_compiled_model_draw_for_draw() -> None:
    from bayescale.emergence import (
        WU_LO_FILTERED_MODELS,
        WU_LO_THRESHOLD,
        fit_sigmoid,
        load_wu_lo_emergence,
    )

    table = load_wu_lo_emergence(exclude_models=WU_LO_FILTERED_MODELS)

    def one(task: str):
        return fit_sigmoid(table, tasks=[task], cutoff=WU_LO_THRESHOLD[task], warn=False, **SMALL)

    compiled.clear_cache()
    one("mmlu")
    reused = one("arithmetic")
    compiled.clear_cache()
    fresh = one("arithmetic")
    _same_draws(reused, fresh, ["midpoint", "width", "ceiling", "kappa"])


@pytest.mark.nuts
def test_sandwich_reuses_its_compiled_model_draw_for_draw() -> None:
    from bayescale.emergence import (
        WU_LO_FILTERED_MODELS,
        WU_LO_THRESHOLD,
        fit_sandwich,
        load_wu_lo_slices,
    )

    table = load_wu_lo_slices(["mmlu", "arithmetic"], exclude_models=WU_LO_FILTERED_MODELS)

    def one(task: str):
        return fit_sandwich(table, task, cutoff=WU_LO_THRESHOLD[task], warn=False, **SMALL)

    compiled.clear_cache()
    first = one("mmlu")
    reused = one("arithmetic")
    assert first.data.sizes["model"] != 0
    compiled.clear_cache()
    fresh = one("arithmetic")
    _same_draws(reused, fresh, ["beta", "alpha", "gamma", "sigma_slice"])
    np.testing.assert_array_equal(
        reused.idata["log_likelihood"].dataset["y"].values,
        fresh.idata["log_likelihood"].dataset["y"].values,
    )
