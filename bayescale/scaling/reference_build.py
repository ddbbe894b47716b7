"""Build the reference posteriors of :mod:`bayescale.scaling.reference` into ``models/``.

.. code-block:: console

    $ python -m bayescale.scaling.reference_build build            # every reference
    $ python -m bayescale.scaling.reference_build build gadre2024_chinchilla
    $ python -m bayescale.scaling.reference_build list

Each reference is fitted with the settings of its
:class:`~bayescale.scaling.reference.ReferenceSpec` and written as ``fit.nc``,
``summary.csv`` and ``spec.json`` (settings, diagnostics, population exponents, the
rebuild command).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from bayescale.core.errors import SpecificationError
from bayescale.scaling.reference import (
    REFERENCES,
    ReferenceSpec,
    models_dir,
    population_exponents,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build", "load_reference_data", "main"]


def load_reference_data(spec: ReferenceSpec) -> pd.DataFrame:
    from bayescale import datasets
    from bayescale.scaling.checkpoints import drop_early_checkpoints, thin_checkpoints

    df = datasets.load(spec.dataset, metric=spec.metric)
    if spec.families is not None:
        df = df[df["family"].isin(spec.families)].reset_index(drop=True)
    if spec.checkpoints:
        df = drop_early_checkpoints(df, **spec.checkpoints)
    if spec.thin:
        df = thin_checkpoints(df, per_run=spec.thin)
    return df


def build(
    name: str, *, out_dir: str | os.PathLike[str] | None = None, progressbar: bool = False
) -> Path:
    """Fit one reference from its :class:`ReferenceSpec` and write its folder.

    Parameters
    ----------
    name
        A key of :data:`REFERENCES`.
    out_dir
        Parent folder (default :func:`models_dir`).
    progressbar
        Show sampling progress.

    Returns
    -------
    pathlib.Path
        The reference's folder.
    """
    from bayescale.scaling.fitting import fit

    if name not in REFERENCES:
        raise SpecificationError(f"unknown reference {name!r}; known: {sorted(REFERENCES)}")
    spec = REFERENCES[name]
    df = load_reference_data(spec)
    start = time.perf_counter()
    result = fit(df, law=spec.law, pooling=spec.pooling, progressbar=progressbar, **spec.sampler)
    seconds = time.perf_counter() - start
    folder = Path(out_dir or models_dir()) / name
    folder.mkdir(parents=True, exist_ok=True)
    # The posterior predictive and pointwise log-likelihood are large and can be redrawn.
    for group in ("posterior_predictive", "log_likelihood"):
        if group in result.idata.children:
            del result.idata[group]
    result.save(folder / "fit.nc")
    result.summary(ci_prob=0.9).to_csv(folder / "summary.csv")
    diag = result.diagnostics
    record = {
        "reference": asdict(spec),
        "rows": len(df),
        "checkpoint_filter": df.attrs.get("checkpoint_filter"),
        "checkpoint_thinning": df.attrs.get("checkpoint_thinning"),
        "families": result.families,
        "resolved_pooling": result.spec.pooling,
        "diagnostics": {
            "converged": bool(diag.ok) if diag else None,
            "text": str(diag),
        },
        "population_exponents": population_exponents(result),
        "fit_seconds": round(seconds, 1),
        "rebuild": f"python -m bayescale.scaling.reference_build build {name}",
    }
    (folder / "spec.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return folder


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m bayescale.scaling.reference_build build [NAME ...]``, or
    ``list``."""
    parser = argparse.ArgumentParser(
        prog="python -m bayescale.scaling.reference_build",
        description="Build reference posteriors.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="fit references and write them under models/")
    b.add_argument("names", nargs="*", help=f"references (default: all of {sorted(REFERENCES)})")
    b.add_argument("--out-dir", type=Path, default=None, help="parent folder (default models/)")
    sub.add_parser("list", help="list references and whether they are built")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, spec in REFERENCES.items():
            built = (models_dir() / name / "fit.nc").exists()
            print(f"{name:28s} {'built' if built else 'not built':10s} {spec.description}")
        return
    for name in args.names or list(REFERENCES):
        start = time.perf_counter()
        folder = build(name, out_dir=args.out_dir)
        record = json.loads((folder / "spec.json").read_text())
        print(
            f"{name}: {record['diagnostics']['text']} "
            f"({time.perf_counter() - start:.0f} s) -> {folder}"
        )


if __name__ == "__main__":
    main()
