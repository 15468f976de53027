"""Crash safety, concurrency, reproducibility and clear failures of the real pipeline."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from e2e_workspace import env_for, make_workspace, sh, stages_run

pytestmark = pytest.mark.slow

DATA_OUTS = ["data/raw", "data/clean", "data/dedup", "data/quality", "data/format"]
KILL_AT = ["model", "ingest", "clean", "dedup", "quality", "format", "train", "eval@base-gsm8k",
           "eval@policy-humaneval", "report"]


def _tree_bytes(ws: Path, rel: str) -> dict[str, bytes]:
    root = ws / rel
    return {str(p.relative_to(ws)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _stage_process(proc: subprocess.Popen, stage: str) -> psutil.Process | None:
    """The `python -m stages.<name>` process that `dvc repro` (proc) started for `stage`, once
    the stages upstream of it have run; None when dvc ended without starting it."""
    name, _, item = stage.partition("@")
    group = psutil.Process(proc.pid)
    while proc.poll() is None:
        for child in group.children(recursive=True):
            try:
                cmd = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if f"stages.{name}" in cmd and all(part in cmd for part in item.split("-", 1) if part):
                return child
        time.sleep(0.02)
    return None


def _kill_once(ws: Path, stage: str, delay: float, force: bool) -> bool:
    """Run `dvc repro` up to `stage`; SIGKILL the whole process group `delay` seconds after the
    stage's own process started. True when that process was still running at the kill."""
    cmd = ["dvc", "repro", *(["--force", "--single-item"] if force else []), stage]
    proc = subprocess.Popen(cmd, cwd=ws, env=env_for(ws), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    child = _stage_process(proc, stage)
    if child is not None:
        time.sleep(delay)
    try:
        alive = child is not None and child.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        alive = False
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive


def _kill_during(ws: Path, stage: str, rng: random.Random) -> bool:
    """Kill `stage` mid-run at a random moment; a stage that finished first is forced to rerun
    and killed sooner."""
    delay = rng.uniform(0.3, 3.0)
    for attempt in range(3):
        if _kill_once(ws, stage, delay, force=attempt > 0):
            return True
        delay /= 5
    return False


def test_sigkill_any_stage_then_repro_equals_uninterrupted_run(smoke_repo, tmp_path):
    ws = make_workspace(tmp_path / "crash", ["profile=smoke"])
    rng = random.Random(1234)
    killed = [s for s in KILL_AT if _kill_during(ws, s, rng)]
    assert len(killed) >= len(KILL_AT) - 1, killed        # (nearly) every stage killed mid-run
    sh(["dvc", "repro"], ws)
    assert stages_run(sh(["dvc", "repro"], ws).stdout) == {"keys"}   # everything cached as complete
    for rel in DATA_OUTS:                                  # data stages: byte for byte
        assert _tree_bytes(ws, rel) == _tree_bytes(smoke_repo, rel), rel
    for bench in ("gsm8k", "math500", "humaneval"):       # greedy eval of the same base model
        a = json.loads((ws / f"reports/metrics/eval/base-{bench}.json").read_text())
        b = json.loads((smoke_repo / f"reports/metrics/eval/base-{bench}.json").read_text())
        assert {k: v for k, v in a.items() if "time" not in k and "second" not in k} == \
               {k: v for k, v in b.items() if "time" not in k and "second" not in k}
    leftovers = [str(p) for p in (ws / "data").rglob(".*.tmp")]
    assert not leftovers, leftovers


def test_training_is_reproducible_with_a_fixed_seed(smoke_repo):
    before = json.loads((smoke_repo / "reports/metrics/train.json").read_text())
    lock = yaml.safe_load((smoke_repo / "dvc.lock").read_text())
    policy_md5 = [o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"].endswith("policy")]
    sh(["dvc", "repro", "--force", "--single-item", "train"], smoke_repo)
    after = json.loads((smoke_repo / "reports/metrics/train.json").read_text())
    lock = yaml.safe_load((smoke_repo / "dvc.lock").read_text())
    assert [o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"].endswith("policy")] == policy_md5
    def results(m: dict) -> dict:                            # everything but wall-clock figures
        return {k: v for k, v in m.items() if not any(w in k for w in ("runtime", "per_s", "second"))}

    assert results(after) == results(before) and "train_loss_last" in results(after)


def test_two_queued_experiments_run_concurrently_and_stay_distinct(smoke_repo):
    for name, lr in (("lr-hi", "1e-3"), ("lr-lo", "1e-6")):
        # with Hydra on, each experiment recomposes params/ : the profile is repeated every time
        sh(["dvc", "exp", "run", "--queue", "-n", name, "-S", "profile=smoke", "-S", f"train.lr={lr}"], smoke_repo)
    sh(["dvc", "queue", "start", "-j", "2"], smoke_repo)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = sh(["dvc", "queue", "status"], smoke_repo).stdout
        if not any(w in status for w in ("Running", "Queued")):
            break
        time.sleep(5)
    assert "Failed" not in status, status + sh(["dvc", "queue", "logs", "lr-hi"], smoke_repo, check=False).stdout
    exps = json.loads(sh(["dvc", "exp", "show", "--json"], smoke_repo).stdout)
    found = {}
    for commit in exps:
        for exp in commit.get("experiments") or []:
            for rev in exp.get("revs", []):
                if rev.get("name") in ("lr-hi", "lr-lo"):
                    found[rev["name"]] = rev["data"]
    assert set(found) == {"lr-hi", "lr-lo"}, exps
    metrics = {n: d["metrics"] for n, d in found.items()}
    params = {n: d["params"]["params.yaml"]["data"]["train"]["lr"] for n, d in found.items()}
    assert params == {"lr-hi": 1e-3, "lr-lo": 1e-6}
    train = {n: m["reports/metrics/train.json"]["data"] for n, m in metrics.items()}
    assert train["lr-hi"] != train["lr-lo"]                 # each ran its own training
    base = {n: m["reports/metrics/eval/base-gsm8k.json"]["data"] for n, m in metrics.items()}
    assert base["lr-hi"]["n"] == base["lr-lo"]["n"]          # shared base cells, restored from cache


def _stage(ws: Path, stage: str, **env) -> subprocess.CompletedProcess:
    return sh([sys.executable, "-m", f"stages.{stage}"], ws, check=False, WANDB_MODE="disabled", **env)


def _one_line_error(res: subprocess.CompletedProcess, stage: str) -> str:
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert lines[-1].startswith(f"{stage}: error: "), lines[-3:]
    return lines[-1]


def test_clear_failures(smoke_repo, tmp_path):
    ws = make_workspace(tmp_path / "fail", ["profile=smoke"])
    sh(["dvc", "repro", "dedup"], ws)
    # a corrupted parquet between stages
    kept = ws / "data/dedup/kept.parquet"
    kept.write_bytes(kept.read_bytes()[:100])
    msg = _one_line_error(_stage(ws, "quality"), "quality")
    assert "data/dedup/kept.parquet" in msg and "parquet" in msg
    # a missing model file
    sh(["dvc", "repro", "model"], ws)
    (ws / "models/base/model.safetensors").unlink()
    msg = _one_line_error(sh([sys.executable, "-m", "stages.eval", "--model", "base", "--bench", "gsm8k"], ws,
                             check=False, WANDB_MODE="disabled"), "eval")
    assert "models/base" in msg
    # an unknown algorithm name: as a Hydra group and as a trainer key
    res = sh(["dvc", "exp", "run", "-S", "train=nope"], ws, check=False)
    assert res.returncode != 0 and "train/nope" in res.stderr + res.stdout
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["train"]["trainer"] = "nope"
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    msg = _one_line_error(_stage(ws, "train"), "train")
    assert "nope" in msg and "sft" in msg and "dpo" in msg


def test_out_of_disk_during_a_write_fails_clearly_and_leaves_nothing(tmp_path):
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("user+mount namespaces unavailable: cannot make a full filesystem without root")
    ws = make_workspace(tmp_path / "disk", ["profile=smoke"])
    sh(["dvc", "repro", "clean"], ws)
    (ws / "full").mkdir()
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["paths"]["dedup"] = "full/dedup"
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    script = (f"mount -t tmpfs -o size=48k tmpfs full && {sys.executable} -m stages.dedup; rc=$?; "
              "ls -A full; exit $rc")
    res = sh(["unshare", "-rm", "sh", "-c", script], ws, check=False, WANDB_MODE="disabled")
    assert res.returncode != 0
    assert "no space left on device" in res.stderr, res.stderr[-2000:]
    assert "dedup" not in res.stdout.split()                 # no partial output dir survived
