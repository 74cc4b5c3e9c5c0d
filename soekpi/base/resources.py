"""Where the built-in resources live: the default catalogue and the report templates.

They sit at the top of the repository next to the package (the project is installed
editable); a wheel would carry them under ``soekpi/_data/``, which is looked at first.
"""

from __future__ import annotations

from pathlib import Path

from soekpi.base.errors import RuntimeFailure

_PACKAGE = Path(__file__).resolve().parents[1]


def _resource(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeFailure(
        f"the built-in '{name}' folder is missing next to {_PACKAGE}; reinstall soekpi"
    )


def default_catalogue_dir() -> Path:
    """The folder of the default catalogue (``metrics/``), copied by ``soekpi init``."""
    return _resource("metrics")


def templates_dir() -> Path:
    """The folder of the built-in report templates (``reports/``)."""
    return _resource("reports")
