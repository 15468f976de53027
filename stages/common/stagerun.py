"""One lifecycle for every stage: read and check its params sections, time it, record it.

    with stagerun.stage("quality", {"data.quality": quality.KEYS}, out="quality") as st:
        st.metrics = run(..., st.params["data.quality"])

Every stage then has `seconds` in its metrics file (the report's timing table), a W&B run
with the params it read, and the resolved params it ran with saved in its output directory,
so an output names what made it. An unknown key anywhere in a section fails before any work,
naming the nearest valid key (params.check_keys).

Where the resolved params go: `<paths.out>/config.json` (CONFIG_FILE), except in a model dir,
where `config.json` is Hugging Face's model config: the model and train stages pass
`config_file=MODEL_CONFIG_FILE` and write `models/<base|policy>/lmforge_config.json`. A stage
whose outs are files, not one directory (the report), names its own file; whatever the name,
dvc.yaml must declare it as an out (or it lies inside a declared out directory).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from stages.common import io, params, tracking

CONFIG_FILE = "config.json"                 # the resolved params, in the stage's output directory
MODEL_CONFIG_FILE = "lmforge_config.json"   # ... in a model dir, beside HF's own config.json


@dataclass
class Stage:
    name: str
    cfg: Any                                   # the whole params.yaml (read-only, struct mode)
    params: dict                               # dotted section -> its checked plain value
    metrics: dict = field(default_factory=dict)   # set by the stage; `seconds` is added on exit
    tracker: tracking.StageRun | None = None

    def path(self, key: str) -> Path:
        """`paths.<key>` of params (`models/base`: paths.models / "base"): every path a stage
        reads or writes is written once there."""
        key, _, sub = key.partition("/")
        return Path(params.select(self.cfg, f"paths.{key}")) / sub


@contextlib.contextmanager
def stage(name: str, sections: dict[str, Any], out: str | None = None,
          metrics: str | None = None, config_extra: dict | None = None,
          config_file: str = CONFIG_FILE) -> Iterator[Stage]:
    """Run a stage body. `sections`: dotted params key -> key schema (see params.check_keys);
    `out`: the `paths.<key>[/<sub dir>]` directory the resolved params are saved in, as
    `config_file` (None: not saved); `metrics`: the metrics file as `<paths key>/<file>`
    (default `metrics/<name>.json`: ${paths.metrics}/<name>.json)."""
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
            io.write_json({"stage": name, "params": config}, st.path(out) / config_file)
        io.write_json(st.metrics, st.path(metrics or f"metrics/{name}.json"))
        tr.summary({k: v for k, v in st.metrics.items() if k != "histogram"})
