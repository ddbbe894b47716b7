"""fit_many runs every kind of fit: the kind registry, options checked per kind, samplers
named by a string and imported in the worker, the kind in the records and the task file,
and a mixed-kind run on a Dask cluster killed mid-run and resumed.

Fits use prior draws (``tests.helpers:prior_sampler``): no MCMC.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import bayescale
from bayescale.batch import (
    FIT_FUNCTIONS,
    FitTask,
    fit_function,
    fit_many,
    open_fits,
    read_results,
)
from bayescale.cli.fit_many import add_fit_many_parser
from bayescale.core.diagnostics import Diagnostics
from bayescale.core.errors import SpecificationError
from bayescale.core.results import FIT_KINDS
from tests.batch import mixed

REPO = Path(__file__).resolve().parents[2]
TINY = pd.DataFrame(
    {
        "family": ["a"] * 5,
        "params": [1e6, 1e7, 1e8, 1e9, 1e10],
        "tokens": [2e7, 2e8, 2e9, 2e10, 2e11],
        "metric": "loss",
        "value": [3.1, 2.6, 2.3, 2.1, 2.0],
    }
)
COUNTS = pd.DataFrame(
    {
        "model": ["m"] * 6,
        "problem": [f"p{i}" for i in range(6)],
        "n_samples": [20] * 6,
        "n_correct": [0, 1, 2, 5, 9, 14],
    }
)


class _Saved:
    """What fit_many needs of a fit: ``save(path)`` and ``diagnostics``."""

    diagnostics = Diagnostics(
        divergences=0, n_samples=400, max_rhat=1.0, min_ess_bulk=800.0, bad_rhat={}
    )

    def save(self, path: str | os.PathLike[str]) -> Path:
        Path(path).write_text("a fit")
        return Path(path)


CALLS: list[dict] = []  # arguments of the fits run by record_call (threads)


def record_call(data, **arguments):
    """Stands in for any kind's fit function; keeps the arguments it was called with."""
    CALLS.append(arguments)
    return _Saved()


# -- the registry and the task ---------------------------------------------------------
def test_every_kind_of_fit_has_a_fit_function_that_takes_a_sampler():
    assert set(FIT_FUNCTIONS) == set(FIT_KINDS)
    waiting = []
    for kind in FIT_FUNCTIONS:
        function = fit_function(kind)
        assert callable(function)
        if "sampler" not in inspect.signature(function).parameters:
            waiting.append(f"{kind} ({FIT_FUNCTIONS[kind]})")
    assert not waiting, f"fit functions without sampler=: {waiting}"
    with pytest.raises(SpecificationError, match=r"unknown kind of fit 'nope'.*scaling"):
        FitTask(kind="nope", data=TINY)


def test_a_task_is_checked_against_its_kinds_fit_function():
    passk = FitTask(kind="passk", data=COUNTS, options={"zero_inflation": False})
    assert passk.law is None and passk.label == "table/passk"
    assert passk.describe()["kind"] == "passk"
    assert FitTask.from_dict({"kind": "passk", "data": COUNTS, "zero_inflation": False}) == passk
    unknown = r"unknown option\(s\) \['space'\] for kind 'passk'"
    with pytest.raises(SpecificationError, match=unknown):
        FitTask(kind="passk", data=COUNTS, options={"space": "linear"})
    with pytest.raises(SpecificationError, match="kind 'passk' takes no 'law'"):
        FitTask(kind="passk", data=COUNTS, law="chinchilla")
    with pytest.raises(SpecificationError, match="kind 'passk' takes no metric"):
        FitTask(kind="passk", data=COUNTS, metric="loss")
    with pytest.raises(SpecificationError, match=r"'package\.module:function'"):
        FitTask(kind="passk", data=COUNTS, options={"sampler": "no colon"})
    coverage = FitTask(kind="coverage_law", data=COUNTS, law="beta_zi")
    assert coverage.call_arguments() == {"law": "beta_zi"}
    # the kind is part of the key; a scaling task keeps the key of bayescale 0.1
    assert FitTask(kind="coverage_law", data=COUNTS).key != FitTask(kind="passk", data=COUNTS).key
    scaling = FitTask(law="chinchilla", dataset="gadre2024", metric="loss_c4_val", families="rpj")
    assert scaling.kind == "scaling"
    assert scaling.key == "gadre2024__loss_c4_val__rpj__chinchilla-edb4fbee8a"
    # a sampler is named in the key the same way in every process
    named = FitTask(kind="passk", data=COUNTS, options={"sampler": "tests.helpers:prior_sampler"})
    from tests.helpers import prior_sampler

    given = FitTask(kind="passk", data=COUNTS, options={"sampler": prior_sampler})
    assert json.loads(given.describe()["options"]) == {"sampler": "tests.helpers:prior_sampler"}
    assert given.fingerprint() == named.fingerprint()
    assert named.call_arguments()["sampler"] is prior_sampler  # imported when called


