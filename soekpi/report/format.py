"""Numbers, changes and Markdown text formatted for people: fixed, locale-free, deterministic."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

NULL = "—"
_MD_SPECIAL = {
    "\\": "\\\\",
    "|": "\\|",
    "*": "\\*",
    "_": "\\_",
    "`": "\\`",
    "[": "\\[",
    "]": "\\]",
    "#": "\\#",
    "~": "\\~",
    "<": "&lt;",
    ">": "&gt;",
}


def _is_number(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def number(value: float | None, decimals: int = 2) -> str:
    """``value`` with ``decimals`` decimals and thousands separators; null → "—"."""
    if value is None or not _is_number(value):
        return NULL
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    places = max(decimals, 0)
    # Round half up on the shortest decimal form, as people do (65.25 → 65.3, not 65.2).
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    text = f"{rounded:,.{places}f}"
    return text[1:] if _is_negative_zero(text) else text


def _is_negative_zero(text: str) -> bool:
    return text.startswith("-") and not any(c in "123456789" for c in text)


def with_unit(value: float | None, decimals: int, unit: str) -> str:
    """A KPI value as shown: ``1,234 CNY/person``, ``12.5%``; null → "—"."""
    text = number(value, decimals)
    if text == NULL or not unit:
        return text
    return f"{text}%" if unit == "%" else f"{text} {unit}"


def change(
    value: float | None, previous: float | None, decimals: int, unit: str, points: str
) -> str:
    """The change against the previous cycle, signed, in the KPI's unit (``points`` for %)."""
    if value is None or previous is None or not (_is_number(value) and _is_number(previous)):
        return NULL
    delta = value - previous
    text = number(delta, decimals)
    if not text.startswith("-") and text != NULL:
        text = "±" + text if _is_zero(text) else "+" + text
    if unit == "%":
        return f"{text} {points}"
    return f"{text} {unit}" if unit else text


def _is_zero(text: str) -> bool:
    return not any(c in "123456789" for c in text)


def timestamp(epoch: int) -> str:
    """Seconds since the epoch as ISO 8601 UTC: ``2026-01-15T00:00:00Z``."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def md_escape(text: object) -> str:
    """Text safe inside a Markdown table cell: special characters escaped, one line."""
    raw = str(text)
    escaped = "".join(_MD_SPECIAL.get(c, c) for c in raw)
    return " ".join(escaped.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
