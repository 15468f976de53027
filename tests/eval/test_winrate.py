"""Preference win rate: counts, interval and sign test by hand; a tiny random reward model
(an HF sequence-classification dir, as train=rm writes) judging real completion pairs."""
from __future__ import annotations

from pathlib import Path

import pytest

from stages.eval.metrics import wilson
from stages.eval.winrate import judge, outcomes, win_rate

PROMPTS = [[{"role": "user", "content": q}] for q in
           ("What is 2 + 2?", "Name a colour.", "Say hello.", "Count to three.", "Is water wet?", "Spell cat.")]
ANSWERS = ["4", "Blue.", "Hello!", "1, 2, 3", "Yes, it is.", "C-A-T", "I don't know.", "No.", "...", "Maybe"]


@pytest.fixture(scope="module")
def rm_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny random model with a random one-label score head, saved with its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("rm") / "reward_model"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


def test_win_rate_sign_test_and_wilson_by_hand():
    r = win_rate([1.0] * 9 + [0.0], [0.0] * 9 + [1.0])           # 9 wins, 1 loss
    assert (r["wins"], r["losses"], r["ties"], r["n"], r["win_rate"]) == (9, 1, 0, 10, 0.9)
    assert r["p_value"] == pytest.approx(2 * (1 + 10) / 1024)    # 2 * P(X <= 1 | 10, 1/2) = 0.0215
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(wilson(9, 10)) and r["ci_method"] == "wilson"
    assert r["mean_margin"] == pytest.approx(0.8)


def test_ties_count_half_and_leave_the_sign_test():
    assert outcomes([3, 2, 1, 0], [1, 2, 3, -1]) == [1.0, 0.5, 0.0, 1.0]
    r = win_rate([3, 2, 1, 0], [1, 2, 3, -1])
    assert r["win_rate"] == 2.5 / 4 and (r["wins"], r["losses"], r["ties"]) == (2, 1, 1)
    assert r["p_value"] == 1.0 and r["ci_method"] == "bootstrap"   # binomtest(2, 3): p = 1
    assert win_rate([1.0, 1.05], [1.0, 1.0], tie_eps=0.1)["ties"] == 2
    with pytest.raises(ValueError, match="paired rewards: 2 policy vs 1 base"):
        win_rate([1.0, 2.0], [1.0])


def test_reward_model_judges_pairs_end_to_end(rm_dir):
    from stages.rewards.learned import load, score

    # Each prompt's policy answer is the one this RM scores highest of two: it must win all 6.
    model, tok = load(str(rm_dir))
    reward = {(i, a): score(model, tok, PROMPTS[i], [{"role": "assistant", "content": a}])
              for i in range(len(PROMPTS)) for a in ANSWERS[i:i + 2]}
    policy = [max(ANSWERS[i:i + 2], key=lambda a: reward[(i, a)]) for i in range(len(PROMPTS))]
    base = [min(ANSWERS[i:i + 2], key=lambda a: reward[(i, a)]) for i in range(len(PROMPTS))]
    pol, bas = judge(str(rm_dir), PROMPTS, policy, base)
    assert pol == [reward[(i, a)] for i, a in enumerate(policy)]      # the RL reward's own scalar
    r = win_rate(pol, bas)
    assert (r["wins"], r["win_rate"]) == (6, 1.0) and r["p_value"] == pytest.approx(2 / 64)
    swapped = win_rate(*judge(str(rm_dir), PROMPTS, base, policy))  # the other way round: all lost
    assert (swapped["losses"], swapped["win_rate"]) == (6, 0.0)
    same = win_rate(*judge(str(rm_dir), PROMPTS, policy, policy))   # identical answers: all ties
    assert (same["ties"], same["win_rate"], same["p_value"]) == (6, 0.5, 1.0)
    with pytest.raises(ValueError, match="6 prompts, 5 policy and 6 base"):
        judge(str(rm_dir), PROMPTS, policy[:5], base)


@pytest.fixture(scope="module")
def length_rm(tiny_model_dir, tmp_path_factory) -> Path:
    from length_rm import build_length_rm

    return build_length_rm(tiny_model_dir, tmp_path_factory.mktemp("rm") / "length_rm")


def test_a_length_reward_model_prefers_every_longer_answer(length_rm):
    """6 pairs, the policy's answer the longer each time: won 6 of 6, Wilson [0.61, 1], p = 2/64."""
    short = ["4", "Blue", "Hi", "1 2 3", "Yes", "C"]
    long = [s + ", and here is a longer explanation of why." for s in short]
    pol, bas = judge(str(length_rm), PROMPTS, long, short)
    assert all(p > b for p, b in zip(pol, bas))
    r = win_rate(pol, bas)
    assert (r["wins"], r["losses"], r["ties"], r["win_rate"], r["ci_method"]) == (6, 0, 0, 1.0, "wilson")
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(wilson(6, 6)) and r["ci_low"] == pytest.approx(0.6097, abs=1e-4)
    assert r["p_value"] == pytest.approx(2 / 64)
    same_length = judge(str(length_rm), PROMPTS[:2], ["abc", "dog"], ["xyz", "cat"])
    assert same_length[0] == same_length[1]                         # equal token counts: a tie


def test_settings_pick_and_reward_model_dir(tmp_path, length_rm):
    from stages.eval.data import subset_indices as pick
    from stages.eval.winrate import Settings, rm_dir, skip_reason

    keys = dict(rm=None, split="val", limit=4, subset_seed=0, max_new_tokens=8, temperature=0.0,
                batch_size=4, tie_eps=0.0)
    with pytest.raises(ValueError, match="eval.winrate.split='test': valid: val, train"):
        Settings(**{**keys, "split": "test"})
    with pytest.raises(ValueError, match="eval.winrate.limit=0"):
        Settings(**{**keys, "limit": 0})
    assert pick(10, 4, 0) == sorted(pick(10, 4, 0)) and len(set(pick(10, 4, 0))) == 4
    assert pick(10, 4, 0) != pick(10, 4, 1) and pick(3, 4, 0) == pick(3, None, 0) == [0, 1, 2]
    # a train=rm policy dir holds its reward model in reward_model/: either path works
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "reward_model").symlink_to(length_rm)
    assert rm_dir(tmp_path / "policy") == tmp_path / "policy" / "reward_model" and rm_dir(length_rm) == length_rm
    with pytest.raises(FileNotFoundError, match=r"eval.winrate.rm='.*nowhere': no reward model there"):
        rm_dir(tmp_path / "nowhere")
    assert skip_reason("/rm", 5, "v.parquet") is None
    assert skip_reason(None, 0, "v.parquet") == (
        "no reward model (eval.winrate.rm is null); no preference data (v.parquet has 0 rows: the data "
        "has no chosen/rejected pairs, or data.format.kinds lacks preference)")
