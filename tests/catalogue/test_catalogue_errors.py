"""Every kind of catalogue mistake, reported at its file:line with the offending key."""

from __future__ import annotations

import pytest
from catalogue_data import KPIS, SOURCES, BuildWorkspace

from soekpi.base.errors import CatalogueError, ExitCode
from soekpi.catalogue.validate import check_catalogue, load_catalogue

KPI_KEYS = (
    "name, description, category, unit, decimals, type, scale, window, direction, thresholds, "
    "measure, numerator, denominator, expr, of, compare, components, revisions"
)


def problems_of(build_workspace: BuildWorkspace, files: dict[str, str]) -> list[str]:
    catalogue, problems = check_catalogue(build_workspace(files))
    assert (catalogue is None) == bool(problems)
    return [str(p) for p in problems]


def simple_kpi(extra: str) -> str:
    """A file defining KPI 'extra' (line 2) with the given lines appended from line 5."""
    return "kpis:\n  extra:\n    name: Extra\n    type: simple\n" + extra


def test_the_base_catalogue_is_clean(build_workspace: BuildWorkspace) -> None:
    assert problems_of(build_workspace, {}) == []


CASES = {
    "unknown section": (
        {"zz.yaml": "kpi:\n  x: 1\n"},
        [
            "metrics/zz.yaml:1: unknown section 'kpi' (did you mean 'kpis'?); "
            "allowed: sources, measures, kpis, targets"
        ],
    ),
    "unknown key": (
        {"zz.yaml": simple_kpi("    measure: revenue\n    tresholds: {green: 1, amber: 0}\n")},
        [
            "metrics/zz.yaml:6: kpi 'extra': unknown key 'tresholds' (did you mean "
            f"'thresholds'?); allowed: {KPI_KEYS}"
        ],
    ),
    "key of another kpi type": (
        {"zz.yaml": simple_kpi("    measure: revenue\n    numerator: cost\n")},
        [
            "metrics/zz.yaml:6: kpi 'extra': numerator: does not apply to a kpi of type "
            "'simple' (simple uses measure)"
        ],
    ),
    "wrong type": (
        {"zz.yaml": simple_kpi("    measure: revenue\n    decimals: two\n")},
        [
            "metrics/zz.yaml:6: kpi 'extra': decimals: must be a whole number from 0 to 10, "
            "not 'two'"
        ],
    ),
    "decimals out of range": (
        {"zz.yaml": simple_kpi("    measure: revenue\n    decimals: 11\n")},
        ["metrics/zz.yaml:6: kpi 'extra': decimals: must be a whole number from 0 to 10, not 11"],
    ),
    "scale not a number": (
        {"zz.yaml": simple_kpi("    measure: revenue\n    scale: hundred\n")},
        ["metrics/zz.yaml:6: kpi 'extra': scale: must be a number, not 'hundred'"],
    ),
    "missing field": (
        {"zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: ratio\n    numerator: cost\n"},
        ["metrics/zz.yaml:2: kpi 'extra': missing required key 'denominator'"],
    ),
    "missing name": (
        {"zz.yaml": "kpis:\n  extra:\n    type: simple\n    measure: cost\n"},
        ["metrics/zz.yaml:2: kpi 'extra': missing required key 'name'"],
    ),
    "name without English": (
        {
            "zz.yaml": "kpis:\n  extra:\n    name: {zh-CN: 额外}\n    type: simple\n"
            "    measure: cost\n"
        },
        ["metrics/zz.yaml:3: kpi 'extra': name: needs an English name under 'en'"],
    ),
    "name in an unknown language": (
        {
            "zz.yaml": "kpis:\n  extra:\n    name: {en: Extra, fr: Plus}\n    type: simple\n"
            "    measure: cost\n"
        },
        ["metrics/zz.yaml:3: kpi 'extra': name: unknown language 'fr'; allowed: en, zh-CN"],
    ),
    "bad kpi type": (
        {"zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: ration\n"},
        [
            "metrics/zz.yaml:4: kpi 'extra': type: 'ration' is not one of simple, ratio, "
            "derived, growth, composite (did you mean 'ratio'?)"
        ],
    ),
    "bad window": (
        {"zz.yaml": simple_kpi("    measure: revenue\n    window: monthly\n")},
        ["metrics/zz.yaml:6: kpi 'extra': window: 'monthly' is not one of cycle, ytd, to_date"],
    ),
    "bad direction": (
        {"zz.yaml": simple_kpi("    measure: revenue\n    direction: higher\n")},
        [
            "metrics/zz.yaml:6: kpi 'extra': direction: 'higher' is not one of "
            "higher_is_better, lower_is_better"
        ],
    ),
    "bad compare": (
        {
            "zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: growth\n    of: margin\n"
            "    compare: last_year\n"
        },
        [
            "metrics/zz.yaml:6: kpi 'extra': compare: 'last_year' is not one of "
            "previous_cycle, same_cycle_last_year (did you mean 'same_cycle_last_year'?)"
        ],
    ),
    "bad agg": (
        {"zz.yaml": "measures:\n  extra: {source: financials, agg: summ, expr: amount}\n"},
        [
            "metrics/zz.yaml:2: measure 'extra': agg: 'summ' is not one of sum, count, "
            "count_distinct, min, max, mean, closing, average (did you mean 'sum'?)"
        ],
    ),
    "sum without expr": (
        {"zz.yaml": "measures:\n  extra: {source: financials, agg: sum}\n"},
        [
            "metrics/zz.yaml:2: measure 'extra': missing required key 'expr' (agg 'sum' "
            "aggregates an expression over the rows)"
        ],
    ),
    "bad column type": (
        {"zz.yaml": 'sources:\n  extra:\n    columns:\n      amount: {type: "decimal(18)"}\n'},
        [
            "metrics/zz.yaml:4: source 'extra': column 'amount': type: 'decimal(18)' is not a "
            "column type; allowed: varchar, integer, bigint, double, boolean, date, timestamp, "
            "decimal(p,s)"
        ],
    ),
    "decimal precision too large": (
        {"zz.yaml": 'sources:\n  extra:\n    columns:\n      amount: {type: "decimal(40,2)"}\n'},
        [
            "metrics/zz.yaml:4: source 'extra': column 'amount': type: 'decimal(40,2)' needs a "
            "precision from 1 to 38 and a scale no larger than the precision"
        ],
    ),
    "bad cadence": (
        {
            "zz.yaml": "sources:\n  extra:\n    time_column: day\n    cadence: weekly\n"
            "    columns:\n      day: {type: date}\n"
        },
        ["metrics/zz.yaml:4: source 'extra': cadence: 'weekly' is not one of monthly"],
    ),
    "time column of the wrong type": (
        {
            "zz.yaml": "sources:\n  extra:\n    time_column: day\n"
            "    columns:\n      day: {type: varchar}\n"
        },
        [
            "metrics/zz.yaml:3: source 'extra': time_column: column 'day' is varchar; a time "
            "column must be date or timestamp"
        ],
    ),
    "unknown time column": (
        {
            "zz.yaml": "sources:\n  extra:\n    time_column: dya\n"
            "    columns:\n      day: {type: date}\n"
        },
        [
            "metrics/zz.yaml:3: source 'extra': time_column: column 'dya' does not exist in "
            "source 'extra' (did you mean 'day'?)"
        ],
    ),
    "unknown primary key column": (
        {
            "zz.yaml": "sources:\n  extra:\n    primary_key: [id, dya]\n"
            "    columns:\n      id: {type: integer}\n      day: {type: date}\n"
        },
        [
            "metrics/zz.yaml:3: source 'extra': primary_key: column 'dya' does not exist in "
            "source 'extra' (did you mean 'day'?)"
        ],
    ),
    "min above max": (
        {"zz.yaml": "sources:\n  extra:\n    columns:\n      n: {type: integer, min: 5, max: 1}\n"},
        ["metrics/zz.yaml:4: source 'extra': column 'n': max: 1 is below min 5"],
    ),
    "unknown referenced source": (
        {
            "zz.yaml": "sources:\n  extra:\n    columns:\n"
            "      entity_id: {type: varchar, references: entitys.entity_id}\n"
        },
        [
            "metrics/zz.yaml:4: source 'extra': column 'entity_id': references: source "
            "'entitys' does not exist (did you mean 'entities'?)"
        ],
    ),
    "unknown referenced column": (
        {
            "zz.yaml": "sources:\n  extra:\n    columns:\n"
            "      entity_id: {type: varchar, references: entities.entity}\n"
        },
        [
            "metrics/zz.yaml:4: source 'extra': column 'entity_id': references: column "
            "'entity' does not exist in source 'entities' (did you mean 'entity_id'?)"
        ],
    ),
    "unknown measure source": (
        {"zz.yaml": "measures:\n  extra: {source: financial, agg: count}\n"},
        [
            "metrics/zz.yaml:2: measure 'extra': source 'financial' does not exist "
            "(did you mean 'financials'?)"
        ],
    ),
    "unknown measure time column": (
        {
            "zz.yaml": "measures:\n  extra:\n    source: financials\n    agg: count\n"
            "    time: perod\n"
        },
        [
            "metrics/zz.yaml:5: measure 'extra': time: column 'perod' does not exist in source "
            "'financials' (did you mean 'period'?) (or write 'none' to ignore time)"
        ],
    ),
    "stock measure without time": (
        {"zz.yaml": "measures:\n  extra:\n    source: entities\n    agg: closing\n    expr: 1\n"},
        [
            "metrics/zz.yaml:4: measure 'extra': agg 'closing' needs periods, but source "
            "'entities' has no time_column and the measure sets no 'time'"
        ],
    ),
    "unknown measure of a kpi": (
        {"zz.yaml": simple_kpi("    measure: revenu\n")},
        [
            "metrics/zz.yaml:5: kpi 'extra': measure 'revenu' does not exist "
            "(did you mean 'revenue'?)"
        ],
    ),
    "unknown numerator": (
        {
            "zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: ratio\n    numerator: costs\n"
            "    denominator: revenue\n"
        },
        [
            "metrics/zz.yaml:5: kpi 'extra': numerator: measure 'costs' does not exist "
            "(did you mean 'cost'?)"
        ],
    ),
    "unknown kpi in growth": (
        {
            "zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: growth\n    of: marign\n"
            "    compare: previous_cycle\n"
        },
        [
            "metrics/zz.yaml:5: kpi 'extra': of: kpi 'marign' does not exist "
            "(did you mean 'margin'?)"
        ],
    ),
    "unknown kpi in derived expr": (
        {
            "zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: derived\n"
            "    expr: margin * 2 + index2\n"
        },
        [
            "metrics/zz.yaml:5: kpi 'extra': expr: kpi 'index2' does not exist "
            "(did you mean 'index'?)"
        ],
    ),
    "derived expr that does not parse": (
        {"zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: derived\n    expr: margin ** 2\n"},
        [
            "metrics/zz.yaml:5: kpi 'extra': expr: 'margin ** 2' is not allowed in expression "
            "'margin ** 2' (use KPI ids, numbers, + - * /, parentheses, abs, min, max, coalesce)"
        ],
    ),
    "unknown component": (
        {
            "zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: composite\n"
            "    components: {margni: 1}\n"
        },
        [
            "metrics/zz.yaml:5: kpi 'extra': components: kpi 'margni' does not exist "
            "(did you mean 'margin'?)"
        ],
    ),
    "non-positive weight": (
        {
            "zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: composite\n"
            "    components: {margin: 0, index: heavy}\n"
        },
        [
            "metrics/zz.yaml:5: kpi 'extra': components: the weight of 'index' must be a "
            "positive number, not 'heavy'",
            "metrics/zz.yaml:5: kpi 'extra': components: the weight of 'margin' must be a "
            "positive number, not 0",
        ],
    ),
    "unknown target kpi": (
        {"zz.yaml": "targets:\n  - {kpi: margni, green: 1, amber: 0}\n"},
        [
            "metrics/zz.yaml:2: target for kpi 'margni': kpi 'margni' does not exist "
            "(did you mean 'margin'?)"
        ],
    ),
    "thresholds in the wrong order, higher is better": (
        {"zz.yaml": simple_kpi("    measure: revenue\n    thresholds: {green: 10, amber: 12}\n")},
        [
            "metrics/zz.yaml:6: kpi 'extra': thresholds: amber 12 is above green 10; for a "
            "higher_is_better KPI amber must be <= green"
        ],
    ),
    "thresholds in the wrong order, lower is better": (
        {
            "zz.yaml": simple_kpi(
                "    measure: cost\n    direction: lower_is_better\n"
                "    thresholds: {green: 10, amber: 8.5}\n"
            )
        },
        [
            "metrics/zz.yaml:7: kpi 'extra': thresholds: amber 8.5 is below green 10; for a "
            "lower_is_better KPI amber must be >= green"
        ],
    ),
    "threshold missing amber": (
        {"zz.yaml": simple_kpi("    measure: revenue\n    thresholds: {green: 10}\n")},
        ["metrics/zz.yaml:6: kpi 'extra': thresholds: missing required key 'amber'"],
    ),
    "target in the wrong order": (
        {"zz.yaml": "targets:\n  - {kpi: cost_income_ratio, entity: E07, green: 90, amber: 80}\n"},
        [
            "metrics/zz.yaml:2: target for kpi 'cost_income_ratio': amber 80 is below green "
            "90; for a lower_is_better KPI amber must be >= green"
        ],
    ),
    "target defined twice": (
        {
            "zz.yaml": "targets:\n  - {kpi: cost_income_ratio, fiscal_year: 2026, green: 1, "
            "amber: 2}\n"
        },
        [
            "metrics/zz.yaml:2: target for kpi 'cost_income_ratio' (fiscal_year 2026) is "
            "defined twice: metrics/targets.yaml:2 and metrics/zz.yaml:2"
        ],
    ),
    "target with a bad fiscal year": (
        {"zz.yaml": "targets:\n  - {kpi: margin, fiscal_year: FY2026, green: 1, amber: 0}\n"},
        [
            "metrics/zz.yaml:2: target for kpi 'margin': fiscal_year: must be a whole number "
            "from 1900 to 2999, not 'FY2026'"
        ],
    ),
    "duplicate id across files": (
        {
            "zz.yaml": "kpis:\n  margin:\n    name: Margin again\n    type: simple\n"
            "    measure: revenue\n"
        },
        [
            "metrics/zz.yaml:2: kpi 'margin' is defined twice: metrics/kpis.yaml:19 and "
            "metrics/zz.yaml:2"
        ],
    ),
    "cycle among kpis": (
        {
            "kpis.yaml": KPIS.replace("expr: 100 - cost_income_ratio", "expr: 100 - extra"),
            "zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: growth\n    of: margin\n"
            "    compare: previous_cycle\n",
        },
        ["metrics/zz.yaml:2: kpi 'extra': cycle among kpis: extra -> margin -> extra"],
    ),
    "kpi growing itself": (
        {
            "zz.yaml": "kpis:\n  extra:\n    name: Extra\n    type: growth\n    of: extra\n"
            "    compare: previous_cycle\n"
        },
        ["metrics/zz.yaml:2: kpi 'extra': cycle among kpis: extra -> extra"],
    ),
    "bad id": (
        {"zz.yaml": "kpis:\n  2nd-kpi:\n    name: Extra\n    type: simple\n    measure: cost\n"},
        [
            "metrics/zz.yaml:2: kpi '2nd-kpi': an id must start with a letter and hold only "
            "letters, digits and _"
        ],
    ),
    "section of the wrong shape": (
        {"zz.yaml": "targets:\n  kpi: margin\n"},
        [
            "metrics/zz.yaml:1: targets: must be a list of {kpi: ..., green: ..., amber: ...}, "
            "not a mapping"
        ],
    ),
    "YAML syntax error": (
        {"zz.yaml": "kpis:\n  extra: [\n"},
        ["metrics/zz.yaml:3: invalid YAML: expected the node content, but found '<stream end>'"],
    ),
    "duplicate YAML key": (
        {"zz.yaml": "kpis:\n  extra: {}\n  extra: {}\n"},
        ["metrics/zz.yaml:3: invalid YAML: duplicate key 'extra'"],
    ),
    "entities without parent_id": (
        {
            "sources.yaml": SOURCES.replace(
                "      parent_id: {type: varchar, references: entities.entity_id}\n", ""
            )
        },
        [
            "metrics/sources.yaml:2: source 'entities': missing column 'parent_id' (the "
            "entities source defines the hierarchy with entity_id, name, parent_id)"
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_kind_of_mistake_is_located(build_workspace: BuildWorkspace, case: str) -> None:
    files, expected = CASES[case]
    assert problems_of(build_workspace, files) == expected


def test_load_catalogue_raises_one_error_with_every_problem(
    build_workspace: BuildWorkspace,
) -> None:
    ws = build_workspace(
        {
            "zz.yaml": simple_kpi("    measure: revenu\n    decimals: 11\n"),
            "zz2.yaml": "kpis:\n  margin: {name: M, type: simple, measure: cost}\n",
        }
    )
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(ws)
    assert caught.value.exit_code == ExitCode.USAGE
    assert str(caught.value).splitlines() == [
        "metrics/zz.yaml:5: kpi 'extra': measure 'revenu' does not exist (did you mean 'revenue'?)",
        "metrics/zz.yaml:6: kpi 'extra': decimals: must be a whole number from 0 to 10, not 11",
        "metrics/zz2.yaml:2: kpi 'margin' is defined twice: metrics/kpis.yaml:19 and "
        "metrics/zz2.yaml:2",
    ]
