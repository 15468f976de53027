"""The data stages read and write a chunk of rows at a time; their files must be byte for byte
those of the whole input processed at once (and of `DataFrame.write_parquet`)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from stages import clean as clean_stage
from stages import dedup as dedup_stage
from stages import format as format_stage
from stages import ingest as ingest_stage
from stages import quality as quality_stage
from stages.common import io
from stages.data import rows, spool


@pytest.mark.parametrize("n", [0, 1, 1000, 163_840, 163_841, 294_913])
def test_spool_writes_what_write_parquet_writes(tmp_path, n):
    """Row-group boundaries of polars' writer move with n (1 group up to 163,840 rows, then 2...)."""
    rng = np.random.default_rng(n)
    df = pl.DataFrame({"id": [f"s:{i}" for i in range(n)],
                       "text": [None if k == 0 else "word " * int(k) for k in rng.integers(0, 30, n)]},
                      schema={"id": pl.Utf8, "text": pl.Utf8})
    io.write_parquet(df, tmp_path / "whole.parquet")
    s = spool.Spool(tmp_path / "scratch", "x", dict(df.schema))
    lo = 0
    for size in [7, 1, 40_000, 99_999] * 10:   # odd chunk sizes straddle the row groups
        s.append(df.slice(lo, size))
        lo += size
    s.append(df.slice(lo))
    s.write(tmp_path / "spooled.parquet")
    assert s.height == n
    assert (tmp_path / "spooled.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert not list((tmp_path / "scratch").glob("*"))          # scratch files are gone


def test_spool_of_nested_columns_keeps_row_groups_and_values_whatever_the_chunks(tmp_path):
    """Nested columns: same row groups and values as write_parquet, pages laid out per row group
    (spool.py says why), and the same bytes for any chunk size."""
    import pyarrow.parquet as pq

    msgs = pl.List(pl.Struct({"role": pl.Utf8, "content": pl.Utf8}))
    n = 170_000                                                  # two row groups
    df = pl.DataFrame({"id": [str(i) for i in range(n)],
                       "messages": [[{"role": "user", "content": "q" * (i % 40)}] for i in range(n)]},
                      schema={"id": pl.Utf8, "messages": msgs})
    io.write_parquet(df, tmp_path / "whole.parquet")
    for chunk in (30_000, 7_777):
        s = spool.Spool(tmp_path / "scratch", "m", dict(df.schema))
        for lo in range(0, n, chunk):
            s.append(df.slice(lo, chunk))
        s.write(tmp_path / f"spooled-{chunk}.parquet")
    assert (tmp_path / "spooled-30000.parquet").read_bytes() == (tmp_path / "spooled-7777.parquet").read_bytes()
    groups = [[m.row_group(i).num_rows for i in range(m.num_row_groups)]
              for m in (pq.read_metadata(tmp_path / f) for f in ("whole.parquet", "spooled-7777.parquet"))]
    assert groups[0] == groups[1] == list(spool.row_groups(n)) and len(groups[0]) == 2
    assert pl.read_parquet(tmp_path / "spooled-7777.parquet").equals(df)


def _messy_raw(tmp: Path) -> list[dict]:
    """Sources whose rows exercise every stage: generated problems (some copied, reworded or
    degenerate), malformed records, HTML and PII, a dialogue file; rows out of order."""
    rng = random.Random(0)
    recs = []
    for i in range(120):
        q = f"Sam has {i} apples and buys {i % 7 + 2} more at the market. How many apples does Sam have?"
        a = f"Sam has {i}+{i % 7 + 2} = <<{i}+{i % 7 + 2}={2 * i % 7 + i}>>{i + i % 7 + 2} apples.\n#### {i + i % 7 + 2}"
        recs.append({"q": q, "a": a})
        if i % 9 == 0:
            recs.append({"q": q.upper(), "a": a})                                   # a copy
        if i % 11 == 0:
            recs.append({"q": q, "a": "yes yes yes yes yes yes yes yes"})          # low quality
        if i % 13 == 0:
            recs.append({"q": f"<p>Mail me at s{i}@x.org</p> {q}", "a": a})        # html, pii
    recs += [{"q": "no answer field"}, {"q": "", "a": ""}, {"q": "\ufffd\ufffd bad", "a": "1"}]
    rng.shuffle(recs)
    lines = [json.dumps(r) for r in recs] + ["{not json"]
    (tmp / "mix.jsonl").write_text("\n".join(lines) + "\n")
    return [{"name": "mix", "kind": "file", "path": str(tmp / "mix.jsonl"),
             "fields": {"prompt": "q", "response": "a"}, "ground_truth_from": "response_hash"},
            {"name": "gen", "kind": "generator", "generator": "arithmetic", "rows": 150, "seed": 1}]


def _pipeline(base: Path, sources: list[dict], data: dict) -> dict:
    m = {"ingest": ingest_stage.run(sources, "quarantine", base / "raw")}
    shuffled = pl.read_parquet(base / "raw" / "gen.parquet").sample(fraction=1.0, shuffle=True, seed=3)
    io.write_parquet(shuffled, base / "raw" / "gen.parquet")     # clean must restore the natural order
    m["clean"] = clean_stage.run(base / "raw", base / "clean", "instruct", data["clean"])
    m["dedup"] = dedup_stage.run(base / "clean", base / "dedup", data["dedup"], data["decontam"])
    m["quality"] = quality_stage.run(base / "dedup", base / "quality", data["quality"], base / "no-model")
    m["format"] = format_stage.run(base / "quality", base / "format", data["format"], 0)
    return m


def test_chunked_stages_write_the_files_of_the_whole_frame(tmp_path, monkeypatch, profiles, factory):
    data = json.loads(json.dumps(factory))
    data["clean"]["profiles"] = profiles
    data["decontam"]["enabled"] = False
    data["quality"]["top_fraction"] = 0.9        # ranks every row: must see all chunks' scores
    sources = _messy_raw(tmp_path)
    outs, metrics = [], []
    for chunk in (rows.CHUNK_ROWS, 7):
        monkeypatch.setattr(rows, "CHUNK_ROWS", chunk)
        base = tmp_path / f"chunk{chunk}"
        metrics.append(_pipeline(base, sources, data))
        outs.append({str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()})
    assert outs[0].keys() == outs[1].keys() and len(outs[0]) > 20
    assert [k for k in outs[0] if outs[0][k] != outs[1][k]] == []
    assert metrics[0] == metrics[1]
    m = metrics[1]
    assert m["ingest"]["rows_rejected"] >= 2 and m["clean"]["rows_rejected"] >= 1
    assert m["dedup"]["exact_dropped"] >= 10 and m["quality"]["rows_rejected"] >= 10
    assert m["clean"]["pii"]["email"] >= 5
