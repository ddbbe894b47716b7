"""The unbiased pass@k estimator, coverage curves and subsampling, against exact arithmetic.

The reference values are exact rationals. ``math.comb`` with ``fractions.Fraction`` for small
``n``; for ``n`` up to ``10**6`` the same ratio written as falling factorials,

    C(n-c, k) / C(n, k) = perm(n-M, m) / perm(n, m),   m = min(c, k), M = max(c, k),

whose integers have about ``m * log2(n)`` bits instead of ``n`` (``math.comb(10**6, 5 * 10**5)``
alone takes seconds). The identity is itself checked against ``math.comb`` below. Python's
``int / int`` is correctly rounded, so ``num / den`` is the double nearest to the exact value.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from bayescale.passk.estimator import (
    EXACT_TERMS,
    coverage_curve,
    log_fail_at_k,
    pass_at_k,
    subsample_counts,
)
from tests.helpers import SHARED_DATA

PYTHIA = SHARED_DATA / "monkeys_pythia_math"
COUNTS_CSV = PYTHIA / "pythia_math_per_problem_counts.csv"
ORIGINAL_PARQUET = PYTHIA / "large_language_monkeys_original_pass_at_k.parquet"

#: Accuracy claimed in the module docstring for n up to 1e6.
PASS_RTOL = 1e-12
FAIL_RTOL = 1e-8


def exact_fail(n: int, c: int, k: int) -> tuple[int, int]:
    """C(n-c, k) / C(n, k) as an integer pair (numerator, denominator), not reduced."""
    if n - c < k:
        return 0, 1
    m, big = min(c, k), max(c, k)
    return math.perm(n - big, m), math.perm(n, m)


def exact_pass_and_fail(n: int, c: int, k: int) -> tuple[float, float]:
    """Correctly rounded pass@k and 1 - pass@k."""
    num, den = exact_fail(n, c, k)
    return (den - num) / den, num / den


def chen_pass_at_k(n: int, c: int, k: int) -> float:
    """The numerically stable form in Chen et al. (2021), Figure 3, verbatim."""
    if n - c < k:
        return 1.0
    return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))


def _cases_1e6() -> list[tuple[int, int, int]]:
    """(n, c, k) at n = 1e6 (and a few smaller n) spanning both sides of EXACT_TERMS."""
    e = EXACT_TERMS
    cases = []
    n = 10**6
    sides = [1, 2, 3, 1000, e - 1, e, e + 1, e + 50, 2 * e, 3000, 2049]
    for c in [0, *sides]:
        for k in sides:
            cases.append((n, c, k))
    # one of c, k small and the other large (the product has few terms)
    for small in (1, 3, 50, e, e + 1):
        for large in (10**5, 5 * 10**5, 999_000, n - small - 1, n - small, n - 1, n):
            cases += [(n, small, large), (n, large, small)]
    # smaller n, where the terms m are a larger share of n
    for n2 in (5000, 20_000, 200_000):
        for c, k in [(1, 1), (1, n2 // 2), (e + 1, e + 1), (n2 // 3, 2), (e, n2 - e - 1)]:
            cases.append((n2, c, k))
    return sorted(set(cases))


CASES_1E6 = _cases_1e6()


# --- exact references -------------------------------------------------------------------


def test_falling_factorial_reference_equals_binomial_ratio():
    for n in range(1, 16):
        for c in range(n + 1):
            for k in range(1, n + 1):
                num, den = exact_fail(n, c, k)
                assert Fraction(num, den) == Fraction(math.comb(n - c, k), math.comb(n, k))


def test_exhaustive_small_n_matches_fractions():
    n, c, k = np.meshgrid(np.arange(1, 31), np.arange(31), np.arange(1, 31), indexing="ij")
    ok = (c <= n) & (k <= n)
    n, c, k = n[ok], c[ok], k[ok]
    got = pass_at_k(n, c, k)
    got_fail = pass_at_k(n, c, k, complement=True)
    for i in range(n.size):
        ni, ci, ki = int(n[i]), int(c[i]), int(k[i])
        fail = Fraction(math.comb(ni - ci, ki), math.comb(ni, ki))
        exact = 1 - fail
        assert got[i] == pytest.approx(float(exact), rel=PASS_RTOL, abs=0)
        assert got_fail[i] == pytest.approx(float(fail), rel=FAIL_RTOL, abs=0)


def test_large_n_matches_exact_rationals_both_sides_of_exact_terms():
    """The docstring's claim: pass@k to 1e-12 and 1 - pass@k to 1e-8 (relative), n <= 1e6."""
    n, c, k = (np.array(v) for v in zip(*CASES_1E6, strict=True))
    assert ((np.minimum(c, k) > EXACT_TERMS) & (n - c >= k)).any()  # gammaln branch covered
    assert ((np.minimum(c, k) == EXACT_TERMS) & (n - c >= k)).any()  # last log1p case
    got = pass_at_k(n, c, k)
    got_fail = pass_at_k(n, c, k, complement=True)
    for (ni, ci, ki), p, f in zip(CASES_1E6, got, got_fail, strict=True):
        want_p, want_f = exact_pass_and_fail(ni, ci, ki)
        if want_p == 0:
            assert p == 0.0, (ni, ci, ki)
        else:
            assert abs(p - want_p) <= PASS_RTOL * want_p, (ni, ci, ki, p, want_p)
        if want_f >= 1e-290:  # clear of the subnormal range, where no relative bound holds
            assert abs(f - want_f) <= FAIL_RTOL * want_f, (ni, ci, ki, f, want_f)
        else:
            assert f <= 1e-280, (ni, ci, ki, f, want_f)


