"""dvc.yaml's code deps, derived from each stage's import closure (stages.common.closure).

    python -m stages.common.deps check     # exit 1, naming each stage and path, if dvc.yaml differs
    python -m stages.common.deps write     # rewrite the `stages/...` deps of dvc.yaml in place

A stage's `stages/...` deps are exactly the project files `python -m stages.<x>` can import,
a whole package dir where every module of it is in the closure. Other deps (data, model dirs,
key files, `verl/`) are written by hand and left alone. The test suite runs `check`, so a new
import that is not a dependency, or a dependency the code no longer imports, fails CI.
"""
from __future__ import annotations

import sys
from pathlib import Path

from stages.common import closure

CODE_PREFIX = "stages"


def _py_files(d: Path) -> set[Path]:
    return {p for p in d.rglob("*.py") if "__pycache__" not in p.parts}


def collapse(files: list[Path], root: Path = closure.ROOT / CODE_PREFIX) -> list[str]:
    """Repo-relative deps: a dir when its every module is in `files`, else its parts."""
    have = set(files)
    if _py_files(root) <= have:
        return [root.relative_to(closure.ROOT).as_posix()]
    out = [p.relative_to(closure.ROOT).as_posix() for p in sorted(root.glob("*.py")) if p in have]
    for sub in sorted(d for d in root.iterdir() if d.is_dir() and d.name != "__pycache__"):
        if _py_files(sub) & have:
            out += collapse(files, sub)
    return out


def derived(dvc_yaml: Path) -> dict[str, list[str]]:
    """{stage: code deps}; `always_changed` stages (keys) run every time and need none."""
    from stages.keys import stage_entries

    return {stage: collapse(closure.stage_files(module))
            for stage, module in stage_entries(dvc_yaml).items()}


def _is_code(dep: object) -> bool:
    return isinstance(dep, str) and (dep == CODE_PREFIX or dep.startswith(CODE_PREFIX + "/"))


def _load(dvc_yaml: Path):
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y, y.load(dvc_yaml.read_text())


def _body(spec):
    return spec["do"] if "do" in spec else spec


def differences(dvc_yaml: Path) -> list[str]:
    _, doc = _load(dvc_yaml)
    problems = []
    for stage, want in derived(dvc_yaml).items():
        have = [d for d in _body(doc["stages"][stage]).get("deps", []) if _is_code(d)]
        for dep in sorted(set(want) - set(have)):
            problems.append(f"{dvc_yaml}: stage {stage}: missing code dep {dep} (imported by the stage)")
        for dep in sorted(set(have) - set(want)):
            problems.append(f"{dvc_yaml}: stage {stage}: code dep {dep} is not imported by the stage")
    return problems


def write(dvc_yaml: Path) -> None:
    y, doc = _load(dvc_yaml)
    for stage, want in derived(dvc_yaml).items():
        deps = _body(doc["stages"][stage]).setdefault("deps", [])
        first = next((i for i, d in enumerate(deps) if _is_code(d)), 0)
        for i in reversed([i for i, d in enumerate(deps) if _is_code(d)]):
            del deps[i]
        for j, dep in enumerate(want):
            deps.insert(first + j, dep)
    tmp = dvc_yaml.with_name(dvc_yaml.name + ".tmp")
    with open(tmp, "w") as f:
        y.dump(doc, f)
    tmp.replace(dvc_yaml)


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    dvc_yaml = Path(argv[1]) if len(argv) > 1 else Path("dvc.yaml")
    if cmd == "write":
        write(dvc_yaml)
        return 0
    problems = differences(dvc_yaml)
    for p in problems:
        print(p)
    if problems:
        print("fix: python -m stages.common.deps write   (or make deps)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
