"""Compare scaling-law models on the shipped Gadre et al. (2024) data with PSIS-LOO.

Four models of the C4 validation loss (``loss_c4_val``) of 104 runs on three corpora:

* ``chinchilla_pooled``: :math:`L = E + A N^{-\\alpha} + B D^{-\\beta}` with the exponents
  partially pooled across corpora (the default);
* ``chinchilla_independent``: exponents fitted separately per corpus;
* ``chinchilla_shared``: one pair of exponents for every corpus;
* ``power_law_compute``: :math:`L = E + A C^{-\\alpha}`, a one-variable law in compute.

They are ranked by their expected log pointwise predictive density (ELPD) estimated with
PSIS-LOO (``az.compare``). All four are fitted to ``log(value)`` with the same
observations, so their ELPDs are comparable. Each fit takes 10 to 25 s on 2 cores.

Run::

    python examples/compare_laws.py --out example_output/
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

import bayescale

#: Pareto k above this means the PSIS-LOO estimate for that observation is unreliable.
PARETO_K_MAX = 0.7

#: Name -> (law, pooling) of the compared models.
MODELS: dict[str, tuple[str, dict[str, str] | None]] = {
    "chinchilla_pooled": ("chinchilla", None),
    "chinchilla_independent": ("chinchilla", {"exponent": "independent"}),
    "chinchilla_shared": ("chinchilla", {"exponent": "shared"}),
    "power_law_compute": ("power_law:compute", None),
}


def fit_models(df: pd.DataFrame) -> dict[str, bayescale.ScalingFit]:
    """Fit every model of :data:`MODELS` with the default sampler settings.

    Parameters
    ----------
    df
        Training runs in bayescale's long format (one metric).

    Returns
    -------
    dict of str to bayescale.ScalingFit
        The fits, by model name.
    """
    fits = {}
    for name, (law, pooling) in MODELS.items():
        start = time.perf_counter()
        fit = bayescale.fit(df, law=law, pooling=pooling, seed=0, progressbar=False)
        print(f"{name:24s} {time.perf_counter() - start:5.1f} s  {fit.diagnostics}")
        fits[name] = fit
    return fits


def pareto_k_report(fits: dict[str, bayescale.ScalingFit]) -> dict[str, int]:
    """Print, per model, how many observations have a Pareto k above :data:`PARETO_K_MAX`.

    Parameters
    ----------
    fits
        Fitted models by name.

    Returns
    -------
    dict of str to int
        Number of observations with Pareto k > :data:`PARETO_K_MAX`, by model name.
    """
    import arviz as az

    counts = {}
    print(f"\nPareto k diagnostics (PSIS-LOO), threshold {PARETO_K_MAX}:")
    for name, fit in fits.items():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
            loo = az.loo(fit.idata, pointwise=True)
        k = loo.pareto_k.values.ravel()
        bad = int((k > PARETO_K_MAX).sum())
        counts[name] = bad
        print(f"  {name:24s} {bad} of {k.size} observations with k > {PARETO_K_MAX}", end="")
        print(f" (max k {k.max():.2f})")
        if bad:
            print(
                f"  WARNING: the LOO estimate of {name} is unreliable for {bad} observation(s); "
                "its ELPD may be too optimistic."
            )
    return counts


def plot_comparison(cmp: pd.DataFrame, path: Path) -> Path:
    """Save the ELPD comparison as a PNG: ArviZ's ``plot_compare``, else a matplotlib plot.

    Parameters
    ----------
    cmp
        Output of ``az.compare``.
    path
        Where to write the PNG.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import arviz as az

    try:
        pc = az.plot_compare(cmp, backend="matplotlib")
        pc.savefig(path, dpi=120, bbox_inches="tight")
    except Exception as exc:  # fall back to a plain plot of elpd +- se
        print(f"az.plot_compare failed ({exc!r}); drawing elpd +- se with matplotlib")
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 0.6 * len(cmp) + 1.5), layout="constrained")
        ax = fig.add_subplot()
        pos = list(range(len(cmp)))[::-1]
        ax.errorbar(cmp["elpd"], pos, xerr=cmp["se"], fmt="o", capsize=3)
        ax.set_yticks(pos, list(cmp.index))
        ax.set_xlabel("ELPD (PSIS-LOO), higher is better")
        fig.savefig(path, dpi=120)
    return path


def interpret(cmp: pd.DataFrame, high_k: dict[str, int]) -> str:
    """A few sentences on what the comparison says.

    A model whose ELPD is within 4 of the best predicts about as well; one that is further
    behind is called worse, and clearly worse when the difference is also at least twice
    its standard error ``dse``.

    Parameters
    ----------
    cmp
        Output of ``az.compare`` (rows ordered best first).
    high_k
        Number of observations with a high Pareto k, by model name.

    Returns
    -------
    str
        The interpretation.
    """
    best = str(cmp.index[0])
    similar, worse, clearly = [], [], []
    for name, row in cmp.iloc[1:].iterrows():
        diff, dse = abs(float(row["elpd_diff"])), float(row["dse"])
        item = f"{name} ({diff:.1f} ± {dse:.1f} lower)"
        if diff < 4:
            similar.append(item)
        elif diff < 2 * dse:
            worse.append(item)
        else:
            clearly.append(item)
    text = f"{best} has the highest ELPD."
    if similar:
        text += " About as good (ELPD within 4): " + ", ".join(similar) + "."
    if worse:
        text += " Lower, though by less than 2 se: " + ", ".join(worse) + "."
    if clearly:
        text += " Clearly worse (by more than 4 and 2 se): " + ", ".join(clearly) + "."
    flagged = [name for name, n in high_k.items() if n]
    if flagged:
        text += (
            f" Pareto k > {PARETO_K_MAX} in {', '.join(flagged)}: check small differences with"
            " exact leave-one-out refits before relying on them; a robust likelihood"
            " (likelihood='studentt', docs/laws.md) removes them on these data."
        )
    return text


def main(argv: list[str] | None = None) -> None:
    """Fit the four models, compare them with ``az.compare`` and save a comparison plot.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    import arviz as az

    df = bayescale.datasets.load("gadre2024", metric="loss_c4_val")
    fits = fit_models(df)
    high_k = pareto_k_report(fits)

    with warnings.catch_warnings():
        # az.compare recomputes LOO; its Pareto k warnings were reported above.
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        cmp = az.compare({name: fit.idata for name, fit in fits.items()}, round_to="none")
    cols = ["rank", "elpd", "se", "elpd_diff", "dse", "p_worse", "p", "weight", "diag_elpd"]
    print("\naz.compare (PSIS-LOO ELPD of log(loss); stacking weights):")
    with pd.option_context("display.width", 140):
        print(cmp[[c for c in cols if c in cmp.columns]].to_string(float_format="{:.2f}".format))
    print(
        "(Stacking weights are not model probabilities: models that predict alike, such as"
        " pooled and shared exponents here, can split or trade their weight.)"
    )
    cmp.to_csv(args.out / "compare_laws.csv")

    path = plot_comparison(cmp, args.out / "compare_laws.png")
    print(f"\nsaved {path} and {args.out / 'compare_laws.csv'}")
    print("\nInterpretation: " + interpret(cmp, high_k))


if __name__ == "__main__":
    main()
