"""One lifecycle for every stage: read and check its params sections, time it, record it.

    with stagerun.stage("quality", {"data.quality": quality.KEYS}, out="paths.quality") as st:
        st.metrics = run(..., st.params["data.quality"])

Every stage then has `seconds` in its metrics file (the report's timing table), a W&B run
with the params it read, and `<out>/config.json`: the resolved params it ran with, so an output
names what made it. An unknown key in a section fails before any work, naming the nearest key.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from stages.common import io, params, tracking

CONFIG_FILE = "config.json"   # the resolved params, written into the stage's output directory


@dataclass
class Stage:
    name: str
    cfg: Any                                   # the whole params.yaml (read-only, struct mode)
    params: dict                               # dotted section -> its checked plain value
    metrics: dict = field(default_factory=dict)   # set by the stage; `seconds` is added on exit
    tracker: tracking.StageRun | None = None

    def path(self, key: str) -> Path:
        """`paths.<key>` of params: every path a stage reads or writes is written once there."""
        return Path(params.select(self.cfg, f"paths.{key}"))


@contextlib.contextmanager
def stage(name: str, sections: dict[str, Any], out: str | None = None,
          metrics_file: str | Path | None = None, config_extra: dict | None = None) -> Iterator[Stage]:
    """Run a stage body. `sections`: dotted params key -> key schema (see params.check_keys);
    `out`: the `paths.<key>` directory the resolved config is saved in (None: not saved)."""
    started = time.monotonic()
    cfg = params.load()
    read = {key: params.check_keys(params.select(cfg, key), schema, key) for key, schema in sections.items()}
    config = {**read, **(config_extra or {})}
    st = Stage(name, cfg, read)
    with tracking.stage_run(name, config=config, track=cfg.track) as tr:
        st.tracker = tr
        yield st
        st.metrics["seconds"] = round(time.monotonic() - started, 2)
        if out is not None:
            io.write_json({"stage": name, "params": config}, st.path(out) / CONFIG_FILE)
        io.write_json(st.metrics, metrics_file or Path(cfg.paths.metrics) / f"{name}.json")
        tr.summary({k: v for k, v in st.metrics.items() if k != "histogram"})
