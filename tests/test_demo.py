"""The synthetic demo group: structure, contracts, deliberate gaps and determinism."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import DEMO_TODAY
from typer.testing import CliRunner

from soekpi.api import init as init_workspace
from soekpi.base.calendar import Cycle, FiscalSettings
from soekpi.base.errors import UsageError
from soekpi.catalogue import load_catalogue
from soekpi.catalogue.model import Catalogue
from soekpi.cli import app
from soekpi.warehouse.connection import open_warehouse
from soekpi.warehouse.demo import DEMO_TABLES, build_demo, demo_months, fill_demo, unit_counts
from soekpi.warehouse.schema import ensure_schema
from soekpi.workspace import Workspace, read_workspace

# DEMO_TODAY is 2026-11-29: the quarter before is 2026-Q3 (start_month 1): data 2023-10 .. 2026-09
TODAY = DEMO_TODAY
SECTORS = ["energy", "finance", "manufacturing", "other", "telecom", "transport"]


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOEKPI_TODAY", TODAY)


@pytest.fixture(scope="module")
def demo_ws(demo_root: Path) -> Workspace:
    """One scale-1 demo built through the command line on TODAY (the ``demo_root`` fixture of
    tests/conftest.py), shared by the read-only tests."""
    return read_workspace(demo_root)


def rows(ws: Workspace, sql: str) -> list[tuple[Any, ...]]:
    with open_warehouse(ws, write=False) as con:
        result: list[tuple[Any, ...]] = con.execute(sql).fetchall()
    return result


def one(ws: Workspace, sql: str) -> Any:
    ((value,),) = rows(ws, sql)
    return value


def fresh_tables(catalogue: Catalogue) -> Any:
    """An in-memory DuckDB with the contract tables (for building demos side by side)."""
    import duckdb

    con = duckdb.connect()
    ensure_schema(con, catalogue)
    return con


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    return load_catalogue(init_workspace(tmp_path_factory.mktemp("cat") / "ws"))


def table_hashes(con: Any) -> dict[str, str]:
    """An MD5 of every demo table's rows, in a fixed order (the rows' text, sorted)."""
    hashes = {}
    for table in DEMO_TABLES:
        ((digest,),) = con.execute(
            f"SELECT md5(string_agg(r, chr(10) ORDER BY r)) "
            f"FROM (SELECT CAST(t AS VARCHAR) AS r FROM {table} t)"
        ).fetchall()
        hashes[table] = digest
    return hashes


# --- structure -------------------------------------------------------------------------


def test_scale_one_has_forty_entities_in_three_levels(demo_ws: Workspace) -> None:
    assert one(demo_ws, "SELECT count(*) FROM entities") == 40
    assert rows(
        demo_ws, "SELECT entity_id, name, name_zh FROM entities WHERE parent_id IS NULL"
    ) == [("G00", "Example Energy Group", "中国示例能源集团")]
    subsidiaries = rows(
        demo_ws, "SELECT entity_id, sector FROM entities WHERE parent_id = 'G00' ORDER BY 1"
    )
    assert subsidiaries == [
        ("S01", "energy"),
        ("S02", "finance"),
        ("S03", "telecom"),
        ("S04", "manufacturing"),
        ("S05", "transport"),
        ("S06", "other"),
    ]
    # 40 = 1 group head + 6 subsidiaries + 33 business units, each under a subsidiary
    units = rows(
        demo_ws,
        "SELECT u.entity_id, u.parent_id, u.sector = s.sector, u.name_zh IS NOT NULL, "
        "u.region IS NOT NULL FROM entities u JOIN entities s ON u.parent_id = s.entity_id "
        "WHERE s.parent_id = 'G00' ORDER BY 1",
    )
    assert len(units) == 33
    assert all(
        e.startswith("U" + p[1:]) and same and zh and region for e, p, same, zh, region in units
    )
    assert units[0][0] == "U0101"


def test_unit_counts_share_round_40_times_scale_entities() -> None:
    # round(40 × s) entities less the group head and six subsidiaries
    assert sum(unit_counts(1.0)) == 40 - 7
    assert sum(unit_counts(2.5)) == 100 - 7
    assert sum(unit_counts(100)) == 4000 - 7
    # at least one unit under every subsidiary, however small the scale
    assert unit_counts(0.01) == [1, 1, 1, 1, 1, 1]


def test_thirty_six_months_end_with_the_quarter_before_today(demo_ws: Workspace) -> None:
    assert demo_months(FiscalSettings(), date(2026, 11, 29)) == (
        date(2023, 10, 1),
        date(2026, 9, 1),
    )
    # April fiscal years: on 2026-11-29 the last finished quarter is Jul–Sep 2026
    assert demo_months(FiscalSettings(start_month=4), date(2026, 11, 29))[1] == date(2026, 9, 1)
    # July fiscal years, label end: on 2026-08-15 the last quarter ended in June 2026
    assert demo_months(FiscalSettings(start_month=7), date(2026, 8, 15)) == (
        date(2023, 7, 1),
        date(2026, 6, 1),
    )
    for table in ("financials", "workforce", "indicators"):
        assert rows(
            demo_ws, f"SELECT count(DISTINCT period), min(period), max(period) FROM {table}"
        ) == [(36, date(2023, 10, 1), date(2026, 9, 1))]


def test_every_source_has_rows(demo_ws: Workspace) -> None:
    for table in DEMO_TABLES:
        assert one(demo_ws, f"SELECT count(*) FROM {table}") > 0, table
    # a few hundred projects and incidents at scale 1
    assert 150 <= one(demo_ws, "SELECT count(*) FROM projects") <= 500
    assert 150 <= one(demo_ws, "SELECT count(*) FROM incidents") <= 500
    statuses = rows(demo_ws, "SELECT DISTINCT status FROM projects ORDER BY 1")
    assert statuses == [("active",), ("cancelled",), ("completed",), ("planned",)]


def test_latest_month_misses_three_units_returns(demo_ws: Workspace) -> None:
    def missing(table: str) -> list[tuple[Any, ...]]:
        return rows(
            demo_ws,
            f"SELECT entity_id FROM {table} GROUP BY 1 "
            f"HAVING max(period) = DATE '2026-08-01' ORDER BY 1",
        )

    late_financials = missing("financials")
    assert len(late_financials) == 3  # 33 units // 10
    assert missing("workforce") == late_financials
    late_indicators = missing("indicators")
    assert len(late_indicators) == 1 and late_indicators[0] in late_financials
    # every other filer has the latest month: 'latest' is still FY2026-Q3
    assert (
        one(
            demo_ws,
            "SELECT count(DISTINCT entity_id) FROM financials WHERE period = DATE '2026-09-01'",
        )
        == 33 - 3
    )


def test_latest_quarter_is_the_one_before_today(demo_ws: Workspace) -> None:
    from soekpi.warehouse.coverage import latest_quarter

    catalogue = load_catalogue(demo_ws)
    with open_warehouse(demo_ws, write=False) as con:
        assert latest_quarter(con, catalogue, demo_ws.fiscal) == Cycle(2026, "Q", 3)


def test_contracts_hold(demo_ws: Workspace) -> None:
    """Every column rule of every source contract: required, allowed, min, max, references."""
    catalogue = load_catalogue(demo_ws)
    broken = []
    for source in catalogue.sources.values():
        if source.is_view or source.table_name not in DEMO_TABLES:
            continue
        for col in source.columns.values():
            rules = []
            if col.required:
                rules.append(f"{col.name} IS NULL")
            if col.allowed is not None:
                listed = ", ".join(f"'{v}'" for v in col.allowed)
                rules.append(f"{col.name} NOT IN ({listed})")
            if col.min is not None:
                rules.append(f"{col.name} < {col.min}")
            if col.max is not None:
                rules.append(f"{col.name} > {col.max}")
            if col.references is not None:
                ref_table, ref_col = col.references
                rules.append(
                    f"{col.name} IS NOT NULL AND {col.name} NOT IN "
                    f"(SELECT {ref_col} FROM {ref_table})"
                )
            for rule in rules:
                bad = one(demo_ws, f"SELECT count(*) FROM {source.table_name} WHERE {rule}")
                if bad:
                    broken.append(f"{source.id}: {bad} rows where {rule}")
    assert broken == []


def test_data_is_plausible(demo_ws: Workspace) -> None:
    def group(account: str, first: str, last: str) -> float:
        return float(
            one(
                demo_ws,
                f"SELECT sum(amount) FROM financials WHERE account = '{account}' "
                f"AND period BETWEEN DATE '{first}' AND DATE '{last}'",
            )
        )

    # revenue grows year on year; the digital share of it rises
    assert group("revenue", "2025-10-01", "2026-09-01") > group(
        "revenue", "2024-10-01", "2025-09-01"
    )
    share_then = group("digital_revenue", "2023-10-01", "2024-09-01") / group(
        "revenue", "2023-10-01", "2024-09-01"
    )
    share_now = group("digital_revenue", "2025-10-01", "2026-09-01") / group(
        "revenue", "2025-10-01", "2026-09-01"
    )
    assert share_now > share_then
    # some projects overrun their budget, some finish after their planned end
    assert (
        one(
            demo_ws,
            "SELECT count(*) FROM projects p WHERE budget < (SELECT "
            "sum(actual_cost) FROM project_progress q WHERE q.project_id = p.project_id)",
        )
        > 0
    )
    assert (
        one(
            demo_ws,
            "SELECT count(*) FROM projects WHERE status = 'completed' "
            "AND actual_end_date > planned_end_date",
        )
        > 0
    )
    # a handful of critical incidents; some incidents still open
    assert 1 <= one(demo_ws, "SELECT count(*) FROM incidents WHERE severity = 4") <= 20
    assert one(demo_ws, "SELECT count(*) FROM incidents WHERE resolved_at IS NULL") > 0
    assert one(demo_ws, "SELECT count(*) FROM incidents WHERE resolved_at < occurred_at") == 0


@pytest.mark.skipif(
    importlib.util.find_spec("soekpi.warehouse.datacheck") is None,
    reason="soekpi.warehouse.datacheck not written yet",
)
def test_warehouse_data_check_finds_no_contract_violation(demo_ws: Workspace) -> None:
    from soekpi.warehouse.datacheck import check_data

    problems = [str(p) for p in check_data(demo_ws, load_catalogue(demo_ws))]
    assert [p for p in problems if "missing" not in p] == []


# --- determinism -----------------------------------------------------------------------


def test_same_seed_same_tables_whatever_the_threads(catalogue: Catalogue) -> None:
    hashes = []
    for threads in (1, 2, 4):
        con = fresh_tables(catalogue)
        con.execute(f"SET threads = {threads}")
        fill_demo(con, FiscalSettings(), seed=42, scale=1.0)
        hashes.append(table_hashes(con))
        con.close()
    assert hashes[0] == hashes[1] == hashes[2]


def test_different_seed_different_tables(catalogue: Catalogue) -> None:
    builds = []
    for seed in (42, 43):
        con = fresh_tables(catalogue)
        fill_demo(con, FiscalSettings(), seed=seed, scale=1.0)
        builds.append(table_hashes(con))
        con.close()
    assert all(builds[0][t] != builds[1][t] for t in DEMO_TABLES)


# --- options, progress and refusals -----------------------------------------------------


def test_quarter_scale_builds_through_build_demo(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "small")
    calls: list[tuple[float, float | None, str | None]] = []
    counts = build_demo(
        ws, seed=1, scale=0.25, progress=lambda d, t, label: calls.append((d, t, label))
    )
    # round(40 × 0.25) = 10 entities would leave 3 units for 6 subsidiaries: one each instead
    assert counts["entities"] == 1 + 6 + 6
    assert set(counts) == set(DEMO_TABLES) and all(counts[t] > 0 for t in DEMO_TABLES)
    # one step per table, in order, the last one complete
    assert [label for _, _, label in calls] == [f"demo: {t}" for t in DEMO_TABLES]
    assert calls[-1][:2] == (7.0, 7.0)
    assert one(ws, "SELECT count(*) FROM entities WHERE parent_id LIKE 'S%'") == 6


def test_a_filled_warehouse_is_refused(catalogue: Catalogue) -> None:
    con = fresh_tables(catalogue)
    fill_demo(con, FiscalSettings(), seed=42, scale=0.25)
    with pytest.raises(UsageError) as err:
        fill_demo(con, FiscalSettings(), seed=42, scale=0.25)
    assert str(err.value) == (
        "the warehouse already holds rows in 'entities'; the demo fills only an empty "
        "warehouse (create a new one with 'soekpi init DIR --demo')"
    )
    con.close()


@pytest.mark.parametrize(
    ("scale", "shown"),
    [("0", "0"), ("-1", "-1"), ("20000", "20000"), ("nan", "nan")],
)
def test_bad_scale_is_a_usage_error_and_writes_nothing(
    tmp_path: Path, scale: str, shown: str
) -> None:
    target = tmp_path / "ws"
    result = CliRunner().invoke(app, ["init", str(target), "--demo", "--scale", scale])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: --scale: must be a number above 0 and at most 10000, not {shown}\n"
    )
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