def test_fit_many_gives_each_task_the_options_its_kind_takes(tmp_path):
    tasks = [FitTask(law="power_law:params", data=TINY), FitTask(kind="passk", data=COUNTS)]
    CALLS.clear()
    table = fit_many(
        tasks,
        "thread",
        out_dir=tmp_path,
        fit_function=record_call,
        max_workers=1,
        progress=False,
        space="linear",
        zero_inflation=False,
        draws=10,
    )
    assert list(table["kind"]) == ["scaling", "passk"]
    assert list(table["status"]) == ["ok", "ok"]
    scaling, passk = CALLS
    assert scaling["law"] == "power_law:params" and scaling["space"] == "linear"
    assert "zero_inflation" not in scaling and scaling["cores"] >= 1
    assert passk["zero_inflation"] is False and passk["draws"] == 10
    assert "space" not in passk and "law" not in passk
    assert read_results(tmp_path).set_index("key").loc[table.loc[1, "key"], "kind"] == "passk"
    with pytest.raises(SpecificationError, match=r"\['cutof'\] are taken by none"):
        fit_many(tasks, "thread", out_dir=tmp_path, fit_function=record_call, cutof=1e22)


def test_a_fit_file_of_another_kind_is_not_reused(tmp_path):
    fit_many(
        [FitTask(data=TINY, law="power_law:params", name="x")],
        "thread",
        out_dir=tmp_path,
        fit_function=record_call,
        progress=False,
    )
    other = FitTask(kind="passk", data=COUNTS, name="x")
    with pytest.raises(SpecificationError, match="holds a 'scaling' fit but task"):
        fit_many([other], "thread", out_dir=tmp_path, fit_function=record_call)
    table = fit_many([other], "thread", out_dir=tmp_path, fit_function=record_call, overwrite=True)
    assert table.loc[0, "kind"] == "passk" and not table.loc[0, "reused"]
    # records written by bayescale 0.1 name no kind: they are scaling fits
    record = json.loads((tmp_path / "x.json").read_text())
    del record["kind"]
    (tmp_path / "x.json").write_text(json.dumps(record))
    assert read_results(tmp_path).loc[0, "kind"] == "scaling"


# -- samplers named by a string ----------------------------------------------------------
def test_a_sampler_string_is_imported_where_the_fit_runs(tmp_path):
    with pytest.raises(SpecificationError, match=r"module 'tests\.no_such' cannot be imported"):
        fit_many(
            [FitTask(law="power_law:params", data=TINY)],
            "thread",
            out_dir=tmp_path / "never",
            sampler="tests.no_such:sampler",
        )
    assert not (tmp_path / "never").exists()  # failed before anything ran
    table = fit_many(
        [FitTask(law="power_law:params", data=TINY, options={"sampler": mixed.PRIOR})],
        "thread",
        out_dir=tmp_path,
        progress=False,
        draws=50,
        chains=2,
        extend_if_slow=False,
    )
    assert table.loc[0, "status"] in ("ok", "not_converged"), table.loc[0, "error"]
    fit = open_fits(tmp_path, kind="scaling")[table.loc[0, "key"]]
    assert isinstance(fit, bayescale.ScalingFit)
    assert fit.posterior.sizes["draw"] == 50 and fit.posterior.sizes["chain"] == 2


