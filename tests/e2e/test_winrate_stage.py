"""`python -m stages.winrate` as DVC runs it, in a workspace holding what its deps would hold:
preference val prompts, a base and a policy model dir, and a reward model.

The models are chosen so the outcome is known: the base model's final norm is zeroed, so every
logit is 0 and it only ever emits token 0 (a special token, counted as padding: an empty
answer); the policy is a random model that says something; the reward model
(tests/length_rm.py) scores longer answers higher. So the policy wins every pair: win rate 1,
Wilson [0.61, 1] for n = 6, sign test p = 2 / 2^6.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages.eval.metrics import wilson

REPO = Path(__file__).resolve().parents[2]
N_ROWS, LIMIT = 9, 6


@pytest.fixture(scope="module")
def silent_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with its final RMSNorm weight zeroed: all logits 0, greedy picks token 0."""
    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("models") / "silent"
    shutil.copytree(tiny_model_dir, out)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        model.model.norm.weight.zero_()
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def talkative_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with an untied random output head: varied, non-empty greedy text."""
    from tiny_model import untied_copy

    return untied_copy(tiny_model_dir, tmp_path_factory.mktemp("models") / "talkative")


@pytest.fixture(scope="module")
def length_rm(tiny_model_dir, tmp_path_factory) -> Path:
    from length_rm import build_length_rm

    return build_length_rm(tiny_model_dir, tmp_path_factory.mktemp("rm") / "policy" / "reward_model").parent


def workspace(root: Path, base: Path, policy: Path, n_rows: int) -> Path:
    """Smoke params, `n_rows` preference val rows, models/{base,policy} linked to the given dirs."""
    import polars as pl

    from stages.common.compose import compose
    from stages.data.format import SCHEMAS

    compose(["profile=smoke", "track.mode=disabled"], root / "params.yaml", REPO / "params")
    rows = [{"id": f"hh:{i}", "prompt": [{"role": "user", "content": f"How do I plant tree number {i}?"}],
             "chosen": [{"role": "assistant", "content": "Dig a hole."}],
             "rejected": [{"role": "assistant", "content": "No."}]} for i in range(n_rows)]
    out = root / "data/format/preference"
    out.mkdir(parents=True)
    pl.DataFrame(rows, schema=SCHEMAS["preference"]).write_parquet(out / "val.parquet")
    (root / "models").mkdir()
    (root / "models/base").symlink_to(base)
    (root / "models/policy").symlink_to(policy)
    return root


def run_stage(ws: Path, **winrate: object) -> subprocess.CompletedProcess:
    cfg = yaml.safe_load((ws / "params.yaml").read_text())
    cfg["eval"]["winrate"].update(winrate)
    (ws / "params.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled"}
    return subprocess.run([sys.executable, "-m", "stages.winrate"], cwd=ws, env=env, capture_output=True,
                          text=True, timeout=300)


def read(ws: Path) -> tuple[dict, dict, list[dict]]:
    rows = [json.loads(line) for line in open(ws / "data/eval/winrate/samples.jsonl")]
    return (json.loads((ws / "reports/metrics/winrate.json").read_text()),
            json.loads((ws / "reports/metrics/items/winrate.json").read_text()), rows)


@pytest.mark.slow
def test_longer_policy_answers_win_every_pair(tmp_path, silent_model_dir, talkative_model_dir, length_rm):
    ws = workspace(tmp_path, silent_model_dir, talkative_model_dir, N_ROWS)
    res = run_stage(ws, rm=str(length_rm), limit=LIMIT, max_new_tokens=8, batch_size=4)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics, items, rows = read(ws)
    assert (metrics["skipped"], metrics["n"], metrics["rows_available"]) == (False, LIMIT, N_ROWS)
    assert (metrics["wins"], metrics["ties"], metrics["losses"], metrics["win_rate"]) == (LIMIT, 0, 0, 1.0)
    assert (metrics["ci_low"], metrics["ci_high"]) == pytest.approx(wilson(LIMIT, LIMIT))
    assert metrics["ci_method"] == "wilson" and metrics["p_value"] == pytest.approx(2 / 2 ** LIMIT)
    assert metrics["base"]["new_tokens"] == 0 < metrics["policy"]["new_tokens"] <= 8 * LIMIT
    assert all(r["base"] == "" and r["policy"].strip() for r in rows)
    assert metrics["mean_margin"] == pytest.approx(sum(r["policy_reward"] - r["base_reward"] for r in rows) / LIMIT)
    assert items["ids"] == [r["id"] for r in rows] and len(set(items["ids"])) == LIMIT
    assert items["outcome"] == [1.0] * LIMIT and items["policy_reward"] == [r["policy_reward"] for r in rows]
    assert metrics["seconds"] > 0 and "winrate: 1.000" in res.stdout
    saved = json.loads((ws / "data/eval/winrate/config.json").read_text())
    assert saved["params"]["eval.winrate"]["limit"] == LIMIT


@pytest.mark.slow
def test_the_same_model_on_both_sides_ties_everywhere(tmp_path, silent_model_dir, length_rm):
    ws = workspace(tmp_path, silent_model_dir, silent_model_dir, N_ROWS)
    res = run_stage(ws, rm=str(length_rm / "reward_model"), limit=None, max_new_tokens=4, batch_size=8)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics, items, _ = read(ws)
    assert (metrics["n"], metrics["ties"], metrics["win_rate"], metrics["p_value"]) == (N_ROWS, N_ROWS, 0.5, 1.0)
    assert items["outcome"] == [0.5] * N_ROWS


def test_no_reward_model_and_no_preference_rows_skip_with_the_reason(tmp_path, silent_model_dir):
    ws = workspace(tmp_path, silent_model_dir, silent_model_dir, 0)
    res = run_stage(ws)                                  # the smoke default: rm null
    assert res.returncode == 0, res.stderr[-3000:]
    metrics, items, rows = read(ws)
    reason = ("no reward model (eval.winrate.rm is null); no preference data (data/format/preference/val.parquet "
              "has 0 rows: the data has no chosen/rejected pairs, or data.format.kinds lacks preference)")
    assert metrics["skipped"] is True and metrics["reason"] == reason and "win_rate" not in metrics
    assert items == {"skipped": reason} and rows == []
    assert f"winrate: skipped: {reason}" in res.stdout


def test_a_missing_reward_model_is_an_error_naming_the_key(tmp_path, silent_model_dir):
    ws = workspace(tmp_path, silent_model_dir, silent_model_dir, 3)
    res = run_stage(ws, rm=str(tmp_path / "no-such-rm"))
    assert res.returncode == 1
    assert f"winrate: error: eval.winrate.rm='{tmp_path / 'no-such-rm'}': no reward model there" in res.stderr
    assert not (ws / "reports/metrics/winrate.json").exists()
