"""Every file a stage reads is part of its key.

The smoke_repo fixture ran `dvc repro` with an audit hook in every stage process
(tests/e2e/tracer). Each file a stage opened for reading must be, in that stage's dvc.lock
entry, a dep or an out of its own, or outside the workspace and recorded in its key file
(data/keys/<stage>.json: a source file's hash, a reference dataset's local copy), or part of
the Python installation (its version is in the key file too), or on the allow-list below.
"""
from __future__ import annotations

import json
import os
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest
import yaml
from matplotlib import font_manager

from e2e_workspace import REPO

pytestmark = pytest.mark.slow

# Read by every process or by the libraries themselves, never a result's input.
HOME = os.path.expanduser("~")
ALLOWED_PREFIXES = (
    "/proc/", "/sys/", "/dev/",               # CPU count, memory limits, /dev/null, urandom
    "/etc/",                                  # passwd (getpass), localtime, hosts, ssl certs, mime types
    "/usr/share/zoneinfo/", "/usr/lib/", "/lib/", "/usr/local/lib/",   # tz data, shared objects
    os.path.join(tempfile.gettempdir(), "tmp"),   # temp files made during the run (W&B's port file)
    f"{HOME}/.gitconfig", f"{HOME}/.config/git/", f"{HOME}/.config/dvc/",   # dvclive finding the repo
    f"{HOME}/.cache/matplotlib/",             # matplotlib's font list cache
    # Building that cache (a machine's first plot) opens each system font to list it; the faces
    # drawn are matplotlib's own (mpl-data, listed first, so they win ties): see test below.
    *(os.path.join(d, "") for d in font_manager.X11FontDirectories),
)
ALLOWED_IN_WORKSPACE = (
    "params.yaml",        # each stage reads its own sections; dvc.yaml lists them as params deps
    ".git/", ".gitignore",   # tracking reads the git revision for the W&B group
    ".dvc/", ".dvcignore",   # dvclive finds the repo; the keys stage's stat cache is .dvc/tmp/
    "wandb_runs/",        # the stage's own W&B run dir
    ".trace/",            # the tracer's own log
    "dvc.yaml",           # read by the keys stage (always run) to list the stages it keys
    "dvc.lock",           # the report names the hashes of its inputs, which DVC wrote there
)


def _python_roots() -> list[str]:
    paths = {sys.prefix, sys.base_prefix, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"]}
    return sorted({os.path.realpath(p) + "/" for p in paths} | {p + "/" for p in paths})


def _dvc_stage(cmd: str) -> str:
    words = cmd.split()
    name = words[0].removeprefix("stages.")
    if name == "eval":
        args = dict(zip(words[1::2], words[2::2]))
        return f"eval@{args['--model']}-{args['--bench']}"
    return name


def _reads(ws: Path) -> dict[str, set[str]]:
    """{dvc stage: absolute paths it opened for reading and never wrote}."""
    out: dict[str, set[str]] = {}
    for log in (ws / ".trace").glob("*.jsonl"):
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            if rec["modes"] == ["r"]:
                out.setdefault(_dvc_stage(rec["stage"]), set()).add(rec["path"])
    return out


def _covered_externally(ws: Path, stage: str) -> set[str]:
    """Paths outside the workspace whose content the stage's key file records."""
    key_name = "eval-" + stage.split("-", 1)[1] if stage.startswith("eval@") else stage
    key = json.loads((ws / "data/keys" / f"{key_name}.json").read_text())
    paths = set()
    for entry in key["inputs"].values():
        if "path" in entry:
            paths.add(os.path.realpath(ws / entry["path"]))
    if stage == "datasets":
        shared = Path(os.environ.get("LMFORGE_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))
        paths |= {os.path.realpath(shared / rel) for rel in key["inputs"]}
    return paths


def _uncovered(ws: Path, stage: str, paths: set[str], lock: dict) -> list[str]:
    entry = lock["stages"].get(stage, {})
    declared = [d["path"] for d in entry.get("deps", [])] + [o["path"] for o in entry.get("outs", [])]
    external = _covered_externally(ws, stage)
    roots = _python_roots()
    bad = []
    workspace = str(ws.resolve()) + "/"
    for path in sorted(paths):
        real = os.path.realpath(path)
        if not real.startswith(workspace):
            if not (real.startswith(tuple(roots)) or real.startswith(ALLOWED_PREFIXES) or real in external):
                bad.append(path)
            continue
        rel = os.path.relpath(real, ws.resolve())
        if "__pycache__" in rel:            # bytecode of a declared module
            rel = rel.replace("__pycache__/", "").rsplit(".", 2)[0] + ".py"
        if not (rel.startswith(ALLOWED_IN_WORKSPACE) or _own_temp(rel, declared)
                or any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in declared)):
            bad.append(rel)
    return bad


def _own_temp(rel: str, declared: list[str]) -> bool:
    """Inside `.<out name>.<random>.tmp` beside a declared out: an atomic write in progress."""
    parts = Path(rel).parts
    for i, part in enumerate(parts):
        parent = "/".join(parts[:i])
        if any(part.startswith(f".{Path(d).name}.") and part.endswith(".tmp") and
               parent == os.path.dirname(d) for d in declared):
            return True
    return False


def test_every_file_a_stage_reads_is_declared_or_keyed(smoke_repo):
    lock = yaml.safe_load((smoke_repo / "dvc.lock").read_text())
    reads = _reads(smoke_repo)
    assert {"model", "ingest", "clean", "dedup", "train", "eval@policy-gsm8k", "report"} <= set(reads)
    problems = {stage: bad for stage, paths in reads.items()          # keys reads inputs to hash them
                if stage != "keys" and (bad := _uncovered(smoke_repo, stage, paths, lock))}
    assert not problems, json.dumps(problems, indent=1)


def test_tracer_sees_the_inputs_it_must(smoke_repo):
    """The trace is real: ingest-side and eval-side reads of known inputs are in it."""
    reads = _reads(smoke_repo)
    ws = str(smoke_repo.resolve())
    assert any(p.startswith(ws) and "/data/datasets/gsm8k/" in p for p in reads["eval@base-gsm8k"])
    assert any(p.startswith(ws) and "/data/datasets/math500/" in p for p in reads["dedup"])
    assert any(p.startswith(ws) and "/data/format/sft/" in p for p in reads["train"])


def test_report_figures_draw_with_matplotlibs_own_fonts():
    """Why the system font dirs are allowed above: they are only listed. The face the report draws
    with is matplotlib's bundled one (the installed matplotlib is in the key), even where the
    machine has the same family installed (Debian's fonts-dejavu comes with chromium)."""
    import matplotlib

    from stages.report import figures

    rc = figures._plt().rcParams
    face = font_manager.findfont(font_manager.FontProperties(family=rc["font.family"]))
    assert os.path.realpath(face).startswith(os.path.realpath(matplotlib.get_data_path()) + "/"), face
