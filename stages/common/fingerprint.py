"""Content fingerprints of what a stage reads from outside the workspace: files and dirs by
sha256, installed packages by version, hub repos by pinned revision.

Hashes are remembered by (path, size, mtime, inode) in `.dvc/tmp/`, as DVC does for its own
deps, so a no-op `dvc repro` does not re-read a 1 GB source file or a model dir.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import importlib.util
import json
import os
from pathlib import Path

CACHE = Path(".dvc/tmp/lmforge-fingerprints.json")


class Hasher:
    def __init__(self, cache: Path = CACHE):
        self.cache_path = cache
        try:
            self.cache = json.loads(cache.read_text())
        except (OSError, ValueError):
            self.cache = {}

    def file(self, path: Path) -> str:
        st = path.stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
        key = str(path.resolve())
        hit = self.cache.get(key)
        if hit and hit[0] == stamp:
            return hit[1]
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        self.cache[key] = [stamp, h.hexdigest()]
        return h.hexdigest()

    def path(self, path: Path) -> str:
        """sha256 of a file, or of a dir's sorted (relative path, file hash) list."""
        if not path.exists():
            raise FileNotFoundError(f"{path}: not found")
        if path.is_file():
            return self.file(path)
        h = hashlib.sha256()
        for p in sorted(q for q in path.rglob("*") if q.is_file() and "__pycache__" not in q.parts):
            h.update(f"{p.relative_to(path).as_posix()}\0{self.file(p)}\n".encode())
        return h.hexdigest()

    def save(self) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(self.cache_path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.cache))
        tmp.replace(self.cache_path)


def package_version(spec: str) -> dict:
    """`pkg` or `pkg/file` -> the installed distribution's version (its files are its content)."""
    module = spec.split("/")[0]
    if importlib.util.find_spec(module) is None:
        raise FileNotFoundError(f"package {module!r} is not installed")
    dists = md.packages_distributions().get(module, [module])
    return {"package": module, "version": md.version(dists[0])}


class UnpinnedError(ValueError):
    pass


def reference(ref: str, hasher: Hasher, revision: str | None = None, where: str = "") -> dict:
    """The key of one source string (data.sources, model.source, benchmark sources).

    A hub repo without a revision can change under the same key, so it is an error when
    `where` names the key to set; without `where` it is keyed as "unpinned".
    """
    kind, sep, rest = ref.partition(":")
    if sep and kind in ("package", "pkg", "gguf"):
        return package_version(rest)
    if sep and kind == "hf":
        if not revision and where:
            raise UnpinnedError(f"{ref}: a hub source needs a pinned revision (a commit sha) so the "
                                f"cache can tell when it changes; set {where}")
        return {"hf": rest, "revision": revision or "unpinned"}
    if sep and kind in ("random", "generator"):
        return {}
    path = Path(rest if sep and kind == "local" else ref)
    return {"path": str(path), "sha256": hasher.path(path)}
