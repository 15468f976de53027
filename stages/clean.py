"""Clean: validate rows, normalise text, filter by the rules (as the profile of `data.kind`
changes them), redact PII.

    dvc exp run -S data.clean.rules.length.max_chars=5000            # every kind
    dvc exp run -S data.clean.profiles.instruct.length.max_words=2000 # one kind
"""
from __future__ import annotations

from pathlib import Path

from stages.common import cli, stagerun
from stages.data import clean, rows, text


def run(raw_dir: Path, out_dir: Path, kind: str, cfg: dict) -> dict:
    fields = text.check_fields(cfg["fields"], "data.clean.fields")
    profile = clean.profile(cfg, kind)
    src = rows.Input.open(rows.raw_files(raw_dir))
    repeated = clean.repeated_ids(src.keys["id"])
    counts: dict = {}
    with rows.stage_dir(out_dir, rows.KEPT_REJECTED) as out:
        for lo, df in src.chunks("clean"):
            kept, rejected, c = clean.run(df, profile, fields, repeated[lo:lo + df.height])
            out.rows(kept, rejected)
            clean.add_counts(counts, c)
    return out.tally.funnel(src.height, out.kept, pii=clean.pii_counts(counts), transforms=counts)


def main() -> None:
    sections = {"data.kind": None, "data.clean": {"fields": None, "rules": None, "profiles": None}}
    with stagerun.stage("clean", sections, out="clean") as st:
        st.metrics = run(st.path("raw"), st.path("clean"), st.params["data.kind"], st.params["data.clean"])
    m = st.metrics
    print(f"clean: {m['rows_kept']} kept, {m['rows_rejected']} rejected {m['rejected_by_rule']}; pii {m['pii']}")


if __name__ == "__main__":
    cli.run(main, "clean")
