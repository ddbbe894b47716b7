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
from bayescale.core.errors import DataError
from bayescale.scaling.data import validate
from tests.helpers import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
SOURCE = SHARED_DATA
needs_source = pytest.mark.skipif(
    not SOURCE.is_dir(),
    reason=f"source data folder {SOURCE} is absent; the spot checks compare against it",
)
SHIPPED = ["colpret2024", "gadre2024", "obsscaling2024", "porian2024", "pythia2023", "wu_lo2024"]
# The metric(s) each data set's documentation validates, with the options it uses there.
DOC_METRICS: list[tuple[str, str, dict[str, object]]] = [
    ("gadre2024", "loss_c4_val", {}),
    ("colpret2024", "loss", {"min_rows_per_family": 1}),
    ("colpret2024", "arc_easy@5", {}),
    ("colpret2024", "downstream/piqa_len_norm", {}),
    ("pythia2023", "lambada_openai_ppl_0shot", {}),
    ("pythia2023", "arc_easy_acc_0shot", {}),
    ("pythia2023", "lambada_openai_acc_0shot", {"space": "linear"}),
    ("porian2024", "val_loss", {}),
    ("porian2024", "train_loss", {}),
    ("obsscaling2024", "MMLU", {"min_rows_per_family": 1}),
    ("obsscaling2024", "GSM8K", {"space": "linear", "min_rows_per_family": 1}),
    ("wu_lo2024", "mmlu/g9_brier", {"min_rows_per_family": 1}),
    ("wu_lo2024", "arithmetic/overall_acc", {"space": "linear", "min_rows_per_family": 1}),
]
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


def test_names_lists_the_shipped_sets() -> None:
    assert datasets.names() == SHIPPED


@pytest.mark.parametrize("name", datasets.names())
def test_every_dataset_loads_and_matches_its_provenance(name: str) -> None:
    df = datasets.load(name)
    prov = datasets.provenance(name)
    extra = [c for c in datasets.OPTIONAL_COLUMNS if c in df.columns]
    assert list(df.columns) == list(datasets.COLUMNS) + extra
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
def test_every_dataset_ships_its_mit_or_apache_licence(name: str) -> None:
    text = datasets.licence_text(name)
    licence = datasets.provenance(name)["licence"]
    assert licence in {"MIT", "Apache-2.0"}
    if licence == "MIT":
        assert "Permission is hereby granted" in text
        assert "Apache License" not in text
    else:
        assert "Apache License" in text
        assert "Version 2.0" in text
        assert "Permission is hereby granted" not in text
    assert datasets.provenance(name)["licence_file"] == "LICENSE"


@needs_source
@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("colpret2024", "colpret_hitchhiker"),
        ("gadre2024", "gadre2024_overtraining"),
        ("obsscaling2024", "ruan2024_obsscaling"),
        ("porian2024", "porian2024_isoflop"),
        ("pythia2023", "pythia_evals"),
        ("wu_lo2024", "wu_lo2024_emergence"),
    ],
)
def test_licence_is_copied_verbatim(name: str, folder: str) -> None:
    source = (SOURCE / folder / "LICENSE").read_text(encoding="utf-8")
    assert datasets.licence_text(name) == source


@pytest.mark.parametrize("name", datasets.names())
def test_runs_are_identifiable(name: str) -> None:
    df = datasets.load(name)
    # one family and one N per run label
    assert (df.groupby("model")["family"].nunique() == 1).all()
    assert (df.groupby("model")["params"].nunique() == 1).all()
    # each (run, checkpoint, metric) appears once
    key = df[["model", "tokens", "checkpoint_step", "metric"]].astype(str)
    assert not key.duplicated().any()
    steps = df["checkpoint_step"].dropna()
    assert (steps >= 0).all()
    assert (df["params"] > 0).all() and (df["tokens"] > 0).all()
    assert np.isfinite(df["value"]).all()
    has_lo = df["value_lo"].notna()
    assert (df.loc[has_lo, "value_lo"] <= df.loc[has_lo, "value"]).all()
    assert (df.loc[has_lo, "value"] <= df.loc[has_lo, "value_hi"]).all()
    for col in ("description", "families", "metrics", "columns", "copyright"):
        assert datasets.provenance(name)[col], col


