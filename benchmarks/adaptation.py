"""Mass-matrix adaptation of nutpie, diagonal against low-rank, on real scaling laws.

nutpie adapts either a diagonal mass matrix (``adaptation="diag"``) or a diagonal plus
low-rank one (``"low_rank"``), which can follow strongly correlated posteriors such as the
(E, A, alpha) ridge of a scaling law. This script fits a sample of the shipped laws (one
per family and metric, :func:`bayescale.tasks_from_datasets`) and, when its file is
present, Epoch's 245 Hoffmann et al. points, with both adaptations and the same seeds, and
prints per fit: divergences, largest R-hat, smallest bulk ESS, gradient evaluations and
sampling seconds. The default of :func:`bayescale.fit` follows from it.

Run (about 10 minutes on 2 cores)::

    .venv/bin/python benchmarks/adaptation.py [--tasks 16] [--seeds 2]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=16, help="shipped laws to sample (default 16)")
    p.add_argument("--seeds", type=int, default=2, help="seeds per law and adaptation")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    args = p.parse_args(argv)

    from baselines import load_epoch_chinchilla

    import bayescale as bs
    from bayescale.core.errors import ConvergenceWarning, DataError

    tasks = [t for t in bs.tasks_from_datasets() if t.skip is None]
    rng = np.random.default_rng(0)
    picked = [tasks[i] for i in sorted(rng.choice(len(tasks), args.tasks, replace=False))]
    cases: list[tuple[str, str, str | None, object, dict]] = []
    hoffmann = load_epoch_chinchilla()
    if hoffmann is not None:
        cases.append(("Hoffmann et al. (245)", "chinchilla", None, hoffmann, {}))
    for task in picked:
        cases.append((task.label, task.law, task.metric, task.load_data(), dict(task.options)))

    rows = []
    for label, law, metric, data, options in cases:
        for adaptation in ("diag", "low_rank"):
            for seed in range(args.seeds):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    try:
                        fit = bs.fit(
                            data,
                            law=law,
                            metric=metric,
                            seed=seed,
                            draws=args.draws,
                            tune=args.tune,
                            progressbar=False,
                            extend_if_slow=False,
                            posterior_predictive=False,
                            nuts={"adaptation": adaptation},
                            **options,
                        )
                    except DataError as exc:
                        print(f"{label[:48]:48s} not fitted: {exc}", flush=True)
                        break
                d = fit.diagnostics
                stats = fit.idata["sample_stats"].dataset
                rows.append(
                    {
                        "law": label,
                        "adaptation": adaptation,
                        "seed": seed,
                        "n": fit.data.sizes["obs"],
                        "divergences": d.divergences,
                        "max_rhat": d.max_rhat,
                        "min_ess": d.min_ess_bulk,
                        "grads": int(stats["n_steps"].sum()),
                        "sample_s": float(fit.posterior.attrs.get("sampling_time", np.nan)),
                        "converged": bool(d.ok),
                    }
                )
                r = rows[-1]
                print(
                    f"{label[:48]:48s} {adaptation:8s} seed {seed}: div {r['divergences']:3d} "
                    f"R-hat {r['max_rhat']:.3f} ESS {r['min_ess']:6.0f} "
                    f"grads {r['grads']:7d} {r['sample_s']:5.1f} s",
                    flush=True,
                )
    df = pd.DataFrame(rows)
    agg = df.groupby("adaptation").agg(
        fits=("law", "size"),
        converged=("converged", "mean"),
        with_divergences=("divergences", lambda s: float((s > 0).mean())),
        median_min_ess=("min_ess", "median"),
        median_grads=("grads", "median"),
        total_sample_s=("sample_s", "sum"),
    )
    df["ess_per_s"] = df["min_ess"] / df["sample_s"]
    paired = df.pivot_table(index=["law", "seed"], columns="adaptation", values="ess_per_s")
    ratio = (paired["low_rank"] / paired["diag"]).median()
    print("\n" + agg.to_string())
    print(f"\nmedian ratio of ESS per sampling second, low_rank / diag: {ratio:.2f}")
    print(f"(commit-independent; {time.strftime('%Y-%m-%d %H:%M')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
