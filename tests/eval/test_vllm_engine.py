"""`eval.engine=vllm` on CPU through `dvc repro`: the same outs and metrics as `hf`, and greedy
text that mostly agrees with it, on the smoke profile's tiny random model (2 heads of 32: the
smallest head size vLLM's CPU attention takes).

Runs in the vLLM venv (`make setup-vllm`: .venv-vllm, or $LMFORGE_VLLM_PYTHON), where both
engines run, so only the engine differs; CI builds that venv (.ci/run). Skipped, saying so, only
where no interpreter here can import vllm.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_workspace import REPO, make_workspace, sh, stages_run  # noqa: E402

pytestmark = pytest.mark.slow

# The smoke profile with an untied random head, which says varied things (a tied one mostly
# repeats "\n", which would make agreement vacuous), and more items than smoke's.
OVERRIDES = ["profile=smoke", "model.architecture.tie_word_embeddings=false",
             "eval.benchmarks.gsm8k.limit=16", "eval.benchmarks.humaneval.limit=8",
             "eval.dtype=model"]     # both engines in the model dir's float32
CELLS = ["eval@base-gsm8k", "eval@base-humaneval"]     # a chat prompt; raw code with stop strings
MIN_AGREEMENT = 0.8       # measured: 24/24 greedy texts equal on this model (float32, both engines)


def vllm_python() -> Path | None:
    """An interpreter that can import vllm: this one, $LMFORGE_VLLM_PYTHON or .venv-vllm's."""
    if importlib.util.find_spec("vllm") is not None:
        return Path(sys.executable)
    env = os.environ.get("LMFORGE_VLLM_PYTHON")
    py = Path(env) if env else REPO / ".venv-vllm" / "bin" / "python"
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('vllm') is None)"
    if py.exists() and subprocess.run([str(py), "-c", probe]).returncode == 0:
        return py
    return None


def _repro(ws: Path, py: Path, engine: str) -> subprocess.CompletedProcess:
    sh([sys.executable, "-m", "stages.common.compose", *OVERRIDES, f"eval.engine={engine}"], ws)
    return sh(["dvc", "repro", *CELLS], ws, PATH=f"{py.parent}:{os.environ['PATH']}",
              VLLM_CPU_KVCACHE_SPACE="1")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The two cells reproduced with eval.engine=hf, then with vllm: {engine: a copy of the outs}."""
    py = vllm_python()
    if py is None:
        pytest.skip("vllm is not importable here nor in .venv-vllm ($LMFORGE_VLLM_PYTHON): "
                    "`make setup-vllm` installs it")
    ws = make_workspace(tmp_path_factory.mktemp("vllm") / "repo", OVERRIDES)
    out: dict[str, Path] = {}
    for engine in ("hf", "vllm"):
        res = _repro(ws, py, engine)
        if engine == "vllm":   # the model and datasets are reused: only the eval cells rerun
            assert stages_run(res.stdout) - {"keys"} == set(CELLS), res.stdout
        out[engine] = ws.parent / engine
        shutil.copytree(ws / "data" / "eval", out[engine] / "eval")
        shutil.copytree(ws / "reports" / "metrics", out[engine] / "metrics")
    return out


def _keys(d: dict, prefix: str = "") -> set[str]:
    """Every key path of a nested dict, e.g. {"strict.accuracy", ...}; `status` (a count per
    sandbox outcome seen) only as itself, since its keys are the outcomes."""
    out = set()
    for key, v in d.items():
        out.add(prefix + key)
        if isinstance(v, dict) and key != "status":
            out |= _keys(v, f"{prefix}{key}.")
    return out


def _rows(run: Path, cell: str) -> list[dict]:
    return [json.loads(line) for line in (run / "eval" / cell / "samples.jsonl").open()]


@pytest.mark.parametrize("cell", [c.split("@")[1] for c in CELLS])
def test_vllm_writes_what_hf_writes(runs, cell):
    hf, vl = runs["hf"], runs["vllm"]
    files = {run: sorted(p.relative_to(run).as_posix() for p in run.rglob(f"*{cell}*")) for run in (hf, vl)}
    files_in_cell = {run: sorted(p.name for p in (run / "eval" / cell).iterdir()) for run in (hf, vl)}
    assert files[hf] == files[vl] and files_in_cell[hf] == files_in_cell[vl]
    m_hf, m_vl = (json.loads((r / "metrics" / "eval" / f"{cell}.json").read_text()) for r in (hf, vl))
    assert m_vl["engine"] == "vllm" and m_hf["engine"] == "hf"
    assert _keys(m_vl) == _keys(m_hf)
    assert m_vl["n"] == m_hf["n"] and m_vl["new_tokens"] > 0 and m_vl["tokens_per_second"] > 0
    assert sum(m_vl.get("status", {"n": m_vl["n"]}).values()) == m_vl["n"]
    rows_hf, rows_vl = _rows(hf, cell), _rows(vl, cell)
    assert [set(r) for r in rows_vl] == [set(r) for r in rows_hf]
    assert [r["prompt"] for r in rows_vl] == [r["prompt"] for r in rows_hf]      # same rendering
    items = [json.loads((r / "metrics" / "items" / f"{cell}.json").read_text()) for r in (hf, vl)]
    assert items[0]["ids"] == items[1]["ids"]


def test_greedy_text_agrees_with_hf(runs):
    pairs = [(a["output"], b["output"]) for c in CELLS
             for a, b in zip(_rows(runs["hf"], c.split("@")[1]), _rows(runs["vllm"], c.split("@")[1]))]
    assert len({a for a, _ in pairs}) > len(pairs) // 2          # the model says varied things
    agree = sum(a == b for a, b in pairs) / len(pairs)
    assert agree >= MIN_AGREEMENT, [p for p in pairs if p[0] != p[1]][:3]
