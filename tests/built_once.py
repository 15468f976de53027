"""One build per test run, shared by the pytest-xdist workers (a plain module: any test dir's
fixtures can import it)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(dir)` once per test run, shared by the xdist workers (each has its own basetemp)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out, done = root / "shared" / name, root / "shared" / f"{name}.built"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)     # a build a crash left half-written
            build(out)
            done.touch()
    return out
