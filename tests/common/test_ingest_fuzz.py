"""Hostile input: random JSONL bytes never crash ingest; every line is kept or quarantined with its
line and rule; whole-file problems are one error naming the file."""
from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stages.data.canonical import ingest_source
from stages.data.sources import SourceError

WEIRD_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200) | st.sampled_from([
    "\u202eevil RTL override", "zero\u200bwidth\u200djoin", "\x00nul\x07bell", "a" * 5000, "", " \t\n"])
VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | WEIRD_TEXT,
                      lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                      max_leaves=6)
RECORD = st.fixed_dictionaries({}, optional={"q": VALUES, "a": VALUES, "x": VALUES})
LINE = (RECORD.map(lambda r: json.dumps(r).encode()) | st.binary(max_size=300)
        | VALUES.map(lambda v: json.dumps(v).encode()) | st.just(b"\xff\xfe\xfd") | st.just(b""))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=25))
def test_random_jsonl_is_kept_or_quarantined(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + (b"\n" if lines else b""))
    try:
        got = ingest_source({"name": "f", "kind": "file", "path": str(path), "fields": {"prompt": "q", "response": "a"}})
    except ValueError as e:                      # only whole-source errors, naming the file
        assert str(e).startswith(str(path)) and any(m in str(e) for m in (
            "no record has the mapped fields", "no rows", "holds a JSON array")), e
        return
    assert got.rows_in == len(lines) == len(got.rows) + len(got.rejected)
    assert all(r["rule"] and r["detail"] for r in got.rejected)
    assert all(isinstance(r["prompt"], (str, type(None))) for r in got.rows)


def test_one_megabyte_line_and_empty_file(tmp_path):
    big = tmp_path / "big.jsonl"
    big.write_text(json.dumps({"q": "word " * 200_000, "a": "#### 1"}) + "\n")
    got = ingest_source({"name": "b", "kind": "file", "path": str(big), "fields": {"prompt": "q", "response": "a"}})
    assert len(got.rows) == 1 and len(got.rows[0]["prompt"]) == 1_000_000
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match=rf"{empty}: no rows.*allow_empty=true"):
        ingest_source({"name": "e", "kind": "file", "path": str(empty), "fields": {"prompt": "q"}})
    got = ingest_source({"name": "e", "kind": "file", "path": str(empty), "fields": {"prompt": "q"},
                         "allow_empty": True})
    assert got.rows_in == 0 and not got.rows and not got.rejected


GOOD = json.dumps({"q": "what is 2+2?", "a": "#### 4"})
PATHOLOGICAL = {   # one hostile line among good ones -> (rule it is quarantined with)
    "deep": ("[" * 100_000 + "]" * 100_000, {"too_deep"}),
    "deep_parsed": ('{"q": "x", "a": "y", "z": ' + "[" * 90 + "1" + "]" * 90 + "}", {"too_deep"}),
    "huge_int": ('{"q": "x", "a": ' + "9" * 5000 + "}", {"number_too_long"}),
    "nan": ('{"q": "x", "a": NaN}', {"non_finite_number"}),
    "infinity": ('{"q": -Infinity, "a": "y"}', {"non_finite_number"}),
    "null_prompt": ('{"q": null, "a": "y"}', {"null_field"}),
    "blank_response": ('{"q": "x", "a": " \\t "}', {"empty_field"}),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(PATHOLOGICAL)), min_size=1, max_size=4),
       good=st.integers(1, 4), bom=st.booleans(), gz=st.booleans())
def test_pathological_rows_are_quarantined_with_line_and_rule(tmp_path, kinds, good, bom, gz):
    lines = [GOOD] * good + [PATHOLOGICAL[k][0] for k in kinds]
    data = (b"\xef\xbb\xbf" if bom else b"") + "\n".join(lines).encode() + b"\n"
    path = tmp_path / ("p.jsonl.gz" if gz else "p.jsonl")
    path.write_bytes(gzip.compress(data) if gz else data)
    got = ingest_source({"name": "p", "kind": "file", "path": str(path), "fields": {"prompt": "q", "response": "a"}})
    assert got.rows_in == len(lines) and len(got.rows) == good       # a BOM costs no row
    for i, (kind, rej) in enumerate(zip(kinds, got.rejected)):
        assert rej["rule"] in PATHOLOGICAL[kind][1] and rej["id"] == f"p:{good + i + 1}", (kind, rej)
    assert all(r["prompt"] not in (None, "nan", "inf") for r in got.rows)


@pytest.mark.parametrize("name,data,message", [
    ("array.jsonl", b'[{"q": "x", "a": "y"}]\n', "holds a JSON array, not JSON lines"),
    ("pretty.jsonl", b'[\n  {"q": "x",\n   "a": "y"}\n]\n', "holds a JSON array, not JSON lines"),
    ("bom-array.jsonl", b'\xef\xbb\xbf[{"q": "x"}]', "holds a JSON array"),
    ("blank.jsonl", b"", "no rows"),
    ("truncated.jsonl.gz", gzip.compress(GOOD.encode() * 50, mtime=0)[:-12], "not a readable gzip file"),
    ("plain.jsonl.gz", GOOD.encode() + b"\n", "not a readable gzip file"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ("nan.json", b'[{"q": NaN, "a": "y"}]', "not valid JSON"),
])
def test_whole_file_shape_errors_name_the_file(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SourceError, match=message) as e:
        ingest_source({"name": "s", "kind": "file", "path": str(path), "fields": {"prompt": "q", "response": "a"}})
    assert str(e.value).startswith(str(path))


def test_symlink_loop_is_named_as_such(tmp_path):
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    with pytest.raises(SourceError, match=rf"{loop}: symlink loop"):
        ingest_source({"name": "s", "kind": "file", "path": str(loop)})


def test_bom_csv_and_nan_in_a_table_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfq,a\nwhat,#### 4\n")
    got = ingest_source({"name": "c", "kind": "file", "path": str(path), "fields": {"prompt": "q", "response": "a"}})
    assert [r["prompt"] for r in got.rows] == ["what"]
    import polars as pl

    pq = tmp_path / "t.parquet"
    pl.DataFrame({"q": ["x", "y"], "a": [1.5, float("nan")]}).write_parquet(pq)
    got = ingest_source({"name": "t", "kind": "file", "path": str(pq), "fields": {"prompt": "q", "response": "a"}})
    assert len(got.rows) == 1 and [r["rule"] for r in got.rejected] == ["non_finite_number"]
