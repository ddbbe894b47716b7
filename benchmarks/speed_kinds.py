"""Speed of every fit kind in a fresh process, cold and warm disk caches, side by side.

One command::

    nice .venv/bin/python benchmarks/speed_kinds.py --before /path/to/old/tree --rounds 2

Fit kinds (real data, default settings, 4 chains x 1000 tune + 1000 draws):

* ``scaling``: :func:`bayescale.fit`, law ``chinchilla``, Epoch's replication of the
  Hoffmann et al. points (``../shared/data/epoch2024_chinchilla``; 240 simulated points when
  absent);
* ``passk``: :func:`bayescale.passk.fit`, ``model="beta"``, the Pythia x MATH counts of
  Brown et al. (``../shared/data/monkeys_pythia_math``, 7 sizes x 128 problems);
* ``sandwich``: :func:`bayescale.emergence.fit_sandwich`, Wu & Lo's ``mmlu`` slices,
  cut-off at Wu & Lo's threshold;
* ``sigmoid``: :func:`bayescale.emergence.fit_sigmoid`, Wu & Lo's ``mmlu`` accuracies, the
  same cut-off.

Each configuration runs in its own fresh, ``nice``-d Python process, timed from its launch
(interpreter start included, the parent passes the launch time) to the converged posterior
in hand; the interpreter's teardown is not counted. Each (tree, kind) gets its own empty
PyTensor compile directory (``PYTENSOR_FLAGS=base_compiledir=...``, ``NUMBA_CACHE_DIR``
beside it): the first process is *cold* (nothing compiled on disk; the operating system's
file cache is not dropped), the second reuses it (*warm*). ``--before PATH`` runs the same
workers with ``PATH`` first on ``sys.path`` (a copy of the ``bayescale`` package before a
change), alternating before and after for every kind and round, so both see the same load
on a shared machine; ratios are after / before.

The cold process then fits new data of the same shape (*new data, same process*: a random
90% of the scaling points, the Pythia counts without one problem, Wu & Lo's ``arithmetic``
task for the emergence fits), which the compile-once cache (:mod:`bayescale.core.compiled`)
can serve. Each worker also reports the CPU seconds of the process (all threads, from
``resource.getrusage``; steadier than wall times on a shared machine), the import times
(``import bayescale``, then the fit kind's own module), the fit's compile and sampling
seconds (``fit.sampler``) and its diagnostics. Tables: medians over ``--rounds`` (range),
wall and CPU, with after / before ratios and the targets of issue 17 (printed, not
enforced).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "@@RESULT@@ "
KINDS = ("scaling", "passk", "sandwich", "sigmoid")
#: Targets of issue 17 (seconds from launch to posterior in a fresh process).
TARGETS = {
    "scaling": {"cold": 10.0, "warm": 4.0},
    "passk": {"warm": 8.0},
    "sandwich": {"warm": 8.0},
    "sigmoid": {"warm": 8.0},
}
TASK = "mmlu"


# =========================================================================== worker
def _shared_data() -> Path:
    env = os.environ.get("BAYESCALE_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def _scaling_csv(folder: Path) -> Path:
    """The scaling data as a CSV in ``folder`` (the workers read it as a user would, with
    pandas, without this benchmark's baselines and their SciPy imports)."""
    sys.path.insert(0, str(HERE))
    import baselines

    data = baselines.load_epoch_chinchilla()
    if data is None:
        data = baselines.simulate_chinchilla(240, seed=0)
    path = folder / "scaling.csv"
    data.to_csv(path, index=False)
    return path


def _fit(kind: str, second: bool = False) -> tuple[Any, dict[str, float]]:
    """Import what ``kind`` needs, load its data and fit it; the fit and the import times.

    ``second``: new data of the same shape (a random 90% of the scaling points; the Pythia
    counts without their last problem; Wu & Lo's ``arithmetic`` task for the emergence
    fits), which a compiled model of the first fit's structure can serve.
    """
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    import bayescale

    t["import_bayescale"] = time.perf_counter() - t0
    if kind == "scaling":
        import pandas as pd

        csv = os.environ.get("BAYESCALE_SPEED_SCALING_CSV")
        data = pd.read_csv(csv) if csv else pd.read_csv(_scaling_csv(Path(tempfile.mkdtemp())))
        if second:
            data = data.sample(frac=0.9, random_state=20).reset_index(drop=True)
        t["data"] = time.perf_counter() - t0 - t["import_bayescale"]
        return bayescale.fit(data, law="chinchilla", progressbar=False, warn_convergence=False), t
    if kind == "passk":
        import pandas as pd

        t1 = time.perf_counter()
        from bayescale import passk

        t["import_kind"] = time.perf_counter() - t1
        csv = _shared_data() / "monkeys_pythia_math" / "pythia_math_per_problem_counts.csv"
        counts = pd.read_csv(csv)
        if second:
            counts = counts[counts["problem_idx"] != counts["problem_idx"].max()]
        return passk.fit(counts, model="beta", progressbar=False, warn_convergence=False), t
    t1 = time.perf_counter()
    from bayescale import emergence

    t["import_kind"] = time.perf_counter() - t1
    task = "arithmetic" if second else TASK
    cutoff = emergence.WU_LO_THRESHOLD[task]
    excluded = emergence.WU_LO_FILTERED_MODELS
    if kind == "sandwich":
        table = emergence.load_wu_lo_slices([task], exclude_models=excluded)
        return emergence.fit_sandwich(table, task, cutoff=cutoff, warn=False), t
    table = emergence.load_wu_lo_emergence(exclude_models=excluded)
    return emergence.fit_sigmoid(table, tasks=[task], cutoff=cutoff, warn=False), t


def _record(fit: Any) -> dict[str, Any]:
    d = fit.diagnostics
    info = dict(getattr(fit, "sampler", None) or {})
    return {
        "compile": info.get("compile_seconds"),
        "sample": info.get("sampling_seconds"),
        "compiled": info.get("compiled"),
        "converged": bool(d.ok),
        "divergences": int(d.divergences),
        "max_rhat": float(d.max_rhat),
        "ess_bulk_min": float(d.min_ess_bulk),
    }


def worker(kind: str, launched: float | None, second: bool) -> None:
    startup = max(time.time() - launched, 0.0) if launched is not None else 0.0
    t0 = time.perf_counter()
    fit, imports = _fit(kind)
    done = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    mods = sys.modules
    out: dict[str, Any] = {
        "kind": kind,
        "startup": startup,
        "to_posterior": startup + done,
        "cpu": usage.ru_utime + usage.ru_stime,
        "imports": imports,
        **_record(fit),
        "loaded": {m: m in mods for m in ("matplotlib", "scipy.stats", "arviz_plots", "nutpie")},
        "bayescale_from": str(Path(mods["bayescale"].__file__ or "").parent),
    }
    if second:  # new data of the same shape, in the same process
        t1 = time.perf_counter()
        fit2, _ = _fit(kind, second=True)
        wall = time.perf_counter() - t1
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime + after.ru_stime - out["cpu"]
        out["second"] = {"wall": wall, "cpu": cpu, **_record(fit2)}
    print(MARK + json.dumps(out, default=float), flush=True)


# =========================================================================== driver
def run_one(
    kind: str, tree: Path | None, cache: Path, timeout: float, second: bool
) -> dict[str, Any]:
    """One fresh, niced worker process; its result (or the error)."""
    cmd = ["nice", "-n", "10", sys.executable, str(Path(__file__).resolve())]
    cmd += ["--worker", kind, "--launched", repr(time.time())] + (["--second"] if second else [])
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"base_compiledir={cache / 'pytensor'}"
    env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    env.setdefault("BAYESCALE_SHARED_DATA", str(_shared_data()))
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            res: dict[str, Any] = json.loads(line[len(MARK) :])
            res["process_wall"] = time.perf_counter() - t0
            return res
    return {"error": (proc.stderr or proc.stdout)[-1500:]}


def _line(res: dict[str, Any]) -> str:
    """One result: seconds to the posterior and where they went."""
    if "error" in res:
        return "error " + res["error"][-300:]
    imports = " ".join(f"{k} {v:.2f}" for k, v in res["imports"].items())
    text = (
        f"{res['to_posterior']:.1f} s{'' if res['converged'] else ' (NOT CONVERGED)'} "
        f"[CPU {res['cpu']:.1f} s] "
        f"(load {res['load']:.2f}; compile {res['compile'] or 0:.1f}, "
        f"sample {res['sample'] or 0:.1f}; {imports}; R-hat {res['max_rhat']:.3f}, "
        f"ESS {res['ess_bulk_min']:.0f}, {res['divergences']} div.)"
    )
    if "second" in res:
        sec = res["second"]
        text += (
            f"; new data in process {sec['wall']:.1f} s [CPU {sec['cpu']:.1f} s] "
            f"({sec['compiled']}, "
            f"compile {sec['compile'] or 0:.1f}, sample {sec['sample'] or 0:.1f}"
            f"{'' if sec['converged'] else ', NOT CONVERGED'})"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated fit kinds")
    p.add_argument("--before", default=None, help="a tree whose bayescale is 'before'")
    p.add_argument("--rounds", type=int, default=1, help="cold + warm pairs per kind and tree")
    p.add_argument("--warm", type=int, default=1, help="warm processes per round")
    p.add_argument("--timeout", type=float, default=900.0, help="per process, s")
    p.add_argument("--json", default=None, help="write every result to this JSON file")
    p.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--launched", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--second", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.launched, args.second)
        return 0

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    trees: list[tuple[str, Path | None]] = [("after", None)]
    if args.before:
        trees.insert(0, ("before", Path(args.before).resolve()))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(f"# bayescale speed of every fit kind (commit {commit}, working tree)")
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="bayescale_kinds_"))
    results: list[dict[str, Any]] = []
    try:
        os.environ["BAYESCALE_SPEED_SCALING_CSV"] = str(_scaling_csv(work))
        for rnd in range(args.rounds):
            for kind in kinds:
                for label, tree in trees:
                    cache = work / f"{label}_{kind}_{rnd}"
                    for phase in ["cold"] + ["warm"] * args.warm:
                        load = os.getloadavg()[0]
                        res = run_one(kind, tree, cache, args.timeout, phase == "cold")
                        res.update(tree=label, phase=phase, round=rnd, load=load)
                        results.append(res)
                        print(
                            f"  round {rnd} {kind:8s} {label:6s} {phase}: {_line(res)}", flush=True
                        )
                    shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    loads = [r["load"] for r in results if "load" in r]
    if loads:
        print(f"\nload average (1 min) at the launches: {min(loads):.2f} to {max(loads):.2f}")
    print_table(results, kinds, [t for t, _ in trees])
    print_table(results, kinds, [t for t, _ in trees], cpu=True)
    return 0