def test_log_fail_matches_exact_log_ratio_beyond_float_range():
    """log(1 - pass@k) stays accurate when 1 - pass@k itself underflows."""
    cases = [
        (10**6, EXACT_TERMS + 1, 995_000),
        (10**6, EXACT_TERMS, 995_000),
        (10**6, 200, 999_000),
        (10**6, 500, 990_000),
        (10**6, 3 * EXACT_TERMS, 200_000),
        (200_000, EXACT_TERMS - 1, 100_000),
    ]
    got = log_fail_at_k(*(np.array(v) for v in zip(*cases, strict=True)))
    assert np.all(got < -746)  # exp() of these underflows to 0
    for (n, c, k), g in zip(cases, got, strict=True):
        num, den = exact_fail(n, c, k)
        want = math.log(num) - math.log(den)  # math.log of a big int is accurate to ~1 ulp
        assert abs(g - want) <= 1e-8 + 1e-12 * abs(want), (n, c, k, g, want)


def test_huge_products_are_exactly_one_with_rigorous_bounds():
    """min(c, k) far beyond EXACT_TERMS: 1 - pass@k < 2**-1100, so pass@k rounds to 1."""
    n = 10**6
    c = np.array([30_000, 500_000, 100_000, 250_000, 400_000])
    k = np.array([30_000, 500_000, 300_000, 250_000, 100_000])
    log_fail = log_fail_at_k(n, c, k)
    m, big = np.minimum(c, k), np.maximum(c, k)
    # each factor (n - M - i) / (n - i) lies in [(n - M - m + 1) / (n - m + 1), (n - M) / n]
    upper = m * np.log1p(-big / n)
    lower = m * np.log1p(-big / (n - m + 1))
    assert np.all(upper < -1100 * math.log(2))
    assert np.all((lower <= log_fail) & (log_fail <= upper))
    np.testing.assert_array_equal(pass_at_k(n, c, k), 1.0)
    np.testing.assert_array_equal(pass_at_k(n, c, k, complement=True), 0.0)


def test_identities_pass_at_1_and_single_correct():
    n = np.array([1, 7, 1000, 10**6])
    for c in (0, 1, 5):
        np.testing.assert_allclose(pass_at_k(n, np.minimum(c, n), 1), np.minimum(c, n) / n)
    k = np.array([1, 3, 999, 10**6])
    np.testing.assert_allclose(pass_at_k(n, 1, np.minimum(k, n)), np.minimum(k, n) / n)


# --- exact edge values ----------------------------------------------------------------


def test_no_correct_attempt_gives_exactly_zero():
    n = np.array([1, 10, 10**6, 10**6, 10**6])
    k = np.array([1, 10, 1, EXACT_TERMS + 1, 10**6])
    p = pass_at_k(n, 0, k)
    np.testing.assert_array_equal(p, 0.0)
    assert not np.signbit(p).any()  # 0.0, not -0.0
    np.testing.assert_array_equal(pass_at_k(n, 0, k, complement=True), 1.0)
    np.testing.assert_array_equal(log_fail_at_k(n, 0, k), 0.0)


