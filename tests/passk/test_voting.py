"""Majority voting, best-of-n, weighted voting and the saturating accuracy curve."""

from __future__ import annotations

import itertools
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayescale.core.errors import ConvergenceWarning, DataError, SpecificationError
from bayescale.passk.voting import (
    _best_of_n_one,
    _majority_exact,
    best_of_n_accuracy,
    majority_vote_accuracy,
    validate_answers,
    voting_limit,
    weighted_vote_accuracy,
)
from bayescale.passk.voting_curve import _curve_table, fit_voting_curve
from tests.helpers import SHARED_DATA

OBSSCALING = Path(SHARED_DATA / "ruan2024_obsscaling/eval_results/base_llm_post_training_eval.csv")


def _brute_majority(p: np.ndarray, ci: int, n: int) -> float:
    """Enumerate every multinomial outcome; ties share the win equally."""
    total = 0.0
    for x in itertools.product(range(n + 1), repeat=len(p)):
        if sum(x) != n:
            continue
        prob = math.factorial(n)
        for xi, pi in zip(x, p, strict=True):
            prob *= pi**xi / math.factorial(xi)
        top = max(x)
        if x[ci] == top:
            total += prob / sum(v == top for v in x)
    return total


def _brute_best_of_n(p: np.ndarray, r: np.ndarray, ci: int, n: int) -> float:
    """Enumerate ordered samples; the chosen one is a uniformly random top-reward sample."""
    total = 0.0
    for seq in itertools.product(range(len(p)), repeat=n):
        prob = float(np.prod(p[list(seq)]))
        rewards = r[list(seq)]
        top = [s for s, rr in zip(seq, rewards, strict=True) if rr == rewards.max()]
        total += prob * sum(s == ci for s in top) / len(top)
    return total


def answers_table(rng_seed: int = 0, models: int = 2, problems: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(rng_seed)
    rows = []
    for m in range(models):
        for j in range(problems):
            k = int(rng.integers(1, 6))
            counts = rng.multinomial(40, rng.dirichlet(np.ones(k)))
            right = int(rng.integers(k + 1)) - 1  # -1: the correct answer was not sampled
            for a in range(k):
                rows.append(
                    {
                        "model": f"m{m}",
                        "problem": f"q{j}",
                        "answer": f"a{a}",
                        "count": int(counts[a]),
                        "is_correct": a == right,
                        "reward": float(rng.normal()),
                    }
                )
    return pd.DataFrame(rows)


def one_problem(counts, correct, reward=None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "model": "m",
            "problem": "q",
            "answer": [f"a{i}" for i in range(len(counts))],
            "count": counts,
            "is_correct": [i == correct for i in range(len(counts))],
        }
    )
    if reward is not None:
        frame["reward"] = reward
    return frame


# -- validation ---------------------------------------------------------------------------
def test_validate_accepts_and_types():
    frame = answers_table()
    flags = frame["is_correct"].to_numpy()
    spelled = ["true" if f else 0 for f in flags[:10]] + [
        " FALSE " if not f else 1.0 for f in flags[10:]
    ]
    frame["is_correct"] = pd.Series(spelled, dtype=object)
    out = validate_answers(frame)
    np.testing.assert_array_equal(out["is_correct"].to_numpy(), flags)
    assert out["count"].dtype == np.int64
    assert out["is_correct"].dtype == bool
    assert len(out) == len(frame)
    assert "no sampled correct answer" in out.attrs["notes"]


def test_validate_csv_names_lines(tmp_path):
    frame = answers_table()
    frame["count"] = frame["count"].astype(float)
    frame.loc[3, "count"] = 2.5
    path = tmp_path / "answers.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(
        DataError, match=r"column 'count': not a whole number in row 3 .*CSV line 5"
    ):
        validate_answers(path)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"count": -1}, r"column 'count': must be >= 0 .* row 2 "),
        ({"is_correct": "maybe"}, r"column 'is_correct': not a boolean in row 2 .*'maybe'"),
        ({"answer": " "}, r"column 'answer': empty in row 2 "),
        ({"model": None}, r"column 'model': empty in row 2 "),
        ({"reward": "high"}, r"column 'reward': not a number in row 2 "),
    ],
)
def test_validate_row_errors(change, pattern):
    frame = answers_table()
    for col, value in change.items():
        frame[col] = frame[col].astype(object)
        frame.loc[2, col] = value
    with pytest.raises(DataError, match=pattern):
        validate_answers(frame)


