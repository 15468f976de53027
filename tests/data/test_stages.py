"""Stage-level behaviour: conservation, quarantine, HH-RLHF preference pairs with PII redaction,
empty kinds, and byte-identical outputs over two runs."""
from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from rowframes import frame

from stages import clean as clean_stage
from stages import dedup as dedup_stage
from stages import format as format_stage
from stages import quality as quality_stage
from stages.common import io
from stages.data import clean
from stages.data import format as fmt

Q = "Janet has 16 ducks. She sells 9 eggs for $2 each at the market. How much does she make?"
A = "She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18"


def _arith_rows(n: int) -> list[dict]:
    return [{"prompt": Q.replace("16", str(16 + i)).replace("9 eggs", f"{i + 3} eggs and {i} hens"),
             "response": A, "chosen": A, "rejected": A.replace("18", "17"), "ground_truth": "18"}
            for i in range(n)]


def test_clean_quarantines_malformed_rows_and_conserves(profiles, factory):
    rows = _arith_rows(3) + [
        {"id": "t:3", "prompt": "   ", "response": None},                 # no text
        {"id": "t:0", "prompt": "a repeated id", "response": "x"},       # duplicate id
        {"id": None, "prompt": "no id here", "response": "y"},
        {"prompt": "Bad bytes \ufffd\ufffd in this question about apples?", "response": "4"},
    ]
    df = frame(rows)
    df = df.with_columns(pl.Series("id", ["t:0", "t:1", "t:2", "t:3", "t:0", None, "t:6"]))
    kept, rejected, _ = clean.run(df, clean.profile(_data(profiles, factory)["clean"], "instruct"),
                                  ["prompt", "response", "chosen", "rejected"])
    assert kept.height + rejected.height == df.height == 7
    rules = dict(zip(rejected["id"].fill_null("<none>").to_list(), rejected["rule"].to_list()))
    assert rules == {"t:3": "malformed/empty_text", "t:0": "malformed/duplicate_id",
                     "<none>": "malformed/missing_id", "t:6": "replacement_chars/invalid_utf8"}
    # the record kept on disk is the row as it came in
    assert json.loads(rejected.filter(pl.col("id") == "t:6")["record"][0])["prompt"].count("\ufffd") == 2


def _write_raw(tmp: Path, df: pl.DataFrame, name: str = "src") -> Path:
    raw = tmp / "raw"
    io.write_parquet(df, raw / f"{name}.parquet")
    io.write_parquet(pl.DataFrame(schema={"id": pl.Utf8}), raw / "rejected.parquet")   # ignored
    return raw


def _pipeline(tmp: Path, raw: Path, kind: str, data: dict, seed: int = 0) -> dict:
    m = {"clean": clean_stage.run(raw, tmp / "clean", kind, data["clean"])}
    m["dedup"] = dedup_stage.run(tmp / "clean", tmp / "dedup", data["dedup"], data["decontam"])
    m["quality"] = quality_stage.run(tmp / "dedup", tmp / "quality", data["quality"], tmp / "no-model")
    m["format"] = format_stage.run(tmp / "quality", tmp / "format", data["format"], seed)
    return m


def _data(profiles, factory, **over) -> dict:
    d = json.loads(json.dumps(factory))
    d["clean"]["profiles"] = profiles
    for sec, vals in over.items():
        d[sec].update(vals)
    return d


