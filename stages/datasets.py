"""Reference datasets -> `paths.datasets`: the benchmark test sets and few-shot pools that eval
and decontamination read, as DVC-tracked files.   dvc repro datasets

Each file listed in params `datasets:` comes from the local copy when there is one
(../shared/datasets, or $LMFORGE_SHARED_DATASETS), else from its package, else from the hub at
its pinned revision. The `keys` stage records which (the local copy's sha256, the package
version or the revision), so replacing a test set reruns exactly the cells that read it.
"""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from tqdm import tqdm

from stages.common import cli, io, params
from stages.common.packages import resolve_package_file
from stages.common.shared import shared_datasets


def _from_package(spec: dict) -> bytes:
    return resolve_package_file(f"{spec['package']}/{spec['file']}").read_bytes()


def _from_hub(rel: str, spec: dict) -> bytes:
    import datasets

    if not spec.get("revision"):
        raise ValueError(f"datasets.{rel}: an hf source needs a pinned `revision`")
    ds = datasets.load_dataset(spec["hf"], spec.get("config"), split=spec["split"],
                               data_dir=spec.get("data_dir"), revision=spec["revision"])
    fields = spec.get("fields") or ds.column_names
    text = "".join(json.dumps({f: row[f] for f in fields}, ensure_ascii=False) + "\n" for row in ds)
    return gzip.compress(text.encode(), mtime=0) if rel.endswith(".gz") else text.encode()


def materialise(rel: str, spec: dict, out_dir: Path) -> str:
    """Write one reference file under out_dir; returns where it came from."""
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
    raise FileNotFoundError(f"datasets.{rel}: no local copy at {local} and no `hf:` or `package:` "
                            "to fetch it from")


def main() -> None:
    cfg = params.load()
    specs = params.to_dict(cfg.datasets)
    origin = {}
    with io.atomic_path(Path(cfg.paths.datasets), is_dir=True) as tmp:
        for rel, spec in tqdm(sorted(specs.items()), desc="datasets", unit="file"):
            origin[rel] = materialise(rel, spec, tmp)
    print("datasets: " + ", ".join(f"{rel} ({o})" for rel, o in origin.items()))


if __name__ == "__main__":
    cli.run(main, "datasets")
