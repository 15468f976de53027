"""What each stage reads from outside the repo, as one small json per stage: the versions of the
distributions its code imports, the content of the files it opens, the package versions and hub
revisions of its sources.

DVC runs this stage on every `dvc repro` (`always_changed`); it writes a key file only when its
content changes, and each stage depends on its own key file, so upgrading TRL reruns exactly
the stages whose import closure holds TRL, and truncating a source file reruns ingest. Cheap:
no heavy imports, and file hashes are remembered by stat (stages.common.fingerprint).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import yaml

from stages.common import cli, closure, io, params
from stages.common.fingerprint import Hasher, reference
from stages.common.shared import shared_datasets

DVC_YAML = Path("dvc.yaml")


def stage_entries(dvc_yaml: Path = DVC_YAML) -> dict[str, str]:
    """{stage: module} for every dvc.yaml stage run as `python -m stages.<x>` (but `keys` itself)."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    out = {}
    for name, spec in stages.items():
        if spec.get("always_changed"):
            continue
        words = str(spec.get("cmd", "") if "do" not in spec else spec["do"]["cmd"]).split()
        if words[:2] == ["python", "-m"] and words[2].startswith("stages."):
            out[name] = words[2]
    return out


def _model_inputs(cfg: Any, h: Hasher) -> dict:
    m = cfg.model
    out = {"source": reference(m.source, h, m.get("revision"), "model.revision")}
    if m.get("tokenizer_source"):
        out["tokenizer_source"] = reference(m.tokenizer_source, h, m.get("revision"), "model.revision")
    return out


def _ingest_inputs(cfg: Any, h: Hasher) -> dict:
    out = {}
    for i, src in enumerate(params.to_dict(cfg.data.sources)):
        kind, path = src.get("kind"), src.get("path")
        if kind in ("file", "package", "hf") and path:
            ref = {"file": path, "package": f"package:{path}", "hf": f"hf:{path}"}[kind]
            out[src["name"]] = reference(ref, h, src.get("revision"), f"data.sources[{i}].revision")
    return out


def _dedup_inputs(cfg: Any, h: Hasher) -> dict:
    """Benchmark test sources decontamination reads from outside paths.datasets."""
    return {name: _bench_inputs({"source": b["source"], "revision": b.get("revision")}, h)
            for name, b in params.to_dict(cfg.eval.benchmarks).items() if b.get("decontam")}


def _bench_inputs(bench: dict, h: Hasher) -> dict:
    """A benchmark's sources outside paths.datasets, and an lm-eval task's own YAML dir."""
    out = {}
    for key in ("source", "fewshot_source"):
        ref = bench.get(key)
        if ref and not (ref.startswith("local:") and not ref[6:].startswith("/")):
            out[key] = reference(ref, h, bench.get("revision"))
    if bench.get("include_path"):
        out["include_path"] = {"path": bench["include_path"], "sha256": h.path(Path(bench["include_path"]))}
    return out


def _datasets_inputs(cfg: Any, h: Hasher) -> dict:
    """Per benchmark file: the local copy's content when there is one, else what its package or
    the hub would give."""
    out = {}
    for name, bench in params.to_dict(cfg.eval.benchmarks).items():
        for f, spec in (bench.get("files") or {}).items():
            rel, local = f"{name}/{f}", shared_datasets() / name / f
            if local.exists():
                out[rel] = {"sha256": h.path(local)}
            elif spec.get("package"):
                out[rel] = reference(f"package:{spec['package']}", h)
            else:
                out[rel] = {k: spec.get(k) for k in ("hf", "config", "split", "data_dir", "revision")}
    return out


def _winrate_inputs(cfg: Any, h: Hasher) -> dict:
    """The reward model that judges the win rate (none: the stage is skipped)."""
    from stages.eval.winrate import rm_dir

    rm = cfg.eval.get("winrate", {}).get("rm")
    return {"rm": {"path": str(rm), "sha256": h.path(rm_dir(rm))}} if rm else {}


INPUTS: dict[str, Callable[[Any, Hasher], dict]] = {
    "model": _model_inputs, "ingest": _ingest_inputs, "dedup": _dedup_inputs,
    "datasets": _datasets_inputs, "winrate": _winrate_inputs,
}


def keys(cfg: Any, entries: dict[str, str], h: Hasher) -> dict[str, dict]:
    """{key file name: key} for every stage (one per benchmark for the eval matrix)."""
    python = sys.version.split()[0]
    out = {}
    for stage, module in entries.items():
        base = {"python": python, "libraries": closure.stage_distributions(module)}
        if stage == "eval":
            for bench, spec in params.to_dict(cfg.eval.benchmarks).items():
                out[f"eval-{bench}"] = {**base, "inputs": _bench_inputs(spec, h)}
            continue
        fn = INPUTS.get(stage)
        out[stage] = {**base, "inputs": fn(cfg, h) if fn else {}}
    return out


def write_changed(keyed: dict[str, dict], out_dir: Path) -> list[str]:
    """Write each key file whose content differs; remove key files of stages that are gone."""
    out_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, key in keyed.items():
        path, text = out_dir / f"{name}.json", json.dumps(key, indent=1, sort_keys=True) + "\n"
        if not path.exists() or path.read_text() != text:
            io.write_text(text, path)
            changed.append(name)
    for path in out_dir.glob("*.json"):
        if path.stem not in keyed:
            path.unlink()
    return changed


def main() -> None:
    cfg = params.load()
    h = Hasher()
    changed = write_changed(keys(cfg, stage_entries(), h), Path(cfg.paths.key_files))
    h.save()
    print(f"keys: {len(changed)} changed" + (f" ({', '.join(changed)})" if changed else ""))


if __name__ == "__main__":
    cli.run(main, "keys")
