"""Build the pull-request comment for this workspace's experiment against a base branch.

    python scripts/pr_comment.py --base origin/main --out comment.md \
        [--title "..."] [--link "full report=https://..."]

Reads `dvc metrics diff <base> --json --all`, `dvc params diff <base> --json --all` and the
DVCLive training curves; renders with stages.report.prcomment. The workflow posts the file
(one comment per PR, found again by its marker).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages.report import inputs, prcomment  # noqa: E402


def dvc_json(*args: str) -> dict:
    """Run a DVC command with --json; its stderr is shown on failure (e.g. an unknown base rev)."""
    proc = subprocess.run(["dvc", *args, "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"`dvc {' '.join(args)}` failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    return json.loads(proc.stdout or "{}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="main", help="git rev to compare with (origin/main in CI)")
    ap.add_argument("--out", default="-", help="markdown file, or - for stdout")
    ap.add_argument("--title", default=None)
    ap.add_argument("--plots", default="reports/plots/train", help="DVCLive dir of the training curves")
    ap.add_argument("--link", action="append", default=[], metavar="LABEL=URL")
    args = ap.parse_args()

    old, new = prcomment.states_from_dvc_diff(dvc_json("metrics", "diff", args.base, "--all"))
    p_old, p_new = prcomment.states_from_dvc_diff(dvc_json("params", "diff", args.base, "--all"))
    params_changes = [c for c in prcomment.diff_states(p_old, p_new) if c.status != "unchanged"]
    title = args.title or f"lmforge experiment `{os.environ.get('DVC_EXP_NAME') or 'workspace'}`"
    links = dict(link.split("=", 1) for link in args.link)
    text = prcomment.render(old, new, inputs.curves(Path(args.plots)), title, args.base, params_changes, links)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"pr-comment: wrote {args.out} ({len(text):,} chars)")


if __name__ == "__main__":
    main()
