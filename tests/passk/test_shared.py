"""The shared-difficulty pass@k model, the maximum-likelihood baseline and the sampling
advice, without MCMC (prior draws through the injectable sampler, exact reference
computations). Real NUTS: ``tests/passk/test_shared_nuts.py``."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import integrate, stats
from scipy.special import betaln

from bayescale import passk
from bayescale.core.errors import ConvergenceWarning, SpecificationError
from bayescale.core.intervals import FORECAST_COLUMNS
from bayescale.passk.counts import validate_counts
from bayescale.passk.curves import attempts_for_coverage, population_coverage
from bayescale.passk.model import PassKSpec, build_passk_model, make_passk_spec
from bayescale.passk.shared import (
    CENTRED_FROM,
    MIN_CENTRED,
    cell_log_lik,
    centred_problems,
    difficulty_logpdf,
    difficulty_nodes,
    difficulty_transform,
    draw_unsolved_difficulties,
    log_rising,
    problem_cells,
    problem_log_lik,
    shared_sampled_names,
    unsolved_patterns,
)
from tests.helpers import prior_sampler


def _prior_fit(counts: pd.DataFrame, **kwargs: object) -> passk.PassKFit:
    options = {"draws": 100, "chains": 2, "progressbar": False, "extend_if_slow": False}
    options.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        return passk.fit(counts, sampler=prior_sampler, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return passk.simulate_shared_counts(n_problems=30, n_samples=50, seed=3)


@pytest.fixture(scope="module", params=["normal", "skewed"])
def shared_fit(request: pytest.FixtureRequest, sim: pd.DataFrame) -> passk.PassKFit:
    return _prior_fit(sim, model="shared_difficulty", difficulty=request.param)


# -- specification -----------------------------------------------------------------------
def test_bad_options_say_what_is_allowed(sim: pd.DataFrame) -> None:
    ds = validate_counts(sim)
    with pytest.raises(SpecificationError, match="model must be one of"):
        make_passk_spec(ds, model="irt")
    with pytest.raises(SpecificationError, match="difficulty must be one of"):
        make_passk_spec(ds, model="shared_difficulty", difficulty="cauchy")
    with pytest.raises(SpecificationError, match="option of model='shared_difficulty'"):
        make_passk_spec(ds, difficulty="skewed")
    with pytest.raises(SpecificationError, match=r"flexible.*withdrawn.*difficulty='skewed'"):
        make_passk_spec(ds, model="shared_difficulty", difficulty="flexible")
    with pytest.raises(SpecificationError, match="sigma_d"):
        make_passk_spec(ds, priors={"sigma_d": (1.0, 0.0)})  # a prior of the other model
    # a specification read from an old file is never built into a model it cannot be
    legacy = replace(make_passk_spec(ds, model="shared_difficulty"), difficulty="flexible")
    with pytest.raises(SpecificationError, match=r"no model for difficulty='flexible'.*withdrawn"):
        build_passk_model(ds, legacy)
    two = sim.assign(family=np.where(sim["model"] == "m0", "pythia", "llama"))
    with pytest.raises(SpecificationError, match="Fit each family on its own"):
        make_passk_spec(validate_counts(two), model="shared_difficulty")


def test_the_default_difficulty_is_skewed_and_the_beta_model_has_none(sim: pd.DataFrame) -> None:
    ds = validate_counts(sim)
    assert make_passk_spec(ds, model="shared_difficulty").difficulty == "skewed"
    assert make_passk_spec(ds, model="shared_difficulty", difficulty="normal").difficulty == (
        "normal"
    )
    assert make_passk_spec(ds).difficulty == "normal"  # unused by the per-model model
    assert make_passk_spec(ds, difficulty="normal").difficulty == "normal"  # as in 0.1


def test_sigma_d_prior_is_a_halfnormal_or_a_gamma(sim: pd.DataFrame) -> None:
    """``(scale, 0)``: HalfNormal (the default, (2, 0)); ``(shape, rate)``: a Gamma, which
    keeps sigma_d from 0; anything else is refused with what to give."""
    import pymc as pm

    ds = validate_counts(sim)
    spec = make_passk_spec(ds, model="shared_difficulty", difficulty="normal")
    assert spec.priors["sigma_d"] == (2.0, 0.0)
    default = build_passk_model(ds, spec)["sigma_d"].owner.op
    assert isinstance(default, type(pm.HalfNormal.dist(2.0).owner.op))
    gamma = make_passk_spec(
        ds, model="shared_difficulty", difficulty="normal", priors={"sigma_d": (2.0, 1.0)}
    )
    model = build_passk_model(ds, gamma)
    logp = model.compile_fn(model.logp(vars=[model["sigma_d"]], jacobian=False))
    for value in (0.05, 0.5, 2.0, 6.0):
        got = logp({"sigma_d_log__": np.log(value)})
        assert got == pytest.approx(stats.gamma(2.0, scale=1.0).logpdf(value), rel=1e-6)
    for bad in [(0.0, 1.0), (2.0, -1.0), (float("nan"), 1.0)]:
        with pytest.raises(SpecificationError, match=r"priors\['sigma_d'\]"):
            make_passk_spec(ds, model="shared_difficulty", priors={"sigma_d": bad})


def test_specifications_of_earlier_files_read_as_the_beta_model() -> None:
    old = {
        "trend": True,
        "model_effects": True,
        "zero_inflation": True,
        "log_params_center": 20.0,
        "priors": {"mu_a": [-1.2, 1.0]},
        "notes": [],
    }
    spec = PassKSpec.from_json(json.dumps(old))
    assert spec.model == "beta" and not spec.shared and not spec.problem_slopes


# -- the likelihood against a direct computation -----------------------------------------
def _reference_log_lik(ds, spec, point: dict[str, np.ndarray]) -> float:
    """Per problem: the product over models of the Beta-binomial with b_m exp(d_j - g_j x_m),
    mixed with 'never solvable' (weight pi) when no model solved it. Without problem slopes
    an unsolved problem's difficulty is integrated over its distribution (adaptive
    quadrature, scipy)."""
    cells = problem_cells(ds)
    x = np.log(ds["params"].values) - spec.log_params_center
    a = np.exp(point["log_a"])[cells.model_idx]
    shift = point["d"][cells.problem_idx] - point["g"][cells.problem_idx] * x[cells.model_idx]
    b = np.exp(point["log_b"][cells.model_idx] + shift)
    ll = cell_log_lik(cells.n.astype(float), cells.c.astype(float), a, b)
    per_problem = np.bincount(cells.problem_idx, weights=ll)
    if not spec.problem_slopes:
        shape = () if "skew" not in point else (point["skew"], point["log_tail"])
        for j in np.flatnonzero(cells.all_zero):
            rows = cells.problem_idx == j

            def integrand(u: float, rows: np.ndarray = rows) -> float:
                d = difficulty_transform(u, point.get("sigma_h", point["sigma_d"]), *shape)
                b_u = np.exp(point["log_b"][cells.model_idx[rows]] + d)
                fail = cell_log_lik(cells.n[rows].astype(float), 0.0, a[rows], b_u)
                return float(stats.norm.pdf(u) * np.exp(fail.sum()))

            per_problem[j] = np.log(integrate.quad(integrand, -12, 12, epsabs=0, limit=200)[0])
    pi = float(point["pi"])
    mixed = np.logaddexp(np.log(pi), np.log1p(-pi) + per_problem)
    return float(np.where(cells.all_zero, mixed, np.log1p(-pi) + per_problem).sum())


@pytest.mark.parametrize(
    ("difficulty", "slopes"),
    [("normal", False), ("skewed", False), ("normal", True)],
)
def test_model_likelihood_is_the_zero_inflated_beta_binomial(
    sim: pd.DataFrame, difficulty: str, slopes: bool
) -> None:
    ds = validate_counts(sim)
    spec = make_passk_spec(
        ds, model="shared_difficulty", difficulty=difficulty, problem_slopes=slopes
    )
    assert spec.problem_slopes is slopes
    model = build_passk_model(ds, spec)
    rng = np.random.default_rng(0)
    point = model.initial_point()
    for name in point:
        point[name] = point[name] + rng.normal(0.0, 0.3, size=np.shape(point[name]))
    names = ["log_a", "log_b", "d", "pi", "sigma_d"]
    names += ["g"] if spec.problem_slopes else []
    names += ["skew", "log_tail", "sigma_h"] if difficulty != "normal" else []
    outputs = model.replace_rvs_by_values([model[n] for n in names] + model.potentials)
    *values, potential = model.compile_fn(
        outputs, inputs=model.value_vars, on_unused_input="ignore"
    )(point)
    named = dict(zip(names, values, strict=True))
    named.setdefault("g", np.zeros_like(named["d"]))
    if difficulty == "skewed":  # the tail weight of the normal, delta = 1
        assert named["log_tail"] == 0.0 and "log_tail" not in shared_sampled_names(spec)
        assert "skew" in shared_sampled_names(spec)
    if difficulty != "normal":  # sigma_d is the slope at the median, h's is cosh(e/delta)
        slope = np.cosh(named["skew"] / np.exp(named["log_tail"]))
        assert named["sigma_h"] == pytest.approx(named["sigma_d"] / slope, rel=1e-12)
    assert problem_cells(ds).all_zero.any()  # the quadrature is exercised
    assert float(potential) == pytest.approx(_reference_log_lik(ds, spec, named), rel=1e-9)


@pytest.mark.parametrize("difficulty", ["normal", "skewed"])
def test_unsolved_difficulties_are_drawn_from_their_conditional(
    sim: pd.DataFrame, difficulty: str
) -> None:
    """The model integrates out an unsolved problem's difficulty; the draws put back into
    the posterior follow p(u | theta, zeros) ~ phi(u) (pi + (1 - pi) prod_m BB(0 | ...)),
    checked against that density integrated by scipy (one theta, many draws)."""
    ds = validate_counts(sim)
    spec = make_passk_spec(ds, model="shared_difficulty", difficulty=difficulty)
    cells = problem_cells(ds)
    unsolved = np.flatnonzero(cells.all_zero)
    assert unsolved.size >= 2
    n_draws, models = 4000, ds.sizes["model"]
    rng = np.random.default_rng(5)
    theta = {
        "log_a": rng.normal(-0.5, 0.2, models),
        "log_b": rng.normal(3.0, 0.3, models),
        "sigma_d": 2.0,
        "mu_pi": -1.0,
        "skew": 0.4,
        "log_tail": -0.3,
    }
    if difficulty == "normal":
        del theta["skew"], theta["log_tail"]
    if difficulty == "skewed":  # log_tail is a Deterministic 0 in the posterior
        theta["log_tail"] = 0.0

    def per_draw(value: object, *dims: str) -> xr.DataArray:
        values = np.broadcast_to(value, (1, n_draws, *np.shape(value)))
        return xr.DataArray(values.copy(), dims=("chain", "draw", *dims))

    post = xr.Dataset(
        {
            name: per_draw(value, "model") if np.ndim(value) else per_draw(value)
            for name, value in theta.items()
        }
        | {
            "v": per_draw(np.full(cells.problems.size, 9.0), "problem"),
            "d": per_draw(np.full(cells.problems.size, 9.0), "problem"),
        },
        coords={"chain": [0], "draw": np.arange(n_draws)},
    )
    out = draw_unsolved_difficulties(post, ds, spec, np.random.default_rng(0))
    solved = np.flatnonzero(~cells.all_zero)
    np.testing.assert_array_equal(out["v"].values[..., solved], 9.0)  # untouched
    shape = (theta["skew"], theta["log_tail"]) if difficulty != "normal" else ()
    v_new = out["v"].values[..., unsolved]
    np.testing.assert_allclose(
        out["d"].values[..., unsolved], difficulty_transform(v_new, 2.0, *shape), rtol=1e-12
    )
    j = unsolved[0]
    rows = cells.problem_idx == j
    pi = 1.0 / (1.0 + np.exp(1.0))

    def density(u: np.ndarray) -> np.ndarray:
        d = difficulty_transform(np.asarray(u)[..., None], 2.0, *shape)
        b = np.exp(theta["log_b"][cells.model_idx[rows]] + d)
        a = np.exp(theta["log_a"][cells.model_idx[rows]])
        fail = np.exp(cell_log_lik(cells.n[rows].astype(float), 0.0, a, b).sum(axis=-1))
        return np.asarray(stats.norm.pdf(u) * (pi + (1.0 - pi) * fail))

    total = integrate.quad(lambda u: float(density(u)), -10, 10)[0]
    # the exact distribution function, on a grid 250 times finer than the model's nodes
    fine = np.linspace(-10, 10, 50_001)
    values = integrate.cumulative_trapezoid(density(fine), fine, initial=0.0)

    def cdf(u: np.ndarray) -> np.ndarray:
        return np.interp(u, fine, values / total)

    draws = out["v"].values[0, :, j]
    probs = [0.05, 0.25, 0.5, 0.75, 0.95]
    # empirical against exact distribution function: within 3 standard errors of 4000 draws
    np.testing.assert_allclose(cdf(np.quantile(draws, probs)), probs, atol=0.025)
    assert stats.kstest(draws, cdf).pvalue > 0.01


def test_unsolved_problems_are_grouped_by_their_attempts() -> None:
    """Problems no model solved share one likelihood when their attempts per model agree."""
    rows = [
        # problem, model, attempts, correct: p0 and p2 alike, p3 has fewer attempts by m1,
        # p1 is solved
        ("p0", "m0", 10, 0), ("p0", "m1", 10, 0),
        ("p1", "m0", 10, 3), ("p1", "m1", 10, 0),
        ("p2", "m0", 10, 0), ("p2", "m1", 10, 0),
        ("p3", "m0", 10, 0), ("p3", "m1", 5, 0),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["problem", "model", "n_samples", "n_correct"])
    frame["params"] = frame["model"].map({"m0": 1e8, "m1": 1e9})
    cells = problem_cells(validate_counts(frame))
    pat = unsolved_patterns(cells)
    labels = list(cells.problems)
    by_problem = dict(zip(labels, pat.problem_pattern.tolist(), strict=True))
    assert by_problem["p1"] == -1
    assert by_problem["p0"] == by_problem["p2"] != by_problem["p3"]
    assert sorted(pat.count.tolist()) == [1, 2]
    for p in range(2):
        cells_of = {tuple(pat.mn[i]) for i in pat.cell_mn[pat.cell_pattern == p]}
        m1 = 5 if p == by_problem["p3"] else 10
        assert cells_of == {(0, 10), (1, m1)}


def test_difficulties_are_centred_where_the_counts_pin_them(sim: pd.DataFrame) -> None:
    """Centred where all models together answered at least CENTRED_FROM times; the
    simulated counts have both kinds, so the likelihood test above covers both forms."""
    cells = problem_cells(validate_counts(sim))
    total = np.bincount(cells.problem_idx, weights=cells.c, minlength=cells.problems.size)
    centred = centred_problems(cells)
    np.testing.assert_array_equal(centred, (total >= CENTRED_FROM).astype(float))
    assert centred.any() and not centred.all()
    assert not centred[cells.all_zero].any()
    # with fewer than MIN_CENTRED qualifying problems, none is centred
    ranked = np.sort(total)[::-1]
    assert ranked[MIN_CENTRED - 2] > ranked[MIN_CENTRED - 1]  # no tie at the edge
    assert centred_problems(cells, threshold=ranked[MIN_CENTRED - 2]).sum() == 0
    assert centred_problems(cells, threshold=ranked[MIN_CENTRED - 1]).sum() >= MIN_CENTRED


def test_log_rising_factorial_keeps_its_digits_for_huge_arguments() -> None:
    """log Gamma(x + k) - log Gamma(x) against the exact sum of log(x + i), i < k: the
    difference of two gammaln is off by tens at x = 1e16 (the model's b e^d gets there)."""
    import math

    import pytensor.tensor as pt

    xs = np.array([0.3, 10.0, 1e5, 999_999.0, 1e6 + 1, 1e8, 1e16, 1e40])
    for k in (0, 1, 3, 1000):
        exact = [k * math.log(x) + math.fsum(math.log1p(i / x) for i in range(k)) for x in xs]
        np.testing.assert_allclose(log_rising(xs, float(k)), exact, rtol=1e-10, atol=1e-12)
        symbolic = log_rising(pt.as_tensor(xs), pt.as_tensor(float(k)), lib=pt).eval()
        np.testing.assert_allclose(symbolic, exact, rtol=1e-10, atol=1e-12)


def test_the_flexible_difficulty_density_is_the_transform_of_a_normal() -> None:
    for skew, log_tail in [(0.0, 0.0), (0.6, -0.5), (-0.4, 0.4)]:

        def density(t: float, skew: float = skew, log_tail: float = log_tail) -> float:
            return float(np.exp(difficulty_logpdf(t, 0.3, 1.7, skew, log_tail)))

        # a density (integrates to 1) ...
        total, _ = integrate.quad(density, -80, 80, limit=400)
        assert total == pytest.approx(1.0, abs=1e-6)
        # ... of mu + sigma h(u) with u standard normal (CDFs agree at several points)
        u = np.linspace(-2.5, 2.5, 7)
        d = 0.3 + difficulty_transform(u, 1.7, skew, log_tail)
        cdf = [integrate.quad(density, -80, v)[0] for v in d]
        np.testing.assert_allclose(cdf, stats.norm.cdf(u), atol=1e-6)
    # skew = 0, delta = 1 is the normal
    np.testing.assert_allclose(
        difficulty_logpdf(np.array([-1.0, 0.5, 3.0]), 0.2, 1.3, 0.0, 0.0),
        stats.norm.logpdf([-1.0, 0.5, 3.0], 0.2, 1.3),
    )


def test_quadrature_over_a_new_problem_matches_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    sigma, skew, tail = np.array([1.4]), np.array([0.5]), np.array([-0.3])
    u = rng.standard_normal(400_000)
    for args, x, slope in [((None, None), 0.0, None), ((skew, tail), 1.5, np.array([0.4]))]:
        nodes, weights = difficulty_nodes(sigma, *args, slope_sd=slope, x=x)
        d = difficulty_transform(u, sigma[0], *(None if a is None else a[0] for a in args))
        if slope is not None:
            d = d - slope[0] * rng.standard_normal(u.size) * x
        for f in (lambda v: v, lambda v: v**2, lambda v: np.exp(-np.exp(v))):
            mc = float(f(d).mean())
            assert float(f(nodes[0]) @ weights) == pytest.approx(mc, abs=0.01, rel=0.02)


def test_population_coverage_with_difficulties_is_an_average_over_them() -> None:
    a, b, pi = np.array([0.4]), np.array([30.0]), np.array([0.1])
    k = np.array([1.0, 100.0, 1e5])
    one = population_coverage(a, b, pi, k)
    np.testing.assert_allclose(
        population_coverage(a, b, pi, k, log_shift=np.zeros((1, 1)), weights=np.ones(1)), one
    )
    shift = np.array([[-1.0, 0.0, 2.0]])
    w = np.array([0.2, 0.5, 0.3])
    direct = sum(
        wq * population_coverage(a, b * np.exp(s), pi, k) for s, wq in zip(shift[0], w, strict=True)
    )
    np.testing.assert_allclose(
        population_coverage(a, b, pi, k, log_shift=shift, weights=w), direct, rtol=1e-12
    )
    k_star = attempts_for_coverage(0.5, a, b, pi, log_shift=shift, weights=w)
    reached = population_coverage(a, b, pi, k_star, log_shift=shift, weights=w)[0, 0]
    assert reached == pytest.approx(0.5, abs=1e-6)


def test_integrated_problem_likelihood_matches_direct_integration(sim: pd.DataFrame) -> None:
    small = sim[sim["problem"].isin(["q000", "q001", "q002", "q003"])]
    cells = problem_cells(validate_counts(small))
    rng = np.random.default_rng(2)
    s, m = 3, 4
    log_a = rng.normal(-0.3, 0.2, (s, m))
    log_b = rng.normal(4.5, 0.3, (s, m))
    logit_pi = rng.normal(-2.0, 0.3, s)
    sigma = np.array([1.2, 1.6, 1.4])

    def integrand(i: int, j: int, d: np.ndarray | float) -> np.ndarray:
        """The solvable part, to integrate over d (the never-solvable part is added)."""
        rows = cells.problem_idx == j
        mm, n, c = cells.model_idx[rows], cells.n[rows], cells.c[rows]
        d = np.atleast_1d(d)[:, None]
        ll = cell_log_lik(n, c, np.exp(log_a[i, mm]), np.exp(log_b[i, mm] + d)).sum(axis=1)
        return np.exp(ll) * stats.norm.pdf(d[:, 0], 0, sigma[i])

    # the nodes are placed by posterior draws of d_j: draws with each problem's posterior
    # mean and sd under the first parameter draw
    d_draws = np.empty((400, cells.problems.size))
    for j in range(cells.problems.size):
        mass = [
            integrate.quad(
                lambda d, p=p, j=j: d**p * integrand(0, j, d)[0], -20, 20, points=[-5, 0, 5]
            )[0]
            for p in range(3)
        ]
        mean = mass[1] / mass[0]
        d_draws[:, j] = rng.normal(mean, np.sqrt(mass[2] / mass[0] - mean**2), 400)
    got = problem_log_lik(cells, log_a, log_b, logit_pi, sigma, None, None, d_draws)
    assert cells.all_zero.any() and not cells.all_zero.all()
    fine = np.linspace(-15.0, 15.0, 30001)  # a brute-force reference
    for i in range(s):
        for j in range(cells.problems.size):
            pi = 1 / (1 + np.exp(-logit_pi[i]))
            ref = (1 - pi) * np.trapezoid(integrand(i, j, fine), fine)
            ref += pi * cells.all_zero[j]
            assert got[i, j] == pytest.approx(np.log(ref), abs=2e-3)


# -- the fitted object -------------------------------------------------------------------
def test_summary_forecasts_and_attempts(shared_fit: passk.PassKFit) -> None:
    summary = shared_fit.summary(ci_prob=0.8)
    assert "eti80_lb" in summary.columns
    assert {"a[m0]", "b[m3]", "pi", "sigma_d", "mu_b"} <= set(summary.index)
    assert not any(i.startswith(("v[", "w[", "e_")) for i in summary.index)
    assert "shared_difficulty" in shared_fit.title() and "shared_difficulty" in repr(shared_fit)
    k = [10.0, 1e3, 1e6]
    observed = shared_fit.coverage(k)
    assert list(observed.columns) == ["model", "k", *FORECAST_COLUMNS]
    assert len(observed) == 4 * 3
    assert (
        (observed["lower"] <= observed["median"]) & (observed["median"] <= observed["upper"])
    ).all()
    # the same problems by a size that was not run, from their difficulties
    new = shared_fit.coverage(k, params={"big": 3e10})
    assert list(new["model"].unique()) == ["big"]
    for problems in ({"problems": "population"}, {"problems": "population", "n_problems": 40}):
        table = shared_fit.coverage(k, **problems)
        assert table[["lower", "upper"]].notna().all().all()
        assert ((table["median"] >= 0) & (table["median"] <= 1)).all()
    draws = shared_fit.coverage_draws(k)
    assert draws.dims == ("chain", "draw", "model", "k")
    # coverage grows with k draw by draw
    assert bool((draws.diff("k") >= -1e-12).all())
    attempts = shared_fit.attempts_for(0.2, cost_per_attempt=2.0)
    assert set(attempts["quantity"]) == {"attempts", "cost"}
    assert shared_fit.exponent()["quantity"].eq("exponent").all()


def test_shared_fit_loo_leaves_out_problems(shared_fit: passk.PassKFit) -> None:
    with pytest.raises(SpecificationError, match="by='problem'"):
        shared_fit.loo(by="row")
    ll = shared_fit.problem_log_likelihood(max_draws=50)
    assert ll.dims == ("chain", "draw", "problem") and ll.sizes["problem"] == 30
    assert np.isfinite(ll.values).mean() > 0.95  # prior draws: a few may underflow


def test_beta_model_loo_by_problem_sums_its_rows(sim: pd.DataFrame) -> None:
    fit = _prior_fit(sim)
    ll = fit.problem_log_likelihood(max_draws=None)
    rows = fit.idata["log_likelihood"].dataset["y"]
    first = sim.index[sim["problem"] == "q000"]
    np.testing.assert_allclose(
        ll.sel(problem="q000").values, rows.sel(obs=first.to_numpy()).sum("obs").values
    )


def test_save_and_load_keep_the_model(shared_fit: passk.PassKFit, tmp_path: Path) -> None:
    path = shared_fit.save(tmp_path / "shared.nc")
    back = passk.load(path)
    assert back.spec.model == "shared_difficulty"
    assert back.spec.difficulty == shared_fit.spec.difficulty
    pd.testing.assert_frame_equal(back.coverage([100.0, 1e4]), shared_fit.coverage([100.0, 1e4]))
    pd.testing.assert_frame_equal(
        back.coverage([1e4], params={"big": 3e10}), shared_fit.coverage([1e4], params={"big": 3e10})
    )


def test_beta_model_keeps_refusing_new_sizes_on_observed_problems(sim: pd.DataFrame) -> None:
    fit = _prior_fit(sim)
    with pytest.raises(SpecificationError, match="shared_difficulty"):
        fit.coverage([100.0], params={"big": 3e10})


# -- maximum-likelihood baseline ---------------------------------------------------------
def test_mle_recovers_a_beta_population_and_its_uncertainty() -> None:
    rng = np.random.default_rng(4)
    estimates = []
    for _ in range(20):
        p = rng.beta(0.4, 12.0, size=400)
        counts = pd.DataFrame(
            {
                "model": "m",
                "problem": np.arange(400),
                "n_samples": 100,
                "n_correct": rng.binomial(100, p),
            }
        )
        estimates.append(passk.beta_binomial_mle(counts).iloc[0])
    est = pd.DataFrame(estimates)
    log_a = np.log(est["a"])
    # unbiased to within its spread, and the Fisher standard error matches the spread
    assert abs(log_a.mean() - np.log(0.4)) < 2 * log_a.std() / np.sqrt(20) + 0.02
    assert np.sqrt(est["cov_log_a"]).mean() == pytest.approx(log_a.std(), rel=0.35)


def test_mle_coverage_table_and_a_model_that_solved_nothing() -> None:
    counts = pd.DataFrame(
        {
            "model": ["a"] * 3 + ["b"] * 3,
            "problem": [1, 2, 3] * 2,
            "n_samples": 50,
            "n_correct": [0, 3, 20, 0, 0, 0],
        }
    )
    table = passk.mle_coverage(counts, [100.0, 1e4])
    assert list(table.columns) == ["model", "k", *FORECAST_COLUMNS]
    assert ((table["lower"] <= table["median"]) & (table["median"] <= table["upper"])).all()
    fits = passk.beta_binomial_mle(counts).set_index("model")
    assert bool(fits.loc["b", "boundary"]) and fits.loc["b", "n_solved"] == 0
    assert table[table["model"] == "b"]["median"].max() < 1e-3


# -- where to sample next ----------------------------------------------------------------
@pytest.mark.parametrize(("alpha", "beta"), [(2.0, 30.0), (5.0, 5.0)])
def test_value_of_attempts_matches_the_conjugate_answer(alpha: float, beta: float) -> None:
    """For p ~ Beta(alpha, beta), e more attempts shrink Var(p) by Var(p) e / (alpha + beta + e)."""
    p = np.random.default_rng(5).beta(alpha, beta, size=6000)
    extra = [1, 10, 100]
    got = passk.expected_variance_reduction(p, p, extra)
    var = alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1))
    expected = [var * e / (alpha + beta + e) for e in extra]
    np.testing.assert_allclose(got, expected, rtol=0.12)
    # nothing to learn about a quantity independent of p
    unrelated = np.random.default_rng(6).normal(size=p.size)
    assert abs(passk.expected_variance_reduction(p, unrelated, [100])[0]) < 0.02