def test_validate_two_correct_answers():
    frame = one_problem([3, 2, 1], correct=0)
    frame.loc[2, "is_correct"] = True
    with pytest.raises(DataError, match=r"model 'm', problem 'q' has 2 answers marked correct"):
        validate_answers(frame)


def test_validate_duplicate_answer_says_sum():
    frame = pd.concat([one_problem([3, 2], correct=0), one_problem([1], correct=-1)])
    with pytest.raises(DataError, match=r"\('m', 'q', 'a0'\) appear in more than one row.*sum"):
        validate_answers(frame)


def test_validate_problem_without_samples_and_missing_column():
    with pytest.raises(DataError, match=r"has no samples \(every count is 0\) in rows 0, 1"):
        validate_answers(one_problem([0, 0], correct=0))
    with pytest.raises(DataError, match=r"missing required column\(s\) \['is_correct'\]"):
        validate_answers(one_problem([1, 2], correct=0).drop(columns="is_correct"))


def test_reward_needed():
    with pytest.raises(DataError, match="needs a 'reward' column"):
        best_of_n_accuracy(one_problem([3, 1], correct=0), 4)
    with pytest.raises(DataError, match="needs a 'reward' column"):
        weighted_vote_accuracy(one_problem([3, 1], correct=0), 4)
    with pytest.raises(SpecificationError, match="whole numbers >= 1"):
        majority_vote_accuracy(one_problem([3, 1], correct=0), [0, 2])


# -- majority vote ------------------------------------------------------------------------
def test_majority_exact_matches_enumeration():
    rng = np.random.default_rng(1)
    cases = [(np.array([0.5, 0.5]), 0, 4), (np.ones(3) / 3, 2, 6), (np.array([1.0]), 0, 3)]
    for _ in range(40):
        k = int(rng.integers(2, 5))
        p = rng.dirichlet(np.ones(k) * rng.choice([0.5, 3.0]))
        cases.append((p, int(rng.integers(k)), int(rng.integers(1, 8))))
    for p, ci, n in cases:
        assert _majority_exact(p, ci, n) == pytest.approx(_brute_majority(p, ci, n), abs=1e-12)


def test_majority_exact_agrees_with_monte_carlo():
    table = answers_table(rng_seed=3, models=1, problems=6)
    exact = majority_vote_accuracy(table, [7, 60], method="exact")
    mc = majority_vote_accuracy(table, [7, 60], method="monte_carlo", draws=20000, seed=2)
    assert (exact["mc_se"] == 0).all() and (exact["method"] == "exact").all()
    assert (mc["mc_se"] > 0).all() and (mc["method"] == "monte_carlo").all()
    z = (mc["accuracy"] - exact["accuracy"]) / mc["mc_se"]
    assert (np.abs(z) < 4).all()


def test_monte_carlo_standard_error_is_calibrated():
    table = one_problem([5, 4, 3], correct=1)
    exact = majority_vote_accuracy(table, 9, method="exact")["accuracy"].item()
    runs = [
        majority_vote_accuracy(table, 9, method="monte_carlo", draws=500, seed=s) for s in range(40)
    ]
    values = np.array([r["accuracy"].item() for r in runs])
    se = np.mean([r["mc_se"].item() for r in runs])
    assert np.std(values, ddof=1) == pytest.approx(se, rel=0.3)
    assert abs(values.mean() - exact) < 4 * se / np.sqrt(len(runs))


