"""The face: the Typer commands (:mod:`soekpi.cli.app`) and every Rich table
(:mod:`soekpi.cli.tables`), over the use cases of :mod:`soekpi.api`."""

from soekpi.cli.app import app, main

__all__ = ["app", "main"]
