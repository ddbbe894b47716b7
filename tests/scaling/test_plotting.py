"""Tests of :mod:`bayescale.scaling.plotting` on hand-made posteriors (no MCMC)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from bayescale.core.errors import DataError, SpecificationError
from bayescale.scaling.data import validate
from bayescale.scaling.fitting import ScalingFit, make_spec
from bayescale.scaling.laws import get_law
from bayescale.scaling.plotting import plot_fit, ratio_groups
from tests.helpers import TRUE, simulate_runs

CHAINS, DRAWS = 2, 50
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_fit(runs: pd.DataFrame, law_name: str = "chinchilla", seed: int = 0) -> ScalingFit:
    """A :class:`ScalingFit` whose posterior is drawn by hand around plausible values."""
    law = get_law(law_name)
    ds = validate(runs, inputs=law.inputs)
    spec = make_spec(ds, law, extrapolation_rate=0.02)
    rng = np.random.default_rng(seed)
    families = [str(f) for f in ds["family"].values]
    log_ref = spec.summary.log_ref
    # Natural-scale centres per family (A_ref, B_ref: value of each term at the reference).
    centre: dict[str, list[float]] = {}
    if law.name == "chinchilla":
        for name in ("E", "alpha", "beta"):
            centre[name] = [TRUE[name][f] for f in families]
        centre["A_ref"] = [
            TRUE["A"][f] * np.exp(-TRUE["alpha"][f] * log_ref["params"]) for f in families
        ]
        centre["B_ref"] = [
            TRUE["B"][f] * np.exp(-TRUE["beta"][f] * log_ref["tokens"]) for f in families
        ]
    else:
        centre["E"] = [1.6] * len(families)
        centre["alpha"] = [0.12] * len(families)
        centre["A_ref"] = [float(np.exp(np.mean(np.log(ds["value"].values)))) - 1.6] * len(families)
    shape = (CHAINS, DRAWS, len(families))
    coords = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS), "family": families}
    post: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    for p in law.parameters:
        how = spec.pooling[p.name]
        value = np.asarray(centre[p.name])[None, None, :] * np.exp(
            0.02 * rng.standard_normal(shape)
        )
        if how == "shared":
            post[p.name] = (("chain", "draw"), value[..., 0])
        else:
            post[p.name] = (("chain", "draw", "family"), value)
        if how == "pooled":
            post[f"{p.raw_name}_mu"] = (("chain", "draw"), np.log(value).mean(axis=-1))
            post[f"{p.raw_name}_tau"] = (("chain", "draw"), np.full(shape[:2], 0.05))
    post["sigma"] = (("chain", "draw"), np.abs(0.01 + 0.002 * rng.standard_normal(shape[:2])))
    posterior = xr.Dataset(post, coords=coords, attrs={"metric": ds.attrs["metric"]})
    tree = xr.DataTree.from_dict({"posterior": posterior})
    return ScalingFit(tree, spec, ds)


@pytest.fixture(scope="module")
def chin_fit() -> ScalingFit:
    return fake_fit(simulate_runs(), "chinchilla")


@pytest.fixture(scope="module")
def compute_fit() -> ScalingFit:
    return fake_fit(simulate_runs(), "power_law:compute")


def _fill_count(ax) -> int:
    return sum(isinstance(c, PolyCollection) for c in ax.collections)


def _n_artists(fig: Figure) -> int:
    return sum(len(ax.lines) + len(ax.collections) for ax in fig.axes)


def test_chinchilla_png_written_and_panels(chin_fit: ScalingFit, tmp_path) -> None:
    path = tmp_path / "nested" / "dir" / "fit.png"
    fig = plot_fit(chin_fit, path=path)
    assert isinstance(fig, Figure)
    assert path.exists() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert len(fig.axes) == len(chin_fit.families) == 3
    assert [ax.get_title() for ax in fig.axes] == chin_fit.families
    for ax in fig.axes:
        assert ax.get_xscale() == "log"
        assert ax.get_yscale() == "log"
        assert "compute" in ax.get_xlabel()
        # three ratios, each with a curve band and a new-run band
        assert _fill_count(ax) == 2 * 3
    assert fig.axes[0].get_ylabel() == chin_fit.metric
    # shared y axis
    assert fig.axes[0].get_ylim() == fig.axes[-1].get_ylim()
    legend_texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert {"D/N = 5", "D/N = 20", "D/N = 80"} <= set(legend_texts)


def test_chinchilla_curves_reach_extend(chin_fit: ScalingFit) -> None:
    fig = plot_fit(chin_fit, x="params", extend=4.0, show_new_run=False)
    n_max = float(chin_fit.data["params"].max())
    for ax in fig.axes:
        assert _fill_count(ax) == 3
        assert ax.get_xlabel().startswith("parameters")
        right = max(float(np.max(line.get_xdata())) for line in ax.lines if len(line.get_xdata()))
        assert right == pytest.approx(4.0 * n_max, rel=1e-6)


def test_fit_plot_method_delegates(chin_fit: ScalingFit, tmp_path) -> None:
    fig = chin_fit.plot(tmp_path / "via_method.png", ci_prob=0.5, n_grid=10)
    assert isinstance(fig, Figure)
    assert (tmp_path / "via_method.png").stat().st_size > 0


def test_power_law_compute(compute_fit: ScalingFit, tmp_path) -> None:
    path = tmp_path / "compute.png"
    fig = plot_fit(compute_fit, path=path, n_grid=20)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert "compute" in ax.get_xlabel()
        assert _fill_count(ax) == 2
    legend_texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert not any(t.startswith("D/N") for t in legend_texts)


def test_points_overlay_adds_artists(chin_fit: ScalingFit) -> None:
    base = plot_fit(chin_fit, n_grid=10)
    held = pd.DataFrame(
        {
            "family": ["fam_a", "fam_b", "fam_c", "fam_a"],
            "params": [1.6e9, 1.6e9, 1.6e9, 3e9],
            "tokens": [3.2e10, 3.2e10, 3.2e10, 3.3e11],  # D/N = 20 and 110 (no curve)
            "value": [2.3, 2.4, 2.35, 2.1],
        }
    )
    fig = plot_fit(chin_fit, n_grid=10, points=held)
    assert _n_artists(fig) > _n_artists(base)
    stars = [line for ax in fig.axes for line in ax.lines if line.get_marker() == "*"]
    assert len(stars) == len(held)
    # curves are extended past the largest held-out run
    ax_a = fig.axes[0]
    assert ax_a.get_xlim()[1] > 6 * 3e9 * 3.3e11
    legend_texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "held-out runs" in legend_texts


def test_points_overlay_one_variable(compute_fit: ScalingFit) -> None:
    held = pd.DataFrame({"params": [2e9], "tokens": [4e10], "value": [2.2]})
    fig = plot_fit(compute_fit, n_grid=10, points=held)
    stars = [line for ax in fig.axes for line in ax.lines if line.get_marker() == "*"]
    assert len(stars) == 3  # no family column: shown in every panel


def test_points_of_unknown_family_warn(chin_fit: ScalingFit) -> None:
    held = pd.DataFrame({"family": ["nope"], "params": [1e9], "tokens": [2e10], "value": [2.5]})
    with pytest.warns(UserWarning, match="not drawn"):
        plot_fit(chin_fit, n_grid=10, points=held)


def test_points_need_value(chin_fit: ScalingFit) -> None:
    with pytest.raises(DataError, match="value"):
        plot_fit(chin_fit, points=pd.DataFrame({"params": [1e9], "tokens": [2e10]}))


def test_bad_arguments(chin_fit: ScalingFit, compute_fit: ScalingFit) -> None:
    with pytest.raises(SpecificationError):
        plot_fit(chin_fit, ci_prob=1.5)
    with pytest.raises(SpecificationError):
        plot_fit(chin_fit, x="flops")
    with pytest.raises(SpecificationError):
        plot_fit(compute_fit, x="params")
    with pytest.raises(SpecificationError):
        plot_fit(chin_fit, extend=0.5)


def test_ratio_groups_merge_within_five_percent() -> None:
    reps = ratio_groups([5.0, 5.1, 10.0, 20.0, 20.5, 19.8, 640.0, 700.0])
    assert len(reps) == 5
    assert reps[0] in (5.0, 5.1)
    assert reps[2] in (19.8, 20.0, 20.5)
    assert set(reps[[1, 3, 4]]) == {10.0, 640.0, 700.0}


def test_many_ratios_use_colorbar() -> None:
    ratios = tuple(float(r) for r in np.geomspace(4, 800, 12).round(1))
    runs = simulate_runs(families=("fam_a", "fam_b"), sizes=(2e7, 8e7), ratios=ratios)
    fit = fake_fit(runs)
    fig = plot_fit(fit, n_grid=8, show_new_run=False)
    # two family panels plus one colorbar axes
    assert len(fig.axes) == 3
    assert fig.axes[-1].get_ylabel().startswith("tokens per parameter")
    for ax in fig.axes[:2]:
        assert ax.get_xscale() == "log" and _fill_count(ax) == 12
