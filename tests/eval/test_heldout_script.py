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


def test_markdown_table_has_a_row_per_model_with_deltas(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    from heldout_eval import write_markdown

    results = [{"model": "a", "rows": 8, "answer_rate": 0.25, "accuracy": 0.0, "max_new_tokens": 9},
               {"model": "b", "rows": 8, "answer_rate": 0.75, "accuracy": 0.5, "max_new_tokens": 9}]
    out = tmp_path / "r" / "heldout.md"
    write_markdown(out, results, ["base", "sft"], "python x")
    text = out.read_text()
    assert "| base | 0.250 | 0.000 | +0.000 | +0.000 |" in text
    assert "| sft | 0.750 | 0.500 | +0.500 | +0.500 |" in text
    assert "8 rows" in text and not list(out.parent.glob("*.tmp"))
