"""Screenshot the HTML report with headless Chromium.   make report-screenshot

    python scripts/report_screenshot.py [reports/report.html] [reports/report.png] [--height 2400]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages.report.screenshot import screenshot  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("html", nargs="?", default="reports/report.html")
    ap.add_argument("png", nargs="?", default="reports/report.png")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args()
    if not Path(args.html).exists():
        sys.exit(f"{args.html}: not found; run `dvc repro report` first")
    out = screenshot(Path(args.html), Path(args.png), args.width, args.height)
    print(f"report-screenshot: wrote {out}")


if __name__ == "__main__":
    main()
