"""Held-out cases of real sources, and the build of the shipped extrapolation discrepancy.

.. code-block:: console

    $ python -m bayescale.scaling.discrepancy_build               # every case, then the model
    $ python -m bayescale.scaling.discrepancy_build --from-cases  # refit from cases.csv

A *case* is one source cut at a size: the law is fitted (without any extrapolation term)
to the runs below the cut and every larger run is forecast; :func:`heldout_cases` records
the log error of the forecast median, the fit's own predictive sd and the distance beyond
the data of each held-out run. :data:`CASES` lists the cases: the shipped Gadre et al.,
ColPret, Pythia and Porian et al. data, and, where ``../shared/data`` (or
``$BAYESCALE_SHARED_DATA``) is present, the Epoch extraction of Chinchilla, (Mis)Fitting,
Data-constrained scaling, Gemstones, Step Law and Marin's mixture-of-experts runs (used for
back-tests, not shipped).

The build writes ``models/extrapolation_discrepancy/``: ``fit.nc`` (the
:class:`~bayescale.scaling.discrepancy.DiscrepancyFit`), ``cases.csv`` (the held-out
errors it was fitted to: derived numbers, no raw data), ``summary.csv`` and ``spec.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayescale.core.errors import (
    ConvergenceWarning,
    DataError,
    ExtrapolationWarning,
    SpecificationError,
)
from bayescale.scaling.discrepancy import DISCREPANCY_REFERENCE, fit_discrepancy
from bayescale.scaling.forecast import ratio_distance

__all__ = [
    "CASES",
    "STACKED_LAWS",
    "Case",
    "build",
    "build_cases",
    "compute_distance",
    "heldout_cases",
    "shared_data_dir",
    "stacked_heldout_cases",
]


def shared_data_dir() -> Path:
    """``$BAYESCALE_SHARED_DATA``, or ``../shared/data`` beside the repository."""
    env = os.environ.get("BAYESCALE_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


@dataclass(frozen=True)
class Case:
    """One back-test: a source, its train/held-out split and the law fitted."""

    source: str
    label: str
    load: Callable[[], tuple[pd.DataFrame, pd.DataFrame]]
    law: str = "chinchilla"
    shipped: bool = True


def _split_by_params(df: pd.DataFrame, cut: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = df[df["params"] <= cut], df[df["params"] > cut]
    if "checkpoint_step" in test and test["checkpoint_step"].notna().any() and "model" in test:
        # Only the final checkpoint of each held-out run is forecast.
        test = test[test["tokens"] == test.groupby("model")["tokens"].transform("max")]
        test = test.drop_duplicates("model", keep="last")
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _gadre(metric: str) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame]]:
    def load() -> tuple[pd.DataFrame, pd.DataFrame]:
        from bayescale import datasets

        return _split_by_params(datasets.load("gadre2024", metric=metric), 1e9)

    return load


def _colpret() -> tuple[pd.DataFrame, pd.DataFrame]:
    from bayescale.scaling.reference import REFERENCES
    from bayescale.scaling.reference_build import load_reference_data

    return _split_by_params(load_reference_data(REFERENCES["colpret2024_chinchilla"]), 3e9)


def _pythia() -> tuple[pd.DataFrame, pd.DataFrame]:
    from bayescale import datasets
    from bayescale.scaling.checkpoints import drop_early_checkpoints, thin_checkpoints

    df = datasets.load("pythia2023", metric="lambada_openai_ppl_0shot").copy()
    df["value"] = np.log(df["value"])  # log-perplexity: the per-token loss
    df[["value_lo", "value_hi"]] = np.nan
    df = thin_checkpoints(drop_early_checkpoints(df, min_tokens=1e10), per_run=12)
    return _split_by_params(df, 1.5e9)


#: Porian et al.'s IsoFLOP points below this many tokens per parameter are left out: they
#: are read off their training runs early, not trained models (the grid goes down to
#: 0.01 tokens per parameter; those points' losses reach 9.3 nats on ``val_loss``).
PORIAN_MIN_TOKENS_PER_PARAM = 1.0


def _porian(metric: str) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame]]:
    """Porian et al. (2024), shipped: every configuration of ``metric`` in one fit; held
    out, each configuration's sizes above 2.5e8 parameters (its four or five largest) at
    every budget."""

    def load() -> tuple[pd.DataFrame, pd.DataFrame]:
        from bayescale import datasets

        df = datasets.load("porian2024", metric=metric)
        df = df[df["tokens"] >= PORIAN_MIN_TOKENS_PER_PARAM * df["params"]]
        return _split_by_params(df.reset_index(drop=True), 2.5e8)

    return load


def _tidy(path: str, keep: Callable[[pd.DataFrame], Any] | None = None) -> pd.DataFrame:
    df = pd.read_csv(shared_data_dir() / path)
    if keep is not None:
        df = df[keep(df)]
    return df.reset_index(drop=True)


def _epoch(cut: float) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame]]:
    return lambda: _split_by_params(_tidy("tidy/epoch_chinchilla_tidy.csv"), cut)


def _by_split(
    path: str, split: str, keep: Callable[[pd.DataFrame], Any]
) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame]]:
    def load() -> tuple[pd.DataFrame, pd.DataFrame]:
        df = _tidy(path, keep)
        train = df[df[split] == "train"]
        cols = ["family", "params", "tokens", "metric", "value"]
        cols += ["compute"] if "compute" in df else []
        return train[cols].reset_index(drop=True), df[df[split] != "train"][cols].reset_index(
            drop=True
        )

    return load


def _marin() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Marin's v16 recipe: the lowest loss of each isoFLOP budget and the compute-optimal
    baselines, in compute; held out, the runs at 1e21 and 1e23 FLOPs."""
    df = _tidy("marin_moe_isoflops/tidy.csv", lambda d: d["family"] == "moe_v16_adamh")
    grid = df[df["run_type"] == "isoflop"]
    best = grid.loc[grid.groupby("compute")["value"].idxmin()]
    train = pd.concat([best, df[df["run_type"] == "compute_optimal_baseline"]])
    test = df[df["run_type"].str.startswith("heldout")]
    cols = ["family", "compute", "metric", "value"]
    train_cols = [*cols, "params", "tokens"]  # the long format needs them; the law uses C
    return train[train_cols].reset_index(drop=True), test[cols].reset_index(drop=True)