# -- command line --------------------------------------------------------------------------
def test_cli_task_file_names_the_kind_of_each_task(tmp_path):
    COUNTS.to_csv(tmp_path / "counts.csv", index=False)
    tasks = [
        {"kind": "passk", "data": "counts.csv", "sampler": mixed.PRIOR},
        {"dataset": "gadre2024", "metric": "nope", "law": "chinchilla"},
    ]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    parser = argparse.ArgumentParser()
    add_fit_many_parser(parser.add_subparsers(dest="command"))
    argv = ["fit-many", "--tasks", str(tmp_path / "tasks.json"), "--out-dir", str(tmp_path / "o")]
    args = parser.parse_args([*argv, "-q", "--executor", "thread", "--draws", "50"])
    out = io.StringIO()
    assert args.func(args, out) == 1  # the scaling task has no such metric
    text = out.getvalue()
    assert "kinds: 1 passk, 1 scaling" in text and "1 failed" in text
    table = pd.read_csv(tmp_path / "o" / "results.csv")
    assert list(table["kind"]) == ["passk", "scaling"]
    assert table.loc[0, "status"] in ("ok", "not_converged"), table.loc[0, "error"]
    (tmp_path / "bad.json").write_text(json.dumps([{"kind": "pass_k", "data": "counts.csv"}]))
    args = parser.parse_args(["fit-many", "--tasks", str(tmp_path / "bad.json"), "--out-dir", "o"])
    with pytest.raises(SpecificationError, match="item 0: unknown kind of fit 'pass_k'"):
        args.func(args, out)


# -- every kind on a Dask cluster, killed and resumed --------------------------------------
def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


@pytest.mark.slow
def test_mixed_kinds_on_dask_killed_mid_run_resume(tmp_path):
    pytest.importorskip("distributed")
    import distributed

    out = tmp_path / "fits"
    quick, held = mixed.mixed_tasks()
    kinds = {t.kind for t in quick}
    assert kinds == {"scaling", "passk", "sandwich"} and {t.kind for t in held} < kinds
    done = [out / f"{t.key}.json" for t in quick]
    env = {**os.environ, mixed.HOLD_ENV: "600", "PYTHONPATH": str(REPO)}
    log = (tmp_path / "killed_run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.batch.mixed", str(out)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the Dask workers die with it
    )
    try:
        deadline = time.monotonic() + 300
        while not all(p.exists() for p in done):
            assert proc.poll() is None, (tmp_path / "killed_run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the quick fits did not finish in 300 s"
            time.sleep(0.5)
    finally:
        _kill_group(proc)
        log.close()
    records = [json.loads(p.read_text()) for p in done]
    failed = {r["key"]: r["error"] for r in records if r["status"] not in ("ok", "not_converged")}
    assert not failed, failed
    stamps = {p.with_suffix(".nc"): p.with_suffix(".nc").stat().st_mtime_ns for p in done}
    assert not any((out / f"{t.key}.nc").exists() for t in held)  # still sampling when killed
    assert (out / ".fit_many.lock").exists()  # the killed run left its lock

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        table = fit_many([*quick, *held], client, out_dir=out, progress=False)

    assert list(table["kind"]) == [t.kind for t in [*quick, *held]]
    assert list(table["reused"]) == [True] * len(quick) + [False] * len(held)
    assert table["status"].isin(["ok", "not_converged"]).all(), table["error"].tolist()
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # not refitted
    assert not (out / ".fit_many.lock").exists()
    for task, path in zip([*quick, *held], table["path"], strict=True):
        fit = bayescale.load(path)
        module, _, name = FIT_KINDS[task.kind].partition(":")
        assert isinstance(fit, getattr(importlib.import_module(module), name))
        assert fit.kind == task.kind
    assert set(open_fits(out)) == set(table["key"])
