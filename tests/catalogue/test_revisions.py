"""Revisions of KPIs and measures (issue 17, effective-dated definitions): every mistake at
``check``, located by file and line with its key, and the catalogue in force for a cycle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from catalogue_data import BuildWorkspace
from helpers import run

from soekpi.base.calendar import FiscalSettings, parse_cycle
from soekpi.catalogue.reference import render_reference
from soekpi.catalogue.validate import check_catalogue, load_catalogue

REVISION_KEYS = (
    "effective_from, reason, name, description, category, unit, decimals, type, scale, "
    "window, direction, thresholds, measure, numerator, denominator, expr, of, compare, "
    "components"
)

#: kpi 'extra' (line 2) = revenue / headcount_avg; its revisions are appended from line 8.
EXTRA = """\
kpis:
  extra:
    name: Extra
    type: ratio
    numerator: revenue
    denominator: headcount_avg
    thresholds: {green: 10, amber: 5}
    revisions:
"""


def problems_of(build_workspace: BuildWorkspace, text: str) -> list[str]:
    catalogue, problems = check_catalogue(build_workspace({"zz.yaml": text}))
    assert (catalogue is None) == bool(problems)
    return [str(p) for p in problems]


CASES = {
    "unknown field": (
        EXTRA + "      - effective_from: FY2026\n        reason: r\n        denominatr: cost\n",
        [
            "metrics/zz.yaml:9: kpi 'extra': revision FY2026: changes no field; give the "
            "definition fields it changes",
            "metrics/zz.yaml:11: kpi 'extra': revision FY2026: unknown key 'denominatr' (did "
            f"you mean 'denominator'?); allowed: {REVISION_KEYS}",
        ],
    ),
    "effective_from not a cycle": (
        EXTRA + "      - effective_from: FY26\n        reason: r\n        numerator: cost\n",
        [
            "metrics/zz.yaml:9: kpi 'extra': revision: effective_from: 'FY26' is not a fiscal "
            "year or cycle (write one such as FY2026, FY2026-H2, FY2026-Q3 or FY2026-M07)"
        ],
    ),
    "effective_from a number": (
        EXTRA + "      - {effective_from: 2026, reason: r, numerator: cost}\n",
        [
            "metrics/zz.yaml:9: kpi 'extra': revision: effective_from: 2026 is not a fiscal "
            "year or cycle (write one such as FY2026, FY2026-H2, FY2026-Q3 or FY2026-M07)"
        ],
    ),
    "missing effective_from": (
        EXTRA + "      - {reason: r, numerator: cost}\n",
        [
            "metrics/zz.yaml:9: kpi 'extra': revision: missing required key 'effective_from' "
            "(the fiscal year or cycle it applies from, e.g. FY2026)"
        ],
    ),
    "the same effective_from twice": (
        EXTRA + "      - {effective_from: FY2026, reason: a, numerator: cost}\n"
        "      - {effective_from: FY2026, reason: b, numerator: revenue}\n",
        [
            "metrics/zz.yaml:10: kpi 'extra': revision FY2026: effective_from: 'FY2026' is "
            "given twice: metrics/zz.yaml:9 and metrics/zz.yaml:10"
        ],
    ),
    "two revisions that start the same day": (
        EXTRA + "      - {effective_from: FY2026, reason: a, numerator: cost}\n"
        "      - {effective_from: FY2026-Q1, reason: b, numerator: revenue}\n",
        [
            "metrics/zz.yaml:10: kpi 'extra': revision FY2026-Q1: effective_from: "
            "'FY2026-Q1' starts the same day as revision FY2026 at metrics/zz.yaml:9; give one "
            "revision per start"
        ],
    ),
    "missing reason": (
        EXTRA + "      - effective_from: FY2026\n        numerator: cost\n",
        ["metrics/zz.yaml:9: kpi 'extra': revision FY2026: missing required key 'reason'"],
    ),
    "empty reason": (
        EXTRA + "      - {effective_from: FY2026, reason: ' ', numerator: cost}\n",
        ["metrics/zz.yaml:9: kpi 'extra': revision FY2026: reason: must not be empty"],
    ),
    "revisions not a list": (
        EXTRA + "      effective_from: FY2026\n",
        [
            "metrics/zz.yaml:8: kpi 'extra': revisions: must be a list of {effective_from: "
            "..., reason: ..., <the fields that change>}"
        ],
    ),
    "a revision not a mapping": (
        EXTRA + "      - FY2026\n",
        [
            "metrics/zz.yaml:9: kpi 'extra': revisions: each revision must be a mapping "
            "{effective_from: ..., reason: ..., <fields>}, not 'FY2026'"
        ],
    ),
    "a ratio revision naming a measure that does not exist": (
        EXTRA + "      - effective_from: FY2026\n        reason: r\n"
        "        denominator: headcount_incl\n",
        [
            "metrics/zz.yaml:11: kpi 'extra': revision FY2026: denominator: measure "
            "'headcount_incl' does not exist (did you mean 'headcount_avg'?)"
        ],
    ),
    "a revised field of the wrong type": (
        EXTRA + "      - {effective_from: FY2027-Q2, reason: r, decimals: eleven}\n",
        [
            "metrics/zz.yaml:9: kpi 'extra': revision FY2027-Q2: decimals: must be a whole "
            "number from 0 to 10, not 'eleven'"
        ],
    ),
    "a direction that turns the original thresholds around": (
        EXTRA + "      - {effective_from: FY2027, reason: r, direction: lower_is_better}\n",
        [
            "metrics/zz.yaml:7: kpi 'extra': revision FY2027: thresholds: amber 5 is below "
            "green 10; for a lower_is_better KPI amber must be >= green"
        ],
    ),
    "a new type without its fields": (
        EXTRA + "      - {effective_from: FY2027, reason: r, type: simple}\n",
        ["metrics/zz.yaml:9: kpi 'extra': revision FY2027: missing required key 'measure'"],
    ),
    "a derived revision that makes a cycle": (
        "kpis:\n  d1:\n    name: D1\n    type: derived\n    expr: margin + 1\n"
        "    revisions:\n      - {effective_from: FY2027, reason: r, expr: d2 * 2}\n"
        "  d2:\n    name: D2\n    type: derived\n    expr: d1 + 1\n",
        [
            "metrics/zz.yaml:7: kpi 'd1': revision FY2027: cycle among kpis: d1 -> d2 -> d1",
        ],
    ),
    "a measure revision over a column that does not exist": (
        "measures:\n  hc:\n    source: workforce\n    agg: sum\n    expr: headcount\n"
        "    revisions:\n      - effective_from: FY2026-Q3\n        reason: r\n"
        "        filter: \"contract = 'permanent'\"\n",
        [
            "metrics/zz.yaml:9: measure 'hc': revision FY2026-Q3: filter: column 'contract' "
            "does not exist in source 'workforce'"
        ],
    ),
    "a measure revision naming a source that does not exist": (
        "measures:\n  hc:\n    source: workforce\n    agg: sum\n    expr: headcount\n"
        "    revisions:\n      - {effective_from: FY2026, reason: r, source: workforse}\n",
        [
            "metrics/zz.yaml:7: measure 'hc': revision FY2026: source 'workforse' does not "
            "exist (did you mean 'workforce'?)"
        ],
    ),
    "an unknown measure field": (
        "measures:\n  hc:\n    source: workforce\n    agg: sum\n    expr: headcount\n"
        "    revisions:\n      - {effective_from: FY2026, reason: r, filtr: x}\n",
        [
            "metrics/zz.yaml:7: measure 'hc': revision FY2026: changes no field; give the "
            "definition fields it changes",
            "metrics/zz.yaml:7: measure 'hc': revision FY2026: unknown key 'filtr' (did you "
            "mean 'filter'?); allowed: effective_from, reason, source, agg, expr, filter, time",
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mistake_in_a_revision_is_located(build_workspace: BuildWorkspace, case: str) -> None:
    text, expected = CASES[case]
    assert problems_of(build_workspace, text) == expected


def test_a_mistake_carried_to_later_revisions_is_reported_once(
    build_workspace: BuildWorkspace,
) -> None:
    text = EXTRA + (
        "      - {effective_from: FY2026, reason: a, denominator: nope}\n"
        "      - {effective_from: FY2027, reason: b, decimals: 0}\n"
    )
    assert problems_of(build_workspace, text) == [
        "metrics/zz.yaml:9: kpi 'extra': revision FY2026: denominator: measure 'nope' does not "
        "exist"
    ]


def test_check_exits_2_naming_the_revision_and_computes_nothing(
    build_workspace: BuildWorkspace,
) -> None:
    ws = build_workspace({"zz.yaml": EXTRA + "      - {effective_from: FY2026, numerator: c}\n"})
    code, out, err = run(ws.root, "check")
    assert code == 2
    assert "metrics/zz.yaml:9: kpi 'extra': revision FY2026: missing required key 'reason'" in err
    assert not (ws.root / "data").exists() or out == ""


# ------------------------------------------------------------------ the catalogue for a cycle

REVISED = EXTRA + (
    "      - effective_from: FY2026-Q3\n"
    "        reason: Services count from Q3\n"
    "        numerator: total\n"
    "      - effective_from: FY2026\n"
    "        reason: Costs per head from 2026\n"
    "        numerator: cost\n"
    "        decimals: 1\n"
)


def test_each_cycle_gets_the_last_revision_at_or_before_its_start(
    build_workspace: BuildWorkspace,
) -> None:
    catalogue = load_catalogue(build_workspace({"zz.yaml": REVISED}))
    fiscal = FiscalSettings(start_month=4, label="end")  # the order is the same under any

    def extra(cycle: str) -> tuple[str | None, str | None, int]:
        kpi = catalogue.for_cycle(parse_cycle(cycle), fiscal).kpis["extra"]
        assert kpi.revisions == ()
        return kpi.numerator, kpi.revision and kpi.revision.effective_from, kpi.decimals

    assert extra("FY2025-Q4") == ("revenue", None, 2)
    assert extra("FY2025") == ("revenue", None, 2)
    assert extra("FY2026-M01") == ("cost", "FY2026", 1)
    assert extra("FY2026-H1") == ("cost", "FY2026", 1)
    assert extra("FY2026-Q2") == ("cost", "FY2026", 1)
    # written first, but it starts later; what it leaves out carries over from FY2026
    assert extra("FY2026-Q3") == ("total", "FY2026-Q3", 1)
    assert extra("FY2026-H2") == ("total", "FY2026-Q3", 1)
    assert extra("FY2027") == ("total", "FY2026-Q3", 1)


def test_the_resolved_definition_carries_the_revision(build_workspace: BuildWorkspace) -> None:
    ws = build_workspace({"zz.yaml": REVISED})
    catalogue = load_catalogue(ws)
    before = catalogue.for_cycle(parse_cycle("FY2025-Q4"), ws.fiscal)
    after = catalogue.for_cycle(parse_cycle("FY2026-Q1"), ws.fiscal)
    assert "revision" not in before.resolved_definition("extra")
    assert after.resolved_definition("extra")["revision"] == {
        "effective_from": "FY2026",
        "reason": "Costs per head from 2026",
    }
    assert after.resolved_definition("extra")["numerator"] == "cost"
    assert after.kpi_hash("extra") != before.kpi_hash("extra")


def test_a_catalogue_without_revisions_hashes_as_before(build_workspace: BuildWorkspace) -> None:
    plain = load_catalogue(build_workspace({"zz.yaml": EXTRA.replace("    revisions:\n", "")}))
    revised = load_catalogue(build_workspace({"zz.yaml": REVISED}))
    before = revised.for_cycle(parse_cycle("FY2025-Q4"), FiscalSettings())
    # the definition before the first revision is the original one, hashed as without it
    assert before.kpi_hash("extra") == plain.kpi_hash("extra")
    # the hash is the SHA-256 of the resolved definition, with no revision keys in it
    definition = plain.resolved_definition("extra")
    assert "revisions" not in definition and "revision" not in definition
    text = json.dumps(definition, sort_keys=True, default=str).encode()
    assert plain.kpi_hash("extra") == hashlib.sha256(text).hexdigest()
    assert plain.for_cycle(parse_cycle("FY2026"), FiscalSettings()) is plain
    # the catalogue with its revisions hashes them all
    assert revised.kpi_hash("extra") != plain.kpi_hash("extra")


def test_a_revised_measure_is_noted_inside_every_kpi_reading_it(
    build_workspace: BuildWorkspace,
) -> None:
    text = (
        "measures:\n  hc:\n    source: workforce\n    agg: sum\n    expr: headcount\n"
        "    revisions:\n      - {effective_from: FY2026-Q3, reason: permanent staff only, "
        "filter: headcount > 0}\n"
        "kpis:\n  heads:\n    name: Heads\n    type: simple\n    measure: hc\n"
    )
    ws = build_workspace({"zz.yaml": text})
    q3 = load_catalogue(ws).for_cycle(parse_cycle("FY2026-Q3"), ws.fiscal)
    measure = q3.resolved_definition("heads")["measures"]["hc"]
    assert measure["filter"] == "headcount > 0"
    assert measure["revision"] == {
        "effective_from": "FY2026-Q3",
        "reason": "permanent staff only",
    }
    assert [(of, n.effective_from) for of, n in q3.revisions_of("heads")] == [
        ("measure hc", "FY2026-Q3")
    ]


# --------------------------------------------------------------------- kpis ID, the reference


def test_kpis_id_lists_the_revisions(build_workspace: BuildWorkspace) -> None:
    ws = build_workspace({"zz.yaml": REVISED})
    code, out, _ = run(ws.root, "kpis", "extra", env={"COLUMNS": "250"})
    assert code == 0
    lines = [" ".join(line.strip("│ ").split()) for line in out.splitlines()]
    assert (
        "revision │ from FY2026: kpi extra: numerator = cost, decimals = 1; reason: Costs "
        "per head from 2026" in lines
    )
    assert (
        "revision │ from FY2026-Q3: kpi extra: numerator = total; reason: Services count "
        "from Q3" in lines
    )


def test_the_reference_page_shows_the_revisions(build_workspace: BuildWorkspace) -> None:
    page = render_reference(load_catalogue(build_workspace({"zz.yaml": REVISED})))
    assert (
        "| from | of | changes | reason |\n"
        "| --- | --- | --- | --- |\n"
        "| FY2026 | kpi extra | numerator = cost, decimals = 1 | Costs per head from 2026 |\n"
        "| FY2026-Q3 | kpi extra | numerator = total | Services count from Q3 |\n"
    ) in page


def test_the_built_in_catalogue_has_no_revisions() -> None:
    from soekpi.catalogue.validate import load_catalogue_files

    folder = Path(__file__).resolve().parents[2] / "metrics"
    assert not load_catalogue_files(sorted(folder.glob("*.yaml"))).has_revisions