def test_joint_value_of_attempts_counts_a_shared_parameter_once() -> None:
    """Known answer: every pair's success probability is one shared p ~ Beta(2, 40), and
    the forecast is p itself. e attempts at each of R pairs are then R e attempts at p,
    worth Var(p) R e / (alpha + beta + R e); the sum of the pairs' values on their own
    would count the shared p once per pair (the advice before December 2026)."""
    from bayescale.passk.advice import _Preposterior

    alpha, beta, pairs, e = 2.0, 40.0, 10, 10
    p = np.random.default_rng(8).beta(alpha, beta, size=8000)
    pre = _Preposterior(
        np.repeat(p[:, None], pairs, axis=1),
        p[:, None],
        np.zeros(pairs, dtype=int),
        np.random.default_rng(9),
    )
    var = alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1))
    joint = pre.explained(dict.fromkeys(range(pairs), e))
    assert joint == pytest.approx(var * pairs * e / (alpha + beta + pairs * e), rel=0.1)
    alone = pre.explained({0: e})
    assert alone == pytest.approx(var * e / (alpha + beta + e), rel=0.15)
    assert joint < 0.5 * pairs * alone
    # the greedy allocation of the same budget explains as much wherever it puts it
    extra, credited = pre.allocate(pairs * e, e)
    assert extra.sum() == pairs * e
    assert credited.sum() == pytest.approx(joint, rel=0.15)


