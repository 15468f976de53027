"""Screenshot an HTML file with headless Chromium (Debian's `chromium`): see the report as a person.

    python scripts/report_screenshot.py reports/report.html reports/report.png
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-dev-shm-usage")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html_file: Path, png: Path, width: int = 1280, height: int = 2400,
               timeout: float = 60.0) -> Path:
    """Render `html_file` at width x height and write `png`; raise with Chromium's stderr on failure."""
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("chromium not found on PATH: `apt-get install -y chromium`")
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={png}", Path(html_file).resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium screenshot of {html_file} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return png


def rendered_dom(html_file: Path, width: int = 1280, height: int = 1600, timeout: float = 60.0) -> str:
    """The DOM after Chromium laid the page out and ran its scripts (`--dump-dom`): lets a test
    read what a layout probe script measured, not just what the HTML source says."""
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("chromium not found on PATH: `apt-get install -y chromium`")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               "--dump-dom", Path(html_file).resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise RuntimeError(f"chromium --dump-dom of {html_file} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return proc.stdout
