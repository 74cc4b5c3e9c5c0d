"""Text helpers every ring shares: the did-you-mean hint, numbers in messages, and the
report languages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: The languages of reports and of catalogue names (``name: {en: ..., zh-CN: ...}``).
LANGUAGES = ("en", "zh-CN")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def number_text(value: float) -> str:
    """A number without a needless ``.0``."""
    return f"{value:g}"
