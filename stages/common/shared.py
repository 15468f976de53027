"""Reference datasets (benchmark test sets, few-shot pools): where the local copy lives, and
where the pipeline reads them from.

The `datasets` stage materialises each file listed in params `datasets:` into
`paths.datasets` (from the local copy, ../shared/datasets or $LMFORGE_SHARED_DATASETS, else
from the hub at a pinned revision), so its content is a DVC-tracked input of eval and
decontamination. Outside a pipeline workspace (library use, tests) the local copy is read.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from stages.common.packages import resolve_package_file


def shared_datasets() -> Path:
    """The local copy: $LMFORGE_SHARED_DATASETS, else ../shared/datasets beside the repo."""
    env = os.environ.get("LMFORGE_SHARED_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


REPO_PARAMS = Path(__file__).resolve().parents[2] / "params" / "config.yaml"


def _params() -> dict:
    """The workspace's params.yaml, else the repo's params/config.yaml (library use, tests)."""
    params_file = Path(os.environ.get("LMFORGE_PARAMS", "params.yaml"))
    for path in (params_file, REPO_PARAMS):
        if path.exists():
            return yaml.safe_load(path.read_text()) or {}
    return {}


def datasets_dir() -> Path:
    """Where the `datasets` stage wrote its copies: `paths.datasets` of the workspace's params."""
    return Path((_params().get("paths") or {}).get("datasets") or "data/datasets")


def _package_file(rel: Path) -> Path | None:
    spec = (_params().get("datasets") or {}).get(rel.as_posix()) or {}
    if not spec.get("package"):
        return None
    return resolve_package_file(f"{spec['package']}/{spec['file']}")


def dataset_file(rel: str | Path) -> Path:
    """A reference file by its path relative to the datasets root (`gsm8k/test.jsonl`)."""
    rel = Path(rel)
    if rel.is_absolute():
        return rel
    for path in (datasets_dir() / rel, shared_datasets() / rel):
        if path.exists():
            return path
    return _package_file(rel) or shared_datasets() / rel
