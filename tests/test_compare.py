"""Tests of :func:`bayescale.compare.compare`.

Most fits here are built without sampling: a validated data set, its specification and a
DataTree whose log-likelihood is drawn directly (well-behaved, or with one planted
outlying unit). One test compares two fits with mocked sampling (prior draws) to check the
whole path from :func:`bayescale.fit`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from arviz_base import from_dict

import bayescale as bs
from bayescale.compare import Comparison, ParetoKWarning, compare
from bayescale.core.errors import SpecificationError
from bayescale.scaling.check_plots import plot_compare
from bayescale.scaling.fitting import ScalingFit, make_spec
from bayescale.scaling.laws import get_law
from bayescale.scaling.model import config_index, observed_y

DRAWS = 500


def synthetic_fit(
    runs: pd.DataFrame,
    *,
    shift: float = 0.0,
    outlier: int | None = None,
    space: str = "log",
    metric: str | None = None,
    unit: str = "obs",
    seed: int = 0,
) -> ScalingFit:
    """A :class:`ScalingFit` of ``runs`` whose log-likelihood is drawn, not sampled.

    Parameters
    ----------
    runs
        Training runs in the long format.
    shift
        Added to every pointwise log-likelihood (a lower ELPD when negative).
    outlier
        Position of a unit whose log-likelihood varies wildly across draws (high Pareto k).
    space
        ``"log"`` or ``"linear"``.
    metric
        Metric name written into the data (default: the table's).
    unit
        ``"obs"`` or ``"config"``: the dimension of the log-likelihood.
    seed
        Seed of the drawn values.
    """
    ds = bs.validate(runs, space=space)
    if metric is not None:
        ds.attrs["metric"] = metric
    spec = make_spec(ds, get_law("chinchilla"))
    y = observed_y(ds, space)
    labels: np.ndarray = ds["obs"].values
    if unit == "config":
        labels, idx = config_index(ds)
        y = np.bincount(idx, weights=y) / np.bincount(idx)
    rng = np.random.default_rng(seed)
    ll = rng.normal(1.0 + shift, 0.05, size=(2, DRAWS, labels.size))
    if outlier is not None:
        ll[:, :, outlier] = rng.normal(-1.0, 5.0, size=(2, DRAWS))
    tree = from_dict(
        {
            "posterior": {"E": rng.normal(size=(2, DRAWS))},
            "log_likelihood": {"y": ll},
            "observed_data": {"y": y},
        },
        dims={"y": [unit]},
        coords={unit: labels},
    )
    return ScalingFit(tree, spec, ds)


@pytest.fixture(scope="module")
def two_fits(runs) -> dict[str, ScalingFit]:
    return {"good": synthetic_fit(runs), "worse": synthetic_fit(runs, shift=-0.3, seed=1)}


def test_table_columns_weights_and_best(two_fits) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ParetoKWarning)
        cmp = compare(two_fits)
    assert isinstance(cmp, Comparison)
    assert {"rank", "elpd", "se", "elpd_diff", "dse", "p", "weight", "diag_elpd"} <= set(
        cmp.table.columns
    )
    assert list(cmp.table.index) == ["good", "worse"]
    assert cmp.best == "good"
    assert cmp.weights.sum() == pytest.approx(1.0)
    assert set(cmp.loo) == {"good", "worse"}
    assert cmp.unit == "obs" and cmp.metric == "loss" and cmp.space == "log"
    assert len(cmp.pareto_k) == 2 * 45
    assert list(cmp.pareto_k.columns[:3]) == ["model", "unit", "k"]
    assert cmp.high_k == {"good": 0, "worse": 0}


def test_summary_explains_the_table(two_fits) -> None:
    text = str(compare(two_fits, warn=False))
    assert "elpd_diff" in text and "weight" in text
    assert "good has the highest ELPD" in text
    assert "Clearly worse" in text and "worse (13.5" in text
    assert "not how probable each model is" in text


def test_reference_model_keeps_the_reading_relative_to_the_best(two_fits) -> None:
    plain = compare(two_fits, warn=False)
    ref = compare(two_fits, reference="worse", warn=False)
    assert "p_better" in ref.table.columns
    assert ref.table.loc["worse", "elpd_diff"] == 0.0
    assert ref.interpretation() == plain.interpretation()


def test_method_and_az_kwargs_are_passed_on(two_fits) -> None:
    cmp = compare(two_fits, method="pseudo-BMA", round_to=2, warn=False)
    assert cmp.method == "pseudo-BMA"
    assert cmp.weights.sum() == pytest.approx(1.0, abs=0.02)
    assert cmp.table["elpd"].round(2).equals(cmp.table["elpd"])


def test_pareto_warning_names_model_count_and_unit(runs) -> None:
    fits = {"clean": synthetic_fit(runs), "spiky": synthetic_fit(runs, outlier=3, seed=2)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cmp = compare(fits)
    ours = [w for w in caught if issubclass(w.category, ParetoKWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    message = str(ours[0].message)
    assert "model 'spiky': 1 of 45 observations have Pareto k > 0.7" in message
    assert "obs 3 (fam_a, N=5e+07, D=2.5e+08)" in message
    assert "likelihood='studentt'" in message and "K-fold" in message
    # ArviZ's anonymous duplicate is suppressed.
    assert not [w for w in caught if "Estimated shape parameter" in str(w.message)]
    assert cmp.high_k == {"clean": 0, "spiky": 1}
    high = cmp.pareto_k.query("k > 0.7")
    assert list(high["model"]) == ["spiky"] and list(high["unit"]) == ["3"]
    assert "Pareto k > 0.7" in cmp.summary()


def test_pareto_warning_labels_configurations(runs) -> None:
    replicated = pd.concat([runs, runs.assign(value=runs["value"] * 1.01)], ignore_index=True)
    replicated["seed"] = [0] * len(runs) + [1] * len(runs)
    fits = {
        "a": synthetic_fit(replicated, unit="config"),
        "b": synthetic_fit(replicated, unit="config", outlier=0, seed=3),
    }
    with pytest.warns(
        ParetoKWarning, match=r"of 45 configurations .*config fam_a/N=1e\+08/D=2e\+09"
    ):
        cmp = compare(fits)
    assert cmp.unit == "config"
    high = cmp.pareto_k.query("k > 0.7")
    assert high[["family", "params", "tokens"]].values.tolist() == [["fam_a", 1e8, 2e9]]
    assert "leave one configuration out" in cmp.summary()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"metric": "other"}, r"'b' differs from 'a': metric 'other' instead of 'loss'"),
        ({"space": "linear"}, r"space 'linear' instead of 'log'.*Jacobian"),
        ({"unit": "config"}, r"per 'config'.*instead of per 'obs'"),
    ],
)
def test_different_observations_raise(runs, kwargs, match) -> None:
    fits = {"a": synthetic_fit(runs), "b": synthetic_fit(runs, **kwargs)}
    with pytest.raises(SpecificationError, match=match):
        compare(fits)


def test_different_rows_raise(runs) -> None:
    fewer = synthetic_fit(runs.iloc[:-3])
    with pytest.raises(SpecificationError, match=r"'fewer' differs.*42 obs units instead of 45"):
        compare({"all": synthetic_fit(runs), "fewer": fewer})
    noisier = runs.assign(value=runs["value"] * 1.05)
    with pytest.raises(SpecificationError, match="different observed values"):
        compare({"a": synthetic_fit(runs), "b": synthetic_fit(noisier)})


def test_one_fit_or_missing_log_likelihood_raise(runs, two_fits) -> None:
    with pytest.raises(SpecificationError, match="at least two fits"):
        compare({"only": two_fits["good"]})
    bare = synthetic_fit(runs)
    del bare.idata["log_likelihood"]
    with pytest.raises(SpecificationError, match="'bare' has no log_likelihood"):
        compare({"good": two_fits["good"], "bare": bare})


def test_plot_and_csv_are_written(two_fits, tmp_path: Path) -> None:
    cmp = compare(two_fits, warn=False)
    fig = cmp.plot(tmp_path / "cmp.png")
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    assert "stacking weight" in fig.get_suptitle()
    labels = sorted(t.get_text() for t in fig.axes[0].get_yticklabels())
    assert labels[0].startswith("good  (w=1.00") and labels[1].startswith("worse  (w=0.00")
    table = pd.read_csv(cmp.to_csv(tmp_path / "cmp.csv"), index_col="model")
    assert list(table.index) == ["good", "worse"]
    assert table["weight"].sum() == pytest.approx(1.0)
    fig = plot_compare(cmp.table, tmp_path / "from_table.png", show_weights=False)
    assert (tmp_path / "from_table.png").stat().st_size > 0
    assert sorted(t.get_text() for t in fig.axes[0].get_yticklabels()) == ["good", "worse"]
    with pytest.raises(SpecificationError, match="elpd_diff"):
        plot_compare(pd.DataFrame({"x": [1]}))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # stacking on prior draws' -inf terms
def test_compare_mocked_fits_of_two_laws(runs, mock_pymc_sample, tmp_path: Path) -> None:
    """The full path: two fits with mocked sampling (prior draws), compared and plotted."""
    settings: dict[str, Any] = {
        "draws": 50,
        "chains": 2,
        "progressbar": False,
        "extend_if_slow": False,
    }
    fits = {
        "chinchilla": bs.fit(runs, law="chinchilla", **settings),
        "power_law": bs.fit(runs, law="power_law:params", pooling="shared", **settings),
    }
    with warnings.catch_warnings():
        # Prior draws are a poor importance sampler: high Pareto k is expected here.
        warnings.simplefilter("ignore", ParetoKWarning)
        cmp = compare(fits)
    assert set(cmp.table.index) == set(fits)
    assert cmp.weights.sum() == pytest.approx(1.0)
    assert cmp.unit == "obs" and len(cmp.pareto_k) == 2 * 45
    cmp.plot(tmp_path / "mocked.png")
    assert (tmp_path / "mocked.png").stat().st_size > 0