def _cases() -> list[Case]:
    gadre_metrics = (
        "loss_c4_val",
        "loss_openlm",
        "loss_paloma_c4_en",
        "loss_paloma_dolma_100_programing_languages",
        "loss_paloma_falcon-refinedweb",
        "loss_paloma_ptb",
        "loss_paloma_redpajama",
        "loss_val_de-en_100",
    )
    out = [Case("gadre2024", f"gadre2024 {m} N<=1e9", _gadre(m)) for m in gadre_metrics]
    out += [
        Case("colpret2024", "colpret2024 loss N<=3e9", _colpret),
        Case("pythia2023", "pythia2023 lambada N<=1.5e9", _pythia),
        Case("porian2024", "porian2024 val_loss N<=2.5e8", _porian("val_loss")),
        Case("porian2024", "porian2024 train_loss N<=2.5e8", _porian("train_loss")),
        Case("epoch2024", "epoch chinchilla N<=3e8", _epoch(3e8), shipped=False),
        Case("epoch2024", "epoch chinchilla N<=1e9", _epoch(1e9), shipped=False),
        Case(
            "misfitting_li2025",
            "(mis)fitting best lr, forecast 1.2B",
            _by_split(
                "misfitting_li2025/tidy.csv", "split_suggested", lambda d: d["best_lr_for_ND"]
            ),
            shipped=False,
        ),
        Case(
            "muennighoff2023",
            "datablations single epoch, forecast 4-9B",
            _by_split(
                "muennighoff2023_datablations/tidy.csv", "sld_split", lambda d: d["single_epoch"]
            ),
            shipped=False,
        ),
        Case(
            "gemstones_mcleish2025",
            "gemstones, forecast the ~2B shapes",
            _by_split(
                "gemstones_mcleish2025/tidy.csv", "split_suggested", lambda d: d["value"] > 0
            ),
            shipped=False,
        ),
        Case(
            "steplaw_li2025",
            "step law best hyperparameters, forecast 1.07B",
            _by_split("steplaw_li2025/tidy.csv", "split_suggested", lambda d: d["best_hp_for_ND"]),
            shipped=False,
        ),
        Case(
            "marin_moe",
            "marin MoE v16 in compute, forecast 1e21 and 1e23",
            _marin,
            law="power_law:compute",
            shipped=False,
        ),
    ]
    return out


