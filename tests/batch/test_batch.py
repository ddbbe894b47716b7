"""bayescale.fit_many: tasks, executors, failures, crash safety, resume, lazy loading.

Most tests replace the fit by :func:`fake_fit` (module level, so it pickles by reference
into spawned worker processes); one runs bayescale.fit with mocked sampling in threads and
one runs real small NUTS fits on a local Dask cluster.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import io
import json
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from bayescale import batch
from bayescale.batch import FitTask, fit_many, open_fits, read_results, tasks_from_datasets
from bayescale.batch import runner as batch_runner
from bayescale.cli.fit_many import add_fit_many_parser
from bayescale.core.diagnostics import Diagnostics
from bayescale.core.errors import SpecificationError

TINY = pd.DataFrame(
    {
        "family": ["a"] * 4,
        "params": [1e6, 1e7, 1e8, 1e9],
        "tokens": [2e7, 2e8, 2e9, 2e10],
        "metric": "loss",
        "value": [3.1, 2.6, 2.3, 2.1],
    }
)
CALLS: list[str] = []  # fits started in this process (thread executors)
_CALLS_LOCK = threading.Lock()


class FakeFit:
    """What fit_many needs of a fit: ``save(path)`` and ``diagnostics``."""

    def __init__(self, rows: int, ok: bool, partial_save: bool = False) -> None:
        self.rows = rows
        self.partial_save = partial_save
        self.diagnostics = Diagnostics(
            divergences=0 if ok else 5,
            n_samples=400,
            max_rhat=1.001 if ok else 1.3,
            min_ess_bulk=800.0 if ok else 20.0,
            bad_rhat={} if ok else {"alpha": 1.3},
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        with open(path, "w") as handle:
            handle.write("half a fi")
            if self.partial_save:
                raise OSError("disk full")
            handle.write(f"le with {self.rows} rows")
        return Path(path)


def fake_fit(data, law, *, metric=None, pooling=None, **options):
    """Behaviour by metric: crash, interrupt, error, not converged, partial save, ok."""
    with _CALLS_LOCK:
        CALLS.append(str(metric))
    if metric == "crash":
        os._exit(3)  # a worker process dying (segfault, OOM kill...)
    if metric == "interrupt":
        raise KeyboardInterrupt
    if metric == "error":
        raise RuntimeError("sampling blew up")
    time.sleep(options.get("sleep", 0.05))
    return FakeFit(len(data), ok=metric != "slow", partial_save=metric == "partial")


def mocked_fit(data, law, **options):
    """bayescale.fit with pm.sample replaced by prior draws (threads only)."""
    from tests.helpers import fit_mocked

    return fit_mocked(data, law=law, **options)


def tiny_task(metric: str, **kw) -> FitTask:
    return FitTask(
        law="power_law:params",
        data=TINY,
        metric=metric,
        name=kw.pop("name", None) or f"task-{metric}-{kw.get('options', {}).get('seed', 0)}",
        **kw,
    )


def _files(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir())


# -- tasks ------------------------------------------------------------------------------
def test_task_key_is_stable_and_follows_the_estimate():
    a = FitTask(law="chinchilla", dataset="gadre2024", metric="loss_c4_val", families="rpj")
    b = FitTask.from_dict(
        {"dataset": "gadre2024", "metric": "loss_c4_val", "family": "rpj", "law": "chinchilla"}
    )
    assert a.key == b.key
    assert a.key.startswith("gadre2024__loss_c4_val__rpj__chinchilla-")
    assert a.families == ("rpj",)
    # options that change the estimate change the key; how it runs does not
    assert a.with_options(draws=500).key != a.key
    assert a.with_options(progressbar=True, cores=3).key == a.key
    # a task's own options win over fit_many's defaults
    own = FitTask.from_dict({"dataset": "gadre2024", "metric": "x", "draws": 10})
    assert own.with_options(draws=99).options["draws"] == 10
    # the data's content is part of the key
    t1 = FitTask(law="power_law:params", data=TINY, metric="loss")
    t2 = FitTask(law="power_law:params", data=TINY.assign(value=TINY["value"] + 0.1))
    assert t1.key != t2.key
    assert FitTask.from_dict({"data": TINY, "key": "mine"}).key == "mine"


def test_task_errors_say_what_to_do():
    with pytest.raises(SpecificationError, match="exactly one of dataset"):
        FitTask(law="chinchilla")
    with pytest.raises(SpecificationError, match="exactly one of dataset"):
        FitTask(dataset="gadre2024", data=TINY)
    with pytest.raises(SpecificationError, match=r"unknown option\(s\) \['drawz'\]"):
        FitTask.from_dict({"dataset": "gadre2024", "drawz": 10})
    with pytest.raises(SpecificationError, match="file name"):
        FitTask(dataset="gadre2024", name="a/b")
    with pytest.raises(SpecificationError, match="distinct keys"):
        fit_many([tiny_task("ok"), tiny_task("ok")], "thread", out_dir="unused")


def test_tasks_from_datasets_records_every_skip():
    tasks = tasks_from_datasets(["gadre2024"], metrics=["loss_c4_val", "loss_openlm"])
    assert len(tasks) == 6  # 2 metrics x 3 families, one family per task
    assert {t.law for t in tasks} == {"chinchilla"}  # N and D vary independently
    assert all(t.skip is None and len(t.families) == 1 for t in tasks)
    few = tasks_from_datasets(["gadre2024"], metrics=["loss_c4_val"], min_rows=1000)
    assert [t.skip for t in few] == [f"{n} rows < min_rows=1000" for n in (34, 35, 35)]
    power = tasks_from_datasets(["gadre2024"], metrics=["loss_c4_val"], law="power_law:compute")
    assert {t.law for t in power} == {"power_law:compute"}
    with pytest.raises(SpecificationError, match="in none of the data sets"):
        tasks_from_datasets(["gadre2024"], metrics=["no_such_metric"])


def test_tasks_with_zero_values_are_fitted_in_linear_space():
    tasks = [t for t in tasks_from_datasets(["obsscaling2024"]) if t.skip is None]
    linear = [t for t in tasks if t.options.get("space") == "linear"]
    assert linear, "obsscaling2024 has accuracies of 0"
    for task in linear:
        assert (task.load_data()["value"] <= 0).any()
    for task in tasks:
        if task not in linear:
            assert (task.load_data()["value"] > 0).all()
    forced = tasks_from_datasets(["obsscaling2024"], space="log")
    assert {t.options["space"] for t in forced} == {"log"}  # the user's choice wins


# -- orchestration (threads) ------------------------------------------------------------
def test_failures_are_recorded_and_the_others_finish(tmp_path):
    tasks = [
        tiny_task("ok"),
        tiny_task("error"),
        FitTask(dataset="gadre2024", metric="no_such_metric", law="chinchilla"),
        tiny_task("slow"),
        tiny_task("ok", options={"seed": 1}),
        FitTask(dataset="gadre2024", metric="loss_c4_val", families="rpj", skip="too few rows"),
    ]
    stream = io.StringIO()
    table = fit_many(
        tasks, "thread", out_dir=tmp_path, fit_function=fake_fit, max_workers=2, stream=stream
    )
    assert list(table.columns[:9]) == list(batch.RESULT_COLUMNS)
    assert list(table["status"]) == ["ok", "failed", "failed", "not_converged", "ok", "skipped"]
    assert "RuntimeError: sampling blew up" in table.loc[1, "error"]
    assert "fake_fit" in table.loc[1, "traceback"]
    assert "no_such_metric" in table.loc[2, "error"] and "DataError" in table.loc[2, "error"]
    assert table.loc[3, "divergences"] == 5 and table.loc[3, "max_rhat"] == 1.3
    assert table.loc[5, "error"] == "too few rows"
    assert not table["reused"].any()
    for i in (0, 3, 4):
        assert Path(table.loc[i, "path"]).read_text() == "half a file with 4 rows"
    assert pd.isna(table.loc[1, "path"])
    # the directory alone tells the same story, also without the returned table
    on_disk = pd.read_csv(tmp_path / batch.RESULTS_FILE)
    assert list(on_disk["status"]) == list(table["status"])
    records = read_results(tmp_path).set_index("key")
    assert records.loc[tasks[1].key, "status"] == "failed"
    assert len(records) == 5  # skipped tasks are in results.csv only
    assert "fit_many [5/5]" in stream.getvalue()
    assert not list(tmp_path.glob(".*"))  # no temporary files, no lock left


def test_interrupted_run_resumes_and_skips_finished_fits(tmp_path):
    first = [tiny_task("ok", options={"seed": s}) for s in range(3)]
    rest = [tiny_task("ok", options={"seed": s}) for s in range(3, 5)]
    CALLS.clear()
    with pytest.raises(KeyboardInterrupt):
        fit_many(
            [*first, tiny_task("interrupt"), *rest],
            "thread",
            out_dir=tmp_path,
            fit_function=fake_fit,
            max_workers=1,
            progress=False,
        )
    assert CALLS == ["ok"] * 3 + ["interrupt"]  # the queued tasks were not started
    assert sorted(p.name for p in tmp_path.glob("*.nc")) == sorted(f"{t.key}.nc" for t in first)
    assert not list(tmp_path.glob(".*"))  # no partial file, lock released
    status = pd.read_csv(tmp_path / batch.RESULTS_FILE).set_index("key")["status"]
    assert [status[t.key] for t in first + rest] == ["ok"] * 3 + ["pending"] * 2
    # rerun (the culprit removed): finished fits are reused, the rest run
    CALLS.clear()
    table = fit_many(
        first + rest, "thread", out_dir=tmp_path, fit_function=fake_fit, progress=False
    )
    assert CALLS == ["ok"] * 2
    assert list(table["reused"]) == [True] * 3 + [False] * 2
    assert (table["status"] == "ok").all()
    # overwrite=True refits everything
    CALLS.clear()
    again = fit_many(
        first, "thread", out_dir=tmp_path, fit_function=fake_fit, overwrite=True, progress=False
    )
    assert len(CALLS) == 3 and not again["reused"].any()


def test_writes_are_atomic(tmp_path):
    with cf.ThreadPoolExecutor(2) as pool:  # any concurrent.futures executor
        table = fit_many(
            [tiny_task("partial"), tiny_task("ok")],
            pool,
            out_dir=tmp_path,
            fit_function=fake_fit,
            progress=False,
        )
    assert list(table["status"]) == ["failed", "ok"]
    assert "disk full" in table.loc[0, "error"]
    assert not (tmp_path / f"{tiny_task('partial').key}.nc").exists()  # no half a file
    assert not list(tmp_path.glob(".*"))
    # a record without its fit file is not "done": the task runs again
    CALLS.clear()
    fit_many(
        [tiny_task("partial")], "thread", out_dir=tmp_path, fit_function=fake_fit, progress=False
    )
    assert CALLS == ["partial"]


def test_a_live_run_locks_the_directory_and_a_dead_ones_files_are_cleaned(tmp_path):
    (tmp_path / batch.LOCK_FILE).write_text(f"{os.getppid()} host\n")
    with pytest.raises(SpecificationError, match="another fit_many run"):
        fit_many([tiny_task("ok")], "thread", out_dir=tmp_path, fit_function=fake_fit)
    (tmp_path / batch.LOCK_FILE).write_text("999999999 host\n")  # a dead run's lock
    (tmp_path / ".stale.nc.abc.tmp").write_text("half")  # and its partial file
    fit_many([tiny_task("ok")], "thread", out_dir=tmp_path, fit_function=fake_fit, progress=False)
    assert _files(tmp_path) == sorted(
        [f"{tiny_task('ok').key}.json", f"{tiny_task('ok').key}.nc", batch.RESULTS_FILE]
    )


# -- executors --------------------------------------------------------------------------
def test_default_process_pool_survives_a_dying_worker(tmp_path):
    tasks = [tiny_task("ok", options={"seed": s}) for s in range(3)]
    tasks[1:1] = [tiny_task("crash"), tiny_task("error")]
    start = time.perf_counter()
    table = fit_many(
        tasks, out_dir=tmp_path, fit_function=fake_fit, max_workers=2, progress=False
    ).set_index("key")
    seconds = time.perf_counter() - start
    status = {t.options.get("seed", t.metric): table.loc[t.key, "status"] for t in tasks}
    assert status == {0: "ok", "crash": "failed", "error": "failed", 1: "ok", 2: "ok"}
    assert "worker process died" in table.loc[tasks[1].key, "error"]
    pids = {json.loads((tmp_path / f"{t.key}.json").read_text())["pid"] for t in tasks[2:]}
    assert os.getpid() not in pids  # fitted in worker processes
    assert seconds < 60
    rerun = fit_many(
        [t for t in tasks if t.metric != "crash"],
        out_dir=tmp_path,
        fit_function=fake_fit,
        max_workers=2,
        progress=False,
        executor="thread",
    )
    assert rerun.set_index("key").loc[[t.key for t in tasks if t.metric == "ok"], "reused"].all()


def test_runner_gives_each_fit_its_share_of_the_cores():
    runner = batch_runner._Runner("thread", 1, n_tasks=10)
    try:
        assert runner.workers == 1 and runner.cores == batch_runner._available_cpus()
    finally:
        runner.stop(interrupted=False)
    runner = batch_runner._Runner("thread", 64, n_tasks=3)  # no more workers than tasks
    try:
        assert runner.workers == 3 and runner.cores == max(1, batch_runner._available_cpus() // 3)
    finally:
        runner.stop(interrupted=False)
    with pytest.raises(SpecificationError, match="executor"):
        batch_runner._Runner(42, None, 1)


def test_mocked_bayescale_fits_save_and_load_lazily(tmp_path):
    tasks = [
        FitTask(
            law="power_law:compute", dataset="gadre2024", metric="loss_c4_val", families=("rpj",)
        ),
        FitTask(
            law="power_law:compute", dataset="gadre2024", metric="loss_c4_val", families=("nope",)
        ),
    ]
    table = fit_many(
        tasks,
        "thread",
        out_dir=tmp_path,
        fit_function=mocked_fit,
        max_workers=1,
        progress=False,
        draws=50,
        chains=2,
    )
    assert table.loc[0, "status"] in ("ok", "not_converged")
    assert table.loc[1, "status"] == "failed" and "['nope']" in table.loc[1, "error"]
    key = table.loc[0, "key"]  # row i is task i; its key includes fit_many's options
    assert key == tasks[0].with_options(draws=50, chains=2).key != tasks[0].key
    fits = open_fits(table)
    assert list(fits) == [key]
    fit = fits[key]
    assert fit.families == ["rpj"] and fit.law.spec == "power_law:compute"
    assert list(open_fits(tmp_path)) == list(fits)
    record = json.loads((tmp_path / f"{key}.json").read_text())
    assert record["n_rows"] == 35 and record["dataset"] == "gadre2024"
    # killed between writing the fit and its record: the record is rebuilt from the fit
    (tmp_path / f"{key}.json").unlink()
    again = fit_many(
        tasks[:1],
        "thread",
        out_dir=tmp_path,
        fit_function=fake_fit,
        progress=False,
        draws=50,
        chains=2,
    )
    assert again.loc[0, "reused"] and again.loc[0, "status"] == table.loc[0, "status"]
    assert again.loc[0, "max_rhat"] == pytest.approx(table.loc[0, "max_rhat"])


@pytest.mark.nuts
def test_real_fits_on_a_local_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    tasks = [
        FitTask(
            law="power_law:compute", dataset="gadre2024", metric="loss_c4_val", families=(family,)
        )
        for family in ("rpj", "c4_original")
    ]
    tasks.append(FitTask(law="chinchilla", dataset="gadre2024", metric="bad_metric"))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        table = fit_many(
            tasks,
            client,
            out_dir=tmp_path,
            progress=False,
            draws=200,
            tune=200,
            chains=2,
            extend_if_slow=False,
        )
    assert list(table["status"][:2].isin(["ok", "not_converged"])) == [True, True]
    assert table.loc[2, "status"] == "failed" and "bad_metric" in table.loc[2, "error"]
    assert (table["max_rhat"][:2] < 1.1).all() and (table["divergences"][:2] == 0).all()
    fit = open_fits(tmp_path)[table.loc[0, "key"]]
    assert fit.sampler["cores"] == 1 and fit.sampler["draws"] == 200
    assert fit.posterior.sizes["chain"] == 2


# -- command line -----------------------------------------------------------------------
def _run_cli(argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_fit_many_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    out = io.StringIO()
    return args.func(args, out), out.getvalue()


def test_cli_records_skips_and_failures(tmp_path):
    code, text = _run_cli(
        [
            "fit-many",
            "--datasets",
            "gadre2024",
            "--min-rows",
            "1000",
            "--out-dir",
            str(tmp_path / "a"),
            "-q",
        ]
    )
    assert code == 0 and "24 tasks: 24 skipped" in text
    assert len(pd.read_csv(tmp_path / "a" / batch.RESULTS_FILE)) == 24
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps([{"dataset": "gadre2024", "metric": "nope", "law": "chinchilla"}]))
    code, text = _run_cli(
        [
            "fit-many",
            "--tasks",
            str(tasks),
            "--out-dir",
            str(tmp_path / "b"),
            "-q",
            "--executor",
            "thread",
        ]
    )
    assert code == 1 and "1 failed" in text and "metric 'nope' is not in data set" in text


def test_records_name_fit_files_relative_to_the_folder_so_it_can_move(tmp_path):
    """No machine path in the folder: the records and results.csv name each fit file
    relative to it, and a moved folder still reads back to its own files."""
    first = tmp_path / "first"
    tasks = [tiny_task("ok", options={"seed": s}) for s in range(2)]
    fit_many(tasks, "thread", out_dir=first, fit_function=fake_fit, progress=False)
    for record in first.glob("*.json"):
        assert json.loads(record.read_text())["path"] == f"{record.stem}.nc"
    assert str(tmp_path) not in (first / batch.RESULTS_FILE).read_text()
    moved = tmp_path / "moved"
    first.rename(moved)
    table = read_results(moved)
    assert all(Path(p).parent == moved and Path(p).exists() for p in table["path"])
    again = fit_many(tasks, "thread", out_dir=moved, fit_function=fake_fit, progress=False)
    assert again["reused"].all() and all(Path(p).parent == moved for p in again["path"])
