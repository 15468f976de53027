"""The report stage's library: read every stage's metrics, build one document, render it twice.

    python -m stages.report          # reports/report.md (+ figures/), reports/report.html,
                                     # reports/eval_table.json (for `dvc plots`)

  inputs.py     readers for metrics json, DVCLive curves, eval samples (missing -> "not run")
  identity.py   git rev, DVC experiment, params hash, dvc.lock hashes, params vs defaults
  collect.py    everything the report needs, gathered into one value (no I/O after this)
  evaltable.py  eval scores -> flat rows and base-vs-policy deltas
  figures.py    matplotlib PNGs
  sections.py   the document, one function per section
  document.py   the document model; markdown.py and html.py render it
  prcomment.py  the pull-request comment (metrics diff vs main + eval table + curves)
  compare.py    a comparison table + figure across DVC experiments
  screenshot.py headless Chromium screenshot of the HTML report
"""
