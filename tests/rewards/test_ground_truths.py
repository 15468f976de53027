"""Ground truths from a user's data, through ingest, to the rewards: a float column stores
`145`, not `145.0`, and an answer `#### 145` earns its reward whatever the stored form."""
from __future__ import annotations

import json

import polars as pl
import pytest

from stages import rewards
from stages.data.canonical import ingest_source


def _ingest(path):
    return ingest_source({"name": "u", "kind": "file", "path": str(path),
                          "fields": {"prompt": "q", "ground_truth": "gt"}})


@pytest.mark.parametrize("value,stored", [(145.0, "145"), (1.84, "1.84"), (-2.5, "-2.5"), (0.0, "0"),
                                          (1e20, "100000000000000000000"), (3, "3"), ("145.0", "145"),
                                          ("1.840", "1.84"), ("007", "007"), ("x = 2", "x = 2")])
def test_jsonl_ground_truths_are_stored_canonically(tmp_path, value, stored):
    path = tmp_path / "u.jsonl"
    path.write_text(json.dumps({"q": "how many?", "gt": value}) + "\n")
    assert _ingest(path).rows[0]["ground_truth"] == stored


def test_float_column_in_parquet_earns_the_reward(tmp_path):
    pl.DataFrame({"q": ["a?", "b?", "c?"], "gt": [145.0, 2.5, 18.0]}).write_parquet(tmp_path / "u.parquet")
    rows = _ingest(tmp_path / "u.parquet").rows
    assert [r["ground_truth"] for r in rows] == ["145", "2.5", "18"]
    gsm8k, exact = rewards.get("gsm8k"), rewards.get("exact")
    for r, answer in zip(rows, ("145", "2.50", "18")):
        assert gsm8k(f"work...\n#### {answer}", r["ground_truth"], {}) == 1.0
        assert exact(answer, r["ground_truth"], {}) == 1.0
        assert rewards.get("format")(f"#### {answer}", r["ground_truth"], {}) == 1.0


def test_response_hash_ground_truth_is_canonical(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(json.dumps({"q": "?", "a": f"so\n#### {v}"}) for v in ("145.0", "1,000.50", "7")))
    got = ingest_source({"name": "h", "kind": "file", "path": str(path), "fields": {"prompt": "q", "response": "a"},
                         "ground_truth_from": "response_hash"})
    assert [r["ground_truth"] for r in got.rows] == ["145", "1000.5", "7"]


def test_format_is_one_whenever_gsm8k_is_one(datasets_dir):
    """The format reward and the gsm8k reward read the same `#### N`: no 1.0 without format."""
    rows = [json.loads(line) for line in (datasets_dir / "gsm8k/test.jsonl").read_text().splitlines()[:200]]
    gsm8k, fmt = rewards.get("gsm8k"), rewards.get("format")
    for r in rows:
        gold = r["answer"].rpartition("#### ")[2]
        for text in (r["answer"], r["answer"].replace("#### ", "#### $"), f"#### {float(gold.replace(',', '')):.1f}"):
            assert fmt(text, gold, {}) >= gsm8k(text, gold, {})