def test_advice_spends_the_budget_where_the_forecast_is_uncertain() -> None:
    """Known answer: of a model's problems, one solved every time (its pass@1000 is surely
    1), one attempted only twice and never solved, one with 0 of 20,000: every attempt
    goes to the one attempted twice."""
    counts = pd.DataFrame(
        {
            "model": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
            "problem": ["sure", "unknown", "hopeless"] * 3,
            "n_samples": [1000, 2, 20000] + [100] * 6,
            "n_correct": [1000, 0, 0, 50, 3, 0, 60, 5, 0],
            "params": [1e8] * 3 + [1e9] * 3 + [1e10] * 3,
        }
    )
    fit = _prior_fit(counts, draws=500)
    advice = passk.sampling_advice(fit, 300, model="A", k=1000, step=10)
    alloc = advice.allocation
    assert alloc["extra_attempts"].sum() == 300
    assert alloc.set_index("problem")["extra_attempts"].get("unknown", 0) >= 290
    expected = advice.expected.set_index("strategy")
    assert expected.loc["advised", "sd"] <= expected.loc["even", "sd"] <= expected.loc["now", "sd"]
    assert "coverage of A" in str(advice)
    with pytest.raises(SpecificationError, match="budget"):
        passk.sampling_advice(fit, 0, model="A", k=1000)
    with pytest.raises(SpecificationError, match="unknown model"):
        passk.sampling_advice(fit, 10, model="Z", k=1000)
    with pytest.raises(SpecificationError, match="shared_difficulty"):
        passk.sampling_advice(fit, 10, params={"D": 1e11}, k=1000)


