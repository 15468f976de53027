"""Compare DVC experiments side by side: a markdown table + a figure.   make compare EXPS="a b"

    python scripts/compare.py                       # every experiment of the current baseline
    python scripts/compare.py exp-a exp-b main      # these, in this order
    python scripts/compare.py -A --out reports/sweep.md exp-a exp-b   # search all commits

Reads `dvc exp show --json`; writes <out> (markdown) and the figure beside it (<out>.png).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages.common import io  # noqa: E402
from stages.report import compare  # noqa: E402


def exp_show(all_commits: bool) -> list[dict]:
    cmd = ["dvc", "exp", "show", "--json", *(["-A"] if all_commits else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    return json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiments", nargs="*", help="experiment names, branches, `workspace`, or revs")
    ap.add_argument("--out", default="reports/compare.md")
    ap.add_argument("-A", "--all-commits", action="store_true", help="look beyond the current baseline")
    args = ap.parse_args()
    try:
        exps = compare.select(compare.parse_exp_show(exp_show(args.all_commits)), args.experiments)
    except KeyError as e:
        sys.exit(str(e.args[0]))
    if len(exps) < 2:
        sys.exit(f"need at least 2 experiments to compare, found {len(exps)}: run `dvc exp show`")
    out = Path(args.out)
    png = compare.figure(exps)
    if png is not None:
        with io.atomic_path(out.with_suffix(".png")) as tmp:
            tmp.write_bytes(png)
    io.write_text(compare.render(exps, out.with_suffix(".png").name if png else None), out)
    print(f"compare: wrote {out}" + (f" and {out.with_suffix('.png')}" if png else "") +
          f" ({len(exps)} experiments)")


if __name__ == "__main__":
    main()
