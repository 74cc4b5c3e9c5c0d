"""Fixtures of the report tests: the report data of a small hand-built engine result
(report_hand.py)."""

from __future__ import annotations

from typing import Any

import pytest
from report_hand import hand_data


@pytest.fixture
def report_data() -> Any:
    return hand_data()
