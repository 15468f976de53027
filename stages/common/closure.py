"""What a stage's code is made of: the project files in its import closure and the installed
distributions that closure imports.

Read statically (ast) so nothing heavy is imported: every `import` statement counts, at module
level or inside a function, because a lazy import still runs when its branch does; so does a
sibling module named as a file (`"sandbox_runner.py"`: source sent to another process). A package
whose `__init__` walks its own modules (`pkgutil.iter_modules(__path__)`, the registries)
imports all of them. dvc.yaml's code deps are checked against `stage_files` (stages.common.deps),
and the `keys` stage records the versions of `stage_distributions`, so both come from the code,
never from a hand-kept list.
"""
from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]          # the directory holding the `stages` package
PACKAGE = "stages"
_WALKS_ITS_PACKAGE = re.compile(r"pkgutil\.iter_modules\(__path__\)")


def module_file(name: str) -> Path | None:
    """The source file of a project module (`stages.x.y`), or None if it is not one."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


@lru_cache(maxsize=None)
def _imported_names(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(project modules, third-party top-level names) one file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own, pkg = module_name(path), module_name(path).rpartition(".")[0]
    if path.name == "__init__.py":
        pkg = own
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}   # `from pkg import module`
    for node in ast.walk(tree):        # a sibling module read as a file (`Path(__file__).parent / "x.py"`)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                re.fullmatch(r"\w+\.py", node.value) and (path.parent / node.value).is_file():
            names.add(f"{pkg}.{node.value[:-3]}")
    project = {n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")}
    third = {n.split(".")[0] for n in names - project if n}
    return frozenset(project), frozenset(third - set(sys.stdlib_module_names) - {"__future__"})


def _with_parents(name: str) -> list[str]:
    """Importing `a.b.c` runs `a/__init__`, `a/b/__init__` and `a/b/c`."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@lru_cache(maxsize=None)
def _closure(entry: str) -> tuple[frozenset[Path], frozenset[str]]:
    files: set[Path] = set()
    third: set[str] = set()
    todo = [entry]
    if module_file(f"{entry}.__main__"):          # `python -m <package>` runs its __main__
        todo.append(f"{entry}.__main__")
    while todo:
        for name in _with_parents(todo.pop()):
            path = module_file(name)
            if path is None or path in files:
                continue
            files.add(path)
            project, libs = _imported_names(path)
            third |= libs
            todo += sorted(project)
            if path.name == "__init__.py" and _WALKS_ITS_PACKAGE.search(path.read_text("utf-8")):
                todo += [module_name(p) for p in sorted(path.parent.glob("*.py"))]
    return frozenset(files), frozenset(third)


def stage_files(entry: str) -> list[Path]:
    """Every project source file `python -m <entry>` can import, sorted."""
    return sorted(_closure(entry)[0])


def stage_imports(entry: str) -> set[str]:
    """Top-level third-party module names the closure imports."""
    names: set[str] = set()
    for path in stage_files(entry):
        names |= _imported_names(path)[1]
    return names


@lru_cache(maxsize=1)
def _installed() -> tuple[dict[str, md.Distribution], dict[str, list[str]]]:
    """({canonical name: distribution}, {top-level module: [distribution names]}), read once."""
    dists: dict[str, md.Distribution] = {}
    modules: dict[str, list[str]] = {}
    for dist in md.distributions():
        name = dist.name
        if not name or _canonical(name) in dists:
            continue                                # the first on sys.path wins, as for imports
        dists[_canonical(name)] = dist
        top = (dist.read_text("top_level.txt") or "").split()
        if not top:
            top = {f.parts[0].removesuffix(".py") for f in dist.files or () if f.parts
                   and not f.parts[0].endswith((".dist-info", ".egg-info", ".pth")) and f.parts[0] != ".."}
        for mod in top:
            modules.setdefault(mod, []).append(name)
    return dists, modules


@lru_cache(maxsize=None)
def _version_and_requires(key: str) -> tuple[str, tuple[str, ...]]:
    """A distribution's version and the names it requires (markers evaluated, no extras)."""
    from packaging.requirements import Requirement

    dist = _installed()[0][key]
    meta = dist.metadata                            # parsed once: it is the slow part
    out = []
    for spec in meta.get_all("Requires-Dist") or []:
        req = Requirement(spec)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req.name)
    return meta["Version"], tuple(out)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def stage_distributions(entry: str) -> dict[str, str]:
    """{distribution: version} for what the closure imports and everything those require."""
    dists, modules = _installed()
    todo = sorted({d for m in stage_imports(entry) for d in modules.get(m, [])})
    seen: dict[str, str] = {}
    while todo:
        key = _canonical(todo.pop())
        if key in seen or key not in dists:
            continue
        seen[key], requires = _version_and_requires(key)
        todo += requires
    return dict(sorted(seen.items()))
