"""Comparing experiments: a real DVC repo with two experiments, compared by scripts/compare.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stages.report import compare

REPO = Path(__file__).resolve().parents[2]
STAGE = '''\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
os.makedirs("reports/metrics/eval", exist_ok=True)
acc = round(min(1.0, p["lr"] * 4), 3)
json.dump({"loss": round(1.0 - p["lr"], 3), "steps": p["steps"], "seconds": 1.0 + p["lr"]},
          open("reports/metrics/train.json", "w"))
json.dump({"n": 8, "strict": {"accuracy": acc, "ci_low": 0.0, "ci_high": 1.0},
           "flexible": {"accuracy": 0.5, "ci_low": 0.2, "ci_high": 0.8}},
          open("reports/metrics/eval/policy-gsm8k.json", "w"))
'''
DVC_YAML = '''\
stages:
  train:
    cmd: python stage.py
    deps: [stage.py]
    params: [train]
    metrics:
      - reports/metrics/train.json: {cache: false}
      - reports/metrics/eval/policy-gsm8k.json: {cache: false}
'''


@pytest.fixture(scope="module")
def exp_repo(tmp_path_factory) -> tuple[Path, dict]:
    repo = tmp_path_factory.mktemp("exprepo")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}

    def run(*cmd: str) -> None:
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)
    run("git", "init", "-q", "-b", "main")
    run("dvc", "init", "-q")
    (repo / "params.yaml").write_text("train:\n  lr: 0.1\n  steps: 8\n")
    (repo / "stage.py").write_text(STAGE)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    run("dvc", "repro", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "baseline")
    run("dvc", "exp", "run", "-q", "-n", "lr-high", "-S", "train.lr=0.2")
    run("dvc", "exp", "run", "-q", "-n", "lr-low", "-S", "train.lr=0.05")
    return repo, env


def test_parse_and_select_real_exp_show(exp_repo):
    repo, env = exp_repo
    import json

    rows = json.loads(subprocess.run(["dvc", "exp", "show", "--json"], cwd=repo, env=env, check=True,
                                     capture_output=True, text=True).stdout)
    exps = compare.parse_exp_show(rows)
    assert {"workspace", "main", "lr-high", "lr-low"} <= {e.name for e in exps}
    high, main = compare.select(exps, ["lr-high", "main"])
    assert high.params["train.lr"] == 0.2 and main.params["train.lr"] == 0.1
    assert high.metrics["eval policy-gsm8k strict"] == 0.8 and main.metrics["eval policy-gsm8k strict"] == 0.4
    assert "train: seconds" not in high.metrics                      # timings never drive a comparison
    assert compare.varying([high, main], "params") == ["train.lr"]
    with pytest.raises(KeyError, match=r"no experiment 'nope'.*valid: .*lr-high"):
        compare.select(exps, ["nope"])


def test_compare_script_writes_table_and_figure(exp_repo):
    repo, env = exp_repo
    proc = subprocess.run([sys.executable, str(REPO / "scripts/compare.py"), "lr-high", "lr-low", "main",
                           "--out", "out/cmp.md"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    md = (repo / "out/cmp.md").read_text()
    lines = md.splitlines()
    assert "| | `lr-high` | `lr-low` | `main` |" in lines
    assert "| **param** `train.lr` | 0.2 | 0.05 | 0.1 |" in lines
    assert "| eval policy-gsm8k strict | **0.8** | 0.2 | 0.4 |" in lines      # best score in bold
    assert "| train: loss | 0.8 | 0.95 | 0.9 |" in lines
    assert not any("flexible" in line or "steps" in line for line in lines)   # equal everywhere
    assert (repo / "out/cmp.png").read_bytes()[:4] == b"\x89PNG"
    assert "![comparison](cmp.png)" in lines
