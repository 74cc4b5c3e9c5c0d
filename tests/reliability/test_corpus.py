"""The hostile-input corpus: whatever a user feeds soekpi, it answers with a clear message and
the documented exit code, prints no traceback, and changes neither the warehouse nor the
output folder (SPEC §5, §7).

Each case is ``(id, setup, argv, exit code, expected stderr)``: ``setup`` writes the bad
input into a fresh copy of the small workspace of helpers.hostile_workspace, ``argv`` is
run through the CLI in-process (``{ws}`` stands for the workspace folder), and stderr must be
exactly the expected text. Rejected rows (exit 1) are checked in ``_rejected`` instead, and then the
source's own table must be unchanged.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import LEDGER_HEADER, hostile_workspace, tree_digest, warehouse_content
from typer.testing import CliRunner, Result

from soekpi.cli import app

pytestmark = pytest.mark.reliability

Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One hostile input and the answer it must get."""

    id: str
    setup: Setup
    argv: tuple[str, ...]
    code: int
    stderr: str  # exact; for exit 1 loads: the last line
    rejected: tuple[tuple[int, str, str], ...] = ()  # (row, column, reason) in _rejected


def nothing(ws: Path) -> None:
    """No setup: the argument itself is the hostile input."""


def catalogue_file(text: str | bytes, name: str = "zz_bad.yaml") -> Setup:
    """Add one catalogue file to metrics/."""

    def setup(ws: Path) -> None:
        data = text.encode() if isinstance(text, str) else text
        (ws / "metrics" / name).write_bytes(data)

    return setup


def settings(text: str) -> Setup:
    """Replace soekpi.yaml."""

    def setup(ws: Path) -> None:
        (ws / "soekpi.yaml").write_text(text, encoding="utf-8")

    return setup


def input_file(name: str, data: str | bytes) -> Setup:
    """An extract to load, in.<name> inside the workspace (messages show it relative)."""

    def setup(ws: Path) -> None:
        (ws / "in").mkdir(exist_ok=True)
        (ws / "in" / name).write_bytes(data.encode() if isinstance(data, str) else data)

    return setup


def measure(body: str) -> Setup:
    return catalogue_file(f"measures:\n  m9: {{source: ledger, {body}}}\n")


def view(sql: str) -> Setup:
    return catalogue_file(f'sources:\n  v9:\n    sql: "{sql}"\n')


def giant_line(ws: Path) -> None:
    """A 64 MB single data line (the 1 GB line, scaled down: the reader stops at 2 MiB)."""
    (ws / "in").mkdir(exist_ok=True)
    with (ws / "in" / "giant.csv").open("wb") as handle:
        handle.write(b"entity_id,period,account,amount,note\nA,2025-04-01,revenue,1,")
        handle.write(b"x" * (64 << 20))
        handle.write(b"\n")


def template(text: str) -> Setup:
    def setup(ws: Path) -> None:
        (ws / "tpl").mkdir()
        (ws / "tpl" / "report.md.j2").write_text(text, encoding="utf-8")
        with (ws / "soekpi.yaml").open("a", encoding="utf-8") as handle:
            handle.write("templates: tpl\n")

    return setup


def existing_run(name: str, manifest: str | None) -> Setup:
    """A folder that looks like a run (or not) for diff and verify."""

    def setup(ws: Path) -> None:
        run = ws / "runs" / name
        run.mkdir(parents=True)
        (run / "kpis.json").write_text("[]\n")
        if manifest is not None:
            (run / "manifest.json").write_text(manifest)

    return setup


LOAD = ("load", "ledger")
BAD_YAML = "metrics/zz_bad.yaml"
ROW = "A,2025-04-01,revenue,"
REJECTED = "1 row(s) rejected; see the table _rejected"
NOT_A_CYCLE = (
    "is not a fiscal cycle (accepted forms: FY2026, FY2026-H1, FY2026-Q3, FY2026-M07, latest "
    "or previous)"
)

