"""Write examples/workforce.xlsx: the monthly workforce return of the example group.

Run from the repository root: ``.venv/bin/python examples/make_xlsx.py``. The workbook is
committed; this script documents how it was made (periods are real Excel dates, the other
cells numbers, as an HR system would export them). One row is deliberately bad: U01 files
a headcount of -12 for November 2025.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import xlsxwriter

HEADCOUNT = {"S01": 5200, "S02": 3100, "U01": 1800, "U02": 1250}
MONTHS = [datetime(2025, m, 1) for m in range(7, 13)]


def main() -> None:
    """Write the workbook next to this script."""
    path = Path(__file__).with_name("workforce.xlsx")
    book = xlsxwriter.Workbook(str(path))
    book.set_properties({"created": datetime(2026, 1, 5)})  # fixed: same bytes on every run
    sheet = book.add_worksheet("workforce")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    header = [
        "entity_id",
        "period",
        "headcount",
        "digital_headcount",
        "training_hours",
        "new_digital_hires",
    ]
    sheet.write_row(0, 0, header)
    row = 1
    for entity, headcount in HEADCOUNT.items():
        for i, month in enumerate(MONTHS):
            total = headcount + 10 * i
            if entity == "U01" and month.month == 11:
                total = -12  # the deliberately bad row
            sheet.write_string(row, 0, entity)
            sheet.write_datetime(row, 1, month, day)
            sheet.write_number(row, 2, total)
            sheet.write_number(row, 3, headcount // 10 + 5 * i)
            sheet.write_number(row, 4, headcount * 1.5)
            sheet.write_number(row, 5, 2 + i % 3)
            row += 1
    book.close()


if __name__ == "__main__":
    main()
