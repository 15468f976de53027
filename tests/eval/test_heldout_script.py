"""scripts/heldout_eval.py: answer rate and accuracy on the held-out RL prompts."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]


def test_heldout_eval_counts_answers_of_each_model(tmp_path, tiny_model_dir):
    rows = [{"id": f"arithmetic:{i}", "prompt": [{"role": "user", "content": f"What is {i} + 1?"}],
             "ground_truth": str(i + 1), "data_source": "arithmetic"} for i in range(5)]
    (tmp_path / "rl").mkdir()
    pl.DataFrame(rows).write_parquet(tmp_path / "rl" / "val.parquet")
    res = subprocess.run([sys.executable, str(REPO / "scripts/heldout_eval.py"), str(tiny_model_dir),
                          str(tiny_model_dir), "--format-dir", str(tmp_path), "--rows", "3",
                          "--max-new-tokens", "4"], capture_output=True, text=True, check=True)
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(lines) == 2 and lines[0] == lines[1]                   # greedy: same model, same figures
    assert lines[0]["rows"] == 3 and lines[0]["accuracy"] <= lines[0]["answer_rate"] <= 1
    assert lines[0]["answer_rate"] == 0.0      # 4 random tokens never spell a `#### N` line
