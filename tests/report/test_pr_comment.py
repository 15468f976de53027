"""The PR comment: two metrics states (base branch, PR) -> the expected markdown.

The last test builds a real git + DVC repo with a metrics file on main and a changed one in
the workspace, and runs scripts/pr_comment.py on it (real `dvc metrics diff --json`).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from stages.report import prcomment
from stages.report.inputs import Curve

REPO = Path(__file__).resolve().parents[2]
MAIN = {
    "reports/metrics/train.json": {"train_loss": 1.5, "steps": 8, "old_only": 3, "seconds": 40.0,
                                   "grad_norm": 0.5},
    "reports/metrics/eval/base-gsm8k.json": {"n": 8, "strict.accuracy": 0.125, "strict.ci_low": 0.02,
                                             "strict.ci_high": 0.47},
    "reports/metrics/eval/policy-gsm8k.json": {"n": 8, "strict.accuracy": 0.25, "strict.ci_low": 0.07,
                                               "strict.ci_high": 0.59},
}
PR = {
    "reports/metrics/train.json": {"train_loss": 1.2, "steps": 8, "new_only": 7, "seconds": 44.5,
                                   "grad_norm": float("nan")},
    "reports/metrics/eval/base-gsm8k.json": dict(MAIN["reports/metrics/eval/base-gsm8k.json"]),
    "reports/metrics/eval/policy-gsm8k.json": {"n": 8, "strict.accuracy": 0.5, "strict.ci_low": 0.22,
                                               "strict.ci_high": 0.78},
}


def test_diff_classifies_changed_added_removed_nan():
    by_key = {(c.path.rsplit("/", 1)[-1], c.key): c for c in prcomment.diff_states(MAIN, PR)}
    assert by_key[("train.json", "train_loss")].status == "changed"
    assert by_key[("train.json", "new_only")].status == "added"
    assert by_key[("train.json", "old_only")].status == "removed"
    assert by_key[("train.json", "grad_norm")].status == "changed"
    assert by_key[("train.json", "steps")].status == "unchanged"
    nan_both = prcomment.diff_states({"m": {"x": float("nan")}}, {"m": {"x": float("nan")}})
    assert [c.status for c in nan_both] == ["unchanged"]


def test_rendered_comment_lines():
    curves = [Curve("train/loss", [0, 1, 2, 3], [2.0, 1.5, 1.2, 1.0])]
    md = prcomment.render(MAIN, PR, curves, "lmforge experiment `exp-1`", "origin/main",
                          links={"full report": "https://example.invalid/run/1"})
    lines = md.splitlines()
    assert lines[0] == prcomment.MARKER
    assert "**6** changed · **1** added · **1** removed · **6** unchanged  " in lines
    assert "| `train.json` | `train_loss` | 1.5 | 1.2 | ▼ -0.3 (-20.0%) |" in lines
    assert "| `train.json` | `new_only` | — | 7 | 🆕 added |" in lines
    assert "| `train.json` | `old_only` | 3 | — | ➖ removed |" in lines
    assert "| `train.json` | `grad_norm` | 0.5 | NaN | ⚠️ NaN |" in lines
    assert "| `eval/policy-gsm8k.json` | `strict.accuracy` | 0.25 | 0.5 | ▲ +0.25 (+100.0%) |" in lines
    # timing noise is folded away, unchanged metrics too
    assert "<details><summary>1 timing changes</summary>" in lines
    main_table = md.split("<details>")[0]
    assert "`seconds`" not in main_table and "`steps`" not in main_table and "ci_low" not in main_table
    assert "<details><summary>2 confidence-interval and breakdown changes</summary>" in lines
    assert "| `eval/policy-gsm8k.json` | `strict.ci_low` | 0.07 | 0.22 | ▲ +0.15 (+214.3%) |" in lines
    assert "`n`" not in md                                          # unchanged metrics are only counted
    # eval: policy vs base model in this PR, and vs the policy on the base branch
    assert ("| gsm8k | strict | 0.125 [0.02, 0.47] | 0.500 [0.22, 0.78] | **+0.375** | 0.250 [0.07, 0.59] "
            "| **+0.250** |") in lines
    assert "| `train/loss` | `█▄▂▁` | 2 | 1 | 1 |" in lines
    assert "    line [2, 1.5, 1.2, 1]" in lines
    assert lines[-1] == "[full report](https://example.invalid/run/1)"


def test_long_folded_groups_are_capped():
    old = {"m.json": {f"g.by_k.{i}.acc": 0.0 for i in range(200)}}
    new = {"m.json": {f"g.by_k.{i}.acc": 1.0 for i in range(200)}}
    md = prcomment.render(old, new, [], "t", "main")
    assert md.count("| `m.json` | `g.by_k.") == prcomment.MAX_ROWS
    assert f"_… and {200 - prcomment.MAX_ROWS} more (`dvc metrics diff main --all`)._" in md


def test_comment_without_eval_or_curves_says_so():
    md = prcomment.render({}, {"reports/metrics/clean.json": {"rows_kept": 10}}, [], "t", "main")
    assert "_No eval metrics in this run._" in md and "_No training curves in this run._" in md
    assert "| `clean.json` | `rows_kept` | — | 10 | 🆕 added |" in md


def test_win_rate_of_the_pr_and_of_the_base_branch():
    """Both runs' win rate with CI, counts, sign-test p and n; a skipped run says why."""
    main = {"reports/metrics/winrate.json": {"skipped": False, "win_rate": 0.5, "ci_low": 0.33, "ci_high": 0.67,
                                             "wins": 14, "ties": 4, "losses": 14, "p_value": 1.0, "n": 32}}
    pr = {"reports/metrics/winrate.json": {"skipped": False, "win_rate": 0.6875, "ci_low": 0.5, "ci_high": 0.82,
                                           "wins": 22, "ties": 0, "losses": 10, "p_value": 0.05, "n": 32}}
    lines = prcomment.render(main, pr, [], "t", "origin/main").splitlines()
    head = lines.index("### Preference win rate (reward model judge)")
    assert lines[head + 4:head + 6] == ["| this PR | 0.688 [0.50, 0.82] | 22 / 0 / 10 | 0.05 | 32 |",
                                        "| `origin/main` | 0.500 [0.33, 0.67] | 14 / 4 / 14 | 1 | 32 |"]
    assert "| `winrate.json` | `win_rate` | 0.5 | 0.6875 | ▲ +0.1875 (+37.5%) |" in lines
    skipped = {"reports/metrics/winrate.json": {"skipped": True, "reason": "no reward model (eval.winrate.rm is null)"}}
    assert "_Skipped: no reward model (eval.winrate.rm is null)._" in prcomment.render({}, skipped, [], "t", "main")
    assert "_No win-rate metrics in this run._" in prcomment.render({}, {}, [], "t", "main")


