"""Regenerate the committed baseline: dvc.lock and reports/ of the CI profile, made by this code.

    make baseline            # then commit dvc.lock and reports/

Pull requests diff their metrics against main's (`dvc metrics diff main`), so main's lock and
metrics must be what main's own code and params produce. This runs the CI profile in a fresh
copy of the repo's tracked files (nothing in this checkout's data/ or models/ is reused) and
copies the lock and every uncached report output back. The test suite fails, naming this
command, when the committed lock no longer matches the code or params (tests/e2e/test_baseline.py).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE = "profile=ci"


def _env() -> dict:
    """The run reads this checkout's local copy of the reference datasets, when it has one."""
    local = REPO.parent / "shared" / "datasets"
    env = dict(os.environ)
    if "LMFORGE_SHARED_DATASETS" not in env and local.is_dir():
        env["LMFORGE_SHARED_DATASETS"] = str(local)
    return env


def _run(cmd: list[str], cwd: Path) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True, env=_env())


def workspace(dest: Path) -> Path:
    """The tracked files of this checkout (committed or not), as a new git repo."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file() and rel != "dvc.lock":
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                ["git", "-c", "user.name=baseline", "-c", "user.email=baseline@localhost",
                 "commit", "-qm", "baseline"]):
        _run(cmd, dest)
    return dest


def report_outputs(lock: dict) -> list[str]:
    """Every uncached out under reports/ (metrics, report, figures, plots)."""
    return sorted({o["path"] for s in lock["stages"].values() for o in s.get("outs", [])
                   if o["path"].startswith("reports/")})


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lmforge-baseline-") as tmp:
        ws = workspace(Path(tmp))
        _run([sys.executable, "-m", "stages.common.compose", PROFILE], ws)
        _run(["dvc", "repro"], ws)
        lock = yaml.safe_load((ws / "dvc.lock").read_text())
        shutil.copy2(ws / "dvc.lock", REPO / "dvc.lock")
        for rel in report_outputs(lock):
            src, dst = ws / rel, REPO / rel
            if dst.is_dir():
                shutil.rmtree(dst)
            if src.is_dir():
                shutil.copytree(src, dst)
            elif src.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    print("baseline: dvc.lock and reports/ regenerated from the CI profile; commit them")


if __name__ == "__main__":
    main()
