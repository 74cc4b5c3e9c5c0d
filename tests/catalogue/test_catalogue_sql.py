"""The SQL of measures and views is checked when the catalogue loads, on empty tables."""

from __future__ import annotations

import pytest
from catalogue_data import BuildWorkspace

from soekpi.catalogue.validate import check_catalogue, load_catalogue


def problems_of(build_workspace: BuildWorkspace, files: dict[str, str]) -> list[str]:
    _, problems = check_catalogue(build_workspace(files))
    return [str(p) for p in problems]


def measure(line: str) -> dict[str, str]:
    return {"zz.yaml": f"measures:\n  extra: {{{line}}}\n"}


def view(sql: str, extra: str = "") -> dict[str, str]:
    return {"zz.yaml": f'sources:\n  extra_view:\n    sql: "{sql}"\n{extra}'}


CASES = {
    "unknown column in filter": (
        measure("source: financials, agg: sum, expr: amount, filter: \"acount = 'revenue'\""),
        "metrics/zz.yaml:2: measure 'extra': filter: column 'acount' does not exist in source "
        "'financials' (did you mean 'account'?)",
    ),
    "unknown column in expr": (
        measure("source: financials, agg: sum, expr: amonut * 2"),
        "metrics/zz.yaml:2: measure 'extra': expr: column 'amonut' does not exist in source "
        "'financials' (did you mean 'amount'?)",
    ),
    "unknown function": (
        measure("source: financials, agg: sum, expr: sqroot(amount)"),
        "metrics/zz.yaml:2: measure 'extra': expr: function 'sqroot' does not exist "
        "(did you mean 'sqrt'?)",
    ),
    "sum over text": (
        measure("source: financials, agg: sum, expr: account"),
        "metrics/zz.yaml:2: measure 'extra': expr: agg 'sum' needs a number, but 'account' is "
        "VARCHAR",
    ),
    "filter that is not a condition": (
        measure("source: financials, agg: count, filter: account"),
        "metrics/zz.yaml:2: measure 'extra': filter: must be a condition (true or false), but "
        "it is VARCHAR",
    ),
    "second statement": (
        measure('source: financials, agg: sum, expr: "amount; drop table financials"'),
        "metrics/zz.yaml:2: measure 'extra': expr: must be one expression, not several statements",
    ),
    "subquery": (
        measure('source: financials, agg: count, filter: "amount > (select 1)"'),
        "metrics/zz.yaml:2: measure 'extra': filter: must not contain a subquery; refer to the "
        "source's columns directly",
    ),
    "subquery reading a file": (
        measure(
            "source: financials, agg: count, "
            "filter: \"entity_id in (select * from read_csv('/etc/passwd'))\""
        ),
        "metrics/zz.yaml:2: measure 'extra': filter: must not contain a subquery; refer to the "
        "source's columns directly",
    ),
    "table function": (
        measure("source: financials, agg: count, filter: \"read_text('/etc/passwd') is null\""),
        "metrics/zz.yaml:2: measure 'extra': filter: must not call 'read_text()': it reads "
        "outside the source",
    ),
    "environment": (
        measure("source: financials, agg: count, filter: \"getenv('HOME') = account\""),
        "metrics/zz.yaml:2: measure 'extra': filter: must not call 'getenv()': it reads "
        "outside the source",
    ),
    "aggregate inside expr": (
        measure("source: financials, agg: sum, expr: sum(amount)"),
        "metrics/zz.yaml:2: measure 'extra': expr: must be a row-level expression, not the "
        "aggregate 'sum()'; the aggregation comes from 'agg'",
    ),
    "COPY statement": (
        measure("source: financials, agg: count, filter: \"copy financials to 'x.csv'\""),
        "metrics/zz.yaml:2: measure 'extra': filter: must be one expression over the source's "
        "columns, not a COPY statement",
    ),
    "syntax error": (
        measure("source: financials, agg: sum, expr: amount +"),
        "metrics/zz.yaml:2: measure 'extra': expr: syntax error in 'amount +': syntax error "
        'at or near "+"',
    ),
    "table prefix": (
        measure("source: financials, agg: sum, expr: f.amount"),
        "metrics/zz.yaml:2: measure 'extra': expr: 'f' is not available here; write the "
        "columns of source 'financials' without a table prefix",
    ),
    "unknown column of a view": (
        measure("source: monthly_totals, agg: sum, expr: totl"),
        "metrics/zz.yaml:2: measure 'extra': expr: column 'totl' does not exist in source "
        "'monthly_totals' (did you mean 'total'?)",
    ),
    "view reading a file": (
        view("select * from read_csv('/etc/passwd')"),
        "metrics/zz.yaml:3: source 'extra_view': sql: must not read the table function "
        "'read_csv()'; only other sources, range, generate_series and unnest",
    ),
    "view reading a path": (
        view("select * from '/etc/passwd'"),
        "metrics/zz.yaml:3: source 'extra_view': sql: reads '/etc/passwd', which is not a "
        "source of the catalogue",
    ),
    "view reading an unknown table": (
        view("select * from financial"),
        "metrics/zz.yaml:3: source 'extra_view': sql: reads 'financial', which is not a source "
        "of the catalogue (did you mean 'financials'?)",
    ),
    "view that is not a select": (
        view("delete from financials"),
        "metrics/zz.yaml:3: source 'extra_view': sql: must be a SELECT, not a DELETE statement",
    ),
    "view with two statements": (
        view("select 1; select 2"),
        "metrics/zz.yaml:3: source 'extra_view': sql: must be one SELECT, not several statements",
    ),
    "view with an unknown column": (
        view("select entity_id, amout from financials"),
        "metrics/zz.yaml:3: source 'extra_view': sql: column 'amout' does not exist in the "
        "sources it reads (did you mean 'amount'?)",
    ),
    "view without its time column": (
        view("select entity_id from financials", "    time_column: period\n"),
        "metrics/zz.yaml:4: source 'extra_view': time_column: the view's sql gives no column "
        "'period'",
    ),
    "view time column of the wrong type": (
        view("select entity_id, account as period from financials", "    time_column: period\n"),
        "metrics/zz.yaml:4: source 'extra_view': time_column: column 'period' is varchar; a "
        "time column must be date or timestamp",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sql_mistakes_are_located(build_workspace: BuildWorkspace, case: str) -> None:
    files, expected = CASES[case]
    assert problems_of(build_workspace, files) == [expected]


def test_views_may_read_views_and_allowed_table_functions(
    build_workspace: BuildWorkspace,
) -> None:
    ws = build_workspace(
        {
            "zz.yaml": "sources:\n"
            "  big_months:\n"
            '    sql: "select * from monthly_totals where total > 100"\n'
            "    time_column: period\n"
            "  numbers:\n"
            '    sql: "select range as n from range(3)"\n'
            "measures:\n"
            "  big_total: {source: big_months, agg: closing, expr: total}\n"
            "  numbers_n: {source: numbers, agg: max, expr: n}\n"
        }
    )
    catalogue = load_catalogue(ws)
    assert {name: c.type for name, c in catalogue.sources["big_months"].columns.items()} == {
        "entity_id": "varchar",
        "period": "date",
        "total": "decimal(38,2)",
    }
    assert {name: c.type for name, c in catalogue.sources["numbers"].columns.items()} == {
        "n": "bigint"
    }


def test_views_reading_each_other_in_a_cycle(build_workspace: BuildWorkspace) -> None:
    files = {
        "zz.yaml": "sources:\n"
        '  view_a:\n    sql: "select * from view_b"\n'
        '  view_b:\n    sql: "select * from view_a"\n'
    }
    assert problems_of(build_workspace, files) == [
        "metrics/zz.yaml:3: source 'view_a': sql: views read each other in a cycle: view_a, view_b",
        "metrics/zz.yaml:5: source 'view_b': sql: views read each other in a cycle: view_a, view_b",
    ]


def test_a_broken_source_does_not_cascade(build_workspace: BuildWorkspace) -> None:
    files = {
        "zz.yaml": "sources:\n"
        "  extra:\n    columns:\n      n: {type: number}\n"
        '  extra_view:\n    sql: "select n from extra"\n'
        "measures:\n"
        "  extra_sum: {source: extra, agg: sum, expr: n}\n"
        "  extra_view_sum: {source: extra_view, agg: sum, expr: n}\n"
    }
    assert problems_of(build_workspace, files) == [
        "metrics/zz.yaml:4: source 'extra': column 'n': type: 'number' is not a column type; "
        "allowed: varchar, integer, bigint, double, boolean, date, timestamp, decimal(p,s)"
    ]