def test_majority_large_n_and_limits():
    # 25 answers, the correct one strictly the most likely: tends to 1
    counts = [30] + [12] * 24
    table = one_problem(counts, correct=0)
    acc = majority_vote_accuracy(table, [1, 100, 500])
    assert acc["accuracy"].iloc[0] == pytest.approx(30 / sum(counts))
    assert acc["accuracy"].is_monotonic_increasing
    assert acc["accuracy"].iloc[-1] > 0.95
    assert voting_limit(table)["accuracy"].item() == 1.0
    # a tie for the largest probability between two answers: the limit is 1/2
    tie = one_problem([40, 40, 20], correct=1)
    assert voting_limit(tie)["accuracy"].item() == 0.5
    assert majority_vote_accuracy(tie, 401)["accuracy"].item() == pytest.approx(0.5, abs=0.01)
    # a wrong plurality: voting hurts and tends to 0
    wrong = one_problem([40, 30, 30], correct=1)
    acc = majority_vote_accuracy(wrong, [1, 300])["accuracy"].to_numpy()
    assert acc[1] < 0.05 and acc[0] == pytest.approx(0.3)
    assert voting_limit(wrong)["accuracy"].item() == 0.0


def test_auto_uses_monte_carlo_when_exact_is_too_costly(monkeypatch):
    import bayescale.passk.voting as voting

    monkeypatch.setattr(voting, "EXACT_BUDGET", 0.0)
    table = one_problem([30, 20, 20, 10], correct=0)
    out = majority_vote_accuracy(table, 20, draws=2000)
    assert out["method"].item() == "monte_carlo" and out["mc_se"].item() > 0


def test_output_shape_and_per_problem():
    table = answers_table()
    out = majority_vote_accuracy(table, [1, 3, 5])
    assert list(out.columns) == [
        "model", "n", "strategy", "accuracy", "mc_se", "method", "n_problems",
    ]  # fmt: skip
    assert len(out) == 6 and (out["n_problems"] == 12).all()
    ds = out.set_index(["model", "n"]).to_xarray()
    assert ds["accuracy"].dims == ("model", "n")
    per = majority_vote_accuracy(table, 3, per_problem=True)
    assert len(per) == 24
    mean = per.groupby("model")["accuracy"].mean()
    np.testing.assert_allclose(mean.to_numpy(), out[out.n == 3]["accuracy"].to_numpy())
    # n = 1 is the empirical probability of the correct answer
    frame = validate_answers(table)
    share = frame["count"] / frame.groupby(["model", "problem"])["count"].transform("sum")
    first = (share * frame["is_correct"]).groupby([frame["model"], frame["problem"]]).sum()
    np.testing.assert_allclose(
        first.groupby(level=0).mean().to_numpy(), out[out.n == 1]["accuracy"].to_numpy()
    )


# -- best-of-n and weighted voting --------------------------------------------------------
def test_best_of_n_matches_enumeration_with_ties():
    p = np.array([0.2, 0.3, 0.1, 0.4])
    for r in (np.array([0.5, 0.9, 0.5, 0.1]), np.array([1.0, 2.0, 3.0, 4.0])):
        for ci in range(4):
            for n in (1, 2, 4):
                assert _best_of_n_one(p, r, ci, n) == pytest.approx(
                    _brute_best_of_n(p, r, ci, n), abs=1e-12
                )


def test_best_of_n_frame_and_limit():
    table = one_problem([10, 30, 60], correct=0, reward=[0.9, 0.5, 0.1])
    out = best_of_n_accuracy(table, [1, 2, 50])
    np.testing.assert_allclose(out["accuracy"], [0.1, 1 - 0.9**2, 1 - 0.9**50])
    assert (out["strategy"] == "best_of_n").all() and (out["mc_se"] == 0).all()
    lim = voting_limit(table).set_index("strategy")["accuracy"]
    assert lim["best_of_n"] == 1.0 and lim["majority"] == 0.0
    # weighted: 0.1 * 0.9 < 0.3 * 0.5 -> the weighted limit is 0 too
    assert lim["weighted"] == 0.0


