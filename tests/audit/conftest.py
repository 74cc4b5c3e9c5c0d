"""Fixtures of the audit tests (defined in audit_workspace.py, a uniquely named module)."""

from audit_workspace import loaded, published, soekpi, workspace

__all__ = ["loaded", "published", "soekpi", "workspace"]
