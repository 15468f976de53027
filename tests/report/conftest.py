"""Fixtures for the report tests: a workspace holding every report input (report_fixtures.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import build_workspace, render_report


@pytest.fixture
def report_workspace(tmp_path) -> Path:
    return build_workspace(tmp_path / "ws")


@pytest.fixture(scope="module")
def rendered_workspace(tmp_path_factory) -> Path:
    """One fixture workspace with the report already rendered (shared by read-only tests)."""
    root = build_workspace(tmp_path_factory.mktemp("rendered") / "ws")
    render_report(root)
    return root
