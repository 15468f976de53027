"""Paired tests with answers worked by hand: McNemar's exact p, Newcombe's interval, the bootstrap."""
from __future__ import annotations

import math

import numpy as np
import pytest

from stages.eval.metrics import Z95
from stages.eval.paired import bootstrap, compare, item_outcomes, item_scores, mcnemar, newcombe


def pairs(both: int, gained: int, lost: int, neither: int) -> tuple[list[int], list[int]]:
    """(base, policy) 0/1 outcomes with the given 2x2 counts."""
    base = [1] * both + [0] * gained + [1] * lost + [0] * neither
    policy = [1] * both + [1] * gained + [0] * lost + [0] * neither
    return base, policy


@pytest.mark.parametrize("gained, lost, p", [
    (3, 0, 0.25),                              # 2 * (1/2)^3
    (8, 1, 20 / 512),                          # 2 * (C(9,0) + C(9,1)) / 2^9 = 0.0390625
    (10, 2, 158 / 4096),                       # 2 * (1 + 12 + 66) / 2^12 = 0.03857...
    (5, 5, 1.0),                               # balanced discordance: no evidence
    (0, 0, 1.0),                               # no discordant pair at all
    (0, 6, 2 / 64),                            # a loss is as significant as a gain: 0.03125
])
def test_mcnemar_exact_p_by_hand(gained, lost, p):
    base, policy = pairs(both=7, gained=gained, lost=lost, neither=4)
    r = mcnemar(base, policy)
    assert r["p_value"] == pytest.approx(p, rel=1e-12)
    assert (r["gained"], r["lost"], r["n"]) == (gained, lost, 11 + gained + lost)
    assert r["delta"] == pytest.approx((gained - lost) / r["n"])
    assert r["ci_low"] <= r["delta"] <= r["ci_high"]


def test_concordant_items_do_not_change_the_p_value():
    """McNemar reads only discordant pairs: 1000 items both got right do not make 8/1 stronger."""
    few, many = mcnemar(*pairs(0, 8, 1, 0)), mcnemar(*pairs(1000, 8, 1, 0))
    assert few["p_value"] == many["p_value"] == pytest.approx(0.0390625)


def _wilson(x: int, n: int) -> tuple[float, float]:
    """Wilson's interval written out again (Wilson 1927), independent of stages.eval.metrics."""
    p, z2 = x / n, Z95 ** 2
    centre, half = (x + z2 / 2) / (n + z2), Z95 * math.sqrt(n * p * (1 - p) + z2 / 4) / (n + z2)
    return centre - half, centre + half


def test_newcombe_interval_by_hand_when_phi_is_zero():
    """a=2 b=3 c=1 d=2: ad - bc = 1 <= n/2, so phi = 0 and the limits are square-and-add."""
    p1, p2 = 5 / 8, 3 / 8                      # policy right on both+gained, base on both+lost
    (l1, u1), (l2, u2) = _wilson(5, 8), _wilson(3, 8)
    lo = 0.25 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = 0.25 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    assert newcombe(2, 3, 1, 2) == pytest.approx((lo, hi), abs=1e-12)
    assert newcombe(2, 3, 1, 2) == pytest.approx((-0.201498, 0.586803), abs=1e-6)


def test_newcombe_narrows_with_correlated_pairs():
    """Positively correlated pairs (most items agree) give a narrower interval than phi = 0."""
    lo, hi = newcombe(40, 6, 1, 40)            # ad - bc = 1594 >> n/2
    l1, u1 = _wilson(46, 87)
    l2, u2 = _wilson(41, 87)
    d = 5 / 87
    square_and_add = (d - math.hypot(46 / 87 - l1, u2 - 41 / 87), d + math.hypot(u1 - 46 / 87, 41 / 87 - l2))
    assert square_and_add[0] < lo < d < hi < square_and_add[1]
    assert lo > -0.01                          # 6 gained vs 1 lost out of 87: nearly excludes 0


def test_bootstrap_known_answers():
    # every item improves by exactly 0.5: the delta has no spread at all
    r = bootstrap([0.0] * 10, [0.5] * 10, resamples=999)
    assert (r["delta"], r["ci_low"], r["ci_high"]) == (0.5, 0.5, 0.5)
    assert r["p_value"] == pytest.approx(1 / 1000)          # smallest p with 999 resamples
    # nothing changes: delta 0, p 1
    r = bootstrap([0.25, 0.75] * 5, [0.25, 0.75] * 5)
    assert (r["delta"], r["ci_low"], r["ci_high"], r["p_value"]) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_ci_matches_the_normal_theory_width():
    """n=400 deltas of +-0.5 (mean 0.1): the 95% CI is mean +- 1.96 * sd / sqrt(n) within 5%."""
    rng = np.random.default_rng(1)
    d = np.where(rng.random(400) < 0.6, 0.5, -0.5)
    base = rng.random(400) * 0.5
    r = bootstrap(base, base + d, seed=3)
    half = Z95 * d.std() / math.sqrt(400)
    assert r["delta"] == pytest.approx(d.mean())
    assert (r["ci_high"] - r["ci_low"]) / 2 == pytest.approx(half, rel=0.05)
    z = abs(d.mean()) / (d.std() / math.sqrt(400))             # p from the normal approximation
    assert r["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), abs=0.01)


def test_compare_pairs_on_shared_ids_and_picks_the_test():
    base = {"a": 1.0, "b": 0.0, "c": 0.0, "x": 1.0}
    policy = {"a": 1.0, "b": 1.0, "c": 1.0, "y": 0.0}
    r = compare(base, policy)
    assert r["test"] == "mcnemar" and r["n"] == 3 and r["unpaired"] == 2 and r["gained"] == 2
    assert compare({"a": 0.5, "b": 0.0}, {"a": 1.0, "b": 0.5})["test"] == "bootstrap"


def test_item_outcomes_count_samples_and_score_any_metric():
    rows = [{"id": "t1", "correct": True, "correct_flexible": True},
            {"id": "t1", "correct": False, "correct_flexible": True},
            {"id": "t1", "correct": False, "correct_flexible": False},
            {"id": "t2", "correct": True, "correct_flexible": True},
            {"id": "t2", "correct": True, "correct_flexible": True},
            {"id": "t2", "correct": False, "correct_flexible": True}]
    out = item_outcomes(rows)
    assert out == {"ids": ["t1", "t2"], "n_samples": 3, "headline": None,
                   "correct": {"correct": [1, 2], "correct_flexible": [2, 3]}}
    assert item_scores(out, "strict") == pytest.approx({"t1": 1 / 3, "t2": 2 / 3})
    assert item_scores(out, "pass@1") == item_scores(out, "accuracy") == item_scores(out, "strict")
    assert item_scores(out, "flexible") == pytest.approx({"t1": 2 / 3, "t2": 1.0})
    assert item_scores(out, "pass@2") == pytest.approx({"t1": 1 - 1 / 3, "t2": 1.0})   # 1 - C(2,2)/C(3,2)
    with pytest.raises(ValueError, match="needs 4 samples per item"):
        item_scores(out, "pass@4")
    with pytest.raises(KeyError, match="correct_lenient"):
        item_scores(out, "lenient")
    with pytest.raises(ValueError, match="different sample counts"):
        item_outcomes(rows[:-1])
    with pytest.raises(ValueError, match="sample row 1: no `id`"):
        item_outcomes([{"correct": True}])