def test_advice_for_a_new_size_and_a_fitted_one_with_the_shared_model(
    shared_fit: passk.PassKFit,
) -> None:
    """Every pair of every size is a candidate; the budget is spent in whole batches and
    the advised attempts are expected to narrow the forecast at least as much as nothing."""
    for target in ({"params": {"new": 3e9}}, {"model": "m1"}):
        advice = passk.sampling_advice(shared_fit, 400, k=1000, step=40, **target)  # type: ignore[arg-type]
        alloc = advice.allocation
        assert alloc["extra_attempts"].sum() == 400
        assert (alloc["extra_attempts"] % 40 == 0).all()
        assert set(alloc["model"]) <= {"m0", "m1", "m2", "m3"}
        sd = advice.expected.set_index("strategy")["sd"]
        assert sd["advised"] <= sd["now"] and sd["even"] <= sd["now"]
    assert advice.target["model"] == "m1"
    own = passk.sampling_advice(shared_fit, 400, k=1000, model="m1", step=40, sample_models=["m1"])
    assert set(own.allocation["model"]) == {"m1"}
    one = passk.sampling_advice(shared_fit, 80, k=1000, model="m1", step=40, sample_models="m2")
    assert set(one.allocation["model"]) == {"m2"}  # a single name, not its characters
    assert own.allocation["extra_attempts"].sum() == 400
    with pytest.raises(SpecificationError, match="sample_models"):
        passk.sampling_advice(shared_fit, 40, k=1000, model="m1", sample_models=["m9"])


