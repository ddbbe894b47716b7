"""Rebuild the shipped data sets from their source files.

Run from a checkout with the source folders at hand::

    python -m bayescale.datasets.build --source ../shared/data
    python -m bayescale.datasets.build --source ../shared/data --only pythia2023

For every data set this writes ``bayescale/datasets/<name>/<file>.csv`` in the long format
and updates the computed fields of ``<name>/PROVENANCE.json`` (``n_rows``, ``n_runs``,
``families``, ``metrics`` and ``family_runs``); the descriptive fields of the provenance
record are written by hand. The ``LICENSE`` files are copied verbatim from the source
folders. ``gadre2024`` was built separately and is not rebuilt here.

This module is not imported by :mod:`bayescale.datasets`; it needs only pandas and numpy.
Numbers are written losslessly: integers as integers, other floats with Python's shortest
round-trip representation. Rows are sorted by family, model, checkpoint (tokens) and metric
order.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.datasets import COLUMNS as _COLUMNS
from bayescale.datasets import OPTIONAL_COLUMNS as _OPTIONAL

HERE = Path(__file__).resolve().parent

#: Output columns; ``unique_tokens`` is written only where a set has it.
COLUMNS = list(_COLUMNS)
OPTIONAL = list(_OPTIONAL)

#: Source folder (under --source) and CSV file name of each data set.
SOURCES: dict[str, tuple[str, str]] = {
    "colpret2024": ("colpret_hitchhiker", "colpret2024_curves.csv"),
    "pythia2023": ("pythia_evals", "pythia2023_evals.csv"),
    "porian2024": ("porian2024_isoflop", "porian2024_isoflop.csv"),
    "obsscaling2024": ("ruan2024_obsscaling", "obsscaling2024_base_models.csv"),
    "wu_lo2024": ("wu_lo2024_emergence", "wu_lo2024_difficulty_groups.csv"),
}


def _long(frame: pd.DataFrame, **const: object) -> pd.DataFrame:
    """Add constant columns, fill the missing optional ones and order the columns."""
    out = frame.copy()
    for key, val in const.items():
        out[key] = val
    for col in COLUMNS:
        if col not in out:
            out[col] = np.nan
    keep = COLUMNS + [c for c in OPTIONAL if c in out and out[c].notna().any()]
    return out.loc[:, keep]


def _six_nd(frame: pd.DataFrame) -> pd.Series:
    """Training FLOPs 6 N D, exact for integer N and D."""
    out = []
    for n, d in zip(frame["params"], frame["tokens"], strict=True):
        if float(n).is_integer() and float(d).is_integer():
            out.append(float(6 * int(n) * int(d)))
        else:
            out.append(6.0 * float(n) * float(d))
    return pd.Series(out, index=frame.index, dtype="float64")


# --------------------------------------------------------------------------- ColPret


_GPT3_PARAMS = {  # Brown et al. (2020), Table 2.1
    "small": 125e6,
    "medium": 350e6,
    "large": 760e6,
    "xl": 1.3e9,
    "2.7b": 2.7e9,
    "6.7b": 6.7e9,
    "13b": 13e9,
    "175b": 175e9,
}
_GPT3_LABEL = {
    "small": "GPT-3-Small",
    "medium": "GPT-3-Medium",
    "large": "GPT-3-Large",
    "xl": "GPT-3-XL",
    "2.7b": "GPT-3-2.7B",
    "6.7b": "GPT-3-6.7B",
    "13b": "GPT-3-13B",
    "175b": "GPT-3-175B",
}
_T5_PARAMS = {  # as in ColPret util/read_data.py get_t5()
    "base": 247586304,
    "large": 783173632,
    "xl": 2849804288,
    "xxl": 11135426560,
}
_OPT_PARAMS = {
    "125m": 125e6,
    "1.3b": 1.3e9,
    "6.7b": 6.7e9,
    "13b": 13e9,
    "30b": 30e9,
    "175b": 175e9,
}


def _opt_batch(n: float) -> float:
    """OPT tokens per step as in ColPret (get_opt_trajectories, Zhang et al. 2022 Table 1)."""
    if n < 1e9:
        return 5e5
    if n < 6e9:
        return 1e6
    if n < 10e9:
        return 2e6
    if n < 60e9:
        return 4e6
    return 2e6


def _short(x: float) -> str:
    """100M, 1.5B, 12B: a compact token count for a label."""
    for scale, suffix in ((1e9, "B"), (1e6, "M")):
        if x >= scale:
            return f"{x / scale:g}{suffix}"
    return f"{x:g}"


def _parse_size(text: str) -> float:
    text = str(text).strip().upper()
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[text[-1]]
    return float(text[:-1]) * scale


def _colpret_opt(agg: Path) -> pd.DataFrame:
    traj = pd.read_csv(agg / "opt_trajectories.csv")
    traj["params"] = traj["model_size"].map(_OPT_PARAMS)
    traj["tokens"] = traj["steps"] * traj["params"].map(_opt_batch)
    # the source's num_token is log10 of the tokens seen: check the batch-size rule
    assert np.allclose(np.log10(traj["tokens"]), traj["num_token"], atol=1e-9)
    traj["model"] = "OPT-" + traj["model_size"]
    traj["checkpoint_step"] = traj["steps"].astype(float)
    loss = traj.assign(metric="loss", value=np.log(traj["ppl"]))
    frames = [loss]
    bench = pd.read_csv(agg / "opt.csv", index_col=0)
    bench["params"] = bench["size"].map(_OPT_PARAMS)
    tokens = bench["steps"] * bench["params"].map(_opt_batch)
    assert np.allclose(tokens, bench["tokens"], rtol=1e-12)  # the source's own token count
    bench["tokens"] = tokens
    bench["model"] = "OPT-" + bench["size"]
    bench["checkpoint_step"] = bench["steps"].astype(float)
    tasks = [c for c in bench.columns if c.startswith("bigbench__")]
    for task in tasks:
        frames.append(bench.assign(metric=task, value=bench[task]))
    out = pd.concat(frames, ignore_index=True)
    return _long(out, family="OPT")


def _colpret_olmo(agg: Path) -> pd.DataFrame:
    olmo = pd.read_csv(agg / "olmo.csv", low_memory=False)
    olmo["params"] = olmo["num_params"].map(_parse_size)
    olmo["tokens"] = olmo["Step"] * 4e6  # 4M tokens per step (ColPret get_olmo)
    olmo["checkpoint_step"] = olmo["Step"].astype(float)
    olmo["model"] = olmo["model_name"]
    olmo["family"] = np.where(olmo["model_name"] == "OLMo-7B-Twin-2T", "OLMo-Twin", "OLMo")
    # main loss: C4-en validation cross-entropy, from whichever column each run logged
    c4 = olmo["c4_en-validation/CrossEntropyLoss"].copy()
    c4 = c4.fillna(olmo["v2-small-c4_en-validation/CrossEntropyLoss"])
    c4 = c4.fillna(np.log(olmo["c4_en-validation/Perplexity"]))
    frames = [olmo.assign(metric="loss", value=c4)]
    for col in ("downstream/piqa_len_norm", "downstream/copa_acc", "downstream/arc_easy_acc"):
        frames.append(olmo.assign(metric=col, value=olmo[col]))
    out = pd.concat(frames, ignore_index=True)
    return _long(out.dropna(subset=["value"]))


def _colpret_t5(agg: Path) -> pd.DataFrame:
    t5 = pd.read_csv(agg / "t5_pile.csv", usecols=["model_name", "steps", "val_perplexity"])
    t5 = t5[(t5["steps"] > 0) & t5["val_perplexity"].notna()].copy()
    t5["params"] = t5["model_name"].map(_T5_PARAMS)
    t5["tokens"] = t5["steps"] * 1e6  # ColPret get_t5: 1M tokens per step
    t5["checkpoint_step"] = t5["steps"].astype(float)
    t5["model"] = "Pile-T5-" + t5["model_name"]
    t5["metric"] = "loss"
    t5["value"] = np.log(t5["val_perplexity"])
    return _long(t5, family="T5-Pile")


def _colpret_k2(agg: Path, every: int) -> pd.DataFrame:
    k2 = pd.read_csv(agg / "K2.csv")
    k2 = k2[k2["tokens_seen"] > 0].copy()
    k2["params"] = 65e9
    k2["tokens"] = k2["tokens_seen"]
    k2["checkpoint_step"] = k2["index"].astype(float)
    evals = ["medmcqa@5", "race@0", "openbookqa5@5", "arc_easy@5", "mbpp@10"]
    has_eval = k2[[f"k2 eval - {e}" for e in evals]].notna().any(axis=1)
    keep = (k2["index"] % every == 0) | has_eval | (k2["index"] == k2["index"].max())
    frames = [k2[keep].assign(metric="loss", value=k2["k2 training - lm loss"])]
    for ev in evals:
        frames.append(k2.assign(metric=ev, value=k2[f"k2 eval - {ev}"]))
    out = pd.concat(frames, ignore_index=True).dropna(subset=["value"])
    return _long(out, family="K2", model="LLM360-K2-65B")


def _colpret_mamba(agg: Path, n_points: int) -> pd.DataFrame:
    mamba = pd.read_csv(agg / "llm360Mamba3B.csv")
    last = mamba["step"].max()
    grid = set(np.unique(np.round(np.geomspace(mamba["step"].min(), last, n_points))))
    grid |= set(np.arange(0, last + 1, 1000))
    steps = np.asarray(sorted(mamba["step"]))
    wanted = {steps[np.searchsorted(steps, g).clip(0, len(steps) - 1)] for g in grid}
    wanted.add(last)
    mamba = mamba[mamba["step"].isin(wanted)].copy()
    mamba["params"] = 3e9
    mamba["tokens"] = mamba["step"] * 500e9 / 176703  # ColPret get_llm360
    mamba["checkpoint_step"] = mamba["step"].astype(float)
    mamba["metric"] = "loss"
    mamba["value"] = mamba["loss"]
    return _long(mamba, family="Mamba", model="LLM360-Mamba-3B")


def _colpret_gpt3(raw: Path) -> pd.DataFrame:
    gpt3 = pd.read_csv(raw / "gpt3" / "extracted.csv")
    gpt3 = gpt3[gpt3["val_loss"].notna()].copy()
    gpt3["params"] = gpt3["model"].map(_GPT3_PARAMS)
    gpt3["tokens"] = gpt3["step"] * 1e9  # the digitised x axis is in billions of tokens
    gpt3 = gpt3.sort_values(["model", "tokens", "val_loss"], kind="stable")
    gpt3["checkpoint_step"] = gpt3.groupby("model").cumcount().astype(float)
    gpt3["model"] = gpt3["model"].map(_GPT3_LABEL)
    gpt3["metric"] = "loss"
    gpt3["value"] = gpt3["val_loss"]
    return _long(gpt3, family="GPT-3")


def _colpret_datablations(agg: Path) -> pd.DataFrame:
    rep = pd.read_csv(agg / "datablations_losses.csv")
    rep["params"] = rep["num_params"].map(_parse_size)
    rep["tokens"] = rep["token_num"].astype(float)
    rep["unique_tokens"] = rep["tokens_per_epoch"].astype(float)
    rep["epochs"] = rep["epochs"].astype(int)
    rep["family"] = "datablations-" + rep["data"] + "-" + rep["epochs"].astype(str) + "ep"
    size = rep["num_params"].str.replace(".", "b", regex=False).str.rstrip("B").str.lower()
    rep["model"] = "datablations-" + size + "-" + rep["data"] + "-" + rep["epochs"].astype(str)
    rep["model"] += "ep"
    assert rep.groupby("model")["model_args"].nunique().max() == 1
    rep = rep.sort_values(["model", "tokens"], kind="stable")
    rep["checkpoint_step"] = rep.groupby("model").cumcount().astype(float)
    rep["metric"] = "loss"
    rep["value"] = rep["loss"]
    frames = [_long(rep)]
    con = pd.read_csv(agg / "datablations_contour_losses.csv")
    con["params"] = con["num_params"].astype(float)
    con["tokens"] = con["token_num"].astype(float)
    # the source's tokens_per_epoch is constant and wrong here: unique = tokens / epochs
    con["unique_tokens"] = con["token_num"] / con["epochs"]
    con["model"] = "datablations-contour-" + con["model_args"].map(
        lambda s: ast.literal_eval(s)["name"]
    )
    con["metric"] = "loss"
    con["value"] = con["openLM_loss"]
    # one family per unique-data budget (runs that repeat data), one for single-epoch runs
    con["family"] = [
        "datablations-c4-contour-1ep" if ep == 1 else f"datablations-c4-contour-U{_short(u)}"
        for ep, u in zip(con["epochs"], con["unique_tokens"], strict=True)
    ]
    frames.append(_long(con))
    return pd.concat(frames, ignore_index=True)


def build_colpret2024(src: Path) -> tuple[pd.DataFrame, list[str]]:
    agg, raw = src / "aggregated_eval", src / "raw_data"
    parts = [
        _colpret_opt(agg),
        _colpret_olmo(agg),
        _colpret_t5(agg),
        _colpret_k2(agg, every=10),
        _colpret_mamba(agg, n_points=400),
        _colpret_gpt3(raw),
        _colpret_datablations(agg),
    ]
    out = pd.concat(parts, ignore_index=True)
    out["compute"] = _six_nd(out)
    metrics = ["loss"] + [m for m in pd.unique(out["metric"]) if m != "loss"]
    return out, metrics


# --------------------------------------------------------------------------- Pythia


def build_pythia2023(src: Path) -> tuple[pd.DataFrame, list[str]]:
    path = src / "pythia_v1_evals_compact_tidy.csv"
    if not path.exists():
        path = src.parent / "tidy" / "pythia_v1_evals_compact_tidy.csv"
    df = pd.read_csv(path, dtype={"compute": "string"})
    df = df[df["tokens"] > 0].copy()  # step 0: untrained models, D = 0
    df["family"] = df["family"].map({"pythia": "standard", "pythia-deduped": "deduped"})
    assert df["family"].notna().all()
    assert (df["tokens"] == df["checkpoint_step"] * 2_097_152).all()
    df["compute"] = _six_nd(df)
    metrics = list(pd.unique(df["metric"]))
    return _long(df), metrics


# --------------------------------------------------------------------------- Porian


def build_porian2024(src: Path) -> tuple[pd.DataFrame, list[str]]:
    df = pd.read_csv(src / "porian_isoflop_points.csv")
    df = df.dropna(subset=["params", "tokens", "loss"]).copy()
    df["family"] = df[["dataset", "hparams", "warmup", "decay", "param_count"]].agg(
        "-".join, axis=1
    )
    df["model"] = df["family"] + "-N" + df["params"].astype("int64").astype(str)
    df["compute"] = df["flops_budget"].astype(float)
    df["metric"] = df["loss_split"] + "_loss"
    df["value"] = df["loss"]
    return _long(df), ["train_loss", "val_loss"]


# --------------------------------------------------------------------------- ObsScaling


def build_obsscaling2024(src: Path) -> tuple[pd.DataFrame, list[str]]:
    ev = src / "eval_results"
    base = pd.read_csv(ev / "base_llm_benchmark_eval.csv")
    meta_cols = ["Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)"]
    meta = base[[*meta_cols, "FLOPs (1E21)"]]
    bench = [c for c in base.columns if c not in meta.columns]
    frames = [base.melt(id_vars=["Model"], value_vars=bench, var_name="metric")]
    for fname in ("base_llm_emergent_capability_eval.csv", "base_llm_leaderboard_v2_eval.csv"):
        extra = pd.read_csv(ev / fname)
        assert extra["Model"].isin(meta["Model"]).all(), fname
        cols = [c for c in extra.columns if c != "Model"]
        frames.append(extra.melt(id_vars=["Model"], value_vars=cols, var_name="metric"))
    metrics = list(pd.unique(pd.concat(frames)["metric"]))
    long = pd.concat(frames, ignore_index=True).merge(meta, on="Model", how="left")
    long = long.dropna(subset=["value", "Model Size (B)", "Pretraining Data Size (T)"])
    long["family"] = long["Model Family"]
    long["model"] = long["Model"]
    long["params"] = long["Model Size (B)"] * 1e9
    long["tokens"] = long["Pretraining Data Size (T)"] * 1e12
    long["compute"] = long["FLOPs (1E21)"] * 1e21
    return _long(long), [m for m in metrics if m in set(long["metric"])]


# --------------------------------------------------------------------------- Wu & Lo

WU_LO_TASKS = [
    "mmlu",
    "arithmetic",
    "parsinlu_qa_mc",
    "hindu_knowledge",
    "analogical_similarity",
    "conceptual_combinations",
    "hellaswag",
    "arc",
    "abstract_narrative_understanding",
]


def wu_lo_groups(src: Path) -> dict[str, dict[str, str]]:
    """Group labels g0..g9 of each task and the source's question-index range of each."""
    out: dict[str, dict[str, str]] = {}
    for task in WU_LO_TASKS:
        (path,) = sorted((src / "data" / task).glob(f"{task}_instance_brier_*_10_redist.csv"))
        cols = [c for c in pd.read_csv(path, nrows=0).columns if c.endswith("_brier")]
        out[task] = {f"g{i}": c.removesuffix("_brier") for i, c in enumerate(cols)}
    return out


