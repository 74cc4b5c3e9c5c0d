"""Finding the workspace and reading soekpi.yaml (SPEC §1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from soekpi.base.errors import InputError, UsageError
from soekpi.catalogue.validate import check_catalogue
from soekpi.workspace import find_workspace, read_workspace

KNOWN = "warehouse, catalogue, templates, output, fiscal_year, language, root_entity"


@pytest.fixture(autouse=True)
def no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOEKPI_WORKSPACE", raising=False)


def make(root: Path, text: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "soekpi.yaml").write_text(text, encoding="utf-8")
    return root


def test_explicit_folder_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path / "one")
    make(tmp_path / "two")
    monkeypatch.setenv("SOEKPI_WORKSPACE", str(tmp_path / "two"))
    assert find_workspace(tmp_path / "one").root == tmp_path / "one"
    assert find_workspace().root == tmp_path / "two"


def test_the_nearest_parent_holding_soekpi_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path / "outer")
    make(tmp_path / "outer" / "inner")
    (tmp_path / "outer" / "inner" / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "outer" / "inner" / "a" / "b")
    assert find_workspace().root == tmp_path / "outer" / "inner"
    monkeypatch.chdir(tmp_path / "outer")
    assert find_workspace().root == tmp_path / "outer"


def test_no_workspace_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        find_workspace()
    assert str(caught.value) == (
        f"no soekpi.yaml in '{tmp_path}' or any parent folder; pass --workspace DIR, set "
        "SOEKPI_WORKSPACE, or create one with 'soekpi init DIR'"
    )


def test_a_folder_that_is_not_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        find_workspace(tmp_path)
    assert str(caught.value) == (
        f"'{tmp_path}' is not a soekpi workspace (no soekpi.yaml); "
        "create one with 'soekpi init DIR'"
    )
    with pytest.raises(UsageError) as caught:
        find_workspace(tmp_path / "missing")
    assert str(caught.value) == f"workspace folder '{tmp_path / 'missing'}' does not exist"


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    ws = read_workspace(
        make(
            tmp_path,
            "warehouse: store/wh.duckdb\ncatalogue: [kpis, extra/board.yaml]\n"
            "fiscal_year: {start_month: 4, label: start}\nlanguage: zh-CN\nroot_entity: G01\n",
        )
    )
    assert ws.warehouse_path == tmp_path / "store" / "wh.duckdb"
    assert ws.catalogue == (tmp_path / "kpis", tmp_path / "extra" / "board.yaml")
    assert ws.output == tmp_path / "out"
    assert (ws.fiscal.start_month, ws.fiscal.label) == (4, "start")
    assert (ws.language, ws.root_entity) == ("zh-CN", "G01")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("language: en\ncolour: red\n", f"2: colour: unknown setting (known: {KNOWN})"),
        (
            "fiscal_year:\n  start_month: 4\n  lable: end\n",
            "3: fiscal_year.lable: unknown setting (known: start_month, label)",
        ),
        (
            "fiscal_year:\n  start_month: 13\n",
            "2: fiscal_year.start_month: must be a month number 1..12, not 13",
        ),
        (
            "fiscal_year: {start_month: April}\n",
            "1: fiscal_year.start_month: must be a month number 1..12, not 'April'",
        ),
        (
            "fiscal_year:\n  label: middle\n",
            "2: fiscal_year.label: must be 'end' or 'start', not 'middle'",
        ),
        (
            "fiscal_year: 4\n",
            "1: fiscal_year: must be a mapping with start_month and label",
        ),
        ("\nlanguage: fr\n", "2: language: must be one of en, zh-CN, not 'fr'"),
        (
            "warehouse:\n  path: w.duckdb\n  memory_limit: lots\n",
            "3: warehouse.memory_limit: must be a size such as 500MB or 2GB, not 'lots'",
        ),
        (
            "warehouse: {memory_limit: 512}\n",
            "1: warehouse.memory_limit: must be a size such as 500MB or 2GB, not 512",
        ),
        (
            "warehouse:\n  engine: spark\n  memory_limit: 2GB\n",
            "3: warehouse.memory_limit: is a DuckDB setting; give Spark's memory in conf "
            "(spark.driver.memory)",
        ),
        ("- a\n- b\n", "1: soekpi.yaml must be a mapping of settings"),
    ],
)
def test_mistakes_in_soekpi_yaml_name_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    make(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_workspace(tmp_path)
    assert str(caught.value) == f"{tmp_path / 'soekpi.yaml'}:{message}"


def test_a_missing_catalogue_folder_is_a_problem(tmp_path: Path) -> None:
    ws = read_workspace(make(tmp_path, "catalogue: kpis\n"))
    catalogue, problems = check_catalogue(ws)
    assert catalogue is None
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'soekpi.yaml'}: catalogue path '{tmp_path / 'kpis'}' does not exist"
    ]


def test_an_empty_catalogue_folder_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "metrics").mkdir()
    ws = read_workspace(make(tmp_path))
    assert [str(p) for p in check_catalogue(ws)[1]] == [
        f"{tmp_path / 'soekpi.yaml'}: catalogue: no *.yaml or *.yml files in metrics"
    ]


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("warehouse: data/w.duckdb\n", None),
        ("warehouse: {path: data/w.duckdb, memory_limit: 500MB}\n", "500MB"),
        ("warehouse: {path: data/w.duckdb, memory_limit: 1.5 GiB}\n", "1.5GiB"),
    ],
)
def test_a_duckdb_memory_limit(tmp_path: Path, text: str, limit: str | None) -> None:
    ws = read_workspace(make(tmp_path, text))
    assert ws.warehouse.path == tmp_path / "data" / "w.duckdb"
    assert ws.warehouse.memory_limit == limit
