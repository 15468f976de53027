"""Sources -> one canonical parquet per source.   dvc exp run -S data=gsm8k"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from stages.common import cli, io, rejects, stagerun
from stages.data.canonical import ingest_source
from stages.data.sources import SOURCE_KEYS, SourceError


def run(sources: list[dict], on_bad_row: str, out_dir: Path) -> dict:
    names = [s["name"] for s in sources]
    if len(set(names)) != len(names):
        raise SourceError(f"data.sources: duplicate names {names}")
    per_source, all_rejected, rows_in, kept = {}, [], 0, 0
    with io.atomic_path(out_dir, is_dir=True) as tmp:
        for src in sources:
            got = ingest_source(src, on_bad_row)
            _require_rows(src, got)
            io.write_parquet(rejects.rows_frame(got.rows), tmp / f"{src['name']}.parquet")
            all_rejected += got.rejected
            rows_in, kept = rows_in + got.rows_in, kept + len(got.rows)
            per_source[src["name"]] = {"rows_in": got.rows_in, "rows_kept": len(got.rows),
                                       "rows_rejected": len(got.rejected)}
        rejected = rejects.frame(all_rejected)
        io.write_parquet(rejected, tmp / "rejected.parquet")
    return rejects.funnel(rows_in, kept, rejected, sources=per_source)


def _require_rows(src: dict, got) -> None:
    """A source none of whose rows survive is a mistake (wrong file, wrong mapping), not data:
    stop, naming it and why its rows went, unless the source says `allow_empty: true`."""
    if got.rows or src.get("allow_empty"):
        return
    rules = Counter(r["rule"] for r in got.rejected)
    first = f"; first: line {got.rejected[0]['id'].rsplit(':', 1)[-1]}: {got.rejected[0]['detail']}" \
        if got.rejected else ""
    raise SourceError(f"{src.get('path') or src['name']}: no row kept of {got.rows_in} "
                      f"({dict(rules.most_common(3))}{first}); set data.sources[{src['name']}]"
                      f".allow_empty=true to accept an empty source")


def main() -> None:
    with stagerun.stage("ingest", {"data.sources": [SOURCE_KEYS], "data.on_bad_row": None}, out="raw") as st:
        p = st.params
        st.metrics = run(p["data.sources"], p["data.on_bad_row"], st.path("raw"))
    print(f"ingest: {st.metrics['rows_kept']} rows kept, {st.metrics['rows_rejected']} quarantined")


if __name__ == "__main__":
    cli.run(main, "ingest")
