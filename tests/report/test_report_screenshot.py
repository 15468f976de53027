"""The HTML report opens in headless Chromium and renders a real page (not blank, not an error)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stages.report.screenshot import find_chromium

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(find_chromium() is None,
                    reason="chromium not installed: `apt-get install -y chromium` to screenshot the report")
def test_report_html_screenshot(rendered_workspace, tmp_path):
    from PIL import Image

    png = tmp_path / "report.png"
    proc = subprocess.run([sys.executable, str(REPO / "scripts/report_screenshot.py"), "reports/report.html",
                           str(png), "--height", "1600"], cwd=rendered_workspace, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    img = Image.open(png).convert("RGB")
    assert img.size == (1280, 1600)
    header = img.crop((0, 0, 1280, 60)).getcolors(1 << 16)
    dark = sum(n for n, (r, g, b) in header if r + g + b < 150)
    assert dark > 0.5 * 1280 * 60                               # the dark header band rendered
    colors = img.getcolors(1 << 20)
    assert colors is not None and len(colors) > 200             # figures and text, not a blank page
