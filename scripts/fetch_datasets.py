"""Fill a local copy of the reference datasets (the layout of ../shared/datasets) from the hub.

    python scripts/fetch_datasets.py ../shared/datasets      # CI runners, fresh machines

Every benchmark file with an `hf:` entry in params/eval/benchmarks/*.yaml (`files:`), at its
pinned revision, written as the `datasets` stage would write it; plus the training sets the data
params read from the local copy (TRAINING). Needs network access to huggingface.co.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stages.datasets import _from_hub  # noqa: E402  (needs the sys.path entry above)

BENCHMARKS = Path(__file__).resolve().parents[1] / "params" / "eval" / "benchmarks"
TRAINING = {  # file -> hub spec (the params/data/*.yaml sources that read the local copy)
    "hh-rlhf/harmless-base-test.jsonl.gz": {"hf": "Anthropic/hh-rlhf", "split": "test",
                                            "data_dir": "harmless-base", "fields": ["chosen", "rejected"]},
}


def hub_files() -> dict[str, dict]:
    out = {}
    for path in sorted(BENCHMARKS.glob("*.yaml")):
        for name, spec in (yaml.safe_load(path.read_text()).get("files") or {}).items():
            if spec.get("hf"):
                out[f"{path.stem}/{name}"] = spec
    return {**out, **TRAINING}


def main(root: Path) -> None:
    for rel, spec in hub_files().items():
        out = root / rel
        if out.exists():
            print(f"{out}: present")
            continue
        # A training set has no pin here (its params read the local copy): take the hub's head.
        data = _from_hub(rel, {"revision": "main", **spec})
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(out)
        print(f"{out}: from {spec['hf']}@{spec.get('revision', 'main')}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets"))
