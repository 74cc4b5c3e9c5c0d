"""The catalogue described in words: every KPI one row, or one KPI in full with its resolved
formula (what ``soekpi kpis`` shows; the CLI lays the rows out as tables)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from soekpi.base.errors import UsageError
from soekpi.base.text import did_you_mean, number_text
from soekpi.catalogue.model import Catalogue, Kpi, Measure, revision_order

_COMPARE_TEXT = {
    "previous_cycle": "the previous cycle",
    "same_cycle_last_year": "the same cycle last year",
}


def thresholds_text(kpi: Kpi) -> str:
    """``green ≥ 500000, amber ≥ 400000`` (or ≤ for lower_is_better); '' without thresholds."""
    if kpi.thresholds is None:
        return ""
    sign = "≥" if kpi.direction == "higher_is_better" else "≤"
    green, amber = number_text(kpi.thresholds.green), number_text(kpi.thresholds.amber)
    return f"green {sign} {green}, amber {sign} {amber}"


def measure_text(measure: Measure) -> str:
    """A measure in words: ``sum(amount) where account = 'revenue' over financials``."""
    if measure.agg == "count_distinct":
        head = f"count(distinct {measure.expr})"
    else:
        head = f"{measure.agg}({measure.expr})"
    if measure.filter:
        head += f" where {measure.filter}"
    head += f" over {measure.source}"
    if measure.time == "none":
        head += " (all rows, whatever their time)"
    elif measure.time:
        head += f" (placed in time by {measure.time})"
    return head


def formula_text(catalogue: Catalogue, kpi_id: str) -> str:
    """The KPI's formula with its measures written out, e.g.
    ``revenue_per_employee = sum(amount) where account = 'revenue' over financials /
    average(headcount) over workforce``."""
    kpi = catalogue.kpis[kpi_id]

    def measure(measure_id: str | None) -> str:
        return measure_text(catalogue.measures[measure_id or ""])

    if kpi.type == "simple":
        body = measure(kpi.measure)
    elif kpi.type == "ratio":
        body = f"{measure(kpi.numerator)} / {measure(kpi.denominator)}"
    elif kpi.type == "derived":
        body = kpi.expr or ""
    elif kpi.type == "growth":
        body = (
            f"growth of {kpi.of} against {_COMPARE_TEXT.get(kpi.compare or '', kpi.compare)}: "
            "(v − v_prev) / |v_prev| × 100"
        )
    else:
        parts = " + ".join(
            f"{number_text(weight)} × score({component})"
            for component, weight in (kpi.components or {}).items()
        )
        total = number_text(sum((kpi.components or {}).values()))
        body = f"({parts}) / {total}, each score 0–100 against its green threshold"
    if kpi.scale != 1 and kpi.type in ("simple", "ratio", "derived"):
        body = f"({body}) × {number_text(kpi.scale)}"
    if kpi.window != "cycle":
        body += f", over the window {kpi.window}"
    return f"{kpi.id} = {body}"


def find_kpi(catalogue: Catalogue, kpi_id: str) -> Kpi:
    """The KPI ``kpi_id``; an unknown id is a UsageError with a did-you-mean."""
    kpi = catalogue.kpis.get(kpi_id)
    if kpi is None:
        raise UsageError(
            f"kpi '{kpi_id}' does not exist{did_you_mean(kpi_id, catalogue.kpis)}; "
            "'soekpi kpis' lists them all"
        )
    return kpi


#: The columns of :func:`kpi_rows`.
KPI_COLUMNS = ("id", "name", "category", "type", "unit", "direction", "thresholds", "window")


def kpi_rows(catalogue: Catalogue, language: str = "en") -> list[tuple[str, ...]]:
    """Every KPI, one row of :data:`KPI_COLUMNS` each, sorted by category then id."""
    return [
        (
            kpi.id,
            kpi.label(language),
            kpi.category,
            kpi.type,
            kpi.unit,
            "higher" if kpi.direction == "higher_is_better" else "lower",
            thresholds_text(kpi),
            kpi.window,
        )
        for kpi in sorted(catalogue.kpis.values(), key=lambda k: (k.category, k.id))
    ]


def kpi_fields(catalogue: Catalogue, kpi_id: str, language: str = "en") -> list[tuple[str, str]]:
    """One KPI in full, as (field, text) rows: names, formula with its measures, thresholds,
    targets, inputs and the place it is defined at. An unknown id raises UsageError with a
    did-you-mean."""
    kpi = find_kpi(catalogue, kpi_id)
    rows: list[tuple[str, str]] = [("id", kpi.id)]
    rows.extend((f"name ({lang})", name) for lang, name in sorted(kpi.name.items()))
    rows += [
        ("description", kpi.description),
        ("category", kpi.category),
        ("type", kpi.type),
        ("formula", formula_text(catalogue, kpi.id)),
    ]
    for measure_id in kpi.measure_inputs:
        rows.append(("measure", f"{measure_id} = {measure_text(catalogue.measures[measure_id])}"))
    for input_id in kpi.kpi_inputs:
        rows.append(("input", f"{input_id}: {catalogue.kpis[input_id].label(language)}"))
    rows += [
        ("unit", kpi.unit),
        ("decimals", str(kpi.decimals)),
        ("scale", number_text(kpi.scale)),
        ("window", kpi.window),
        ("direction", kpi.direction),
        ("thresholds", thresholds_text(kpi) or "none (status 'untracked')"),
    ]
    targets = sorted(
        (t for t in catalogue.targets if t.kpi == kpi.id),
        key=lambda t: (t.fiscal_year or 0, t.entity or ""),
    )
    for target in targets:
        scope = " ".join(
            part
            for part in (
                f"FY{target.fiscal_year}" if target.fiscal_year else "",
                f"entity {target.entity}" if target.entity else "",
            )
            if part
        )
        rows.append(
            (
                "target",
                f"{scope or 'all'}: green {number_text(target.green)}, "
                f"amber {number_text(target.amber)}",
            )
        )
    rows.append(("sources", ", ".join(sorted(catalogue.sources_of(kpi.id)))))
    rows.extend(
        ("revision", f"from {r.effective_from}: {r.of}: {r.changes}; reason: {r.reason}")
        for r in revision_rows(catalogue, kpi.id)
    )
    if kpi.location is not None:
        rows.append(("defined at", str(kpi.location)))
    return rows


@dataclass(frozen=True)
class RevisionRow:
    """One revision of a KPI or of one of its measures, in words."""

    effective_from: str
    of: str  # "kpi labour_productivity" or "measure revenue"
    changes: str  # "denominator = headcount_incl_contractors_avg"
    reason: str


def revision_rows(catalogue: Catalogue, kpi_id: str) -> list[RevisionRow]:
    """The revisions of a KPI and of the measures it reads, by start, then the KPI first:
    from when, of what, the fields they set (as written) and why."""
    kpi = catalogue.kpis[kpi_id]
    found = [(r, f"kpi {kpi_id}") for r in kpi.revisions]
    for measure_id in dict.fromkeys(kpi.measure_inputs):
        found += [(r, f"measure {measure_id}") for r in catalogue.measures[measure_id].revisions]
    found.sort(key=lambda pair: revision_order(pair[0].effective_from))
    return [
        RevisionRow(
            r.effective_from,
            of,
            ", ".join(f"{key} = {_written(value)}" for key, value in r.changes.items()),
            r.reason,
        )
        for r, of in found
    ]


def _written(value: Any) -> str:
    """A field's value as the YAML gave it: text as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
