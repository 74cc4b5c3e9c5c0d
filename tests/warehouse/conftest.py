"""Fixtures of the warehouse tests (defined in wh_workspace.py, a uniquely named module)."""

from wh_workspace import soekpi, with_entities, workspace

__all__ = ["soekpi", "with_entities", "workspace"]
