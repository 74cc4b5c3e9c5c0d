"""Workspace discovery and ``soekpi.yaml`` settings (SPEC §1)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soekpi.base.calendar import FiscalSettings
from soekpi.base.errors import InputError, Location, UsageError
from soekpi.base.text import LANGUAGES

WORKSPACE_FILE = "soekpi.yaml"
_KEYS = ("warehouse", "catalogue", "templates", "output", "fiscal_year", "language", "root_entity")
_WAREHOUSE_KEYS = ("engine", "path", "memory_limit", "master", "database", "conf")
#: A DuckDB memory size as soekpi accepts it (``500MB``, ``2 GB``, ``1.5GiB``).
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class WarehouseSettings:
    """Where the data lives: a DuckDB file (the default) or a Spark database."""

    engine: str = "duckdb"  # duckdb | spark
    path: Path | None = None  # duckdb: the file
    memory_limit: str | None = None  # duckdb: its memory_limit (spills to temp files beyond)
    master: str = "local[2]"  # spark
    database: str = "default"  # spark
    conf: dict[str, str] = field(default_factory=dict)  # spark


@dataclass(frozen=True)
class Workspace:
    """A workspace folder and its settings, with every path made absolute."""

    root: Path
    warehouse: WarehouseSettings
    catalogue: tuple[Path, ...]
    templates: Path | None
    output: Path
    fiscal: FiscalSettings
    language: str = "en"
    root_entity: str | None = None

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file (DuckDB workspaces only)."""
        if self.warehouse.engine != "duckdb" or self.warehouse.path is None:
            raise UsageError(
                f"this command needs a DuckDB warehouse; {self.root / WORKSPACE_FILE} names "
                f"engine '{self.warehouse.engine}', which soekpi only reads: load its tables "
                "with the lake's own pipelines (docs/scale-out.md)"
            )
        return self.warehouse.path

    def catalogue_files(self) -> list[Path]:
        """Every catalogue YAML file: folders expand to their *.yaml / *.yml, sorted."""
        files: list[Path] = []
        for entry in self.catalogue:
            if entry.is_dir():
                files.extend(sorted(p for p in entry.iterdir() if p.suffix in (".yaml", ".yml")))
            elif entry.exists():
                files.append(entry)
            else:
                raise InputError(
                    f"catalogue path '{entry}' does not exist",
                    Location(str(self.root / WORKSPACE_FILE)),
                )
        return files

    def shown(self, path: Path) -> str:
        """A path as messages show it: relative to the workspace when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def find_workspace(explicit: Path | None = None) -> Workspace:
    """Find the workspace: ``explicit`` (--workspace), else $SOEKPI_WORKSPACE, else the
    current folder or its nearest parent holding ``soekpi.yaml``."""
    if explicit is None and os.environ.get("SOEKPI_WORKSPACE"):
        explicit = Path(os.environ["SOEKPI_WORKSPACE"])
    if explicit is not None:
        root = explicit.expanduser().resolve()
        if not root.is_dir():
            raise UsageError(f"workspace folder '{explicit}' does not exist")
        if not (root / WORKSPACE_FILE).is_file():
            raise UsageError(
                f"'{explicit}' is not a soekpi workspace (no {WORKSPACE_FILE}); "
                "create one with 'soekpi init DIR'"
            )
        return read_workspace(root)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / WORKSPACE_FILE).is_file():
            return read_workspace(folder)
    raise UsageError(
        f"no {WORKSPACE_FILE} in '{here}' or any parent folder; pass --workspace DIR, set "
        "SOEKPI_WORKSPACE, or create one with 'soekpi init DIR'"
    )


def read_workspace(root: Path) -> Workspace:
    """Read ``root/soekpi.yaml`` into a Workspace; every mistake names file and line."""
    settings = _SettingsFile.read(root)
    data = settings.data
    for key in data:
        if key not in _KEYS:
            raise settings.fail(key, f"unknown setting (known: {', '.join(_KEYS)})")
    warehouse = _warehouse_settings(data, root, settings.fail)
    catalogue = _catalogue_paths(settings, root)
    fiscal = _fiscal_settings(settings)
    language = data.get("language", "en")
    if language not in LANGUAGES:
        raise settings.fail("language", f"must be one of {', '.join(LANGUAGES)}, not {language!r}")
    root_entity = data.get("root_entity")
    if root_entity is not None and not isinstance(root_entity, str | int):
        raise settings.fail("root_entity", "must be an entity id")
    return Workspace(
        root=root,
        warehouse=warehouse,
        catalogue=catalogue,
        templates=_path_of(settings, root, "templates", None),
        output=_path_of(settings, root, "output", "out") or root / "out",
        fiscal=fiscal,
        language=language,
        root_entity=None if root_entity is None else str(root_entity),
    )


@dataclass(frozen=True)
class _SettingsFile:
    """``soekpi.yaml`` as read, and where a wrong setting stands in it."""

    shown: str
    data: Any  # a YamlMap (soekpi.base.yamlio is imported on first use)

    @staticmethod
    def read(root: Path) -> _SettingsFile:
        """The settings of ``root/soekpi.yaml`` (an empty file is no settings)."""
        from soekpi.base.yamlio import YamlMap, read_yaml

        file = root / WORKSPACE_FILE
        shown = str(file)
        data = read_yaml(file, shown)
        if data is None:
            data = YamlMap()
            data.key_lines = {}
        if not isinstance(data, YamlMap):
            raise InputError("soekpi.yaml must be a mapping of settings", Location(shown, 1))
        return _SettingsFile(shown, data)

    def fail(self, key: str, message: str, where: dict[str, Any] | None = None) -> InputError:
        """The error for setting ``key`` (``where``: the mapping that holds it, when nested)."""
        from soekpi.base.yamlio import YamlMap

        where = self.data if where is None else where
        # a nested setting (fiscal_year.label) points at its own line when it has one
        owner = where if isinstance(where, YamlMap) else self.data
        line = owner.line_of(key.split(".")[-1] if owner is where else key.split(".")[0])
        return InputError(f"{key}: {message}", Location(self.shown, line))


def _catalogue_paths(settings: _SettingsFile, root: Path) -> tuple[Path, ...]:
    """The catalogue folder or files, made absolute (default: ``metrics``)."""
    raw_catalogue = settings.data.get("catalogue", "metrics")
    items = raw_catalogue if isinstance(raw_catalogue, list) else [raw_catalogue]
    if not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise settings.fail("catalogue", "must be a folder or a list of files/folders")
    return tuple((root / i).resolve() for i in items)


def _fiscal_settings(settings: _SettingsFile) -> FiscalSettings:
    """``fiscal_year``: its start month (1..12) and whether a year is named by its end or
    its start."""
    fiscal_raw = settings.data.get("fiscal_year") or {}
    if not isinstance(fiscal_raw, dict):
        raise settings.fail("fiscal_year", "must be a mapping with start_month and label")
    for key in fiscal_raw:
        if key not in ("start_month", "label"):
            raise settings.fail(
                f"fiscal_year.{key}", "unknown setting (known: start_month, label)", fiscal_raw
            )
    start_month = fiscal_raw.get("start_month", 1)
    if (
        isinstance(start_month, bool)
        or not isinstance(start_month, int)
        or not (1 <= start_month <= 12)
    ):
        raise settings.fail(
            "fiscal_year.start_month",
            f"must be a month number 1..12, not {start_month!r}",
            fiscal_raw,
        )
    label = fiscal_raw.get("label", "end")
    if label not in ("end", "start"):
        raise settings.fail(
            "fiscal_year.label", f"must be 'end' or 'start', not {label!r}", fiscal_raw
        )
    return FiscalSettings(start_month=start_month, label=label)


def _path_of(settings: _SettingsFile, root: Path, key: str, default: str | None) -> Path | None:
    """The path setting ``key`` made absolute, or None when absent without a default."""
    value = settings.data.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise settings.fail(key, "must be a path")
    return (root / value).resolve()


def _warehouse_settings(data: Any, root: Path, fail: Any) -> WarehouseSettings:
    raw = data.get("warehouse", "data/warehouse.duckdb")
    if isinstance(raw, str) and raw.strip():
        return WarehouseSettings(engine="duckdb", path=(root / raw).resolve())
    if not isinstance(raw, dict):
        raise fail("warehouse", "must be a path or a mapping with 'engine'")
    for key in raw:
        if key not in _WAREHOUSE_KEYS:
            raise fail(
                f"warehouse.{key}", f"unknown setting (known: {', '.join(_WAREHOUSE_KEYS)})", raw
            )
    engine = raw.get("engine", "duckdb")
    if engine == "duckdb":
        path = raw.get("path", "data/warehouse.duckdb")
        if not isinstance(path, str) or not path.strip():
            raise fail("warehouse.path", "must be a path", raw)
        limit = raw.get("memory_limit")
        if limit is not None and not (isinstance(limit, str) and _MEMORY.match(limit)):
            raise fail(
                "warehouse.memory_limit", f"must be a size such as 500MB or 2GB, not {limit!r}", raw
            )
        return WarehouseSettings(
            engine="duckdb",
            path=(root / path).resolve(),
            memory_limit=None if limit is None else limit.replace(" ", ""),
        )
    if engine == "spark":
        if "memory_limit" in raw:
            raise fail(
                "warehouse.memory_limit",
                "is a DuckDB setting; give Spark's memory in conf (spark.driver.memory)",
                raw,
            )
        conf = raw.get("conf") or {}
        if not isinstance(conf, dict):
            raise fail("warehouse.conf", "must be a mapping of Spark settings", raw)
        return WarehouseSettings(
            engine="spark",
            master=str(raw.get("master", "local[2]")),
            database=str(raw.get("database", "default")),
            conf={str(k): str(v) for k, v in conf.items()},
        )
    raise fail("warehouse.engine", f"must be 'duckdb' or 'spark', not {engine!r}", raw)


# ------------------------------------------------------------------ a new workspace

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


def check_new_workspace(directory: Path) -> Path:
    """The folder ``directory`` resolved, once it is known to be new or empty; a UsageError
    (nothing written) when it is already a workspace, not a folder, or not empty."""
    target = directory.expanduser().resolve()
    if not target.exists():
        return target
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
    return target


def create_workspace(
    target: Path, catalogue_dir: Path, fill: Callable[[Workspace], None] | None = None
) -> Workspace:
    """Create a workspace at ``target`` (checked by :func:`check_new_workspace`) with the
    catalogue files of ``catalogue_dir``; ``fill`` then writes its warehouse (the demo).

    It is built in a hidden sibling folder and renamed into place, so a create that fails
    (or is interrupted) leaves nothing behind."""
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
        if fill is not None:
            fill(read_workspace(building))
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