def _times(
    results: list[dict[str, Any]], kind: str, tree: str, phase: str, cpu: bool
) -> list[dict[str, Any]]:
    """Seconds (wall or CPU) and convergence of the runs of one cell of the table."""
    out = []
    for r in results:
        if r.get("kind") != kind or r["tree"] != tree:
            continue
        if phase == "new data, same process" and r["phase"] == "cold" and "second" in r:
            sec = r["second"]
            out.append({"s": sec["cpu"] if cpu else sec["wall"], "ok": sec["converged"]})
        elif r["phase"] == phase:
            out.append({"s": r["cpu"] if cpu else r["to_posterior"], "ok": r["converged"]})
    return out


def print_table(
    results: list[dict[str, Any]], kinds: list[str], trees: list[str], cpu: bool = False
) -> None:
    """Median seconds to the posterior per kind, phase and tree; after / before."""
    what = "CPU seconds of the process" if cpu else "wall seconds from launch"
    print(f"\n{what} to the posterior (median, range over rounds)\n")
    print("fit kind | caches | " + " | ".join(f"{t} (s)" for t in trees), end="")
    print(" | after / before | target" if len(trees) == 2 else " | target")
    print("---|---|" + "---|" * len(trees) + ("---|---" if len(trees) == 2 else "---"))
    for kind in kinds:
        for phase in ("cold", "warm", "new data, same process"):
            cells, meds = [], []
            for tree in trees:
                runs = _times(results, kind, tree, phase, cpu)
                times = [r["s"] for r in runs]
                med = statistics.median(times) if times else float("nan")
                meds.append(med)
                spread = f" ({min(times):.1f}-{max(times):.1f})" if len(times) > 1 else ""
                flag = "" if all(r["ok"] for r in runs) else " NOT CONVERGED"
                cells.append(f"{med:.1f}{spread}{flag}")
            target = None if cpu else TARGETS.get(kind, {}).get(phase)
            row = f"{kind} | {phase} | " + " | ".join(cells)
            if len(trees) == 2:
                row += f" | {meds[1] / meds[0]:.2f}"
            row += f" | <= {target:g} s" if target else " | -"
            print(row)


if __name__ == "__main__":
    raise SystemExit(main())