def test_fewer_failures_than_k_gives_exactly_one():
    # n - c < k: every k-subset holds a correct attempt
    n = np.array([1, 10, 10, 10**6, 10**6, 10**6])
    c = np.array([1, 10, 3, 1, 10**6, 500_000])
    k = np.array([1, 10, 8, 10**6, 1, 500_001])
    np.testing.assert_array_equal(pass_at_k(n, c, k), 1.0)
    np.testing.assert_array_equal(pass_at_k(n, c, k, complement=True), 0.0)
    np.testing.assert_array_equal(log_fail_at_k(n, c, k), -np.inf)


def test_k_equal_n():
    n = np.array([1, 5, 10**6, 10**6])
    c = np.array([0, 2, 0, 1])
    np.testing.assert_array_equal(pass_at_k(n, c, n), [0.0, 1.0, 0.0, 1.0])


def test_boundary_n_minus_c_equal_k_is_not_certain():
    # n - c == k: exactly one k-subset has no correct attempt, 1 - pass@k = 1 / C(n, k)
    n, c, k = 10**6, 999_990, 10
    f = float(pass_at_k(n, c, k, complement=True))
    want = 1 / math.comb(n, k)
    assert f > 0 and abs(f - want) <= FAIL_RTOL * want
    assert float(pass_at_k(n, c, k)) == 1.0  # 1 - 1e-53 rounds to 1


# --- second reference: Chen et al.'s product -------------------------------------------


def test_agrees_with_chen_et_al_product_formula():
    rng = np.random.default_rng(7)
    cases = [(10**6, 3, 1000), (10**6, 10**5, 2), (10**6, 2049, 2049), (10**5, 5000, 5000)]
    for _ in range(150):
        n = int(rng.choice([1, 2, 10, 100, 10_000, 100_000]) * rng.integers(1, 10))
        c = int(rng.integers(0, min(n, 100_000) + 1))
        k = int(rng.integers(1, n + 1))
        cases.append((n, c, k))
    n, c, k = (np.array(v) for v in zip(*cases, strict=True))
    got = pass_at_k(n, c, k)
    want = np.array([chen_pass_at_k(*case) for case in cases])
    # the reference multiplies c rounded factors (relative error ~ c * 1e-16) and subtracts
    # from 1 (absolute error ~ 1e-16), so it is the less accurate of the two
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


# --- monotonicity -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "c"), [(1, 0), (1, 1), (50, 1), (1000, 0), (1000, 7), (1000, 999), (2000, 1000)]
)
def test_monotone_in_k_full_grid(n, c):
    k = np.arange(1, n + 1)
    p = pass_at_k(n, c, k)
    assert np.all(np.diff(p) >= 0)
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.diff(pass_at_k(n, c, k, complement=True)) <= 0)


@pytest.mark.parametrize("c", [1, 5, EXACT_TERMS, EXACT_TERMS + 1, 30_000])
def test_monotone_in_k_across_branches_at_n_1e6(c):
    n = 10**6
    k = np.unique(
        np.concatenate(
            [
                np.arange(1, 6000),  # across min(c, k) = EXACT_TERMS
                np.geomspace(6000, n, 400).astype(np.int64),
            ]
        )
    )
    k = k[k <= n]
    p = pass_at_k(n, c, k)
    assert np.all(np.diff(p) >= 0)
    assert p[0] == pytest.approx(c / n, rel=1e-12) and p[-1] == 1.0


# --- broadcasting -----------------------------------------------------------------------


def test_broadcasting_shapes_and_values():
    n = np.array([[100], [1000], [10**6]])  # (3, 1)
    c = np.array([[0, 1, 50, 100]])  # (1, 4)
    k = np.array([1, 10, 100]).reshape(3, 1, 1)  # (3, 1, 1)
    out = pass_at_k(n, c, k)
    assert out.shape == (3, 3, 4) and out.dtype == np.float64
    for i, j, q in np.ndindex(out.shape):
        assert out[i, j, q] == float(pass_at_k(int(n[j, 0]), int(c[0, q]), int(k[i, 0, 0])))
    assert log_fail_at_k(n, c, k).shape == (3, 3, 4)


def test_scalar_list_and_whole_float_inputs():
    out = pass_at_k(10, 1, 1)
    assert np.ndim(out) == 0 and float(out) == pytest.approx(0.1)  # a NumPy float scalar
    np.testing.assert_array_equal(
        pass_at_k([10, 20], [1, 2], 2), pass_at_k([10, 20], [1, 2], [2, 2])
    )
    assert float(pass_at_k(10.0, 1.0, 2.0)) == float(pass_at_k(10, 1, 2)) == pytest.approx(0.2)
    assert float(pass_at_k(np.float32(10), 3.0, np.uint8(4))) == float(pass_at_k(10, 3, 4))


