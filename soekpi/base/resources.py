"""Where the built-in resources live: the default catalogue and the report templates.

``metrics/`` (the default catalogue) and ``reports/`` (the templates) are kept at the top
of the repository, the only copy in git. They are found in one of two places:

- an installed wheel (``pip install``, ``pipx install .``) carries them inside the package
  as ``soekpi/_data/metrics`` and ``soekpi/_data/reports``: hatchling's ``force-include``
  (pyproject.toml) maps the top-level folders there at build time. Looked at first.
- an editable install (``pip install -e .``, what ``make venv`` does) imports the package
  from the checkout, so they are the repository's own folders next to it, and edits show
  at once. (Hatchling also copies them into ``site-packages/soekpi/_data`` then; that copy
  is never read, since ``soekpi`` itself is imported from the checkout.)
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