def build_wu_lo2024(src: Path) -> tuple[pd.DataFrame, list[str]]:
    groups = wu_lo_groups(src)
    meta_cols = ["Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)"]
    frames, metrics = [], []
    for task in WU_LO_TASKS:
        folder = src / "data" / task
        (brier,) = sorted(folder.glob(f"{task}_instance_brier_*_10_redist.csv"))
        acc = sorted(folder.glob(f"acc_{task}_instance_brier_*_10_redist.csv"))
        table = pd.read_csv(brier)
        parts = {f"{task}/{g}_brier": f"{rng}_brier" for g, rng in groups[task].items()}
        parts |= {f"{task}/overall_brier": "brier", f"{task}/overall_acc": "acc"}
        cols = table[meta_cols + list(parts.values())].rename(
            columns={v: k for k, v in parts.items()}
        )
        frames.append(cols.melt(id_vars=meta_cols, var_name="metric"))
        names = list(parts)
        if acc:
            acc_table = pd.read_csv(acc[0])
            acc_parts = {f"{task}/{g}_acc": f"{rng}_acc" for g, rng in groups[task].items()}
            # the acc file shares the models and the overall Brier score of the Brier file
            check = acc_table[["Model", "brier"]].merge(
                table[["Model", "brier"]], on="Model", suffixes=("_a", "_b")
            )
            assert np.allclose(check["brier_a"], check["brier_b"], equal_nan=True), task
            acc_cols = acc_table[meta_cols + list(acc_parts.values())].rename(
                columns={v: k for k, v in acc_parts.items()}
            )
            frames.append(acc_cols.melt(id_vars=meta_cols, var_name="metric"))
            names += list(acc_parts)
        metrics += names
    long = pd.concat(frames, ignore_index=True)
    long = long.dropna(subset=["Model", "value", "Model Size (B)", "Pretraining Data Size (T)"])
    long["family"] = long["Model Family"]
    long["model"] = long["Model"]
    long["params"] = long["Model Size (B)"] * 1e9
    long["tokens"] = long["Pretraining Data Size (T)"] * 1e12
    long["compute"] = 6 * long["params"] * long["tokens"]
    present = set(long["metric"])
    return _long(long), [m for m in metrics if m in present]