# --- errors ---------------------------------------------------------------------------------


def test_k_larger_than_n_names_the_fix():
    with pytest.raises(
        ValueError, match=r"k larger than n_samples \(e\.g\. k=\[11\] with n_samples=\[10\]\)"
    ):
        pass_at_k([10, 20], [1, 1], 11)
    with pytest.raises(
        ValueError, match=r"cannot be estimated without bias.*bayescale\.passk\.fit"
    ):
        pass_at_k(10, 1, 11)
    with pytest.raises(ValueError, match="k larger than n_samples"):
        coverage_curve([10, 20], [1, 2], k=[1, 15])


@pytest.mark.parametrize(
    ("n", "c", "k", "pattern"),
    [
        (10, 11, 1, r"need 0 <= n_correct <= n_samples"),
        ([10, 10], [3, 11], 1, r"need 0 <= n_correct <= n_samples"),
        (10, -1, 1, r"need 0 <= n_correct <= n_samples"),
        (-5, 0, 1, r"need 0 <= n_correct <= n_samples"),
        (10, 1, 0, r"k must be at least 1"),
        (10, 1, -3, r"k must be at least 1"),
        (10.5, 1, 1, r"n_samples must hold whole numbers"),
        (10, 1.5, 1, r"n_correct must hold whole numbers"),
        (10, 1, 2.5, r"k must hold whole numbers"),
        (10, np.nan, 1, r"n_correct must hold whole numbers"),
        (np.inf, 1, 1, r"n_samples must hold whole numbers"),
        ("10", 1, 1, r"n_samples must be integers, got dtype"),
        (10, True, 1, r"n_correct must be integers, got dtype bool"),
        (10, 1, [1 + 0j], r"k must be integers, got dtype complex"),
    ],
)
def test_invalid_inputs(n, c, k, pattern):
    with pytest.raises(ValueError, match=pattern):
        pass_at_k(n, c, k)
    with pytest.raises(ValueError, match=pattern):
        log_fail_at_k(n, c, k)


# --- coverage curve -------------------------------------------------------------------------


def test_coverage_curve_is_mean_of_pass_at_k():
    rng = np.random.default_rng(3)
    n = rng.integers(100, 10_000, size=40)
    c = rng.binomial(n, rng.beta(0.3, 2.0, size=40))
    k = np.array([1, 3, 10, 57, 100])
    kk, cov = coverage_curve(n, c, k)
    np.testing.assert_array_equal(kk, k)
    want = np.array(
        [np.mean([float(pass_at_k(a, b, x)) for a, b in zip(n, c, strict=True)]) for x in k]
    )
    np.testing.assert_allclose(cov, want, rtol=1e-14)


@pytest.mark.parametrize(
    ("n", "grid"),
    [
        ([100, 250], [1, 2, 4, 8, 16, 32, 64, 100]),
        ([64, 1000], [1, 2, 4, 8, 16, 32, 64]),
        ([1, 5], [1]),
        ([3, 3], [1, 2, 3]),
        ([10_000], [2**i for i in range(14)] + [10_000]),
    ],
)
def test_coverage_curve_default_grid(n, grid):
    c = [min(x, 1) for x in n]
    k, cov = coverage_curve(n, c)
    np.testing.assert_array_equal(k, grid)
    assert k.dtype.kind == "i" and cov.shape == k.shape
    assert np.all(np.diff(cov) >= 0)
    np.testing.assert_allclose(
        cov, pass_at_k(np.asarray(n)[:, None], np.asarray(c)[:, None], k).mean(0)
    )


def test_coverage_curve_input_errors():
    with pytest.raises(ValueError, match="same, nonzero length"):
        coverage_curve([10, 10], [1])
    with pytest.raises(ValueError, match="same, nonzero length"):
        coverage_curve([], [])


# --- subsampling ----------------------------------------------------------------------------


