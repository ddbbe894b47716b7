"""Tests of the data sets shipped in ``bayescale.datasets``."""

from __future__ import annotations

import doctest
import fnmatch
import subprocess
import sys
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayescale import datasets
from bayescale.data import validate
from bayescale.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
GADRE_METRICS = [
    "loss_openlm",
    "loss_c4_val",
    "loss_paloma_c4_en",
    "loss_paloma_dolma_100_programing_languages",
    "loss_paloma_falcon-refinedweb",
    "loss_paloma_ptb",
    "loss_paloma_redpajama",
    "loss_val_de-en_100",
]


def test_names_lists_gadre2024() -> None:
    assert "gadre2024" in datasets.names()
    assert datasets.names() == sorted(datasets.names())


@pytest.mark.parametrize("name", datasets.names())
def test_every_dataset_loads_and_matches_its_provenance(name: str) -> None:
    df = datasets.load(name)
    prov = datasets.provenance(name)
    assert list(df.columns) == list(datasets.COLUMNS)
    assert len(df) == prov["n_rows"]
    assert df["model"].nunique() == prov["n_runs"]
    assert sorted(df["family"].unique()) == sorted(prov["families"])
    assert list(pd.unique(df["metric"])) == prov["metrics"]
    for col in ("params", "tokens", "compute", "value", "value_lo", "value_hi"):
        assert df[col].dtype == np.float64, col
    assert df.attrs["provenance"] == prov
    assert df.attrs["dataset"] == name
    for key in ("name", "title", "file", "source", "paper", "licence", "description"):
        assert prov[key], key
    assert prov["name"] == name
    assert prov["source"]["repository"] and prov["source"]["commit"]
    assert prov["interval"]["probability"] == 0.95


@pytest.mark.parametrize("name", datasets.names())
def test_every_dataset_ships_an_mit_licence(name: str) -> None:
    text = datasets.licence_text(name)
    assert "MIT" in text
    assert "Permission is hereby granted" in text
    assert datasets.provenance(name)["licence"] == "MIT"


@pytest.mark.parametrize("name", datasets.names())
def test_shipped_files_match_the_package_data_globs(name: str) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["bayescale.datasets"]
    folder = resources.files("bayescale.datasets").joinpath(name)
    shipped = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
    for fname in (datasets.provenance(name)["file"], "LICENSE", "PROVENANCE.json"):
        assert fname in shipped
    for fname in shipped:
        rel = f"{name}/{fname}"
        assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{rel} is not package data"


def test_gadre2024_shape() -> None:
    df = datasets.load("gadre2024")
    assert len(df) == 832
    assert sorted(df["family"].unique()) == ["c4_original", "rpj", "rw_original"]
    assert df["model"].nunique() == 104
    assert df.groupby("family")["model"].nunique().to_dict() == {
        "c4_original": 34,
        "rpj": 35,
        "rw_original": 35,
    }
    assert sorted(df["metric"].unique()) == sorted(GADRE_METRICS)
    assert (df.groupby("model").size() == 8).all()


def test_gadre2024_values() -> None:
    df = datasets.load("gadre2024")
    assert df["params"].min() == 10_569_312
    assert df["params"].max() == 6_889_410_560
    tpp = df["tokens"] / df["params"]
    assert sorted(np.unique(np.round(tpp))) == [5, 10, 20, 40, 80, 160, 320, 640]
    # compute is stored as integers beyond int64; it must read as float and equal 6 N D.
    np.testing.assert_allclose(df["compute"], 6 * df["params"] * df["tokens"], rtol=1e-12)
    assert (df["value_lo"] <= df["value"]).all()
    assert (df["value"] <= df["value_hi"]).all()
    assert df["value"].between(1, 10).all()
    assert df["seed"].isna().all()
    assert df["checkpoint_step"].isna().all()


@pytest.mark.parametrize("metric", GADRE_METRICS)
def test_gadre2024_one_metric(metric: str) -> None:
    df = datasets.load("gadre2024", metric=metric)
    assert len(df) == 104
    assert (df["metric"] == metric).all()
    assert df["model"].is_unique
    assert list(df.index) == list(range(104))


def test_gadre2024_passes_validate() -> None:
    df = datasets.load("gadre2024", metric="loss_c4_val")
    ds = validate(df, metric="loss_c4_val")
    assert list(ds["family"].values) == ["c4_original", "rpj", "rw_original"]
    assert ds.sizes["obs"] == 104
    assert "value_lo" in ds and "value_hi" in ds
    np.testing.assert_allclose(ds["compute"].values, df["compute"].to_numpy())


def test_full_table_validates_per_metric() -> None:
    df = datasets.load("gadre2024")
    for metric in GADRE_METRICS:
        assert validate(df, metric=metric).sizes["obs"] == 104


def test_load_returns_an_independent_copy() -> None:
    first = datasets.load("gadre2024")
    first.loc[0, "value"] = -1.0
    first.attrs["provenance"]["licence"] = "changed"
    second = datasets.load("gadre2024")
    assert second.loc[0, "value"] > 0
    assert second.attrs["provenance"]["licence"] == "MIT"
    assert datasets.provenance("gadre2024")["licence"] == "MIT"


@pytest.mark.parametrize(
    "call",
    [datasets.load, datasets.describe, datasets.provenance, datasets.licence_text],
)
def test_unknown_name_lists_the_available_names(call: Callable[[str], object]) -> None:
    with pytest.raises(DataError, match="unknown data set 'chinchilla'") as info:
        call("chinchilla")
    assert "gadre2024" in str(info.value)


def test_non_string_name_raises_data_error() -> None:
    with pytest.raises(DataError, match="gadre2024"):
        datasets.load(["gadre2024"])  # type: ignore[arg-type]


def test_unknown_metric_lists_the_metrics() -> None:
    with pytest.raises(DataError, match="metric 'loss_wiki'") as info:
        datasets.load("gadre2024", metric="loss_wiki")
    for metric in GADRE_METRICS:
        assert metric in str(info.value)


def test_data_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        datasets.load("nope")


def test_describe_mentions_licence_commit_and_contents() -> None:
    text = datasets.describe("gadre2024")
    assert "MIT" in text
    assert "a003c491" in text
    assert "mlfoundations/scaling" in text
    assert "2403.08540" in text
    assert "c4_original (34 runs)" in text
    assert "rpj (35 runs)" in text
    assert "rw_original (35 runs)" in text
    assert "loss_c4_val" in text
    assert "10.6M to 6.89B" in text
    assert "5 to 640 tokens per parameter" in text
    assert "95%" in text
    assert "value_hi" in text


def test_docstring_examples_run() -> None:
    result = doctest.testmod(datasets, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_import_is_light() -> None:
    code = (
        "import sys, bayescale\n"
        "before = set(sys.modules)\n"
        "import bayescale.datasets\n"
        "new = set(sys.modules) - before\n"
        "heavy = sorted(m for m in new if m.split('.')[0] in {'pymc', 'pytensor', 'arviz', "
        "'xarray', 'nutpie'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""