#: The laws mixed by :func:`stacked_heldout_cases` unless told otherwise.
STACKED_LAWS = ("chinchilla", "power_law:compute", "broken_power_law")

#: Every back-test case, shipped sources first.
CASES: list[Case] = _cases()


def heldout_cases(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    source: str,
    label: str = "",
    law: str = "chinchilla",
    seed: int = 0,
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """Fit ``law`` to ``train`` with no extrapolation term and score every run of ``test``.

    Returns one row per held-out run: ``source``, ``case``, the inputs, ``value``, ``err``
    (log observed minus log forecast median), ``sd`` (predictive sd of the log new run),
    ``d`` (e-folds beyond the data), ``are`` (absolute relative error of the median) and
    ``converged``.
    """
    from bayescale.scaling.fitting import fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit(
            train,
            law=law,
            seed=seed,
            progressbar=False,
            extrapolation_rate=0.0,
            posterior_predictive=False,
            **fit_kwargs,
        )
    return score_heldout(result, test, source=source, label=label)


def score_heldout(result: Any, test: pd.DataFrame, *, source: str, label: str = "") -> pd.DataFrame:
    """The rows of :func:`heldout_cases` for a fit (in memory or loaded) and its held-out runs."""
    inputs = list(result.law.inputs)
    cols = inputs + (["family"] if len(result.families) > 1 else [])
    with warnings.catch_warnings():  # the back-test measures these forecasts on purpose
        warnings.simplefilter("ignore", ExtrapolationWarning)
        draws = result.forecast_draws(test[cols])
    log_pred = np.log(draws["new_run"].values.reshape(-1, len(test)))
    y = np.log(test["value"].to_numpy(float))
    med = np.median(log_pred, axis=0)
    frame = test[inputs].copy()
    frame.insert(0, "case", label or source)
    frame.insert(0, "source", source)
    frame["value"] = test["value"].to_numpy(float)
    frame["err"] = y - med
    frame["sd"] = log_pred.std(axis=0)
    frame["d"] = draws["extrapolation"].values
    frame["d_compute"] = compute_distance(result.data, test)
    frame["d_ratio"] = ratio_distance(result.data, test)
    frame["are"] = np.abs(np.exp(med - y) - 1)
    frame["converged"] = bool(result.diagnostics.ok) if result.diagnostics else False
    return frame.reset_index(drop=True)


def compute_distance(data: Any, test: pd.DataFrame) -> np.ndarray:
    r"""E-folds of training compute beyond the data, :math:`\max(0, \log C - \log
    \max_\text{train} C)`, for each run of ``test``.

    ``data`` is a fit's data (:attr:`ScalingFit.data`, with ``compute`` per training
    run); the maximum is over the run's own family when both have one, as for
    :func:`~bayescale.scaling.forecast.extrapolation_distance`. :math:`C` is the
    ``compute`` column of ``test`` or :math:`6ND`. The back-test bins its scores by this
    distance as well as by ``d`` (the distance along any one input, which the
    discrepancy model uses).
    """
    log_c = np.log(np.asarray(data["compute"].values, dtype=float))
    if "compute" in test and test["compute"].notna().all():
        target = np.log(test["compute"].to_numpy(float))
    elif {"params", "tokens"} <= set(test) and test[["params", "tokens"]].notna().all().all():
        target = np.log(6.0 * test["params"].to_numpy(float) * test["tokens"].to_numpy(float))
    else:
        raise DataError(
            "compute_distance needs each run's 'compute', or its 'params' and 'tokens' "
            f"(C = 6ND); the runs have columns {list(test.columns)}: give one or the other "
            "for every row"
        )
    _, top = _family_range(data, test, log_c)
    return np.maximum(0.0, target - top)


def _family_range(
    data: Any, points: pd.DataFrame, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest of ``values`` (one per training run of ``data``, a fit's data)
    over each point's own family, or over every training run for a point without a
    fitted family (no ``family`` column, a new family, or fitted data without families)."""
    low, high = np.full(len(points), values.min()), np.full(len(points), values.max())
    if "family" in points and "obs_family" in data.coords:
        train_family = np.asarray(data["obs_family"].values).astype(str)
        for i, fam in enumerate(points["family"].astype(str)):
            mine = train_family == fam
            if mine.any():
                low[i], high[i] = values[mine].min(), values[mine].max()
    return low, high


def stacked_heldout_cases(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    source: str,
    label: str = "",
    laws: Sequence[str] = STACKED_LAWS,
    seed: int = 0,
) -> pd.DataFrame:
    """Like :func:`heldout_cases`, for the stacking mixture of several laws.

    Each law is fitted to ``train`` without an extrapolation term; the new-run draws at the
    held-out runs are mixed with the PSIS-LOO stacking weights of :func:`bayescale.compare`
    (a law that fails to fit gets weight 0 and is named in ``weights``). ``d`` is the first
    law's distance. The weights are in the ``weights`` column (a JSON object).
    """
    from bayescale.compare import compare
    from bayescale.scaling.fitting import fit

    fits = {}
    failed = []
    for law in laws:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits[law] = fit(
                    train,
                    law=law,
                    seed=seed,
                    progressbar=False,
                    extrapolation_rate=0.0,
                    posterior_predictive=False,
                )
        except Exception:  # a law that cannot be fitted here takes no part
            failed.append(law)
    if len(fits) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = compare(fits, method="stacking", warn=False).table
        weights = {str(k): float(v) for k, v in table["weight"].items()}
    else:
        weights = dict.fromkeys(fits, 1.0)
    rng = np.random.default_rng(seed)
    first = next(iter(fits.values()))
    parts, d = [], None
    for name, result in fits.items():
        cols = list(result.law.inputs) + (["family"] if len(result.families) > 1 else [])
        with warnings.catch_warnings():  # measured on purpose, as in score_heldout
            warnings.simplefilter("ignore", ExtrapolationWarning)
            draws = result.forecast_draws(test[cols])
        d = draws["extrapolation"].values if d is None else d
        logs = np.log(draws["new_run"].values.reshape(-1, len(test)))
        take = round(weights.get(name, 0.0) * logs.shape[0])
        if take:
            parts.append(logs[rng.choice(logs.shape[0], size=take, replace=False)])
    log_pred = np.concatenate(parts)
    y = np.log(test["value"].to_numpy(float))
    med = np.median(log_pred, axis=0)
    frame = test[list(first.law.inputs)].copy()
    frame.insert(0, "case", label or source)
    frame.insert(0, "source", source)
    frame["value"] = test["value"].to_numpy(float)
    frame["err"] = y - med
    frame["sd"] = log_pred.std(axis=0)
    frame["d"] = d
    frame["d_compute"] = compute_distance(first.data, test)
    frame["d_ratio"] = ratio_distance(first.data, test)
    frame["are"] = np.abs(np.exp(med - y) - 1)
    frame["weights"] = json.dumps({**weights, **dict.fromkeys(failed, 0.0)})
    return frame.reset_index(drop=True)


def _available(
    cases: Sequence[Case], verbose: bool
) -> list[tuple[Case, pd.DataFrame, pd.DataFrame]]:
    out = []
    for case in cases:
        try:
            train, test = case.load()
        except FileNotFoundError as exc:
            if verbose:
                print(f"skipped {case.label}: {exc}")
            continue
        out.append((case, train, test))
    return out


def build_cases(
    cases: Sequence[Case] | None = None,
    *,
    seed: int = 0,
    verbose: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    stacked: bool = False,
    fits_dir: str | os.PathLike[str] | None = None,
    max_workers: int | None = None,
    fit_options: Mapping[str, Any] | None = None,
    inner: bool = False,
    inner_share: float = 1 / 3,
    stacked_laws: Sequence[str] = STACKED_LAWS,
) -> pd.DataFrame:
    """Held-out cases of every available source (:data:`CASES`), one row per held-out run.

    With ``inner``, each case's *training* runs are split again
    (:func:`bayescale.scaling.spread_calibration.holdout_split`) and the rows are the
    forecasts of their largest runs from the rest: the inner cases from which a fit
    calibrates its own spread (:func:`~bayescale.scaling.spread_calibration.calibrate_spread`),
    which never see the case's held-out runs (``inner_share``: the share of the log range
    of model size held out). A case without inner runs is skipped with a printed note.

    Cases whose data are not present (the shared data folder is absent) are skipped with a
    printed note; a case whose fit fails is reported and skipped, never the finished ones.

    The fits run through :func:`bayescale.fit_many` (``max_workers`` processes, default:
    the CPUs), one task per case, each saved to ``fits_dir`` as soon as it is done (a
    temporary folder when ``None``); a second call with the same ``fits_dir`` reuses the
    finished fits (a changed case or seed is a new task, :attr:`FitTask.key`) and scores
    the held-out runs from the saved fits (:func:`score_heldout`).

    ``stacked`` scores the stacking mixture of ``stacked_laws`` (default
    :data:`STACKED_LAWS`; :func:`stacked_heldout_cases`, case by case in this process)
    instead of the case's law (cases in compute only keep their law); with ``checkpoint``
    (a CSV path), its finished cases are written there as they finish and read back on
    the next call instead of being fitted again.
    """
    available = _available(cases or CASES, verbose)
    if inner:
        from bayescale.scaling.laws import get_law
        from bayescale.scaling.spread_calibration import holdout_split

        split = []
        for case, train, _ in available:
            try:
                split.append((case, *holdout_split(train, get_law(case.law), share=inner_share)))
            except DataError as exc:  # one case without inner runs must not stop the rest
                print(f"skipped {case.label} (no inner cases): {exc}")
        available = split
    if not stacked:
        return _cases_through_fit_many(
            available,
            seed=seed,
            verbose=verbose,
            fits_dir=fits_dir,
            max_workers=max_workers,
            fit_options=fit_options,
        )
    if fit_options:
        raise SpecificationError("fit_options apply to the case fits through fit_many only")
    frames = []
    done = pd.DataFrame()
    if checkpoint is not None and Path(checkpoint).exists():
        done = pd.read_csv(checkpoint)
        frames.append(done)
    for case, train, test in available:
        if not done.empty and case.label in set(done["case"]):
            continue
        start = time.perf_counter()
        try:
            if stacked and case.law == "chinchilla":
                frame = stacked_heldout_cases(
                    train, test, source=case.source, label=case.label, laws=stacked_laws, seed=seed
                )
            else:
                frame = heldout_cases(
                    train, test, source=case.source, label=case.label, law=case.law, seed=seed
                )
        except Exception as exc:  # one failed source must not lose the others
            print(f"FAILED {case.label}: {exc!r}")
            continue
        frame["law"] = case.law
        frame["shipped"] = case.shipped
        frames.append(frame)
        if checkpoint is not None:
            pd.concat(frames, ignore_index=True).to_csv(checkpoint, index=False)
        if verbose:
            print(
                f"{case.label}: {len(frame)} held-out runs, "
                f"converged={frame['converged'].iloc[0] if 'converged' in frame else 'n/a'}, "
                f"{time.perf_counter() - start:.0f} s",
                flush=True,
            )
    return pd.concat(frames, ignore_index=True)


def _cases_through_fit_many(
    available: list[tuple[Case, pd.DataFrame, pd.DataFrame]],
    *,
    seed: int,
    verbose: bool,
    fits_dir: str | os.PathLike[str] | None,
    max_workers: int | None,
    fit_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    import tempfile

    from bayescale.batch import FitTask, fit_many
    from bayescale.core.results import load

    options = {
        "seed": seed,
        "extrapolation_rate": 0.0,
        "posterior_predictive": False,
        "progressbar": False,
        "warn_convergence": False,
        **dict(fit_options or {}),
    }
    tasks = [FitTask(data=train, law=case.law, options=options) for case, train, _ in available]
    with tempfile.TemporaryDirectory(prefix="bayescale_cases_") as tmp:
        start = time.perf_counter()
        results = fit_many(
            tasks,
            out_dir=fits_dir or tmp,
            max_workers=max_workers,
            progress=verbose,
        ).set_index("key")
        frames = []
        for (case, _, test), task in zip(available, tasks, strict=True):
            row = results.loc[task.key]
            if row["status"] not in ("ok", "not_converged"):
                print(f"FAILED {case.label}: {row['error']}")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                frame = score_heldout(load(row["path"]), test, source=case.source, label=case.label)
            frame["law"] = case.law
            frame["shipped"] = case.shipped
            frames.append(frame)
            if verbose:
                print(
                    f"{case.label}: {len(frame)} held-out runs, "
                    f"converged={row['status'] == 'ok'}, {float(row['seconds']):.0f} s"
                )
        if verbose:
            print(f"{len(tasks)} case fits through fit_many: {time.perf_counter() - start:.0f} s")
    if not frames:
        raise RuntimeError("no held-out case could be fitted (see the messages above)")
    return pd.concat(frames, ignore_index=True)


def build(
    *,
    out_dir: str | os.PathLike[str] | None = None,
    cases: pd.DataFrame | None = None,
    seed: int = 0,
    **fit_kwargs: Any,
) -> Path:
    """Fit the discrepancy to ``cases`` (default: :func:`build_cases`) and write its folder."""
    from bayescale.scaling.reference import models_dir

    table = build_cases(seed=seed) if cases is None else cases
    start = time.perf_counter()
    fit = fit_discrepancy(table, seed=seed, **fit_kwargs)
    folder = Path(out_dir or models_dir()) / DISCREPANCY_REFERENCE
    folder.mkdir(parents=True, exist_ok=True)
    if "log_likelihood" in fit.idata.children:  # runs x 4000 numbers, redrawn on demand
        del fit.idata["log_likelihood"]
    fit.save(folder / "fit.nc")
    table.to_csv(folder / "cases.csv", index=False)
    fit.summary(ci_prob=0.9).to_csv(folder / "summary.csv")
    record = {
        "reference": DISCREPANCY_REFERENCE,
        "sources": sorted(table["source"].unique().tolist()),
        "heldout_runs": len(table),
        "diagnostics": {
            "converged": bool(fit.diagnostics.ok) if fit.diagnostics else None,
            "text": str(fit.diagnostics),
        },
        "fit_seconds": round(time.perf_counter() - start, 1),
        "rebuild": "python -m bayescale.scaling.discrepancy_build",
    }
    (folder / "spec.json").write_text(json.dumps(record, indent=2) + "\n")
    return folder


def main(argv: Sequence[str] | None = None) -> None:
    """Command line of the build (see the module docstring)."""
    from bayescale.scaling.reference import models_dir

    parser = argparse.ArgumentParser(
        prog="python -m bayescale.scaling.discrepancy_build",
        description="Build the extrapolation discrepancy reference from held-out runs.",
    )
    parser.add_argument(
        "--from-cases",
        nargs="?",
        const="",
        default=None,
        metavar="CSV",
        help="refit from a cases table (default: the shipped cases.csv) instead of fitting "
        "every source again",
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="parent folder (models/)")
    parser.add_argument(
        "--fits-dir",
        type=Path,
        default=None,
        help="keep the case fits here (fit_many's out_dir; reused by a later build)",
    )
    args = parser.parse_args(argv)
    if args.from_cases is not None:
        path = Path(args.from_cases or models_dir() / DISCREPANCY_REFERENCE / "cases.csv")
        cases = pd.read_csv(path)
    else:
        cases = build_cases(fits_dir=args.fits_dir)
    folder = build(out_dir=args.out_dir, cases=cases)
    record = json.loads((folder / "spec.json").read_text())
    print(f"{record['diagnostics']['text']} ({record['heldout_runs']} runs) -> {folder}")


if __name__ == "__main__":
    main()
