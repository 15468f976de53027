"""Bad input ends with one clear message naming the file / line / key, and a non-zero exit."""
from __future__ import annotations

import json
import sys

import pytest
import yaml

from e2e_workspace import make_workspace, sh


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("bad") / "repo", ["profile=smoke"])


def _ingest_with(ws, source: dict, on_bad_row: str = "quarantine"):
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["data"]["sources"] = [source]
    params["data"]["on_bad_row"] = on_bad_row
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    return sh([sys.executable, "-m", "stages.ingest"], ws, check=False, WANDB_MODE="disabled")


def _last_line(res) -> str:
    return res.stderr.strip().splitlines()[-1]


def test_missing_source_file(ws):
    res = _ingest_with(ws, {"name": "x", "kind": "file", "path": "in/missing.jsonl"})
    assert res.returncode != 0
    assert _last_line(res) == "ingest: error: in/missing.jsonl: source file not found"


def test_malformed_jsonl_line_in_error_mode(ws):
    (ws / "in").mkdir(exist_ok=True)
    (ws / "in/bad.jsonl").write_text(json.dumps({"q": "a"}) + "\n{broken\n")
    res = _ingest_with(ws, {"name": "x", "kind": "file", "path": "in/bad.jsonl", "fields": {"prompt": "q"}}, "error")
    assert res.returncode != 0
    assert _last_line(res).startswith("ingest: error: in/bad.jsonl, line 2: bad_json: ")


def test_unmapped_field(ws):
    (ws / "in").mkdir(exist_ok=True)
    (ws / "in/ok.jsonl").write_text(json.dumps({"q": "a"}) + "\n")
    res = _ingest_with(ws, {"name": "x", "kind": "file", "path": "in/ok.jsonl", "fields": {"prompt": "question"}})
    assert res.returncode != 0
    assert "in/ok.jsonl: no record has the mapped fields; check data.sources[x].fields" in _last_line(res)


@pytest.mark.parametrize("name,data,message", [
    ("empty.jsonl", b"", "in/empty.jsonl: no rows; an empty source is an error"),
    ("array.jsonl", b'[{"q": "a"}]\n', "in/array.jsonl: holds a JSON array, not JSON lines"),
    ("nulls.jsonl", b'{"q": null}\n{"q": NaN}\n', "in/nulls.jsonl: no row kept of 2"),
    ("fake.jsonl.gz", b'{"q": "a"}\n', "in/fake.jsonl.gz: not a readable gzip file"),
])
def test_sources_with_nothing_usable_stop_naming_the_file(ws, name, data, message):
    (ws / "in").mkdir(exist_ok=True)
    (ws / "in" / name).write_bytes(data)
    res = _ingest_with(ws, {"name": "x", "kind": "file", "path": f"in/{name}", "fields": {"prompt": "q"}})
    assert res.returncode != 0
    assert _last_line(res).startswith(f"ingest: error: {message}"), _last_line(res)


def test_smoke_profile_refuses_to_replace_the_chosen_data(ws):
    from stages.common.compose import compose

    with pytest.raises(SystemExit, match=r"smoke\.runs_only_on_data\.gsm8k"):
        compose(["data=gsm8k", "profile=smoke"], ws / "params-smoke.yaml", ws / "params")


def test_unknown_hydra_group(ws):
    res = sh([sys.executable, "-m", "stages.common.compose", "model=gpt9"], ws, check=False)
    assert res.returncode != 0
    assert "Could not find 'model/gpt9'" in res.stderr and "Available options" in res.stderr
    res = sh(["dvc", "exp", "run", "-S", "model=gpt9"], ws, check=False)
    assert res.returncode != 0 and "model/gpt9" in res.stderr + res.stdout