# --------------------------------------------------------------------------- writing


BUILDERS: dict[str, Callable[[Path], tuple[pd.DataFrame, list[str]]]] = {
    "colpret2024": build_colpret2024,
    "pythia2023": build_pythia2023,
    "porian2024": build_porian2024,
    "obsscaling2024": build_obsscaling2024,
    "wu_lo2024": build_wu_lo2024,
}


def _fmt(x: object) -> str:
    """Lossless text of a number: integers as integers, other floats by repr."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, str):
        return x
    v = float(x)  # type: ignore[arg-type]
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def finish(df: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Sort the rows, check them and turn the numbers into lossless text."""
    order = {m: i for i, m in enumerate(metrics)}
    df = df.assign(_m=df["metric"].map(order), _s=df["checkpoint_step"].fillna(-1))
    assert df["_m"].notna().all()
    df = df.sort_values(["family", "model", "tokens", "_s", "_m"], kind="stable")
    df = df.drop(columns=["_m", "_s"]).reset_index(drop=True)
    assert (df["params"] > 0).all() and (df["tokens"] > 0).all()
    assert not (df["checkpoint_step"] < 0).any()
    assert np.isfinite(df["value"]).all()
    key = ["model", "tokens", "checkpoint_step", "metric"]
    assert not df.duplicated(key).any(), df[df.duplicated(key, keep=False)]
    assert (df.groupby("model")["family"].nunique() == 1).all()
    text = df.copy()
    for col in text.columns:
        if col not in ("family", "model", "metric", "seed"):
            text[col] = [_fmt(v) for v in df[col]]
    text["seed"] = df["seed"].map(_fmt)
    return text