def test_pass_at_k_reference_is_exact() -> None:
    """cell_log_lik is the Beta-binomial pmf (scipy's)."""
    n, c, a, b = 40.0, np.array([0.0, 3.0, 40.0]), 0.7, 12.0
    np.testing.assert_allclose(cell_log_lik(n, c, a, b), stats.betabinom.logpmf(c, n, a, b))
    np.testing.assert_allclose(
        cell_log_lik(n, c, a, b, log_binom=False),
        betaln(c + a, n - c + b) - betaln(a, b),
    )


def test_cli_fits_the_shared_difficulty_model(
    sim: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bayescale.cli.main import main
    from bayescale.core.sampling import use_sampler

    csv = tmp_path / "counts.csv"
    sim.to_csv(csv, index=False)
    out = tmp_path / "f.nc"
    args = ["passk", "fit", str(csv), "--out", str(out), "-q", "--draws", "30", "--chains", "2"]
    with use_sampler(prior_sampler), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*args, "--shared-difficulty", "--difficulty", "normal"]) == 0
        assert "wrote" in capsys.readouterr().out
        fit = passk.load(out)
        assert (fit.spec.model, fit.spec.difficulty) == ("shared_difficulty", "normal")
        assert main([*args, "--shared-difficulty"]) == 0
        assert passk.load(out).spec.difficulty == "skewed"
        assert main([*args, "--difficulty", "normal"]) != 0
    assert "--difficulty is an option of --shared-difficulty" in capsys.readouterr().err
    # withdrawn: not among the choices
    assert main([*args, "--shared-difficulty", "--difficulty", "flexible"]) == 2
    assert "invalid choice: 'flexible'" in capsys.readouterr().err