CASES = [
    # ---------------------------------------------------------------- catalogue YAML
    Case(
        "yaml-malformed",
        catalogue_file("kpis:\n  a: [1, 2\n"),
        ("check",),
        2,
        f"error: {BAD_YAML}:3: invalid YAML: expected ',' or ']', but got '<stream end>'",
    ),
    Case(
        "yaml-tabs",
        catalogue_file("kpis:\n\tfoo: 1\n"),
        ("check",),
        2,
        f"error: {BAD_YAML}:2: invalid YAML: tab characters are not allowed for indentation "
        "in YAML; use spaces",
    ),
    Case(
        "yaml-duplicate-key",
        measure("agg: sum, expr: amount}\n  m9: {source: ledger, agg: count"),
        ("check",),
        2,
        f"error: {BAD_YAML}:3: invalid YAML: duplicate key 'm9'",
    ),
    Case(
        "yaml-python-tag",
        catalogue_file("kpis: !!python/object/apply:os.system ['touch /tmp/pwned']\n"),
        ("check",),
        2,
        f"error: {BAD_YAML}:1: invalid YAML: unsafe tag "
        "'tag:yaml.org,2002:python/object/apply:os.system' tags are not allowed (plain YAML only)",
    ),
    Case(
        "yaml-billion-laughs",
        catalogue_file(
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        ),
        ("check",),
        2,
        f"error: {BAD_YAML}:2: invalid YAML: aliases (*name) are not allowed in soekpi YAML",
    ),
    Case(
        "yaml-not-utf8",
        catalogue_file("kpis:\n  k1:\n    name: 成本收入比\n".encode("gbk")),
        ("check",),
        2,
        f"error: {BAD_YAML}: file is not UTF-8 text",
    ),
    Case(
        "yaml-binary",
        catalogue_file(b"\x00\x01\x02\xff\xfe" * 20),
        ("check",),
        2,
        f"error: {BAD_YAML}: file is not UTF-8 text",
    ),
    Case(
        "yaml-a-list",
        catalogue_file("- kpis\n- measures\n"),
        ("check",),
        2,
        f"error: {BAD_YAML}:1: a catalogue file must be a mapping of sections (sources, "
        "measures, kpis, targets), not a list",
    ),
    Case(
        "kpi-wrong-type",
        catalogue_file(
            "kpis:\n  k1:\n    name: K\n    type: simple\n    measure: cost\n    decimals: many\n"
        ),
        ("check",),
        2,
        f"error: {BAD_YAML}:6: kpi 'k1': decimals: must be a whole number from 0 to 10, not 'many'",
    ),
    Case(
        "kpi-unknown-key",
        catalogue_file(
            "kpis:\n  k1:\n    name: K\n    type: simple\n    measure: cost\n    colour: blue\n"
        ),
        ("check",),
        2,
        f"error: {BAD_YAML}:6: kpi 'k1': unknown key 'colour'; allowed: name, description, "
        "category, unit, decimals, type, scale, window, direction, thresholds, measure, "
        "numerator, denominator, expr, of, compare, components, revisions",
    ),
    Case(
        "kpi-unknown-reference",
        catalogue_file("kpis:\n  k1:\n    name: K\n    type: simple\n    measure: revenu\n"),
        ("check",),
        2,
        f"error: {BAD_YAML}:5: kpi 'k1': measure 'revenu' does not exist (did you mean 'revenue'?)",
    ),
    Case(
        "kpi-derived-cycle",
        catalogue_file(
            "kpis:\n  k1: {name: K1, type: derived, expr: k2 + 1}\n"
            "  k2: {name: K2, type: derived, expr: k1 * 2}\n"
        ),
        ("check",),
        2,
        f"error: {BAD_YAML}:2: kpi 'k1': cycle among kpis: k1 -> k2 -> k1",
    ),
    Case(
        "kpi-nan-threshold",
        catalogue_file(
            "kpis:\n  k1:\n    name: K\n    type: simple\n    measure: cost\n"
            "    thresholds: {green: .nan, amber: 1}\n"
        ),
        ("check",),
        2,
        f"error: {BAD_YAML}:6: kpi 'k1': thresholds: green: must be a number, not nan",
    ),
    # ---------------------------------------------------------------- catalogue SQL
    Case(
        "sql-filter-writes",
        measure('agg: count, filter: "(delete from ledger) is null"'),
        ("check",),
        2,
        f"error: {BAD_YAML}:2: measure 'm9': filter: syntax error in '(delete from ledger) "
        'is null\': syntax error at or near "from"',
    ),
    Case(
        "sql-filter-reads-a-file",
        measure("agg: count, filter: \"entity_id in (select * from read_csv('/etc/passwd'))\""),
        ("check",),
        2,
        f"error: {BAD_YAML}:2: measure 'm9': filter: must not contain a subquery; refer to the "
        "source's columns directly",
    ),
    Case(
        "sql-filter-getenv",
        measure("agg: count, filter: \"getenv('HOME') is not null\""),
        ("check",),
        2,
        f"error: {BAD_YAML}:2: measure 'm9': filter: must not call 'getenv()': it reads "
        "outside the source",
    ),
    Case(
        "sql-expr-two-statements",
        measure('agg: sum, expr: "amount; drop table ledger"'),
        ("check",),
        2,
        f"error: {BAD_YAML}:2: measure 'm9': expr: must be one expression, not several statements",
    ),
    Case(
        "sql-expr-syntax-error",
        measure('agg: sum, expr: "amount +* 2"'),
        ("check",),
        2,
        f"error: {BAD_YAML}:2: measure 'm9': expr: cannot check 'amount +* 2': Invalid "
        "expression / Unexpected token. Line 1, Col: 11.",
    ),
    Case(
        "sql-view-reads-etc-passwd",
        view("select * from read_csv('/etc/passwd')"),
        ("check",),
        2,
        f"error: {BAD_YAML}:3: source 'v9': sql: must not read the table function "
        "'read_csv()'; only other sources, range, generate_series and unnest",
    ),
    Case(
        "sql-view-attach",
        view("attach '/tmp/evil.duckdb' as evil"),
        ("check",),
        2,
        f"error: {BAD_YAML}:3: source 'v9': sql: must be a SELECT, not an ATTACH statement",
    ),
    Case(
        "sql-view-copy",
        view("copy ledger to '/tmp/leak.csv'"),
        ("check",),
        2,
        f"error: {BAD_YAML}:3: source 'v9': sql: must be a SELECT, not a COPY statement",
    ),
    Case(
        "sql-view-two-statements",
        view("select 1 as a; select 2 as b"),
        ("check",),
        2,
        f"error: {BAD_YAML}:3: source 'v9': sql: must be one SELECT, not several statements",
    ),
    Case(
        "sql-view-unlocks-the-sandbox",
        view("set enable_external_access = true"),
        ("check",),
        2,
        f"error: {BAD_YAML}:3: source 'v9': sql: must be a SELECT, not a SET statement",
    ),
    # ---------------------------------------------------------------- soekpi.yaml, templates
    Case(
        "settings-unknown-key",
        settings("fiscal_year: {start_month: 1}\ncolour: blue\n"),
        ("check",),
        2,
        "error: {ws}/soekpi.yaml:2: colour: unknown setting (known: warehouse, catalogue, "
        "templates, output, fiscal_year, language, root_entity)",
    ),
    Case(
        "settings-month-out-of-range",
        settings("fiscal_year:\n  start_month: 13\n"),
        ("check",),
        2,
        "error: {ws}/soekpi.yaml:2: fiscal_year.start_month: must be a month number 1..12, not 13",
    ),
    Case(
        "template-reaches-python",
        template("{{ ''.__class__.__mro__[1].__subclasses__() }}\n"),
        ("report", "--cycle", "FY2025-Q1", "--format", "md"),
        2,
        "error: {ws}/tpl/report.md.j2:1: template error: access to attribute '__class__' of 'str' "
        "object is unsafe.",
    ),
    # ---------------------------------------------------------------- data files
    Case(
        "data-empty",
        input_file("x.csv", ""),
        (*LOAD, "{ws}/in/x.csv"),
        2,
        "error: in/x.csv: the file is empty",
    ),
    Case(
        "data-binary",
        input_file("x.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10),
        (*LOAD, "{ws}/in/x.csv"),
        2,
        "error: in/x.csv: not a text file (it holds NUL bytes)",
    ),
    Case(
        "data-gbk",
        input_file(
            "x.csv", (LEDGER_HEADER.strip() + ",note\n" + ROW + "1,营业收入\n").encode("gbk")
        ),
        (*LOAD, "{ws}/in/x.csv"),
        2,
        "error: in/x.csv:2: not UTF-8 text; save the file as UTF-8 and load it again",
    ),
    Case(
        "data-missing-column",
        input_file("x.csv", "entity_id,period,amount\nA,2025-04-01,1\n"),
        (*LOAD, "{ws}/in/x.csv"),
        2,
        "error: in/x.csv:1: header: missing required column(s) account (the contract of "
        "'ledger' has: entity_id, period, account, amount, note); nothing was loaded",
    ),
    Case(
        "data-extra-column",
        input_file("x.csv", LEDGER_HEADER.strip() + ",colour\n" + ROW + "1,red\n"),
        (*LOAD, "{ws}/in/x.csv"),
        2,
        "error: in/x.csv:1: header: unknown column(s) colour (the contract of 'ledger' has: "
        "entity_id, period, account, amount, note); nothing was loaded",
    ),
    Case(
        "data-ragged-row",
        input_file("x.csv", LEDGER_HEADER + ROW + "1,extra\n"),
        (*LOAD, "{ws}/in/x.csv"),
        2,
        "error: in/x.csv:2: row has 5 fields, the header has 4; fix the row (quote values that "
        "contain the delimiter)",
    ),
    Case(
        "data-unterminated-quote",
        input_file("x.csv", LEDGER_HEADER + ROW + '"1\n'),
        (*LOAD, "{ws}/in/x.csv"),
        2,
        "error: in/x.csv:2: a quoted value is never closed (unterminated quote); fix the quotes "
        "of this row",
    ),
    Case(
        "data-giant-line",
        giant_line,
        (*LOAD, "{ws}/in/giant.csv"),
        2,
        "error: in/giant.csv:2: the line is longer than 2,097,152 bytes, the limit for one row; "
        "check that the file is a CSV/TSV extract with one row per line",
    ),
    Case(
        "data-giant-header",
        input_file("x.csv", "entity_id" + "x" * 100_000 + ",period\n"),
        (*LOAD, "{ws}/in/x.csv"),
        2,
        "error: in/x.csv:1: the header line is longer than 65,536 bytes; the first line must "
        "name the columns",
    ),
    Case(
        "data-fake-xlsx",
        input_file("x.xlsx", "entity_id,period\n"),
        (*LOAD, "{ws}/in/x.xlsx"),
        2,
        "error: in/x.xlsx: cannot read the workbook: calamine error: Xlsx error: Zip error: "
        "invalid Zip archive: Could not find EOCD",
    ),
    Case(
        "data-unknown-extension",
        input_file("x.txt", LEDGER_HEADER),
        (*LOAD, "{ws}/in/x.txt"),
        2,
        "error: in/x.txt: cannot tell the format of this file by its extension (known: .csv, "
        ".json, .jsonl, .ndjson, .parquet, .tab, .tsv, .xlsx)",
    ),
    Case(
        "data-missing-file",
        nothing,
        (*LOAD, "{ws}/in/nowhere.csv"),
        2,
        "error: in/nowhere.csv: no such file",
    ),
    Case(
        "data-unknown-source",
        input_file("x.csv", LEDGER_HEADER),
        ("load", "ledgers", "{ws}/in/x.csv"),
        2,
        "error: source 'ledgers' does not exist (did you mean 'ledger'?)",
    ),
    Case(
        "data-duplicated-keys",
        input_file("x.csv", LEDGER_HEADER + ROW + "1\n" + ROW + "2\n"),
        (*LOAD, "{ws}/in/x.csv"),
        1,
        "2 row(s) rejected; see the table _rejected",
        tuple(
            (
                row,
                "entity_id, period, account",
                "primary key (entity_id, period, account) = (A, 2025-04-01, revenue) appears on "
                "2 rows of the file: 2, 3",
            )
            for row in (2, 3)
        ),
    ),
    Case(
        "data-other-date-formats",
        input_file("x.csv", LEDGER_HEADER + "A,01/04/2025,revenue,1\nA,2025年4月1日,cost,1\n"),
        (*LOAD, "{ws}/in/x.csv"),
        1,
        "2 row(s) rejected; see the table _rejected",
        (
            (2, "period", "period: '01/04/2025' is not a date"),
            (3, "period", "period: '2025年4月1日' is not a date"),
        ),
    ),
    Case(
        "data-thousands-separator",
        input_file("x.csv", LEDGER_HEADER + ROW + '"1,234.50"\n'),
        (*LOAD, "{ws}/in/x.csv"),
        1,
        REJECTED,
        ((2, "amount", "amount: '1,234.50' is not a decimal(18,2)"),),
    ),
    Case(
        "data-full-width-digits",
        input_file("x.csv", LEDGER_HEADER + ROW + "１２３\n"),
        (*LOAD, "{ws}/in/x.csv"),
        1,
        REJECTED,
        ((2, "amount", "amount: '１２３' is not a decimal(18,2)"),),
    ),
    Case(
        "data-1e308",
        input_file("x.csv", LEDGER_HEADER + ROW + "1e308\n"),
        (*LOAD, "{ws}/in/x.csv"),
        1,
        REJECTED,
        ((2, "amount", "amount: '1e308' is not a decimal(18,2)"),),
    ),
    Case(
        "data-nan",
        input_file("p.csv", "project_id,entity_id,budget,ratio\nP1,A,10,NaN\nP2,A,10,inf\n"),
        ("load", "projects", "{ws}/in/p.csv"),
        1,
        "2 row(s) rejected; see the table _rejected",
        (
            (2, "ratio", "ratio: 'NaN' is not a number"),
            (3, "ratio", "ratio: 'inf' is not a number"),
        ),
    ),
    Case(
        "data-negative-budget",
        input_file("p.csv", "project_id,entity_id,budget\nP1,A,-5\n"),
        ("load", "projects", "{ws}/in/p.csv"),
        1,
        REJECTED,
        ((2, "budget", "budget: -5.00 is below the minimum 0"),),
    ),
    Case(
        "data-orphan-entity",
        input_file("x.csv", LEDGER_HEADER + "ZZ,2025-04-01,revenue,1\n"),
        (*LOAD, "{ws}/in/x.csv"),
        1,
        REJECTED,
        ((2, "entity_id", "entity_id: 'ZZ' is not in entities.entity_id"),),
    ),
    # ---------------------------------------------------------------- cycles
    Case(
        "cycle-quarter-5",
        nothing,
        ("compute", "--cycle", "FY2025-Q5"),
        2,
        f"error: 'FY2025-Q5' {NOT_A_CYCLE}",
    ),
    Case(
        "cycle-month-13",
        nothing,
        ("report", "--cycle", "FY2025-M13"),
        2,
        f"error: 'FY2025-M13' {NOT_A_CYCLE}",
    ),
    Case(
        "cycle-full-width",
        nothing,
        ("compute", "--cycle", "FY２０２５"),
        2,
        f"error: 'FY２０２５' {NOT_A_CYCLE}",
    ),
    Case(
        "cycle-shell",
        nothing,
        ("report", "--cycle", "FY2025-Q1/../../etc"),
        2,
        f"error: 'FY2025-Q1/../../etc' {NOT_A_CYCLE}",
    ),
    Case(
        "cycle-year-9999",
        nothing,
        ("compute", "--cycle", "FY9999-Q4"),
        2,
        "error: 'FY9999-Q4': fiscal year must be between 1900 and 2999",
    ),
    Case(
        "close-bad-cycle", nothing, ("close", "FY2025-Q0"), 2, f"error: 'FY2025-Q0' {NOT_A_CYCLE}"
    ),
    # ---------------------------------------------------------------- workspace and runs
    Case(
        "workspace-missing",
        nothing,
        ("-w", "{ws}/nowhere", "check"),
        2,
        "error: workspace folder '{ws}/nowhere' does not exist",
    ),
    Case(
        "workspace-not-one",
        lambda ws: (ws / "empty").mkdir(),
        ("-w", "{ws}/empty", "check"),
        2,
        "error: '{ws}/empty' is not a soekpi workspace (no soekpi.yaml); create one with "
        "'soekpi init DIR'",
    ),
    Case(
        "report-bad-format",
        nothing,
        ("report", "--cycle", "FY2025-Q1", "--format", "pdf"),
        2,
        "error: --format: 'pdf' is not one of html, md",
    ),
    Case(
        "diff-not-a-run",
        existing_run("a", None),
        ("diff", "{ws}/runs/a", "{ws}/runs/a"),
        2,
        "error: {ws}/runs/a/manifest.json: not a run folder: manifest.json is missing (a run "
        "folder holds manifest.json and kpis.json, written by 'soekpi report')",
    ),
    Case(
        "verify-broken-manifest",
        existing_run("b", "{bad"),
        ("verify", "{ws}/runs/b"),
        2,
        "error: {ws}/runs/b/manifest.json:1: not a run file: invalid JSON (Expecting property "
        "name enclosed in double quotes, column 2)",
    ),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean workspace, built once; every case works on a copy."""
    return hostile_workspace(tmp_path_factory.mktemp("base") / "ws")


def test_the_corpus_has_at_least_forty_distinct_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(
    case: Case, base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOEKPI_WORKSPACE", raising=False)
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    case.setup(ws)
    warehouse_before = warehouse_content(ws)
    files_before = tree_digest(ws / "data"), tree_digest(ws / "out")

    argv = [a.replace("{ws}", str(ws)) for a in case.argv]
    args = argv if argv[0] == "-w" else ["-w", str(ws), *argv]
    result = invoke_raw(args)

    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.exit_code == case.code, output
    expected = case.stderr.replace("{ws}", str(ws))
    if case.rejected:
        assert result.stderr.rstrip("\n").splitlines()[-1] == expected
        after = warehouse_content(ws)
        assert after["ledger"] == warehouse_before["ledger"]
        assert after["projects"] == warehouse_before["projects"]
        rejected = [(r[3], r[4], r[5]) for r in after["_rejected"]]
        assert sorted(rejected) == sorted(case.rejected)
    else:
        assert result.stderr == expected + "\n"
        assert warehouse_content(ws) == warehouse_before
        assert (tree_digest(ws / "data"), tree_digest(ws / "out")) == files_before


def invoke_raw(args: list[str]) -> Result:
    """The CLI in-process with exactly ``args``."""
    return CliRunner().invoke(app, args)
