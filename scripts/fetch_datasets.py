"""Write the reference datasets from the HF hub in the layout of ../shared/datasets.

    python scripts/fetch_datasets.py ../shared/datasets      # CI runners, fresh machines

Eval and decontamination read these files (params: eval.benchmarks.*.source,
data.decontam.benchmarks). Needs network access to huggingface.co.
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

SETS = [  # (hub id, config, split, data_dir, file, fields kept)
    ("openai/gsm8k", "main", "train", None, "gsm8k/train.jsonl", ["question", "answer"]),
    ("openai/gsm8k", "main", "test", None, "gsm8k/test.jsonl", ["question", "answer"]),
    ("HuggingFaceH4/MATH-500", None, "test", None, "math500/test.jsonl",
     ["problem", "solution", "answer", "subject", "level", "unique_id"]),
    ("Anthropic/hh-rlhf", None, "test", "harmless-base", "hh-rlhf/harmless-base-test.jsonl.gz",
     ["chosen", "rejected"]),
]


def main(root: Path) -> None:
    import datasets

    for hub_id, config, split, data_dir, rel, fields in SETS:
        out = root / rel
        if out.exists():
            print(f"{out}: present")
            continue
        ds = datasets.load_dataset(hub_id, config, split=split, data_dir=data_dir)
        lines = "".join(json.dumps({f: row[f] for f in fields}, ensure_ascii=False) + "\n" for row in ds)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(gzip.compress(lines.encode()) if rel.endswith(".gz") else lines.encode())
        tmp.replace(out)
        print(f"{out}: {len(ds)} rows from {hub_id}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets"))
