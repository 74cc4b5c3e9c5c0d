"""``soekpi init``: a new workspace with the default catalogue, built aside and renamed into
place, so an init that fails (or is interrupted) leaves nothing behind."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from soekpi.base.errors import UsageError
from soekpi.workspace import WORKSPACE_FILE, Workspace, read_workspace

WORKSPACE_YAML = """\
# soekpi workspace settings. Every key is optional: the values below are the defaults,
# written out so that you can see what there is to change.

# The DuckDB file holding the data, relative to this folder.
warehouse: data/warehouse.duckdb

# The KPI catalogue: a folder (every *.yaml / *.yml in it, sorted) or a list of
# files and folders, e.g. [metrics, extra/board.yaml].
catalogue: metrics

# A folder whose templates override the built-in report templates by file name.
templates: null

# Where report runs are written: <output>/<cycle>/.
output: out

fiscal_year:
  # The first calendar month of the fiscal year, 1..12: 1 (January) for Chinese SOEs,
  # 4 (April) or 7 (July) elsewhere.
  start_month: 1
  # A fiscal year is named by the calendar year it ends in (end) or starts in (start).
  label: end

# Report language: en or zh-CN.
language: en

# The entity shown first at the top of reports (null: the entities without a parent).
root_entity: null
"""

ProgressFn = Callable[[float, float | None, str | None], None]


def init_workspace(
    directory: Path,
    demo: bool = False,
    seed: int = 42,
    scale: float = 1.0,
    progress: ProgressFn | None = None,
) -> Workspace:
    """Create a workspace in ``directory`` (new or empty) with the default catalogue.

    With ``demo`` the warehouse is filled with the synthetic group (same seed, same data).
    Raises UsageError, writing nothing, when the folder is already a workspace or not empty.
    """
    from soekpi.base.resources import default_catalogue_dir

    target = directory.expanduser().resolve()
    if target.exists():
        if not target.is_dir():
            raise UsageError(f"'{directory}' exists and is not a folder; nothing was written")
        if (target / WORKSPACE_FILE).exists():
            raise UsageError(
                f"'{directory}' is already a soekpi workspace ({WORKSPACE_FILE} exists); "
                "nothing was written"
            )
        if any(target.iterdir()):
            raise UsageError(
                f"'{directory}' is not empty; choose a new or empty folder (nothing was written)"
            )
    if demo:
        from soekpi.warehouse.demo import check_demo_options

        check_demo_options(seed, scale)
    catalogue_dir = default_catalogue_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_builds(target)
    # A hidden sibling on the same file system, so that the final rename is atomic.
    building = target.parent / f".{target.name}.init-{os.getpid()}-{secrets.token_hex(4)}"
    building.mkdir()
    try:
        (building / "metrics").mkdir()
        for source in sorted(catalogue_dir.iterdir()):
            if source.suffix in (".yaml", ".yml") and source.is_file():
                shutil.copyfile(source, building / "metrics" / source.name)
        (building / WORKSPACE_FILE).write_text(WORKSPACE_YAML, encoding="utf-8")
        (building / "data").mkdir()
        if demo:
            from soekpi.warehouse.demo import build_demo

            build_demo(read_workspace(building), seed=seed, scale=scale, progress=progress)
        os.rename(building, target)  # replaces an empty folder; fails if one appeared meanwhile
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return read_workspace(target)


def _clean_stale_builds(target: Path) -> None:
    """Remove the hidden build folders of earlier inits of ``target`` whose process is gone
    (an init killed with ``kill -9`` cannot remove its own)."""
    prefix = f".{target.name}.init-"
    for entry in sorted(target.parent.iterdir()):
        pid, _, token = entry.name.removeprefix(prefix).partition("-")
        if not entry.name.startswith(prefix) or not pid.isdigit() or len(token) != 8:
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still building
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
