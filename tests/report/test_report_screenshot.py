"""The HTML report opens in headless Chromium and renders a real page (not blank, not an error),
with the paired-significance columns laid out in the eval table."""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stages.report.screenshot import find_chromium, rendered_dom

REPO = Path(__file__).resolve().parents[2]
needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="chromium not installed: `apt-get install -y chromium` to screenshot the report")

# Measures the eval table as laid out: every header cell's box and text, and the p-value cells.
PROBE = """<script>
window.addEventListener('load', () => {
  const t = [...document.querySelectorAll('table')].find(x => x.innerText.includes('paired p'));
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.top, r.height]; };
  const out = t ? {head: [...t.querySelectorAll('th')].map(h => [h.innerText, ...box(h)]),
                   rows: [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => [c.innerText, c.className])),
                   page: document.documentElement.clientWidth} : null;
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@needs_chromium
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


@needs_chromium
def test_paired_columns_render_side_by_side(rendered_workspace, tmp_path):
    page = tmp_path / "report.html"
    page.write_text((rendered_workspace / "reports/report.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = rendered_dom(page)
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, flags=re.S)
    assert m, "the probe did not run"
    probe = json.loads(html.unescape(m.group(1)))
    assert probe is not None, "no eval table with a `paired p` column in the rendered page"
    names = [h[0] for h in probe["head"]]
    assert names[5:7] == ["paired Δ [95% CI]", "paired p"]
    lefts = [h[1] for h in probe["head"]]
    assert lefts == sorted(lefts) and len(set(lefts)) == len(lefts)     # one row of columns, in order
    assert all(h[2] - h[1] > 20 and h[4] < 80 for h in probe["head"])    # each visible, none wrapped tall
    assert max(h[2] for h in probe["head"]) <= probe["page"]             # fits the 1280 px page
    rows = {(r[0][0], r[1][0]): r for r in probe["rows"]}
    assert rows[("gsm8k", "strict")][6][0] == "0.25 (McNemar +3/−0, n=8)"
    assert rows[("humaneval", "pass@1")][6][0] == "1 (McNemar +0/−1, n=4)"