def write(name: str, source_root: Path, out_root: Path = HERE) -> pd.DataFrame:
    folder, fname = SOURCES[name]
    src = source_root / folder
    df, metrics = BUILDERS[name](src)
    text = finish(df, metrics)
    dest = out_root / name
    dest.mkdir(parents=True, exist_ok=True)
    text.to_csv(dest / fname, index=False, lineterminator="\n")
    licence = src / "LICENSE"
    if licence.exists():
        shutil.copyfile(licence, dest / "LICENSE")
    prov_path = dest / "PROVENANCE.json"
    prov = json.loads(prov_path.read_text(encoding="utf-8")) if prov_path.exists() else {}
    prov.setdefault("name", name)
    prov["file"] = fname
    prov["n_rows"] = len(df)
    prov["n_runs"] = int(df["model"].nunique())
    prov["families"] = sorted(pd.unique(df["family"]))
    prov["metrics"] = [str(m) for m in pd.unique(text["metric"])]  # order in the CSV
    prov["family_runs"] = {
        str(k): int(v) for k, v in df.groupby("family")["model"].nunique().sort_index().items()
    }
    if name == "wu_lo2024":
        prov["groups"] = wu_lo_groups(src)
    prov_path.write_text(json.dumps(prov, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    size = (dest / fname).stat().st_size
    print(f"{name}: {len(df)} rows, {prov['n_runs']} runs, {len(metrics)} metrics, {size} bytes")
    return df


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="folder of the sources")
    parser.add_argument("--only", nargs="*", choices=sorted(BUILDERS), help="data sets")
    args = parser.parse_args(argv)
    for name in args.only or list(BUILDERS):
        write(name, args.source)


if __name__ == "__main__":
    main()