@pytest.mark.parametrize("name", ["colpret2024", "pythia2023"])
def test_checkpoints_of_a_run_share_its_label(name: str) -> None:
    df = datasets.load(name)
    curves = df[df["checkpoint_step"].notna()]
    per_run = curves.groupby("model")["tokens"].nunique()
    assert (per_run > 1).all()
    # within a run and metric, later checkpoints have seen more tokens
    for _, run in curves.groupby(["model", "metric"]):
        run = run.sort_values("checkpoint_step")
        assert run["tokens"].is_monotonic_increasing


@pytest.mark.parametrize(("name", "metric", "options"), DOC_METRICS)
def test_documented_metric_passes_validate(
    name: str, metric: str, options: dict[str, object]
) -> None:
    df = datasets.load(name)
    ds = validate(df, metric=metric, **options)  # type: ignore[arg-type]
    assert ds.sizes["obs"] == int((df["metric"] == metric).sum())


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


# --------------------------------------------------------------------------- new sets


def test_colpret2024_families_and_common_loss() -> None:
    df = datasets.load("colpret2024")
    prov = datasets.provenance("colpret2024")
    runs = df.groupby("family")["model"].nunique()
    assert runs["OPT"] == 6 and runs["GPT-3"] == 8 and runs["T5-Pile"] == 4
    assert runs["OLMo"] == 2 and runs["OLMo-Twin"] == 1
    assert runs["K2"] == 1 and runs["Mamba"] == 1
    assert df["model"].nunique() == 300
    loss = df[df["metric"] == "loss"]
    # every family has its main loss under the common name
    assert set(loss["family"]) == set(df["family"])
    assert loss["value"].between(0.01, 25).all()
    np.testing.assert_allclose(df["compute"], 6 * df["params"] * df["tokens"], rtol=1e-12)
    # unique tokens only for the datablations runs, and never more than the tokens seen
    datab = df["family"].str.startswith("datablations")
    assert df.loc[datab, "unique_tokens"].notna().all()
    assert df.loc[~datab, "unique_tokens"].isna().all()
    contour = df["family"].str.startswith("datablations-c4-contour")
    # unique tokens of the run's data; the final checkpoint has seen them all at least once
    final = df[datab].groupby("model").agg(u=("unique_tokens", "max"), d=("tokens", "max"))
    assert (final["u"] <= final["d"] * (1 + 1e-4)).all()  # last log slightly before the end
    assert (df.loc[datab, "unique_tokens"].groupby(df["model"]).nunique() == 1).all()
    assert df.loc[contour, "checkpoint_step"].isna().all()
    assert df.loc[~contour, "checkpoint_step"].notna().all()
    for family in ("OPT", "OLMo", "T5-Pile", "K2", "Mamba", "GPT-3"):
        assert family in prov["loss_sources"]


def test_colpret2024_curves_validate_with_defaults() -> None:
    df = datasets.load("colpret2024", metric="loss")
    curves = df[~df["family"].str.startswith("datablations-c4-contour")]
    ds = validate(curves, metric="loss")
    assert ds.sizes["obs"] == len(curves)


