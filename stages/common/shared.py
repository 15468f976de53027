"""Where the reference datasets live: ../shared/datasets beside the repo, or $LMFORGE_SHARED."""
from __future__ import annotations

import os
from pathlib import Path


def shared_datasets() -> Path:
    env = os.environ.get("LMFORGE_SHARED_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
