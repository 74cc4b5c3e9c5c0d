"""Source fingerprints (warehouse/hashing.py): the scheme, worked out again in Python."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from soekpi.catalogue.model import Catalogue
from soekpi.catalogue.validate import load_catalogue_files
from soekpi.warehouse.hashing import source_fingerprints
from soekpi.warehouse.schema import ensure_schema

CATALOGUE = """\
sources:
  entities:
    primary_key: [entity_id]
    columns:
      entity_id: {type: varchar, required: true}
      name: {type: varchar, required: true}
      parent_id: {type: varchar}
  notes:
    columns:
      code: {type: varchar}
      amount: {type: "decimal(18,2)"}
"""


@pytest.fixture()
def catalogue(tmp_path: Path) -> Catalogue:
    path = tmp_path / "catalogue.yaml"
    path.write_text(CATALOGUE, encoding="utf-8")
    return load_catalogue_files([path])


def _prints(catalogue: Catalogue, rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    import duckdb

    con = duckdb.connect()
    ensure_schema(con, catalogue)
    for row in rows:
        con.execute("insert into notes (code, amount) values (?, ?)", list(row))
    return source_fingerprints(con, catalogue)


def _by_hand(source: str, columns: list[list[str]], texts: list[list[str | None]]) -> str:
    """The documented scheme: MD5 of each row's JSON array of VARCHAR values (columns in
    name order) as a little-endian 128-bit integer, its upper and lower 64 bits summed,
    SHA-256 of the summary document."""
    upper = lower = 0
    for values in texts:
        text = json.dumps(values, separators=(",", ":")).encode()
        digest = int.from_bytes(hashlib.md5(text).digest(), "little")  # as md5_number
        upper += digest >> 64
        lower += digest & (2**64 - 1)
    document = {
        "source": source,
        "columns": columns,
        "rows": len(texts),
        "sums": [str(upper), str(lower)],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def test_fingerprint_is_the_documented_multiset_hash(catalogue: Catalogue) -> None:
    prints = _prints(catalogue, [("a", "1.50"), (None, "-2"), ("a", "1.50")])
    # columns in name order: amount, code; DECIMAL(18,2) as text keeps two decimals
    expected = _by_hand(
        "notes",
        [["amount", "DECIMAL(18,2)"], ["code", "VARCHAR"]],
        [["1.50", "a"], ["-2.00", None], ["1.50", "a"]],
    )
    assert prints["notes"] == {"rows": 3, "sha256": expected}
    empty = _by_hand("entities", [["entity_id", "VARCHAR"], ["name", "VARCHAR"]], [])
    assert empty != prints["entities"]["sha256"]  # three columns, not two
    assert prints["entities"] == {
        "rows": 0,
        "sha256": _by_hand(
            "entities",
            [["entity_id", "VARCHAR"], ["name", "VARCHAR"], ["parent_id", "VARCHAR"]],
            [],
        ),
    }


def test_fingerprint_ignores_order_but_counts_duplicates_and_tells_null_from_text(
    catalogue: Catalogue,
) -> None:
    base = _prints(catalogue, [("a", 1), ("b", 2)])["notes"]
    assert _prints(catalogue, [("b", 2), ("a", 1)])["notes"] == base
    assert _prints(catalogue, [("a", 1), ("b", 2), ("b", 2)])["notes"]["sha256"] != base["sha256"]
    null = _prints(catalogue, [(None, 1)])["notes"]["sha256"]
    blank = _prints(catalogue, [("", 1)])["notes"]["sha256"]
    word = _prints(catalogue, [("null", 1)])["notes"]["sha256"]
    assert len({null, blank, word}) == 3
