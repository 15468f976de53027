"""Fixtures for the data-factory tests: the reference datasets (skip when absent), profiles."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml

from stages.common.shared import shared_datasets

PARAMS = Path(__file__).resolve().parents[2] / "params" / "data"


def _need(rel: str) -> Path:
    path = shared_datasets() / rel
    if not path.exists():
        pytest.skip(f"reference dataset {path} absent (tests need ../shared/datasets)")
    return path


@pytest.fixture(scope="session")
def gsm8k_train() -> list[dict]:
    return [json.loads(x) for x in _need("gsm8k/train.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def gsm8k_test() -> list[dict]:
    return [json.loads(x) for x in _need("gsm8k/test.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def hh_rows() -> list[dict]:
    raw = gzip.decompress(_need("hh-rlhf/harmless-base-test.jsonl.gz").read_bytes()).decode()
    return [json.loads(x) for x in raw.splitlines()]


@pytest.fixture(scope="session")
def profiles() -> dict:
    """The clean profiles exactly as params ship them (web, instruct, dialogue)."""
    return yaml.safe_load((PARAMS / "profiles" / "clean.yaml").read_text())


@pytest.fixture(scope="session")
def factory() -> dict:
    return yaml.safe_load((PARAMS / "profiles" / "factory.yaml").read_text())
