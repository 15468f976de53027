"""Fixtures of the end-to-end tests live in e2e_workspace.py (a unique module name, importable
from any test dir without clashing with other conftest modules)."""
from e2e_workspace import smoke_build, smoke_repo  # noqa: F401