def test_fits_saved_with_the_withdrawn_flexible_tail_load_and_forecast(
    sim: pd.DataFrame, tmp_path: Path
) -> None:
    """difficulty='flexible' (bayescale 0.2) is refused for new fits, with the reason, but
    a file saved with it loads, forecasts with its tail weight and scores PSIS-LOO."""
    from bayescale.passk.shared import WITHDRAWN_DIFFICULTIES

    with pytest.raises(SpecificationError, match="withdrawn") as refused:
        passk.fit(sim, model="shared_difficulty", difficulty="flexible")
    assert str(refused.value) == WITHDRAWN_DIFFICULTIES["flexible"]
    skewed = _prior_fit(sim, model="shared_difficulty", difficulty="skewed")
    legacy = passk.load(skewed.save(tmp_path / "skewed.nc"))
    legacy.spec.difficulty = "flexible"  # what a flexible fit of bayescale 0.2 holds
    post = legacy.idata["posterior"].to_dataset()
    legacy.idata["posterior"] = post.assign(log_tail=xr.full_like(post["log_tail"], -0.5))
    loaded = passk.load(legacy.save(tmp_path / "flexible.nc"))
    assert loaded.spec.difficulty == "flexible"
    # a new problem's difficulty comes from the family, with the file's tail weight
    heavy = loaded.coverage([1e4], problems="population", ci_prob=0.9)
    light = skewed.coverage([1e4], problems="population", ci_prob=0.9)
    assert np.isfinite(heavy["median"]).all()
    assert not np.allclose(heavy["median"], light["median"], rtol=1e-3)
    assert np.isfinite(loaded.loo(by="problem").elpd)