@needs_source
def test_colpret2024_values_match_the_source() -> None:
    df = datasets.load("colpret2024")
    agg = SOURCE / "colpret_hitchhiker" / "aggregated_eval"
    # OPT: loss = ln(ppl), tokens = steps x batch
    traj = pd.read_csv(agg / "opt_trajectories.csv")
    row = traj[(traj["model_size"] == "1.3b") & (traj["steps"] == 260000)].iloc[0]
    got = df[(df["model"] == "OPT-1.3b") & (df["checkpoint_step"] == 260000)]
    got = got[got["metric"] == "loss"].iloc[0]
    assert got["value"] == pytest.approx(np.log(row["ppl"]), rel=1e-12)
    assert got["tokens"] == pytest.approx(10 ** row["num_token"], rel=1e-9)
    # OLMo-7B C4 validation cross-entropy at step 100000
    olmo = pd.read_csv(agg / "olmo.csv", low_memory=False)
    src = olmo[(olmo["model_name"] == "OLMo-7B") & (olmo["Step"] == 100000)].iloc[0]
    got = df[(df["model"] == "OLMo-7B") & (df["checkpoint_step"] == 100000)]
    got = got.set_index("metric")
    assert got.loc["loss", "value"] == src["c4_en-validation/CrossEntropyLoss"]
    assert got.loc["downstream/copa_acc", "value"] == src["downstream/copa_acc"]
    assert got.loc["loss", "tokens"] == 100000 * 4e6
    # datablations contour: unique tokens = tokens / epochs, not the source's column
    con = pd.read_csv(agg / "datablations_contour_losses.csv")
    src = con[con["model_args"] == "{'name': '2b855b9b'}"].iloc[0]
    got = df[df["model"] == "datablations-contour-2b855b9b"].iloc[0]
    assert got["value"] == src["openLM_loss"]
    assert got["tokens"] == src["token_num"]
    assert got["unique_tokens"] == pytest.approx(9e9, rel=1e-12)
    assert got["family"] == "datablations-c4-contour-U9B"
    # GPT-3 175B: the last validation point
    gpt3 = pd.read_csv(SOURCE / "colpret_hitchhiker" / "raw_data" / "gpt3" / "extracted.csv")
    src = gpt3[(gpt3["model"] == "175b") & gpt3["val_loss"].notna()]
    got = df[df["model"] == "GPT-3-175B"]
    assert len(got) == len(src)
    last = src.loc[src["step"] == src["step"].max(), "val_loss"]
    top = got.loc[got["tokens"] == got["tokens"].max(), "value"]
    assert sorted(top) == sorted(last)
    assert sorted(got["value"]) == sorted(src["val_loss"])
    assert (got["params"] == 175e9).all()


def test_pythia2023_shape() -> None:
    df = datasets.load("pythia2023")
    assert sorted(df["family"].unique()) == ["deduped", "standard"]
    assert df.groupby("family")["model"].nunique().to_dict() == {"deduped": 8, "standard": 7}
    assert (df["tokens"] == df["checkpoint_step"] * 2_097_152).all()
    assert df["checkpoint_step"].min() == 1 and df["checkpoint_step"].max() == 143_000
    np.testing.assert_allclose(df["compute"], 6 * df["params"] * df["tokens"], rtol=1e-12)
    mmlu = df["metric"].str.startswith("mmlu")
    assert df.loc[mmlu, "value_lo"].isna().all()
    assert df.loc[~mmlu, "value_lo"].notna().all()


@needs_source
def test_pythia2023_values_match_the_source() -> None:
    src = pd.read_csv(SOURCE / "pythia_evals" / "pythia_v1_evals_compact_tidy.csv")
    src = src[src["tokens"] > 0]
    df = datasets.load("pythia2023")
    assert len(df) == len(src)
    key = ["model", "checkpoint_step", "metric"]
    merged = df.merge(src, on=key, suffixes=("", "_src"), validate="one_to_one")
    assert len(merged) == len(df)
    for col in ("value", "value_lo", "value_hi", "params", "tokens"):
        np.testing.assert_array_equal(merged[col], merged[f"{col}_src"])


def test_porian2024_shape() -> None:
    df = datasets.load("porian2024")
    assert df["family"].nunique() == 15
    assert sorted(df["metric"].unique()) == ["train_loss", "val_loss"]
    np.testing.assert_allclose(df["compute"], 6 * df["params"] * df["tokens"], rtol=1e-9)
    assert df["compute"].nunique() == 12
    assert df["checkpoint_step"].isna().all()