def test_weighted_vote_equal_rewards_is_majority():
    table = answers_table(rng_seed=5, models=1, problems=5)
    table["reward"] = 1.0
    exact = majority_vote_accuracy(table, 9, method="exact")
    weighted = weighted_vote_accuracy(table, 9, draws=20000, seed=4)
    z = (weighted["accuracy"] - exact["accuracy"]) / weighted["mc_se"]
    assert abs(z.item()) < 4


# -- saturating curve: table checks (no sampling) -------------------------------------------
def test_curve_table_errors():
    good = pd.DataFrame({"model": "m", "n": [1, 4], "n_correct": [30, 40], "n_problems": 100})
    bad = good.assign(n_correct=[30, 140])
    with pytest.raises(DataError, match=r"column 'n_correct': .* row 1 "):
        fit_voting_curve(bad)
    with pytest.raises(DataError, match="two or more sample counts"):
        fit_voting_curve(good.assign(n=[4, 4], model=["a", "b"]))
    with pytest.raises(DataError, match="fit one strategy at a time"):
        fit_voting_curve(good.assign(strategy=["majority", "best_of_n"]))
    with pytest.raises(SpecificationError, match="pooling"):
        fit_voting_curve(good, pooling="full")  # type: ignore[arg-type]


# -- saturating curve: one real NUTS fit ------------------------------------------------------
TRUE_CURVE = {"m_a": (0.30, 0.50), "m_b": (0.50, 0.75), "m_c": (0.70, 0.88)}
TRUE_GAMMA = 0.6


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def simulate_curve(rng_seed: int = 3, problems: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(rng_seed)
    rows = []
    for model, (a1, ainf) in TRUE_CURVE.items():
        l1, linf = _logit(a1), _logit(ainf)
        for n in (1, 2, 4, 8, 16, 32, 64):
            logit = linf - (linf - l1) * n**-TRUE_GAMMA
            acc = 1 / (1 + math.exp(-logit))
            rows.append({"model": model, "n": n, "accuracy": rng.binomial(problems, acc) / problems,
                         "n_problems": problems, "strategy": "majority"})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def curve_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return fit_voting_curve(simulate_curve(), chains=2, draws=1000, tune=1000, seed=1)


@pytest.mark.nuts
def test_curve_fit_recovers_limit(curve_fit):
    assert curve_fit.diagnostics.ok, str(curve_fit.diagnostics)
    assert curve_fit.pooling == "none"  # three models: auto does not pool
    # 98%: one data set, three models; at 90% a true limit falls outside for some MCMC seeds
    pred = curve_fit.predict([1, 64, 1000], ci_prob=0.98)
    assert (pred["ci_prob"] == 0.98).all() and set(pred["quantity"]) == {"accuracy"}
    limit = pred[np.isinf(pred["n"])].set_index("model")
    for model, (a1, ainf) in TRUE_CURVE.items():
        assert limit.loc[model, "lower"] <= ainf <= limit.loc[model, "upper"]
        row = pred[(pred.model == model) & (pred.n == 1)].iloc[0]
        assert row["lower"] - 0.03 <= a1 <= row["upper"] + 0.03
    summary = curve_fit.summary(ci_prob=0.9)
    assert "acc_inf[m_a]" in summary.index and "gamma" in summary.index
    assert "log_likelihood" in curve_fit.idata.children
    loo = curve_fit.loo()
    assert np.isfinite(loo.elpd)


# -- real data: GSM8K majority-of-5 vs first sample (Ruan et al. 2024) -----------------------
@pytest.mark.skipif(not OBSSCALING.exists(), reason=f"{OBSSCALING} is not available")
def test_obsscaling_majority_of_five_gain():
    raw = pd.read_csv(OBSSCALING)
    col = "gsm8k_cot_self_consistency_8_exact_match,"
    wide = raw[["Model", col + "score-first", col + "maj@5"]].dropna()
    wide.columns = ["model", "first", "maj5"]
    assert len(wide) == 94
    np.testing.assert_allclose(
        wide[["first", "maj5"]] * 500, np.round(wide[["first", "maj5"]] * 500)
    )
    gain = wide["maj5"] - wide["first"]
    # figures quoted in docs/voting.md
    assert gain.mean() == pytest.approx(0.0567, abs=5e-5)
    assert ((gain > 0).sum(), (gain == 0).sum(), (gain < 0).sum()) == (64, 7, 23)
    weak = wide["first"] < 0.05
    assert gain[weak].mean() < 0 < gain[~weak].mean()
    parts = [
        pd.DataFrame({"model": wide.model, "n": n, "accuracy": wide[c], "n_problems": 500})
        for n, c in ((1, "first"), (5, "maj5"))
    ]
    table = pd.concat(parts)
    data, notes = _curve_table(table)
    assert notes == [] and data["n_correct"].between(0, 500).all()


# -- partial pooling of similar curves: the geometry of the gains' population ----------------
FIRST = (0.005, 0.01, 0.015, 0.02, 0.03)
SIMILAR_CURVES = {f"m{i}": (a1, 0.25 + 0.02 * i) for i, a1 in enumerate(FIRST)}


def simulate_similar_curves(rng_seed: int = 5, problems: int = 200) -> pd.DataFrame:
    """Five models whose gains nearly agree, measured at n = 1 ... 1024 (as the gallery's
    voting example): with a sampled population scale this made a funnel."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for model, (a1, ainf) in SIMILAR_CURVES.items():
        l1, linf = _logit(a1), _logit(ainf)
        for n in 2 ** np.arange(11):
            acc = 1 / (1 + math.exp(-(linf - (linf - l1) * float(n) ** -0.4)))
            rows.append({"model": model, "n": int(n), "n_correct": rng.binomial(problems, acc),
                         "n_problems": problems})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.nuts
def test_partial_pooling_of_similar_curves_converges():
    fit = fit_voting_curve(simulate_similar_curves(), seed=0, extend_if_slow=False)
    assert fit.pooling == "partial"  # five models: auto pools
    assert fit.diagnostics.ok and fit.diagnostics.divergences == 0, str(fit.diagnostics)
    scale = fit.idata.posterior["sigma_gain"].values
    assert scale.shape == (4, 1000) and np.all(scale > 0)
    assert (
        "sigma_gain" in fit.summary().index
        and "e_gain[m0]" in fit.summary(var_names=["e_gain"]).index
    )
    pred = fit.predict([1024], ci_prob=0.98)
    for model, (a1, ainf) in SIMILAR_CURVES.items():
        row = pred[(pred.model == model) & (pred.n == 1024)].iloc[0]
        true = 1 / (1 + math.exp(-(_logit(ainf) - (_logit(ainf) - _logit(a1)) * 1024**-0.4)))
        assert row["lower"] <= true <= row["upper"]


def test_gain_scale_is_drawn_from_its_exact_conditional():
    """sigma_gain = s / sqrt(lambda), lambda | e ~ Gamma((nu + M) / 2, rate (nu + e'e) / 2)."""
    from bayescale.passk.voting_curve import _add_gain_scale

    rng = np.random.default_rng(0)
    e = np.broadcast_to(rng.normal(0.0, 2.0, size=5), (4, 5000, 5))
    post = xr.Dataset({"e_gain": (("chain", "draw", "model"), e)})
    idata = xr.DataTree.from_dict({"posterior": post})
    nu, s = 2.0, 0.1
    _add_gain_scale(idata, (nu, s), seed=1)
    lam = (s / idata.posterior["sigma_gain"].values) ** 2
    shape, rate = (nu + 5) / 2, (nu + float(np.sum(e[0, 0] ** 2))) / 2
    assert abs(lam.mean() - shape / rate) < 4 * np.sqrt(shape) / rate / np.sqrt(lam.size)
    assert abs(lam.var() / (shape / rate**2) - 1) < 0.05
