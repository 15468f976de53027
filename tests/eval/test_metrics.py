"""Intervals and pass@k against independent computations."""
from __future__ import annotations

import itertools
import math
import random

import pytest

from stages.eval.metrics import bootstrap, grouped, mean_ci, pass_at_k, wilson


@pytest.mark.parametrize("k,n,lo,hi", [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634),
                                       (10, 10, 0.7225, 1.0), (81, 100, 0.7222, 0.8749)])
def test_wilson_matches_published_values(k, n, lo, hi):
    got = wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-4)


def test_wilson_covers_the_true_rate_about_95_percent():
    rng = random.Random(0)
    p, n, trials = 0.3, 40, 2000
    hits = 0
    for _ in range(trials):
        k = sum(rng.random() < p for _ in range(n))
        lo, hi = wilson(k, n)
        hits += lo <= p <= hi
    assert 0.93 <= hits / trials <= 0.975


def test_pass_at_k_equals_brute_force_over_subsets():
    """pass@k = fraction of size-k subsets of the n samples holding at least one correct."""
    for n, c, k in [(5, 0, 1), (5, 2, 1), (5, 2, 3), (6, 1, 6), (7, 3, 2), (4, 4, 2)]:
        samples = [True] * c + [False] * (n - c)
        subsets = list(itertools.combinations(samples, k))
        brute = sum(any(s) for s in subsets) / len(subsets)
        assert pass_at_k(n, c, k) == pytest.approx(brute)
        assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_pass_at_k_needs_enough_samples():
    with pytest.raises(ValueError, match="pass@5 needs at least 5"):
        pass_at_k(3, 1, 5)


def test_mean_ci_picks_wilson_for_single_binary_samples_else_bootstrap():
    one = mean_ci([1, 0, 0, 1], samples_per_item=1)
    assert one["ci_method"] == "wilson" and one["accuracy"] == 0.5
    many = mean_ci([0.2, 0.4, 1.0, 0.0, 0.6], samples_per_item=5)
    assert many["ci_method"] == "bootstrap"
    assert many["ci_low"] <= many["accuracy"] <= many["ci_high"]


def test_bootstrap_is_seeded_and_narrows_with_n():
    rng = random.Random(1)
    small = [float(rng.random() < 0.5) for _ in range(20)]
    big = small * 10
    assert bootstrap(small, seed=3) == bootstrap(small, seed=3)
    w_small = bootstrap(small)[1] - bootstrap(small)[0]
    w_big = bootstrap(big)[1] - bootstrap(big)[0]
    assert w_big < w_small / 2


def test_grouped_counts_and_accuracies():
    rows = [{"level": 1, "correct": True}, {"level": 1, "correct": False},
            {"level": 2, "correct": True}]
    g = grouped(rows, "level")
    assert g["1"]["n"] == 2 and g["1"]["accuracy"] == 0.5
    assert g["2"]["n"] == 1 and g["2"]["accuracy"] == 1.0
