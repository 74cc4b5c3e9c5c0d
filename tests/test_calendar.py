"""Fiscal cycles (SPEC §2): worked examples, parsing, ``previous``, and properties."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soekpi.base.calendar import (
    Cycle,
    FiscalSettings,
    cycle_containing,
    parse_cycle,
    resolve_cycle,
    today,
)
from soekpi.base.errors import UsageError

APRIL_END = FiscalSettings(start_month=4, label="end")
APRIL_START = FiscalSettings(start_month=4, label="start")
FORMS = "FY2026, FY2026-H1, FY2026-Q3, FY2026-M07, latest or previous"

# --- worked examples of SPEC §2 ---------------------------------------------------------


def test_april_label_end_names_the_year_by_its_end() -> None:
    assert parse_cycle("FY2026").dates(APRIL_END) == (date(2025, 4, 1), date(2026, 3, 31))


def test_april_label_end_first_quarter_is_april_to_june_of_the_year_before() -> None:
    assert parse_cycle("FY2026-Q1").dates(APRIL_END) == (date(2025, 4, 1), date(2025, 6, 30))


def test_april_label_start_names_the_year_by_its_start() -> None:
    assert parse_cycle("FY2026").dates(APRIL_START) == (date(2026, 4, 1), date(2027, 3, 31))
    assert parse_cycle("FY2026-Q4").dates(APRIL_START) == (date(2027, 1, 1), date(2027, 3, 31))


@pytest.mark.parametrize("label", ["end", "start"])
def test_january_start_is_the_calendar_year_for_both_labels(label: str) -> None:
    fiscal = FiscalSettings(start_month=1, label=label)  # type: ignore[arg-type]
    assert parse_cycle("FY2026").dates(fiscal) == (date(2026, 1, 1), date(2026, 12, 31))
    assert parse_cycle("FY2026-Q3").dates(fiscal) == (date(2026, 7, 1), date(2026, 9, 30))
    assert cycle_containing(date(2026, 12, 31), "Y", fiscal) == Cycle(2026, "Y")


def test_halves_and_months_of_an_april_year() -> None:
    assert parse_cycle("FY2026-H2").dates(APRIL_END) == (date(2025, 10, 1), date(2026, 3, 31))
    # fiscal month 1 is April; fiscal month 11 is February 2026, a 28-day month
    assert parse_cycle("FY2026-M01").dates(APRIL_END) == (date(2025, 4, 1), date(2025, 4, 30))
    assert parse_cycle("FY2026-M11").dates(APRIL_END) == (date(2026, 2, 1), date(2026, 2, 28))
    # 2028 is a leap year: FY2028-M11 (label end) is February 2028
    assert parse_cycle("FY2028-M11").end(APRIL_END) == date(2028, 2, 29)


def test_july_year_months_in_order() -> None:
    fiscal = FiscalSettings(start_month=7, label="end")
    assert parse_cycle("FY2026-Q2").months(fiscal) == [
        date(2025, 10, 1),
        date(2025, 11, 1),
        date(2025, 12, 1),
    ]


def test_cycle_containing_a_day_of_an_april_year() -> None:
    assert cycle_containing(date(2025, 3, 31), "Q", APRIL_END) == Cycle(2025, "Q", 4)
    assert cycle_containing(date(2025, 4, 1), "Q", APRIL_END) == Cycle(2026, "Q", 1)
    assert cycle_containing(date(2025, 4, 1), "Q", APRIL_START) == Cycle(2025, "Q", 1)
    assert cycle_containing(date(2026, 1, 15), "M", APRIL_END) == Cycle(2026, "M", 10)


def test_previous_of_a_first_quarter_is_the_last_quarter_of_the_year_before() -> None:
    assert parse_cycle("FY2026-Q1").previous() == Cycle(2025, "Q", 4)
    assert parse_cycle("FY2026-H1").previous() == Cycle(2025, "H", 2)
    assert parse_cycle("FY2026-M01").previous() == Cycle(2025, "M", 12)
    assert parse_cycle("FY2026").previous() == Cycle(2025, "Y")


def test_trailing_lists_oldest_first() -> None:
    assert [c.name for c in parse_cycle("FY2026-Q2").trailing(4)] == [
        "FY2025-Q3",
        "FY2025-Q4",
        "FY2026-Q1",
        "FY2026-Q2",
    ]


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FY2026", Cycle(2026, "Y", 1)),
        ("FY2026-H1", Cycle(2026, "H", 1)),
        ("FY2026-H2", Cycle(2026, "H", 2)),
        ("FY2026-Q1", Cycle(2026, "Q", 1)),
        ("FY2026-Q4", Cycle(2026, "Q", 4)),
        ("FY2026-M01", Cycle(2026, "M", 1)),
        ("FY2026-M07", Cycle(2026, "M", 7)),
        ("FY2026-M12", Cycle(2026, "M", 12)),
        (" FY2026-Q3 ", Cycle(2026, "Q", 3)),
        ("fy2026-q3", Cycle(2026, "Q", 3)),
    ],
)
def test_parse_every_form(text: str, expected: Cycle) -> None:
    assert parse_cycle(text) == expected
    assert parse_cycle(expected.name) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026",
        "FY26",
        "FY20260",
        "FY2026-",
        "FY2026-Q0",
        "FY2026-Q5",
        "FY2026-H0",
        "FY2026-H3",
        "FY2026-M00",
        "FY2026-M13",
        "FY2026-M7",
        "FY2026-W01",
        "FY2026Q1",
        "FY2026-Q1-M01",
        "FY-2026",
        "FY２０２６",  # full-width digits are not a year
        "FY2026\nFY2027",
        "2026-Q1",
    ],
)
def test_malformed_cycles_name_the_accepted_forms(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_cycle(text)
    assert str(caught.value) == f"'{text}' is not a fiscal cycle (accepted forms: {FORMS})"


def test_a_year_out_of_range_is_refused() -> None:
    with pytest.raises(UsageError) as caught:
        parse_cycle("FY0999-Q1")
    assert str(caught.value) == "'FY0999-Q1': fiscal year must be between 1900 and 2999"


def test_names_round_trip() -> None:
    assert Cycle(2026, "M", 7).name == "FY2026-M07"
    assert str(Cycle(2026, "Q", 3)) == "FY2026-Q3"
    assert Cycle(2026, "Y").name == "FY2026"


# --- keywords: previous and latest ------------------------------------------------------


@pytest.mark.parametrize(
    ("today_text", "fiscal", "expected"),
    [
        # January years: 2026-05-15 is in FY2026-Q2, the quarter before ended on 2026-03-31
        ("2026-05-15", FiscalSettings(1, "end"), "FY2026-Q1"),
        # the first day of a quarter: the quarter that ended yesterday
        ("2026-01-01", FiscalSettings(1, "end"), "FY2025-Q4"),
        # the last day of a quarter: that quarter has not ended yet
        ("2026-03-31", FiscalSettings(1, "end"), "FY2025-Q4"),
        # April years named by their end: 2026-05-15 is in FY2027-Q1 (April–June 2026),
        # so the previous quarter is January–March 2026, FY2026-Q4
        ("2026-05-15", APRIL_END, "FY2026-Q4"),
        ("2026-05-15", APRIL_START, "FY2025-Q4"),
    ],
)
def test_previous_is_the_last_quarter_that_ended_before_today(
    monkeypatch: pytest.MonkeyPatch, today_text: str, fiscal: FiscalSettings, expected: str
) -> None:
    monkeypatch.setenv("SOEKPI_TODAY", today_text)
    assert resolve_cycle("previous", fiscal).name == expected
    assert resolve_cycle(" Previous ", fiscal).name == expected


def test_soekpi_today_overrides_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOEKPI_TODAY", "2024-02-29")
    assert today() == date(2024, 2, 29)


def test_a_malformed_soekpi_today_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOEKPI_TODAY", "29/02/2024")
    with pytest.raises(UsageError) as caught:
        resolve_cycle("previous", FiscalSettings())
    assert str(caught.value) == "SOEKPI_TODAY='29/02/2024' is not a date (YYYY-MM-DD)"


def test_latest_asks_the_caller() -> None:
    assert resolve_cycle("latest", APRIL_END, latest=lambda: Cycle(2026, "Q", 2)).name == (
        "FY2026-Q2"
    )


def test_latest_without_data_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_cycle("latest", APRIL_END, latest=lambda: None)
    assert str(caught.value) == "'latest': the warehouse has no complete quarter of data yet"


def test_resolve_passes_names_through_and_refuses_nonsense() -> None:
    assert resolve_cycle("FY2026-Q3", APRIL_END) == Cycle(2026, "Q", 3)
    with pytest.raises(UsageError) as caught:
        resolve_cycle("last", APRIL_END)
    assert str(caught.value) == f"'last' is not a fiscal cycle (accepted forms: {FORMS})"


# --- properties -------------------------------------------------------------------------

settings_st = st.builds(
    FiscalSettings,
    start_month=st.integers(min_value=1, max_value=12),
    label=st.sampled_from(["end", "start"]),
)
days_st = st.dates(min_value=date(1901, 1, 1), max_value=date(2998, 12, 31))
kinds_st = st.sampled_from(["Y", "H", "Q", "M"])
PER_YEAR = {"Y": 1, "H": 2, "Q": 4, "M": 12}


@st.composite
def cycles_st(draw: st.DrawFn) -> Cycle:
    kind = draw(kinds_st)
    index = draw(st.integers(min_value=1, max_value=PER_YEAR[kind]))
    return Cycle(draw(st.integers(min_value=1901, max_value=2998)), kind, index)


@given(settings_st, days_st)
def test_every_day_is_in_exactly_one_quarter_of_exactly_one_fiscal_year(
    fiscal: FiscalSettings, day: date
) -> None:
    holders = [
        Cycle(year, "Q", q)
        for year in range(day.year - 2, day.year + 3)
        for q in range(1, 5)
        if Cycle(year, "Q", q).start(fiscal) <= day <= Cycle(year, "Q", q).end(fiscal)
    ]
    assert holders == [cycle_containing(day, "Q", fiscal)]
    years = [
        y
        for y in range(day.year - 2, day.year + 3)
        if Cycle(y, "Y").start(fiscal) <= day <= Cycle(y, "Y").end(fiscal)
    ]
    assert years == [fiscal.fiscal_year_of(day)] == [holders[0].year]


@given(settings_st, st.integers(min_value=1901, max_value=2998))
def test_four_quarters_tile_the_fiscal_year(fiscal: FiscalSettings, year: int) -> None:
    quarters = [Cycle(year, "Q", q) for q in range(1, 5)]
    assert quarters[0].start(fiscal) == Cycle(year, "Y").start(fiscal)
    assert quarters[-1].end(fiscal) == Cycle(year, "Y").end(fiscal)
    for before, after in pairwise(quarters):
        assert before.end(fiscal) + timedelta(days=1) == after.start(fiscal)
    total = sum((q.end(fiscal) - q.start(fiscal)).days + 1 for q in quarters)
    assert total == (Cycle(year, "Y").end(fiscal) - Cycle(year, "Y").start(fiscal)).days + 1


@given(settings_st, st.integers(min_value=1901, max_value=2998), st.integers(1, 4))
def test_months_tile_their_quarter(fiscal: FiscalSettings, year: int, quarter: int) -> None:
    q = Cycle(year, "Q", quarter)
    months = [Cycle(year, "M", m) for m in range(3 * quarter - 2, 3 * quarter + 1)]
    assert months[0].start(fiscal) == q.start(fiscal)
    assert months[-1].end(fiscal) == q.end(fiscal)
    for before, after in pairwise(months):
        assert before.end(fiscal) + timedelta(days=1) == after.start(fiscal)
    assert [m.start(fiscal) for m in months] == q.months(fiscal)


@given(cycles_st())
def test_previous_and_next_are_inverse(cycle: Cycle) -> None:
    assert cycle.next().previous() == cycle
    assert cycle.previous().next() == cycle
    assert cycle.previous().kind == cycle.next().kind == cycle.kind


@given(settings_st, cycles_st())
def test_next_starts_the_day_after_the_cycle_ends(fiscal: FiscalSettings, cycle: Cycle) -> None:
    assert cycle.end(fiscal) + timedelta(days=1) == cycle.next().start(fiscal)


@given(settings_st, cycles_st())
def test_same_cycle_last_year_shifts_the_dates_by_one_year(
    fiscal: FiscalSettings, cycle: Cycle
) -> None:
    last = cycle.same_cycle_last_year()
    assert last.start(fiscal) == cycle.start(fiscal).replace(year=cycle.start(fiscal).year - 1)
    # the last day is the end of the same month a year earlier (February may differ by a day)
    end, last_end = cycle.end(fiscal), last.end(fiscal)
    assert (last_end.year, last_end.month) == (end.year - 1, end.month)
    assert (last_end + timedelta(days=1)).day == 1


@given(settings_st, cycles_st())
def test_the_cycle_containing_either_end_is_the_cycle(fiscal: FiscalSettings, cycle: Cycle) -> None:
    assert cycle_containing(cycle.start(fiscal), cycle.kind, fiscal) == cycle
    assert cycle_containing(cycle.end(fiscal), cycle.kind, fiscal) == cycle
    assert cycle.fiscal_year_cycle() == cycle_containing(cycle.start(fiscal), "Y", fiscal)


@given(cycles_st())
def test_names_parse_back(cycle: Cycle) -> None:
    assert parse_cycle(cycle.name) == cycle