def test_subsample_counts_mean_and_bounds():
    n = np.array([100, 1000, 50, 10_000, 60])
    c = np.array([30, 1, 50, 4000, 0])
    n_keep = 40
    reps = 20_000
    draws = subsample_counts(np.tile(n, (reps, 1)), np.tile(c, (reps, 1)), n_keep, seed=123)
    assert draws.shape == (reps, n.size) and draws.dtype.kind == "i"
    assert np.all(draws >= np.maximum(0, n_keep - (n - c)))
    assert np.all(draws <= np.minimum(c, n_keep))
    mean = n_keep * c / n
    var = n_keep * (c / n) * (1 - c / n) * (n - n_keep) / (n - 1)
    # fixed seed: deterministic; 6 standard errors would be a 1e-9 event for a fresh seed
    assert np.all(np.abs(draws.mean(0) - mean) <= 6 * np.sqrt(var / reps) + 1e-12)
    np.testing.assert_allclose(draws.var(0), var, rtol=0.05, atol=1e-12)


def test_subsample_counts_keep_all_and_seeds():
    n, c = np.array([10, 20, 30]), np.array([0, 7, 30])
    first = subsample_counts(n, c, 10, seed=1)
    np.testing.assert_array_equal(first, subsample_counts(n, c, 10, seed=1))  # reproducible
    assert first[0] == 0 and first[2] == 10  # all failures / all successes stay so
    np.testing.assert_array_equal(subsample_counts([25], [7], 25, seed=4), [7])
    a = subsample_counts(np.full(200, 100), np.full(200, 50), 20, seed=np.random.default_rng(5))
    b = subsample_counts(np.full(200, 100), np.full(200, 50), 20, seed=np.random.default_rng(6))
    assert not np.array_equal(a, b)


def test_subsample_counts_n_keep_larger_than_n():
    with pytest.raises(ValueError, match=r"n_keep=11 exceeds some n_samples \(smallest 10\)"):
        subsample_counts([10, 100], [2, 3], 11)


# --- real data: Large Language Monkeys (Brown et al. 2024), Pythia on MATH -------------------


@pytest.mark.skipif(
    not (COUNTS_CSV.exists() and ORIGINAL_PARQUET.exists()),
    reason=f"Pythia MATH data not present under {PYTHIA}",
)
def test_reproduces_large_language_monkeys_scores():
    """Their per-problem Score is the same unbiased estimator.

    Found by comparison (all 90,496 rows: 7 models x 128 problems x 101 values of k from 1
    to 10,000): Score is computed from n = 10,000 attempts per problem and agrees with our
    pass_at_k to < 1e-14 absolutely everywhere, so it is 1 - C(n-c, k)/C(n, k) in floating
    point (Chen et al.'s product form), not a rounded fraction. Their counts equal the
    per-problem CSV's for every (model, problem). ``Log Score`` is log(Score) (-inf at 0).
    """
    orig = pd.read_parquet(
        ORIGINAL_PARQUET,
        columns=[
            "Model",
            "Benchmark",
            "Problem Idx",
            "Num. Samples Total",
            "Num. Samples Correct",
            "Scaling Parameter",
            "Score",
        ],
    )
    orig = orig[orig["Benchmark"] == "MATH"]
    counts = pd.read_csv(COUNTS_CSV)
    merged = orig.merge(
        counts,
        left_on=["Model", "Problem Idx"],
        right_on=["model", "problem_idx"],
        how="inner",
        validate="many_to_one",
    )
    assert len(merged) == len(orig) > 0  # every MATH row has a counts row
    same = (merged["Num. Samples Total"] == merged["n_samples"]) & (
        merged["Num. Samples Correct"] == merged["n_correct"]
    )
    assert same.all()
    rows = merged[same]
    k = rows["Scaling Parameter"].to_numpy()
    assert k.min() == 1 and k.max() == rows["n_samples"].min()
    ours = pass_at_k(rows["n_samples"].to_numpy(), rows["n_correct"].to_numpy(), k)
    np.testing.assert_allclose(ours, rows["Score"].to_numpy(), rtol=1e-12, atol=1e-14)
    # exact zeros and ones where the estimator is exactly 0 or 1
    n_c = rows["n_samples"].to_numpy() - rows["n_correct"].to_numpy()
    zero, one = rows["n_correct"].to_numpy() == 0, n_c < k
    assert zero.any() and one.any()
    np.testing.assert_array_equal(rows["Score"].to_numpy()[zero], 0.0)
    np.testing.assert_array_equal(ours[zero], 0.0)
    np.testing.assert_array_equal(rows["Score"].to_numpy()[one], 1.0)
    np.testing.assert_array_equal(ours[one], 1.0)