def test_flexible_fits_saved_before_keep_their_scale() -> None:
    """Flexible fits of December 2026 on keep the scale of h as ``sigma_h`` (``sigma_d`` is
    the slope at the median); a posterior without it (saved before) reads ``sigma_d``."""
    from bayescale.passk.shared import SCALE_OF_H, difficulty_scale_name

    old = xr.Dataset({"sigma_d": (("chain", "draw"), np.ones((1, 3)))})
    assert difficulty_scale_name(old) == "sigma_d"
    new = old.assign({SCALE_OF_H: old["sigma_d"] / 2.0})
    assert difficulty_scale_name(new) == SCALE_OF_H == "sigma_h"


@pytest.mark.parametrize(("difficulty", "tolerance"), [("normal", 2e-5), ("skewed", 5e-6)])
def test_unsolved_quadrature_matches_adaptive_quadrature(difficulty: str, tolerance: float) -> None:
    """The trapezoid rule on UNSOLVED_NODES against scipy's adaptive quadrature: the log of
    int phi(u) prod_m BB(0 | n_m, a_m, b_m e^{d(u)}) du for random populations (the check
    behind the node counts in UNSOLVED_NODES' comment, on 40 draws)."""
    from scipy.special import logsumexp

    from bayescale.passk.shared import UNSOLVED_NODES, _unsolved_log_weights

    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(40):
        sigma_d, skew = rng.uniform(0.5, 6.0), rng.normal(0.0, 0.7)
        shape = (skew, 0.0) if difficulty == "skewed" else ()
        sigma_h = sigma_d / np.cosh(skew) if shape else sigma_d
        log_a, log_b = rng.normal(-0.5, 0.5, 7), rng.normal(3.0, 1.5, 7)
        n = rng.choice([10.0, 100.0, 1000.0, 10000.0], 7)

        def log_fail(u: np.ndarray, sigma_h=sigma_h, shape=shape, log_a=log_a, log_b=log_b, n=n):
            d = difficulty_transform(np.asarray(u)[..., None], sigma_h, *shape)
            b = np.exp(log_b + d)
            return (log_rising(b, n) - log_rising(np.exp(log_a) + b, n)).sum(-1)

        def density(u: float, log_fail=log_fail) -> float:
            return float(stats.norm.pdf(u) * np.exp(log_fail(u)))

        exact = np.log(integrate.quad(density, -12, 12, epsabs=0, epsrel=1e-12, limit=400)[0])
        nodes = UNSOLVED_NODES[difficulty]
        rule = logsumexp(log_fail(nodes) + _unsolved_log_weights(nodes))
        worst = max(worst, abs(rule - exact))
    assert worst < tolerance