@needs_source
def test_porian2024_values_match_the_source() -> None:
    src = pd.read_csv(SOURCE / "porian2024_isoflop" / "porian_isoflop_points.csv").dropna()
    df = datasets.load("porian2024")
    assert len(df) == len(src)
    row = src.iloc[100]
    family = "-".join(row[["dataset", "hparams", "warmup", "decay", "param_count"]])
    got = df[
        (df["family"] == family)
        & (df["params"] == row["params"])
        & (df["compute"] == row["flops_budget"])
        & (df["metric"] == row["loss_split"] + "_loss")
    ]
    assert len(got) == 1
    assert got["value"].iloc[0] == row["loss"]
    assert got["tokens"].iloc[0] == row["tokens"]


def test_obsscaling2024_shape() -> None:
    df = datasets.load("obsscaling2024")
    assert df["model"].nunique() == 123
    assert {"MMLU", "GSM8K", "arithmetic_2dm_2_acc", "leaderboard_bbh"} <= set(df["metric"])
    np.testing.assert_allclose(df["compute"], 6 * df["params"] * df["tokens"], rtol=1e-9)
    bleu = df["metric"] == "ipa_transliterate_2_bleu"
    assert df.loc[~bleu, "value"].between(0, 1).all()


@needs_source
def test_obsscaling2024_values_match_the_source() -> None:
    src = pd.read_csv(
        SOURCE / "ruan2024_obsscaling" / "eval_results" / "base_llm_benchmark_eval.csv"
    )
    df = datasets.load("obsscaling2024")
    row = src[src["Model"] == "meta-llama/Llama-2-13b-hf"].iloc[0]
    got = df[df["model"] == "meta-llama/Llama-2-13b-hf"].set_index("metric")
    assert got.loc["MMLU", "value"] == row["MMLU"]
    assert got.loc["HumanEval", "value"] == row["HumanEval"]
    assert got.loc["MMLU", "params"] == 13e9
    assert got.loc["MMLU", "tokens"] == 2e12
    assert got.loc["MMLU", "family"] == "Llama-2"
    # models without a pretraining data size are left out
    assert "mistralai/Mixtral-8x7B-v0.1" not in set(df["model"])


def test_wu_lo2024_shape() -> None:
    df = datasets.load("wu_lo2024")
    prov = datasets.provenance("wu_lo2024")
    tasks = {m.split("/")[0] for m in df["metric"].unique()}
    assert len(tasks) == 9
    assert set(prov["groups"]) == tasks
    for task in tasks:
        assert f"{task}/g9_brier" in prov["metrics"]
        assert f"{task}/overall_acc" in prov["metrics"]
        assert list(prov["groups"][task]) == [f"g{i}" for i in range(10)]
    assert "mmlu/g0_acc" in prov["metrics"]
    acc = df["metric"].str.endswith("_acc")
    assert df.loc[acc, "value"].between(0, 1).all()
    assert df.loc[~acc, "value"].between(0, 2).all()


@needs_source
def test_wu_lo2024_values_match_the_source() -> None:
    df = datasets.load("wu_lo2024")
    groups = datasets.provenance("wu_lo2024")["groups"]
    folder = SOURCE / "wu_lo2024_emergence" / "data" / "mmlu"
    src = pd.read_csv(folder / "mmlu_instance_brier_-1000_31.622776601683793_10_redist.csv")
    row = src[src["Model"] == "meta-llama/Llama-2-7b-hf"].iloc[0]
    got = df[df["model"] == "meta-llama/Llama-2-7b-hf"].set_index("metric")
    assert got.loc["mmlu/g3_brier", "value"] == row[f"{groups['mmlu']['g3']}_brier"]
    assert got.loc["mmlu/overall_acc", "value"] == row["acc"]
    acc = pd.read_csv(folder / "acc_mmlu_instance_brier_-1000_31.622776601683793_10_redist.csv")
    arow = acc[acc["Model"] == "meta-llama/Llama-2-7b-hf"].iloc[0]
    assert got.loc["mmlu/g0_acc", "value"] == arow[f"{groups['mmlu']['g0']}_acc"]
    assert got.loc["mmlu/g0_acc", "params"] == 7e9
