"""Fixtures of the catalogue tests: a workspace holding the base catalogue of catalogue_data.py,
plus or minus the files a test breaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue_data import BASE, BuildWorkspace
from helpers import catalogue_workspace

from soekpi.workspace import Workspace, read_workspace


@pytest.fixture
def build_workspace(tmp_path: Path) -> BuildWorkspace:
    """``build_workspace(files, base=True)``: a workspace whose metrics/ holds the base
    catalogue (unless ``base`` is false) plus or overridden by ``files`` (name → text)."""

    def build(files: dict[str, str] | None = None, base: bool = True) -> Workspace:
        chosen = {**BASE, **(files or {})} if base else files or {}
        return read_workspace(
            catalogue_workspace(tmp_path / "ws", chosen, settings="language: en\n")
        )

    return build