def test_states_from_dvc_diff_json():
    diff = {"m.json": {"a": {"old": 1, "new": 2, "diff": 1}, "b": {"old": None, "new": 3},
                       "c": {"old": 4, "new": None}, "d": {"old": 1.0, "new": float("nan"), "diff": float("nan")}}}
    old, new = prcomment.states_from_dvc_diff(diff)
    assert old == {"m.json": {"a": 1, "c": 4, "d": 1.0}}
    assert new["m.json"]["a"] == 2 and new["m.json"]["b"] == 3 and math.isnan(new["m.json"]["d"])
    assert "c" not in new["m.json"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_script_on_a_real_dvc_repo(tmp_path):
    """main has metrics committed; the workspace changes, adds, removes a metric and writes NaN."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}
    _git(repo, "init", "-q", "-b", "main")
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True, env=env)
    (repo / "params.yaml").write_text("train:\n  lr: 0.1\n")
    (repo / "dvc.yaml").write_text("stages:\n  train:\n    cmd: 'true'\n    params: [train]\n"
                                   "    metrics: [{reports/metrics/train.json: {cache: false}}]\n")
    metrics = repo / "reports/metrics/train.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text(json.dumps({"loss": 2.0, "gone": 1, "kl": 0.5}))
    _git(repo, "add", "-A")
    subprocess.run(["git", "commit", "-qm", "main"], cwd=repo, check=True, env=env)
    metrics.write_text('{"loss": 1.5, "kl": NaN, "fresh": 4}')
    (repo / "params.yaml").write_text("train:\n  lr: 0.2\n")
    out = repo / "comment.md"
    proc = subprocess.run([sys.executable, str(REPO / "scripts/pr_comment.py"), "--base", "main",
                           "--out", str(out), "--title", "smoke"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    md = out.read_text()
    assert "| `train.json` | `loss` | 2 | 1.5 | ▼ -0.5 (-25.0%) |" in md
    assert "| `train.json` | `gone` | 1 | — | ➖ removed |" in md
    assert "| `train.json` | `fresh` | — | 4 | 🆕 added |" in md
    assert "| `train.json` | `kl` | 0.5 | NaN | ⚠️ NaN |" in md
    assert "| `train.lr` | 0.1 | 0.2 |" in md
