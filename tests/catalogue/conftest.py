"""Fixtures of the catalogue tests (defined in catalogue_workspace.py, a uniquely named module)."""

from catalogue_workspace import build_workspace

__all__ = ["build_workspace"]
