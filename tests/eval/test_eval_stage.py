"""`python -m stages.eval` as DVC runs it: one matrix cell in a workspace, smoke params."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_model_dir) -> Path:
    from stages.common.compose import compose

    ws = tmp_path_factory.mktemp("eval-ws")
    compose(["profile=smoke", "track.mode=disabled"], ws / "params.yaml", REPO / "params")
    (ws / "models").mkdir()
    (ws / "models" / "base").symlink_to(tiny_model_dir)
    return ws


def run_stage(ws: Path, *args: str, params: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled"}
    if params:
        env["LMFORGE_PARAMS"] = str(_patched(ws, params))
    return subprocess.run([sys.executable, "-m", "stages.eval", *args], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=300)


def _patched(ws: Path, eval_over: dict) -> Path:
    cfg = yaml.safe_load((ws / "params.yaml").read_text())
    cfg["eval"].update(eval_over)
    path = ws / "params-patched.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_gsm8k_cell_writes_samples_config_and_metrics(workspace):
    res = run_stage(workspace, "--model", "base", "--bench", "gsm8k")
    assert res.returncode == 0, res.stderr[-3000:]
    cfg = yaml.safe_load((workspace / "params.yaml").read_text())
    limit = cfg["eval"]["benchmarks"]["gsm8k"]["limit"]
    metrics = json.loads((workspace / "reports/metrics/eval/base-gsm8k.json").read_text())
    assert metrics["n"] == limit and metrics["bench"] == "gsm8k" and metrics["model"] == "base"
    for block in ("strict", "flexible"):
        assert 0.0 <= metrics[block]["ci_low"] <= metrics[block]["accuracy"] <= metrics[block]["ci_high"]
    assert metrics["new_tokens"] > 0 and metrics["tokens_per_second"] > 0
    rows = [json.loads(line) for line in open(workspace / "data/eval/base-gsm8k/samples.jsonl")]
    assert len(rows) == limit
    assert {"prompt", "output", "extracted", "gold", "correct", "seconds", "extracted_flexible"} <= set(rows[0])
    assert rows[0]["prompt"].startswith("<|im_start|>")
    saved = json.loads((workspace / "data/eval/base-gsm8k/config.json").read_text())
    assert saved["params"]["eval.benchmarks.gsm8k"]["limit"] == limit and saved["params"]["bench"] == "gsm8k"
    # per-item outcomes beside the metrics (committed, so a PR pairs its items with main's)
    items = json.loads((workspace / "reports/metrics/items/base-gsm8k.json").read_text())
    assert items["ids"] == [r["id"] for r in rows] and items["n_samples"] == 1
    assert items["correct"]["correct"] == [int(r["correct"]) for r in rows]
    assert items["correct"]["correct_flexible"] == [int(r["correct_flexible"]) for r in rows]
    assert sum(items["correct"]["correct"]) == round(metrics["strict"]["accuracy"] * limit)


def test_humaneval_cell_reports_the_sandbox(workspace):
    res = run_stage(workspace, "--model", "base", "--bench", "humaneval")
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((workspace / "reports/metrics/eval/base-humaneval.json").read_text())
    assert metrics["sandbox"]["network"] in ("netns", "socket-guard")
    assert sum(metrics["status"].values()) == metrics["n"]
    assert "pass@1" in metrics and metrics["ci_method"] == "wilson"


def test_unknown_bench_and_missing_vllm_fail_with_the_fix(workspace):
    res = run_stage(workspace, "--model", "base", "--bench", "mmlu")
    assert res.returncode != 0 and "--bench 'mmlu': not in eval.benchmarks (valid: gsm8k, math500, humaneval;" in res.stderr
    try:
        import vllm  # noqa: F401
        pytest.skip("vllm is installed")
    except ImportError:
        pass
    res = run_stage(workspace, "--model", "base", "--bench", "gsm8k", params={"engine": "vllm"})
    assert res.returncode != 0
    assert "eval.engine=vllm needs vllm: on CPU `make setup-vllm`" in res.stderr


def test_missing_model_dir_names_the_stage_to_run(workspace):
    res = run_stage(workspace, "--model", "policy", "--bench", "gsm8k")
    assert res.returncode != 0 and "models/policy" in res.stderr and "dvc repro" in res.stderr


def test_eval_dtype_param_reaches_the_engine_and_the_cell_config(workspace):
    res = run_stage(workspace, "--model", "base", "--bench", "gsm8k", params={"dtype": "bfloat16"})
    assert res.returncode == 0, res.stderr[-3000:]
    saved = json.loads((workspace / "data/eval/base-gsm8k/config.json").read_text())
    assert saved["params"]["eval.dtype"] == "bfloat16"
    assert json.loads((workspace / "reports/metrics/eval/base-gsm8k.json").read_text())["dtype"] == "bfloat16"


def test_gate_pairs_a_real_cell_with_the_copy_committed_on_main(workspace):
    """PR vs main on real smoke outputs: the gsm8k cell's items, committed, read back by git,
    paired with the working tree's (unchanged: delta 0, p 1) and then with a planted loss."""
    if not (workspace / "reports/metrics/items/base-gsm8k.json").exists():
        assert run_stage(workspace, "--model", "base", "--bench", "gsm8k").returncode == 0
    ws = workspace / "gate-repo"
    for sub in ("reports/metrics/eval", "reports/metrics/items"):     # the cell, as the policy's
        src = json.loads((workspace / sub / "base-gsm8k.json").read_text())
        (ws / sub).mkdir(parents=True, exist_ok=True)
        (ws / sub / "policy-gsm8k.json").write_text(json.dumps({**src, "model": "policy"}))
    cfg = yaml.safe_load((workspace / "params.yaml").read_text())
    cfg["report"]["gate"] = {"metric": "gsm8k/flexible", "min_delta": 0.0}
    (ws / "params.yaml").write_text(yaml.safe_dump(cfg))
    git = ["git", "-C", str(ws)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "reports"], check=True)
    subprocess.run([*git, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "main"], check=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled"}
    gate = [sys.executable, "-m", "stages.report.gate", "--base", "main", "--verdict", "gate.txt"]
    res = subprocess.run(gate, cwd=ws, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    items = json.loads((ws / "reports/metrics/items/policy-gsm8k.json").read_text())
    n = len(items["ids"])
    status, reason = (ws / "gate.txt").read_text().splitlines()[:2]
    assert status == "pass" and reason.startswith("gsm8k/flexible: PR − `main` = +0.000 [")
    assert reason.endswith(f"p = 1 (McNemar +0/−0, n={n}): not significant")
    # Plant the worst regression the smoke cell allows: every item the model got right, now wrong.
    right = sum(items["correct"]["correct_flexible"])
    items["correct"]["correct_flexible"] = [0] * n
    (ws / "reports/metrics/items/policy-gsm8k.json").write_text(json.dumps(items))
    subprocess.run(gate, cwd=ws, env=env, capture_output=True, text=True, timeout=120, check=True)
    status = (ws / "gate.txt").read_text().splitlines()[0]
    assert status == ("fail" if right >= 6 else "pass")      # McNemar needs >= 6 lost of n for p < 0.05
