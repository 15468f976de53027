"""PR vs base branch on the same items, and the merge gate: a planted regression fails it, noise
passes it. The base branch is a real git commit holding the items files, read back with git."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from report_fixtures import build_workspace, write_json
from stages.eval.metrics import mean_ci
from stages.eval.paired import item_outcomes
from stages.report import gate, prcomment

N = 40
MAIN_RIGHT = set(range(30))                 # the policy on main: items 0..29 right (0.750)


def write_policy_gsm8k(root: Path, right: set[int]) -> None:
    """The policy's gsm8k cell as the eval stage writes it: metrics json + per-item outcomes."""
    rows = [{"id": f"gsm8k:{i}", "sample": 0, "correct": i in right, "correct_flexible": i in right}
            for i in range(N)]
    scores = mean_ci([float(i in right) for i in range(N)], 1)
    write_json(root / "reports/metrics/eval/policy-gsm8k.json",
               {"model": "policy", "bench": "gsm8k", **scores, "strict": scores, "flexible": scores, "n": N})
    write_json(root / "reports/metrics/items/policy-gsm8k.json",
               {"model": "policy", "bench": "gsm8k", **item_outcomes(rows)})


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """The fixture workspace committed as `main`, then the gate switched on in the working tree."""
    root = build_workspace(tmp_path / "ws")
    write_policy_gsm8k(root, MAIN_RIGHT)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "main")
    cfg = yaml.safe_load((root / "params.yaml").read_text())
    cfg["report"]["gate"] = {"metric": "gsm8k/strict", "min_delta": 0.0}
    (root / "params.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(root)
    monkeypatch.delenv("LMFORGE_PARAMS", raising=False)
    return root


def run_gate(root: Path) -> tuple[gate.Verdict, str]:
    comment = root / "comment.md"
    comment.write_text(prcomment.render({}, {}, [], "t", "main"))
    verdict = gate.main(["--base", "main", "--comment", str(comment), "--verdict", str(root / "gate.txt")])
    assert (root / "gate.txt").read_text().splitlines()[0] == verdict.status
    return verdict, comment.read_text()


def test_planted_regression_fails_the_gate(repo):
    write_policy_gsm8k(repo, set(range(18)))       # 12 items lost, none gained: 0.750 -> 0.450
    verdict, comment = run_gate(repo)
    assert verdict.status == "fail"
    # McNemar: 0 gained, 12 lost -> p = 2 * 0.5^12 = 0.000488
    assert "gsm8k/strict: PR − `main` = -0.300" in verdict.reason and "p = 0.000488 (McNemar +0/−12, n=40)" in verdict.reason
    assert "significant regression (p < 0.05) below report.gate.min_delta=0" in verdict.reason
    assert "**Merge gate** (`report.gate`): ❌ **failed**" in comment
    assert "| gsm8k | strict | -0.300 |" in comment


def test_noise_passes_the_gate(repo):
    # 3 items lost, 1 gained (0.750 -> 0.700): McNemar p = 2 * (1 + 4) / 16 = 0.625
    write_policy_gsm8k(repo, (MAIN_RIGHT - {0, 1, 2}) | {35})
    verdict, comment = run_gate(repo)
    assert verdict.status == "pass" and "-0.050" in verdict.reason and "p = 0.625" in verdict.reason
    assert verdict.reason.endswith("not significant")
    assert "✅ passed" in comment


def test_significant_gain_passes_and_the_section_sits_before_the_metrics_diff(repo):
    write_policy_gsm8k(repo, set(range(40)))        # 10 gained: p = 2 * 0.5^10
    verdict, comment = run_gate(repo)
    assert verdict.status == "pass" and "+0.250" in verdict.reason and "not below min_delta=0" in verdict.reason
    assert comment.index("### Eval") < comment.index("### Paired tests") < comment.index("### Metrics vs")
    assert "| gsm8k | strict | +0.250 | " in comment and "**0.00195 (McNemar +10/−0, n=40)**" in comment
    # base vs policy of this run sits in the same section: gsm8k base 1/8 (items 0..0) vs policy 40/40
    assert "| math500 | accuracy | +0.333 |" in comment


def test_gate_off_unknown_metric_and_no_baseline(repo):
    rows = gate.pr_vs_base({}, {}, [("gsm8k", "strict")])
    assert rows == []
    keys = [("gsm8k", "strict")]
    assert gate.check(rows, keys, {"metric": None}, 0.05, "main").status == "off"
    bad = gate.check(rows, keys, {"metric": "gsm8k/exact"}, 0.05, "main")
    assert bad.status == "fail" and "valid: gsm8k/strict" in bad.reason
    first = gate.check(rows, keys, {"metric": "gsm8k/strict"}, 0.05, "main")
    assert first.status == "pass" and "no per-item outcomes on `main`" in first.reason


def test_items_at_reads_the_committed_files(repo):
    items = gate.items_at("main", "reports/metrics/items")
    assert sorted(items) == sorted({(m, b) for m in ("base", "policy") for b in ("gsm8k", "math500", "humaneval")})
    assert sum(items[("policy", "gsm8k")]["correct"]["correct"]) == 30
    assert json.loads(git(repo, "show", "main:reports/metrics/items/base-gsm8k.json"))["ids"][0] == "gsm8k:0"
