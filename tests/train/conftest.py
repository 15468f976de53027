"""Fixtures of the training tests live in train_workspace.py (a unique module name, importable
from any test dir without clashing with other conftest modules)."""
from train_workspace import *  # noqa: F401,F403
