"""Speed and scale: time to a converged posterior, side by side with the baselines.

One command runs everything and prints the machine, the commit and a table::

    .venv/bin/python benchmarks/speed.py            # full (grid 4,500 + 243 starts,
                                                    #  4,000 bootstraps, 10 calibration reps)
    .venv/bin/python benchmarks/speed.py --quick    # small grid, few bootstraps, 2 reps

Every timed configuration runs in its own fresh Python process (``nice``-d), so import
and compile are included: a fresh process is timed from its launch (the parent passes
the launch time) to its first converged posterior; the interpreter's teardown after it
is printed apart and not counted. On-disk caches: PyTensor compiles the model to Numba and caches
the machine code under ``<base_compiledir>/numba`` (default ``~/.pytensor/numba``; the
C-backend cache is ``~/.pytensor/compiledir_*``). Each data set gets its own empty
``base_compiledir`` in a temporary folder (``PYTENSOR_FLAGS=base_compiledir=...``, and
``NUMBA_CACHE_DIR`` beside it), so the first fresh process is *cold* and a second fresh
process, reusing the folder, is *warm on disk*. *Warm in memory* is a second fit in the
same process.

Configurations (for each data set: the ~240 Hoffmann et al. points of Epoch's
replication, or 240 simulated points when that file is absent, and the three-corpus
``gadre2024`` ``loss_c4_val`` runs with the hierarchical model):

* ``bayescale``: :func:`bayescale.fit` end to end (validate, model, compile or reuse,
  NUTS with 4 chains x 1000 + 1000 and nutpie's low-rank adaptation, diagnostics,
  log-likelihood and posterior predictive groups) in a fresh process, cold and warm on
  disk; then, in the cold process, a 2nd fit of the same data and a fit of a random 90%
  of the points (new data of the same shape), both reusing the compiled model
  (:mod:`bayescale.core.compiled`). The sampler choices, each in a fresh warm-disk process:
  nutpie with its diagonal adaptation, and PyMC's own NUTS (``nuts_sampler="pymc"``).
* ``naive PyMC``: raw log A, log B, default ``pm.sample`` (``baselines.py``), fresh and
  2nd in process.
* ``grid + bootstrap``: Huber L-BFGS grid (full 4,500 and reduced 243 starts) plus
  4,000 bootstrap refits (``baselines.py``); for gadre2024, one fit per corpus. The
  finite-difference variant (Epoch's grid passes no gradient) is timed on a 100-start
  sample and scaled to the full grid.
* calibration: coverage of 90% intervals of alpha, beta and of the loss at
  (10 x max N, 10 x max D) on simulated data from a known truth, bayescale vs the grid +
  bootstrap (reduced grid, 1,000 bootstraps), ``--reps`` replications.

"Converged" means bayescale's check: no divergences, every R-hat <= 1.01 and bulk
ESS >= 400 over the sampled parameters. ESS/grad divides the smallest bulk ESS by the
gradient evaluations of the whole run (``n_steps`` summed over tuning and draws).
Targets of the issue are printed, not enforced.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "@@RESULT@@ "
TARGETS = {"fresh_s": 15.0, "warm_s": 5.0, "vs_grid": 50.0, "vs_naive_ess_s": 2.0}


# =========================================================================== workers
_STARTUP: dict[str, float] = {}


def _emit(result: dict[str, Any]) -> None:
    result.update(_STARTUP)
    print(MARK + json.dumps(result, default=float), flush=True)


def _diag(idata: Any, names: list[str]) -> dict[str, Any]:
    from bayescale.core.diagnostics import check_convergence

    d = check_convergence(idata, var_names=names, warn=False)
    stats = idata["sample_stats"].dataset
    grads_draws = int(stats["n_steps"].sum()) if "n_steps" in stats else None
    grads_warm = None
    for group in ("warmup_sample_stats",):
        if group in idata.children and "n_steps" in idata[group].dataset:
            grads_warm = int(idata[group].dataset["n_steps"].sum())
    return {
        "converged": bool(d.ok),
        "divergences": d.divergences,
        "max_rhat": d.max_rhat,
        "ess_bulk_min": d.min_ess_bulk,
        "grads_draws": grads_draws,
        "grads_total": None if grads_warm is None else grads_warm + (grads_draws or 0),
    }


def _load_data(args: argparse.Namespace) -> Any:
    import pandas as pd

    return pd.read_csv(args.data)


def worker_bayescale(args: argparse.Namespace) -> None:
    """``bayescale.fit`` in this fresh process; with ``--repeat`` two more fits: the same
    data with another seed, and a random 90% of the points (new data of the same shape). Both
    reuse the compiled model (:mod:`bayescale.core.compiled`)."""
    t = {}
    t0 = time.perf_counter()
    import bayescale

    t["import_bayescale"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    import pymc  # noqa: F401

    t["import_pymc"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    import nutpie  # noqa: F401

    t["import_nutpie"] = time.perf_counter() - t1
    df = _load_data(args)

    def api_fit(data: Any, seed: int) -> dict[str, Any]:
        t1 = time.perf_counter()
        sampler: dict[str, Any] = {"nuts_sampler": args.sampler}
        if args.sampler == "nutpie":
            sampler["nuts"] = {"adaptation": args.adaptation}
        fit = bayescale.fit(
            data,
            law="chinchilla",
            metric=args.metric,
            seed=seed,
            progressbar=False,
            warn_convergence=False,
            **sampler,
        )
        wall = time.perf_counter() - t1
        d = fit.diagnostics
        info = fit.sampler
        out = {
            "fit_wall": wall,
            "compile": float(info.get("compile_seconds", float("nan"))),
            "sample": float(info.get("sampling_seconds", float("nan"))),
            "converged": bool(d.ok),
            "ess_bulk_min": d.min_ess_bulk,
            "max_rhat": d.max_rhat,
            "divergences": d.divergences,
            "grads_draws": int(fit.idata["sample_stats"].dataset["n_steps"].sum()),
            "extended": "extended_after" in info,
            "compiled": info.get("compiled"),
            "adaptation": info.get("adaptation"),
        }
        out["other"] = wall - out["compile"] - out["sample"]
        return out

    first = api_fit(df, args.seed)
    result: dict[str, Any] = {"imports": t, "first": first}
    result["first_done"] = time.perf_counter() - t0
    if args.repeat:
        result["second"] = api_fit(df, args.seed + 10)
        subsample = df.sample(frac=0.9, random_state=args.seed + 20)  # 90%, no repeats
        result["new_data"] = api_fit(subsample.reset_index(drop=True), args.seed + 20)
    result["process_wall"] = time.perf_counter() - t0
    _emit(result)


def worker_naive(args: argparse.Namespace) -> None:
    """The naive PyMC model, default ``pm.sample`` settings; twice in this process."""
    sys.path.insert(0, str(HERE))
    t0 = time.perf_counter()
    import baselines
    import pymc as pm

    t_import = time.perf_counter() - t0
    df = _load_data(args)
    if args.metric and "metric" in df:
        df = df[df["metric"] == args.metric]
    make = (
        baselines.naive_hierarchical_model
        if df["family"].nunique() > 1
        else baselines.naive_chinchilla_model
    )

    def once(seed: int) -> dict[str, Any]:
        s: dict[str, Any] = {}
        t1 = time.perf_counter()
        model = make(df)
        s["build_model"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        with model:
            # default settings; discard_tuned_samples=False only stores the warm-up so
            # its gradient evaluations can be counted
            idata = pm.sample(
                random_seed=seed,
                progressbar=False,
                discard_tuned_samples=False,
                compute_convergence_checks=False,
            )
        wall = time.perf_counter() - t1
        post_attrs = idata["posterior"].attrs
        sampling = float(post_attrs.get("sampling_time", float("nan")))
        s["sample"] = sampling
        s["compile"] = wall - sampling  # compile + conversion
        names = [rv.name for rv in model.free_RVs]
        t1 = time.perf_counter()
        s.update(_diag(idata, names))
        s["diagnostics"] = time.perf_counter() - t1
        s["fit_wall"] = s["build_model"] + wall + s["diagnostics"]
        return s

    result: dict[str, Any] = {"imports": {"import_pymc": t_import}, "first": once(args.seed)}
    result["first_done"] = time.perf_counter() - t0
    if args.repeat:
        result["second"] = once(args.seed + 10)
    result["process_wall"] = time.perf_counter() - t0
    _emit(result)


def worker_grid(args: argparse.Namespace) -> None:
    """Grid of Huber L-BFGS starts plus bootstrap, per family."""
    sys.path.insert(0, str(HERE))
    t0 = time.perf_counter()
    import baselines
    import numpy as np

    df = _load_data(args)
    if args.metric and "metric" in df:
        df = df[df["metric"] == args.metric]
    grid_size: str | int = int(args.grid) if args.grid.isdigit() else args.grid
    starts = baselines.start_grid(grid_size)
    out: dict[str, Any] = {"families": {}}
    grid_s = boot_s = 0.0
    for fam, sub in df.groupby("family", sort=True):
        g = baselines.fit_grid(sub, starts, jac=args.jac, exclude_top=args.exclude_top)
        grid_s += g.seconds
        entry = {
            "grid_seconds": g.seconds,
            "n_starts": g.n_starts,
            "share_at_optimum": g.share_at_optimum,
            "n_fev": g.n_fev,
            "best": g.natural,
        }
        if args.boot:
            b = baselines.bootstrap(
                sub, g.params, args.boot, jac=args.jac, exclude_top=args.exclude_top, seed=args.seed
            )
            boot_s += b.seconds
            ci = baselines.percentile_intervals(b, 0.9)
            entry.update(
                boot_seconds=b.seconds,
                n_boot=b.n_boot,
                ci90={k: [float(x) for x in v] for k, v in ci.items()},
            )
        out["families"][str(fam)] = entry
    out.update(
        grid_seconds=grid_s,
        boot_seconds=boot_s,
        process_wall=time.perf_counter() - t0,
        n_starts=len(starts),
    )
    out["share_at_optimum"] = float(
        np.mean([f["share_at_optimum"] for f in out["families"].values()])
    )
    _emit(out)


def worker_calibration(args: argparse.Namespace) -> None:
    """Coverage of 90% intervals at a known truth: bayescale vs grid + bootstrap."""
    sys.path.insert(0, str(HERE))
    import warnings

    import baselines
    import numpy as np
    import pandas as pd

    import bayescale

    design = pd.read_csv(args.data) if args.data else None
    truth = baselines.HOFFMANN_TRUTH
    grid_size: str | int = int(args.grid) if args.grid.isdigit() else args.grid
    starts = baselines.start_grid(grid_size)
    reps = []
    for r in range(args.reps):
        df = baselines.simulate_chinchilla(240, sigma=args.sigma, seed=1000 + r, design=design)
        far = pd.DataFrame(
            {"params": [10 * df["params"].max()], "tokens": [10 * df["tokens"].max()]}
        )
        true_far = float(baselines.predict_loss(truth, far["params"], far["tokens"])[0])
        rec: dict[str, Any] = {"rep": r}
        # bayescale
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = bayescale.fit(
                df,
                law="chinchilla",
                seed=r,
                progressbar=False,
                posterior_predictive=False,
                warn_convergence=False,
            )
        post = fit.idata["posterior"].dataset
        fc = fit.forecast(far, ci_prob=0.9)
        curve = fc[fc["quantity"] == "curve"].iloc[0]
        rec["bayescale"] = {
            "seconds": time.perf_counter() - t1,
            "converged": bool(fit.diagnostics.ok),
            **{
                k: [float(post[k].quantile(0.05)), float(post[k].quantile(0.95))]
                for k in ("alpha", "beta")
            },
            "loss_far": [float(curve["lower"]), float(curve["upper"])],
        }
        # grid + bootstrap
        t1 = time.perf_counter()
        g = baselines.fit_grid(df, starts)
        b = baselines.bootstrap(df, g.params, args.boot, seed=r)
        ci = baselines.percentile_intervals(b, 0.9, points=far)
        rec["grid_bootstrap"] = {
            "seconds": time.perf_counter() - t1,
            "alpha": list(ci["alpha"]),
            "beta": list(ci["beta"]),
            "loss_far": list(ci["loss_0"]),
        }
        rec["truth"] = {"alpha": truth["alpha"], "beta": truth["beta"], "loss_far": true_far}
        reps.append(rec)
        print(f"  calibration rep {r + 1}/{args.reps} done", file=sys.stderr, flush=True)
    summary: dict[str, Any] = {}
    for method in ("bayescale", "grid_bootstrap"):
        summary[method] = {}
        for k in ("alpha", "beta", "loss_far"):
            lo = np.array([x[method][k][0] for x in reps])
            hi = np.array([x[method][k][1] for x in reps])
            tv = np.array([x["truth"][k] for x in reps])
            summary[method][k] = {
                "coverage": float(np.mean((lo <= tv) & (tv <= hi))),
                "covered": int(np.sum((lo <= tv) & (tv <= hi))),
                "mean_width": float(np.mean(hi - lo)),
            }
        summary[method]["seconds_per_rep"] = float(np.median([x[method]["seconds"] for x in reps]))
    _emit(
        {
            "reps": reps,
            "summary": summary,
            "n_reps": args.reps,
            "sigma": args.sigma,
            "grid": args.grid,
            "boot": args.boot,
        }
    )


WORKERS = {
    "bayescale": worker_bayescale,
    "naive": worker_naive,
    "grid": worker_grid,
    "calibration": worker_calibration,
}


# =========================================================================== driver
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for pkg in ("bayescale", "pymc", "pytensor", "nutpie", "numba", "arviz", "numpy", "scipy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "-"
    commit = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        if dirty:
            commit += " (+ uncommitted changes)"
    except (OSError, subprocess.CalledProcessError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": ram,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": versions,
        "commit": commit,
    }


def run_worker(kind: str, cache: Path | None, timeout: float, **opts: Any) -> dict[str, Any]:
    """Run one configuration in a fresh, niced Python process; return its result."""
    cmd = ["nice", "-n", "10", sys.executable, str(Path(__file__).resolve()), "--worker", kind]
    for k, v in opts.items():
        if v is None or v is False:
            continue
        cmd += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
    cmd += ["--launched", repr(time.time())]
    env = dict(os.environ)
    if cache is not None:
        env["PYTENSOR_FLAGS"] = f"base_compiledir={cache / 'pytensor'}"
        env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "wall": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            out = json.loads(line[len(MARK) :])
            out["wall"] = wall
            return out
    return {"error": (proc.stderr or proc.stdout)[-2000:], "wall": wall}


def first_wall(res: dict[str, Any]) -> float:
    """Wall time from launching a fresh process to its first converged posterior.

    Interpreter start-up counts (the launch time is passed to the worker); what the
    process does after the posterior is in hand does not: further fits, and the
    interpreter's teardown (freeing Numba's and nutpie's objects, about 1 s), which
    :func:`breakdown` reports separately. Results without the launch time fall back to
    the process's wall time minus its further work, teardown included.
    """
    if "first_done" not in res:
        return float(res["wall"])
    if "startup" in res:
        return float(res["startup"] + res["first_done"])
    return float(res["wall"] - res["process_wall"] + res["first_done"])


def fmt_cell(x: Any, spec: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    return format(x, spec) if isinstance(x, (int, float)) else str(x)


def row_from_fit(label: str, wall: float, s: dict[str, Any]) -> dict[str, Any]:
    ess = s.get("ess_bulk_min")
    grads = s.get("grads_total") or s.get("grads_draws")
    return {
        "config": label,
        "wall": wall,
        "ess": ess,
        "ess_s": ess / wall if ess and wall else None,
        "ess_s_sampling": ess / s["sample"] if ess and s.get("sample") else None,
        "ess_grad": ess / grads if ess and grads else None,
        "converged": s.get("converged"),
    }


def print_table(rows: list[dict[str, Any]], ref: float | None, title: str) -> None:
    print(f"\n### {title}\n")
    head = (
        "configuration | wall s | ESS bulk min | ESS/s | ESS/s (sampling only) | "
        "ESS/grad | converged | ratio vs bayescale"
    )
    print(head)
    print("|".join(["---"] * 8))
    for r in rows:
        ratio = r["wall"] / ref if ref and r.get("wall") else None
        print(
            " | ".join(
                [
                    r["config"],
                    fmt_cell(r.get("wall")),
                    fmt_cell(r.get("ess"), ".0f"),
                    fmt_cell(r.get("ess_s"), ".1f"),
                    fmt_cell(r.get("ess_s_sampling"), ".1f"),
                    fmt_cell(r.get("ess_grad"), ".4f"),
                    fmt_cell(r.get("converged")),
                    fmt_cell(ratio, ".1f") + ("x" if ratio else ""),
                ]
            )
        )


def breakdown(label: str, res: dict[str, Any]) -> None:
    """Share of the fresh-process wall time spent in each stage."""
    if "error" in res:
        return
    wall = first_wall(res)
    outside = res["wall"] - res["process_wall"]
    if "startup" in res:
        stages = {"interpreter start": res["startup"]}
    else:
        stages = {"interpreter start + teardown": outside}
    stages.update(res.get("imports", {}))
    names = {
        "prepare": "prepare",
        "build_model": "build_model",
        "compile": "compile",
        "sample": "sample",
        "diagnostics": "diagnostics",
        "other": "validate, build, post-process",
    }
    for k, name in names.items():
        if k in res["first"]:
            stages[name] = res["first"][k]
    print(f"\n{label}: {wall:.1f} s from launching a fresh process to its first posterior")
    for k, v in stages.items():
        print(f"  {k:<30} {v:7.2f} s  {100 * v / wall:5.1f}%")
    if "startup" in res:
        teardown = res["wall"] - res["startup"] - res["process_wall"]
        print(f"  (after it: interpreter teardown {teardown:.2f} s, not counted)")


def cache_sizes(cache: Path) -> str:
    def size(p: Path) -> str:
        if not p.exists():
            return "absent"
        total = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        n = sum(1 for f in p.rglob("*") if f.is_file())
        return f"{total / 2**20:.1f} MiB in {n} files"

    return (
        f"pytensor numba cache {size(cache / 'pytensor' / 'numba')}; pytensor C "
        f"compiledir {size(cache / 'pytensor')}; NUMBA_CACHE_DIR {size(cache / 'numba')}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small grid, few bootstraps, 2 reps")
    p.add_argument(
        "--grids",
        default=None,
        help="comma-separated grid sizes: full, reduced or an int (default "
        "full,reduced; --quick: 40)",
    )
    p.add_argument("--boot", type=int, default=None, help="bootstrap refits (4000; quick 100)")
    p.add_argument("--reps", type=int, default=None, help="calibration replications (10; quick 2)")
    p.add_argument(
        "--calib-grid", default=None, help="grid of calibration fits (reduced; quick 20)"
    )
    p.add_argument("--calib-boot", type=int, default=None, help="bootstraps per calibration rep")
    p.add_argument("--sigma", type=float, default=0.02, help="log-scale noise of simulated data")
    p.add_argument(
        "--skip",
        default="",
        help="comma-separated: chinchilla,gadre,grid,naive,backends,calibration,numeric",
    )
    p.add_argument("--timeout", type=float, default=3600.0, help="per configuration, s")
    p.add_argument("--json", default=None, help="also write every result to this JSON file")
    # worker options
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--data", default=None, help=argparse.SUPPRESS)
    p.add_argument("--metric", default=None, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--launched", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--repeat", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--grid", default="reduced", help=argparse.SUPPRESS)
    p.add_argument("--jac", default="analytic", help=argparse.SUPPRESS)
    p.add_argument("--exclude-top", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--sampler", default="nutpie", help=argparse.SUPPRESS)
    p.add_argument("--adaptation", default="low_rank", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.launched is not None:  # interpreter start and this script's own imports
        _STARTUP["startup"] = max(time.time() - args.launched, 0.0)
    if args.worker:
        if args.worker == "calibration" and args.boot is None:
            args.boot = 1000
        WORKERS[args.worker](args)
        return 0

    quick = args.quick
    grids = (args.grids or ("40" if quick else "full,reduced")).split(",")
    n_boot = args.boot if args.boot is not None else (100 if quick else 4000)
    reps = args.reps if args.reps is not None else (2 if quick else 10)
    calib_grid = args.calib_grid or ("20" if quick else "reduced")
    calib_boot = args.calib_boot if args.calib_boot is not None else (100 if quick else 1000)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    info = machine_info()
    print("# bayescale speed benchmark" + (" (--quick)" if quick else ""))
    print(f"commit {info['commit']}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(
        f"CPU {info['cpu']}, {info['cores']} cores, RAM {info['ram']}; "
        f"load average at start {info['load_avg']}"
    )
    print(f"Python {info['python']} on {info['platform']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))

    sys.path.insert(0, str(HERE))
    import baselines

    work = Path(tempfile.mkdtemp(prefix="bayescale_speed_"))
    results: dict[str, Any] = {
        "machine": info,
        "settings": {
            "grids": grids,
            "boot": n_boot,
            "reps": reps,
            "calib_grid": calib_grid,
            "calib_boot": calib_boot,
            "sigma": args.sigma,
            "quick": quick,
        },
    }
    try:
        epoch = baselines.load_epoch_chinchilla()
        if epoch is None:
            print(
                f"\nNOTE: {baselines.EPOCH_CSV} is absent (it is not shipped: no licence); "
                "the ~240-point configurations use 240 points simulated from Besiroglu et "
                "al.'s estimates instead."
            )
            chin = baselines.simulate_chinchilla(240, seed=0)
            chin_label, exclude = "240 simulated points", 0
        else:
            chin, chin_label, exclude = epoch, f"Hoffmann et al. points ({len(epoch)})", 5
        chin_csv = work / "chinchilla.csv"
        chin.to_csv(chin_csv, index=False)
        import bayescale.datasets as bsd  # light import

        gadre = bsd.load("gadre2024", metric="loss_c4_val")
        gadre_csv = work / "gadre.csv"
        gadre.to_csv(gadre_csv, index=False)
        print(
            f"\ndata: {chin_label}; gadre2024 loss_c4_val, {len(gadre)} runs, "
            f"{gadre['family'].nunique()} corpora"
        )

        datasets = [
            ("chinchilla", chin_csv, None, chin_label),
            ("gadre", gadre_csv, "loss_c4_val", "gadre2024 loss_c4_val, hierarchical"),
        ]
        for key, csv, metric, label in datasets:
            if key in skip:
                continue
            res: dict[str, Any] = {}
            cache = work / f"cache_{key}"
            print(f"\n## {label}", flush=True)
            res["bayescale_cold"] = run_worker(
                "bayescale", cache, args.timeout, data=csv, metric=metric, repeat=True
            )
            print(f"  caches after the first process: {cache_sizes(cache)}", flush=True)
            res["bayescale_warmdisk"] = run_worker(
                "bayescale", cache, args.timeout, data=csv, metric=metric
            )
            if "backends" not in skip:
                # the sampler choices, each in a fresh process with the warm disk caches
                res["bayescale_diag"] = run_worker(
                    "bayescale", cache, args.timeout, data=csv, metric=metric, adaptation="diag"
                )
                res["bayescale_pymc"] = run_worker(
                    "bayescale", cache, args.timeout, data=csv, metric=metric, sampler="pymc"
                )
            if "naive" not in skip:
                res["naive"] = run_worker(
                    "naive", cache, args.timeout, data=csv, metric=metric, repeat=True
                )
            if "grid" not in skip:
                for g in grids:
                    res[f"grid_{g}"] = run_worker(
                        "grid",
                        None,
                        args.timeout,
                        data=csv,
                        metric=metric,
                        grid=g,
                        boot=n_boot,
                        exclude_top=exclude if key == "chinchilla" else 0,
                    )
                if "numeric" not in skip:
                    res["grid_numeric_100"] = run_worker(
                        "grid",
                        None,
                        args.timeout,
                        data=csv,
                        metric=metric,
                        grid="100",
                        boot=100,
                        jac="numeric",
                        exclude_top=exclude if key == "chinchilla" else 0,
                    )
            results[key] = res
            report_dataset(label, res, grids, n_boot)

        if "calibration" not in skip:
            print(
                f"\n## Calibration on simulated data ({reps} replications, 240 points, "
                f"sigma {args.sigma}, truth = Besiroglu et al.'s estimates)",
                flush=True,
            )
            cal = run_worker(
                "calibration",
                None,
                args.timeout * 4,
                data=chin_csv if epoch is not None else None,
                reps=reps,
                sigma=args.sigma,
                grid=calib_grid,
                boot=calib_boot,
            )
            results["calibration"] = cal
            report_calibration(cal)
    finally:
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report_dataset(label: str, res: dict[str, Any], grids: list[str], n_boot: int) -> None:
    errs = {k: v["error"] for k, v in res.items() if "error" in v}
    for k, e in errs.items():
        print(f"  {k} FAILED: {e}")
    rows = []
    cold = res.get("bayescale_cold", {})
    ref = first_wall(cold) if cold and "error" not in cold else None
    if ref:
        rows.append(row_from_fit("bayescale, fresh process, cold caches", ref, cold["first"]))
        warm = res.get("bayescale_warmdisk", {})
        if "error" not in warm:
            rows.append(
                row_from_fit(
                    "bayescale, fresh process, warm disk caches", first_wall(warm), warm["first"]
                )
            )
        for key, what in (
            ("bayescale_diag", "bayescale, nutpie diagonal adaptation, fresh, warm disk"),
            ("bayescale_pymc", "bayescale, PyMC's NUTS (nuts_sampler='pymc'), fresh, warm disk"),
        ):
            r = res.get(key, {})
            if r and "error" not in r:
                rows.append(row_from_fit(what, first_wall(r), r["first"]))
        for key, what in (
            ("second", "bayescale, 2nd fit in process (same data, compiled model reused)"),
            ("new_data", "bayescale, 90% subsample (new data, compiled model reused)"),
        ):
            if key in cold:
                rows.append(row_from_fit(what, cold[key]["fit_wall"], cold[key]))
    naive = res.get("naive", {})
    if naive and "error" not in naive:
        rows.append(
            row_from_fit("naive PyMC (raw log A), fresh process", first_wall(naive), naive["first"])
        )
        if "second" in naive:
            rows.append(
                row_from_fit(
                    "naive PyMC, 2nd fit in process", naive["second"]["fit_wall"], naive["second"]
                )
            )
    for g in grids:
        r = res.get(f"grid_{g}", {})
        if r and "error" not in r:
            rows.append(
                {
                    "config": f"grid {g} ({r['n_starts']} starts) + {n_boot} bootstraps",
                    "wall": r["wall"],
                    "converged": "n/a",
                }
            )
            rows.append(
                {
                    "config": f"  of which grid only (share of starts at optimum "
                    f"{100 * r['share_at_optimum']:.1f}%)",
                    "wall": r["grid_seconds"],
                    "converged": "n/a",
                }
            )
    r = res.get("grid_numeric_100", {})
    if r and "error" not in r:
        per = r["grid_seconds"] / r["n_starts"]
        n_fam = len(r["families"])
        boot_per = r.get("boot_seconds", 0.0) / 100
        rows.append(
            {
                "config": f"grid 4500 + {n_boot} bootstraps, finite-difference gradient as "
                f"in Epoch's code (scaled from 100 starts, {per * 1000 / n_fam:.0f} "
                f"ms/start/fit, and 100 bootstraps)",
                "wall": per * 4500 + boot_per * n_boot,
                "converged": "n/a",
            }
        )
        rows.append(
            {
                "config": "  of which grid only",
                "wall": per * 4500,
                "converged": "n/a",
            }
        )
    print_table(rows, ref, label)
    print(
        "\nratio vs bayescale = wall / wall of 'bayescale, fresh process, cold caches'. "
        "ESS/s = smallest bulk ESS / wall of the row; sampling only: / sampling seconds."
    )
    if "error" not in cold and cold:
        breakdown("bayescale", cold)
    if naive and "error" not in naive:
        breakdown("naive PyMC", naive)
    targets(res, grids, n_boot)


def targets(res: dict[str, Any], grids: list[str], n_boot: int = 4000) -> None:
    cold = res.get("bayescale_cold", {})
    if not cold or "error" in cold:
        return
    print("\nTargets (reported, not enforced):")
    warm = res.get("bayescale_warmdisk", {})
    cold_s = first_wall(cold)
    warm_s = first_wall(warm) if warm and "error" not in warm else float("nan")
    print(
        f"  fresh process <= {TARGETS['fresh_s']:.0f} s: cold {cold_s:.1f} s, "
        f"warm disk {warm_s:.1f} s, converged "
        f"{cold['first']['converged']}/{warm.get('first', {}).get('converged')}"
    )
    if "second" in cold:
        print(
            f"  warm <= {TARGETS['warm_s']:.0f} s: 2nd fit in process "
            f"{cold['second']['fit_wall']:.1f} s (converged {cold['second']['converged']}); "
            f"new data of the same shape "
            f"{cold.get('new_data', {}).get('fit_wall', float('nan')):.1f} s "
            f"(converged {cold.get('new_data', {}).get('converged')})"
        )
    in_process = cold.get("new_data", cold.get("second", {})).get("fit_wall", float("nan"))
    for g in grids:
        r = res.get(f"grid_{g}", {})
        if r and "error" not in r:
            print(
                f"  >= {TARGETS['vs_grid']:.0f}x faster than grid {g} + bootstrap, analytic "
                "gradients (a faster baseline than the practice): "
                f"{r['wall'] / cold_s:.1f}x (fresh cold), "
                f"{r['wall'] / warm_s:.1f}x (fresh warm disk), "
                f"{r['wall'] / in_process:.1f}x (new data, compiled model reused)"
            )
    r = res.get("grid_numeric_100", {})
    if r and "error" not in r:
        fd = r["grid_seconds"] / r["n_starts"] * 4500 + r.get("boot_seconds", 0.0) / 100 * n_boot
        print(
            f"  >= {TARGETS['vs_grid']:.0f}x faster than the practice (Besiroglu et al.'s code: "
            f"4,500-start grid, finite-difference gradients, {n_boot} bootstraps), "
            f"{fd:.0f} s: {fd / cold_s:.1f}x (fresh cold), "
            f"{fd / warm_s:.1f}x (fresh warm disk), {fd / in_process:.1f}x (new data, "
            "compiled model reused)"
        )
    naive = res.get("naive", {})
    if naive and "error" not in naive:
        b, n = cold["first"], naive["first"]
        if b.get("ess_bulk_min") and n.get("ess_bulk_min"):
            r_wall = (b["ess_bulk_min"] / b["fit_wall"]) / (n["ess_bulk_min"] / n["fit_wall"])
            r_smp = (b["ess_bulk_min"] / b["sample"]) / (n["ess_bulk_min"] / n["sample"])
            print(
                f"  >= {TARGETS['vs_naive_ess_s']:.0f}x ESS/s of naive PyMC: "
                f"{r_wall:.1f}x per fit wall (compile + sample), {r_smp:.1f}x per sampling "
                f"second (naive converged: {n['converged']}, max R-hat "
                f"{n['max_rhat']:.3f}, divergences {n['divergences']})"
            )


def report_calibration(cal: dict[str, Any]) -> None:
    if "error" in cal:
        print(f"  calibration FAILED: {cal['error']}")
        return
    print(
        "\nquantity | method | covered / reps | coverage of 90% interval | mean width"
        "\n---|---|---|---|---"
    )
    for k in ("alpha", "beta", "loss_far"):
        for m in ("bayescale", "grid_bootstrap"):
            s = cal["summary"][m][k]
            print(
                f"{k} | {m} | {s['covered']}/{cal['n_reps']} | {s['coverage']:.2f} | "
                f"{s['mean_width']:.4f}"
            )
    conv = sum(r["bayescale"]["converged"] for r in cal["reps"])
    print(
        f"\nmedian seconds per replication (one process; the first bayescale fit also compiles): "
        f"bayescale {cal['summary']['bayescale']['seconds_per_rep']:.1f}, grid "
        f"{cal['grid']} + {cal['boot']} bootstraps "
        f"{cal['summary']['grid_bootstrap']['seconds_per_rep']:.1f}; bayescale converged "
        f"in {conv}/{cal['n_reps']}. loss_far = the law at (10 x max N, 10 x max D). "
        f"With {cal['n_reps']} replications a coverage has a binomial SE of about "
        f"{(0.09 / cal['n_reps']) ** 0.5:.2f}."
    )


if __name__ == "__main__":
    raise SystemExit(main())
