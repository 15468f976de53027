"""Sources -> one canonical parquet per source.   dvc exp run -S data=gsm8k"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from stages.common import cli, rejects, stagerun
from stages.data import canonical, rows, schema
from stages.data.sources import SOURCE_KEYS, SourceError


def run(sources: list[dict], on_bad_row: str, out_dir: Path) -> dict:
    names = [s["name"] for s in sources]
    if len(set(names)) != len(names):
        raise SourceError(f"data.sources: duplicate names {names}")
    files = {f"{n}.parquet": schema.ROW_SCHEMA for n in names} | {"rejected.parquet": rejects.REJECT_SCHEMA}
    per_source = {}
    with rows.stage_dir(out_dir, files) as out:
        for src in sources:
            got = _ingest(src, on_bad_row, out)
            _require_rows(src, got)
            per_source[src["name"]] = {"rows_in": got.rows_in, "rows_kept": got.kept,
                                       "rows_rejected": sum(got.rules.values())}
    return out.tally.funnel(sum(s["rows_in"] for s in per_source.values()), out.kept, sources=per_source)


@dataclass
class Got:
    """What one source gave: rows read, kept, rejected per rule, the first rejected row."""
    rows_in: int = 0
    kept: int = 0
    rules: Counter = field(default_factory=Counter)
    first: dict | None = None


def _ingest(src: dict, on_bad_row: str, out: rows.Out) -> Got:
    """Stream one source's records into its parquet file and rejected.parquet."""
    got, kept, rejected = Got(), [], []
    for row, bad in canonical.records(src, on_bad_row):
        got.rows_in += 1
        if row:
            kept.append(row)
        else:
            rejected.append(bad)
            got.rules[bad["rule"]] += 1
            got.first = got.first or bad
        if len(kept) + len(rejected) >= rows.CHUNK_ROWS:
            got.kept += _flush(src, kept, rejected, out)
    got.kept += _flush(src, kept, rejected, out)
    return got


def _flush(src: dict, kept: list, rejected: list, out: rows.Out) -> int:
    out.append(f"{src['name']}.parquet", schema.frame(kept))
    out.append("rejected.parquet", rejects.frame(rejected))
    out.kept += len(kept)
    n = len(kept)
    kept.clear()
    rejected.clear()
    return n


def _require_rows(src: dict, got: Got) -> None:
    """A source none of whose rows survive is a mistake (wrong file, wrong mapping), not data:
    stop, naming it and why its rows went, unless the source says `allow_empty: true`."""
    if got.kept or src.get("allow_empty"):
        return
    first = f"; first: line {got.first['id'].rsplit(':', 1)[-1]}: {got.first['detail']}" if got.first else ""
    raise SourceError(f"{src.get('path') or src['name']}: no row kept of {got.rows_in} "
                      f"({dict(got.rules.most_common(3))}{first}); set data.sources[{src['name']}]"
                      f".allow_empty=true to accept an empty source")


def main() -> None:
    with stagerun.stage("ingest", {"data.sources": [SOURCE_KEYS], "data.on_bad_row": None}, out="raw") as st:
        p = st.params
        st.metrics = run(p["data.sources"], p["data.on_bad_row"], st.path("raw"))
    print(f"ingest: {st.metrics['rows_kept']} rows kept, {st.metrics['rows_rejected']} quarantined")


if __name__ == "__main__":
    cli.run(main, "ingest")
