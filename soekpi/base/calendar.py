"""Fiscal cycles (SPEC §2): pure date arithmetic, no I/O.

A cycle is ``FY<year>``, ``FY<year>-H<1|2>``, ``FY<year>-Q<1..4>`` or ``FY<year>-M<01..12>``;
fiscal month 1 is the workspace's ``start_month``. A fiscal year is named by the calendar year
it ends in (``label: end``) or starts in (``label: start``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from soekpi.base.errors import UsageError

Kind = Literal["Y", "H", "Q", "M"]
_MONTHS_PER: dict[str, int] = {"Y": 12, "H": 6, "Q": 3, "M": 1}
# ASCII digits only: \d would take full-width and other Unicode digits as a year.
_PATTERN = re.compile(r"^FY([0-9]{4})(?:-(?:H([1-2])|Q([1-4])|M(0[1-9]|1[0-2])))?$")
ACCEPTED_FORMS = "FY2026, FY2026-H1, FY2026-Q3, FY2026-M07, latest or previous"
MIN_YEAR, MAX_YEAR = 1900, 2999
NO_COMPLETE_QUARTER = "'latest': the warehouse has no complete quarter of data yet"


@dataclass(frozen=True)
class FiscalSettings:
    """When the fiscal year starts and how it is named."""

    start_month: int = 1
    label: Literal["end", "start"] = "end"

    def start_year(self, fiscal_year: int) -> int:
        """The calendar year in which fiscal year ``fiscal_year`` starts."""
        if self.label == "end" and self.start_month > 1:
            return fiscal_year - 1
        return fiscal_year

    def fiscal_year_of(self, day: date) -> int:
        """The fiscal year that contains ``day``."""
        start_year = day.year if day.month >= self.start_month else day.year - 1
        if self.label == "end" and self.start_month > 1:
            return start_year + 1
        return start_year

    def fiscal_month_of(self, day: date) -> int:
        """The fiscal month (1..12) that contains ``day``."""
        return (day.month - self.start_month) % 12 + 1


@dataclass(frozen=True, order=True)
class Cycle:
    """A fiscal cycle: a year, a half, a quarter or a month of a fiscal year."""

    year: int
    kind: Kind
    index: int = 1  # 1 for a year; 1..2 halves; 1..4 quarters; 1..12 months

    @property
    def name(self) -> str:
        """The cycle's name, e.g. ``FY2026-Q3``."""
        if self.kind == "Y":
            return f"FY{self.year}"
        if self.kind == "M":
            return f"FY{self.year}-M{self.index:02d}"
        return f"FY{self.year}-{self.kind}{self.index}"

    def __str__(self) -> str:
        return self.name

    @property
    def per_year(self) -> int:
        """How many cycles of this kind make a fiscal year."""
        return 12 // _MONTHS_PER[self.kind]

    def fiscal_months(self) -> range:
        """The fiscal month numbers (1..12) this cycle covers."""
        size = _MONTHS_PER[self.kind]
        first = (self.index - 1) * size + 1
        return range(first, first + size)

    def months(self, fiscal: FiscalSettings) -> list[date]:
        """First days of the calendar months this cycle covers, in order."""
        start_year = fiscal.start_year(self.year)
        result = []
        for m in self.fiscal_months():
            offset = fiscal.start_month - 1 + m - 1
            result.append(date(start_year + offset // 12, offset % 12 + 1, 1))
        return result

    def start(self, fiscal: FiscalSettings) -> date:
        """The first day of the cycle."""
        return self.months(fiscal)[0]

    def end(self, fiscal: FiscalSettings) -> date:
        """The last day of the cycle (inclusive)."""
        last = self.months(fiscal)[-1]
        following = date(last.year + last.month // 12, last.month % 12 + 1, 1)
        return following - timedelta(days=1)

    def dates(self, fiscal: FiscalSettings) -> tuple[date, date]:
        """First and last day of the cycle, both inclusive."""
        return self.start(fiscal), self.end(fiscal)

    def fiscal_year_cycle(self) -> Cycle:
        """The fiscal year this cycle belongs to."""
        return Cycle(self.year, "Y", 1)

    def previous(self) -> Cycle:
        """The cycle of the same kind just before (FY2026-Q1 → FY2025-Q4)."""
        if self.index > 1:
            return Cycle(self.year, self.kind, self.index - 1)
        return Cycle(self.year - 1, self.kind, self.per_year)

    def next(self) -> Cycle:
        """The cycle of the same kind just after."""
        if self.index < self.per_year:
            return Cycle(self.year, self.kind, self.index + 1)
        return Cycle(self.year + 1, self.kind, 1)

    def same_cycle_last_year(self) -> Cycle:
        """The same cycle one fiscal year earlier."""
        return Cycle(self.year - 1, self.kind, self.index)

    def trailing(self, count: int) -> list[Cycle]:
        """This cycle and the ``count - 1`` before it, oldest first."""
        cycles = [self]
        while len(cycles) < count:
            cycles.append(cycles[-1].previous())
        return cycles[::-1]


def parse_cycle(text: str) -> Cycle:
    """Parse a cycle name; anything else is a UsageError naming the accepted forms."""
    match = _PATTERN.match(text.strip().upper())
    if match is None:
        raise UsageError(f"'{text}' is not a fiscal cycle (accepted forms: {ACCEPTED_FORMS})")
    year = int(match.group(1))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise UsageError(f"'{text}': fiscal year must be between {MIN_YEAR} and {MAX_YEAR}")
    half, quarter, month = match.group(2), match.group(3), match.group(4)
    if half:
        return Cycle(year, "H", int(half))
    if quarter:
        return Cycle(year, "Q", int(quarter))
    if month:
        return Cycle(year, "M", int(month))
    return Cycle(year, "Y", 1)


def cycle_containing(day: date, kind: Kind, fiscal: FiscalSettings) -> Cycle:
    """The cycle of ``kind`` that contains ``day``."""
    fiscal_month = fiscal.fiscal_month_of(day)
    index = (fiscal_month - 1) // _MONTHS_PER[kind] + 1
    return Cycle(fiscal.fiscal_year_of(day), kind, index)


def today() -> date:
    """Today's date, or ``$SOEKPI_TODAY`` (YYYY-MM-DD) for tests."""
    override = os.environ.get("SOEKPI_TODAY")
    if override:
        try:
            return date.fromisoformat(override)
        except ValueError:
            raise UsageError(f"SOEKPI_TODAY={override!r} is not a date (YYYY-MM-DD)") from None
    return date.today()


def previous_quarter(fiscal: FiscalSettings, on: date | None = None) -> Cycle:
    """The last fiscal quarter that ended before ``on`` (default: today)."""
    return cycle_containing(on or today(), "Q", fiscal).previous()


def resolve_cycle(
    text: str,
    fiscal: FiscalSettings,
    latest: Callable[[], Cycle | None] | None = None,
) -> Cycle:
    """Turn a cycle argument into a Cycle: a name, ``previous`` or ``latest``.

    ``latest`` is asked of the caller (it needs the warehouse: the latest quarter whose last
    month has rows in every monthly source); it returns None when there is no data.
    """
    word = text.strip().lower()
    if word == "previous":
        return previous_quarter(fiscal)
    if word == "latest":
        found = latest() if latest is not None else None
        if found is None:
            raise UsageError(NO_COMPLETE_QUARTER)
        return found
    return parse_cycle(text)
