"""Report stage: every metric, curve and sample of one run in reports/report.{md,html}.

    python -m stages.report          # dvc repro report; dvc exp run -S report.samples_per_cell=5

Lives in `__main__.py` because `stages/report/` is the package; a sibling `stages/report.py`
would be shadowed by it.
"""
from __future__ import annotations

import time
from pathlib import Path

from stages.common import cli, params, tracking
from stages.report import collect, evaltable, render, sections


def main() -> None:
    start = time.perf_counter()
    cfg = params.load()
    opts = params.to_dict(cfg.report)
    with tracking.stage_run("report", config=opts, track=cfg.track) as run:
        inputs = collect.gather(collect.Paths.from_params(cfg.paths))
        doc = sections.build(inputs, opts["title"], opts["samples_per_cell"], float(opts["alpha"]))
        rows = evaltable.flat_rows(inputs.eval_cells)
        out = render.write(doc, Path(cfg.paths.report), rows)
        summary = {"eval_rows": len(rows), "curves": len(inputs.curves),
                   "sections": len(doc.sections), "seconds": round(time.perf_counter() - start, 2)}
        run.summary(summary)
    print(f"report: wrote {out['md']}, {out['html']} ({len(rows)} eval rows, {len(inputs.curves)} curves)")


if __name__ == "__main__":
    cli.run(main, "report")