def test_hh_rlhf_preference_pairs_pii_and_conservation(tmp_path, hh_rows, profiles, factory):
    rows = [{"chosen": r["chosen"], "rejected": r["rejected"]} for r in hh_rows]
    rows.append({"chosen": "\n\nHuman: hi\n\nAssistant: hello there",
                 "rejected": "\n\nHuman: hey\n\nAssistant: go away"})            # prefixes differ
    df = frame(rows, source="hh-rlhf")
    data = _data(profiles, factory, clean={"fields": ["chosen", "rejected"]}, dedup={"fields": ["chosen"]},
                 quality={"threshold": 0.3}, format={"kinds": ["sft", "preference"]},
                 decontam={"enabled": False})
    m = _pipeline(tmp_path, _write_raw(tmp_path, df, "hh-rlhf"), "dialogue", data)
    for stage, mm in m.items():   # every stage conserves rows (funnel asserts it; check the chain)
        assert mm["rows_in"] == mm["rows_kept"] + mm["rows_rejected"], stage
    assert m["dedup"]["rows_in"] == m["clean"]["rows_kept"]
    assert m["format"]["rows_in"] == m["quality"]["rows_kept"]
    assert m["clean"]["pii"]["email"] >= 5 and m["clean"]["pii"]["phone"] >= 5   # real HH text has some
    pref = pl.read_parquet(tmp_path / "format/preference/train.parquet")
    assert pref.height > 1800
    ex = pref.row(0, named=True)
    assert ex["prompt"][0]["role"] == "user" and ex["prompt"][-1]["role"] == "user"
    assert ex["chosen"][0]["role"] == "assistant" and ex["chosen"][0]["content"] != ex["rejected"][0]["content"]
    rej = pl.read_parquet(tmp_path / "format/rejected.parquet")
    assert f"hh-rlhf:{len(hh_rows)}" in rej.filter(pl.col("rule") == "dialogue_prefix_mismatch")["id"].to_list()
    for kind in ("rl", "verl"):   # no ground truth: empty files with the schema
        f = pl.read_parquet(tmp_path / f"format/{kind}/train.parquet")
        assert f.height == 0 and dict(f.schema) == fmt.SCHEMAS[kind]
    redacted = pl.read_parquet(tmp_path / "clean/kept.parquet")["chosen"].str.contains("<EMAIL>|<PHONE>").sum()
    assert redacted >= 10


def test_arithmetic_formats_and_byte_identical_reruns(tmp_path, profiles, factory):
    df = frame(_arith_rows(60), source="arithmetic")
    data = _data(profiles, factory, decontam={"enabled": False})
    outs = []
    for run in ("a", "b"):
        base = tmp_path / run
        m = _pipeline(base, _write_raw(base, df, "arithmetic"), "instruct", data)
        outs.append({p.relative_to(base): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()
                     and "raw" not in p.parts})
    assert outs[0].keys() == outs[1].keys() and outs[0] == outs[1]
    for kind in fmt.KINDS:
        assert m["format"]["rows"][kind]["train"] + m["format"]["rows"][kind]["val"] == m["format"]["rows_kept"]
    verl = pl.read_parquet(tmp_path / "b/format/verl/train.parquet").row(0, named=True)
    assert verl["reward_model"] == {"style": "rule", "ground_truth": "18"}
    assert verl["extra_info"]["split"] == "train" and verl["extra_info"]["index"] == 0
    assert verl["prompt"][0]["content"].startswith("Janet has")
    sft = pl.read_parquet(tmp_path / "b/format/sft/train.parquet").row(0, named=True)
    assert [m["role"] for m in sft["messages"]] == ["user", "assistant"]


def test_format_split_is_by_id_and_shared_across_kinds():
    ids = [f"x:{i}" for i in range(2000)]
    val = [i for i in ids if fmt.split_of(i, 0, 0.1) == "val"]
    assert 150 < len(val) < 250
    assert val == [i for i in ids if fmt.split_of(i, 0, 0.1) == "val"]


def test_quality_drops_degenerate_text_and_reports_histograms():
    from stages.data import quality
    df = frame([{"prompt": "q", "response": "The train leaves at 9 and arrives at 11, so it takes 2 hours."},
                {"prompt": "q", "response": "!!!! ???? .... ,,,, ;;;;"},
                {"prompt": "q", "response": "yes yes yes yes yes yes yes yes yes yes yes yes"}])
    scores = quality.heuristic(df, min_words=5)
    kept, rejected, rep = quality.run(df, scores, 0.5, None, bins=10)
    assert kept["id"].to_list() == ["t:0"] and rejected.height == 2
    assert sum(rep["histogram"]["before"]) == 3 and sum(rep["histogram"]["after"]) == 1


def test_missing_raw_columns_is_one_clear_error(tmp_path, profiles, factory):
    io.write_parquet(pl.DataFrame({"id": ["a:0"], "text": ["hello"]}), tmp_path / "raw/a.parquet")
    with pytest.raises(ValueError, match=r"a.parquet: missing canonical column"):
        clean_stage.run(tmp_path / "raw", tmp_path / "clean", "instruct", _data(profiles, factory)["clean"])
