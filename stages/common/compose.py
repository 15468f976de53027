"""Compose params/ into params.yaml exactly as `dvc exp run -S ...` does (DVC's own function).

    python -m stages.common.compose                 # the defaults
    python -m stages.common.compose profile=smoke   # with Hydra overrides
"""
from __future__ import annotations

import sys
from pathlib import Path


def compose(overrides: list[str], output: str | Path = "params.yaml", config_dir: str | Path = "params") -> None:
    from dvc.utils.hydra import compose_and_dump
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        compose_and_dump(Path(output), str(Path(config_dir).resolve()), None, "config", "", overrides)
    except (HydraException, OmegaConfBaseException) as e:
        raise SystemExit(f"params: {e}".splitlines()[0] + _hint(e)) from None


def _hint(e: Exception) -> str:
    text = str(e)
    return "\n" + "\n".join(text.splitlines()[1:]) if "\n" in text else ""


if __name__ == "__main__":
    compose(sys.argv[1:])
