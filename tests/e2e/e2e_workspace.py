"""End-to-end: a temp copy of the repo, the smoke profile, the real `dvc repro`."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from built_once import built_once

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL_SKIP = {".venv", ".git", "data", "models", "checkpoints", "wandb_runs", ".pytest_cache",
                  ".hypothesis", "dvc.lock", "bench", "tests", ".gl", ".whl", "reports", ".bench", ".tools"}


def COPY_IGNORE(src: str, names: list[str]) -> set[str]:
    """Skip the workspace's own outputs at the top level, caches everywhere."""
    skip = {n for n in names if n == "__pycache__" or n.endswith(".egg-info") or n.startswith(".venv")}
    if Path(src) == REPO / ".dvc":
        skip |= {"cache", "tmp"} & set(names)
    return skip | (TOP_LEVEL_SKIP & set(names) if Path(src) == REPO else set())
CANARIES = {"WANDB_API_KEY": "wandbcanary0123456789abcdef0123456789abcd", "HF_TOKEN": "hf_canaryTOKENvalue42"}


def env_for(workdir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "PYTEST_"))}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", WANDB_MODE="offline",
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               LMFORGE_SHARED_DATASETS=str(REPO.parent / "shared" / "datasets"), **CANARIES)
    env.update(extra)
    return env


def sh(cmd: list[str] | str, cwd: Path, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=cwd, env=env_for(cwd, **extra), capture_output=True, text=True,
                         shell=isinstance(cmd, str))
    if check and res.returncode != 0:
        raise AssertionError(f"{cmd} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-6000:]}")
    return res


def make_workspace(dest: Path, overrides: list[str]) -> Path:
    """A git+dvc repo with the project's files and params.yaml composed from `overrides`."""
    shutil.copytree(REPO, dest, ignore=COPY_IGNORE)
    sh(["git", "init", "-q", "-b", "main"], dest)
    sh(["git", "config", "user.email", "t@t"], dest)
    sh(["git", "config", "user.name", "t"], dest)
    sh([sys.executable, "-m", "stages.common.compose", *overrides], dest)
    sh("git add -A && git commit -qm init", dest)
    return dest


TRACER = Path(__file__).resolve().parent / "tracer"      # sitecustomize: an audit hook per stage


def stages_run(stdout: str) -> set[str]:
    """The stages `dvc repro` ran, from its "Running stage 'x':" lines."""
    return {line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage '")}


def reproduce_smoke(ws: Path) -> None:
    """The smoke profile reproduced, every stage process traced (tests/e2e/tracer: the files each
    one opens, in <ws>/.trace)."""
    make_workspace(ws, ["profile=smoke"])
    trace = ws / ".trace"
    trace.mkdir()
    res = sh(["dvc", "repro"], ws, PYTHONPATH=str(TRACER), LMFORGE_TRACE_DIR=str(trace))
    (ws / "repro.log").write_text(res.stdout + res.stderr)


def copy_workspace(src: Path, dest: Path) -> Path:
    """A reproduced workspace under another path: DVC and git hold relative paths; the trace's
    absolute ones are rewritten."""
    shutil.copytree(src, dest, symlinks=True)
    for log in (dest / ".trace").glob("*.jsonl"):
        text = log.read_text()
        for old in {str(src), str(src.resolve())}:
            text = text.replace(f'"{old}/', f'"{dest}/')
        log.write_text(text)
    return dest


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory) -> Path:
    """The smoke workspace reproduced once per test run, shared by the xdist workers: read-only,
    tests take copies (copy_workspace)."""
    return built_once(tmp_path_factory, "smoke-repo", reproduce_smoke)


@pytest.fixture(scope="session")
def smoke_repo(smoke_build, tmp_path_factory) -> Path:
    """This worker's copy of the smoke workspace: tests read its outputs and run more stages and
    experiments in it."""
    return copy_workspace(smoke_build, tmp_path_factory.mktemp("e2e") / "repo")
