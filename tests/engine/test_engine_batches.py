"""compute_values: the values of compute in entity batches (compute --format json writes them
batch by batch, so a large group is never held whole) — the same rows, in the same order."""

from __future__ import annotations

import polars as pl
import pytest

from soekpi.base.calendar import parse_cycle
from soekpi.catalogue.model import Catalogue
from soekpi.engine import compute, compute_values
from soekpi.output import (
    records_csv,
    result_json,
    to_records,
    values_csv_chunks,
    values_json_chunks,
)
from soekpi.workspace import Workspace


@pytest.mark.parametrize("batch", [1, 2, 4, 100])
def test_batches_concatenate_to_the_values_of_compute(
    golden: tuple[Workspace, Catalogue], batch: int
) -> None:
    ws, catalogue = golden
    cycles = [parse_cycle("FY2026-Q1"), parse_cycle("FY2026-Q2")]
    whole = compute(ws, catalogue, cycles)
    pieces = list(compute_values(ws, catalogue, cycles, batch=batch))
    # the golden hierarchy has six entities: G, S1, S2, U11, U12, U21
    assert len(pieces) == -(-6 // batch)
    assert [p.get_column("entity").unique().len() for p in pieces] == [
        min(batch, 6 - i * batch) for i in range(len(pieces))
    ]
    assert pl.concat(pieces).equals(whole.values, null_equal=True)
    joined = b"".join(values_json_chunks(compute_values(ws, catalogue, cycles, batch=batch)))
    assert joined.decode() == result_json(whole)
    pieces = compute_values(ws, catalogue, cycles, batch=batch)
    text = b"".join(values_csv_chunks(pieces, rows=3)).decode()
    assert text == records_csv(to_records(whole))


def test_batches_of_some_entities_and_kpis(golden: tuple[Workspace, Catalogue]) -> None:
    ws, catalogue = golden
    cycles = [parse_cycle("FY2026-Q2")]
    kwargs = {"entities": ["U21", "S1", "G"], "kpis": ["revenue"]}
    whole = compute(ws, catalogue, cycles, **kwargs)  # type: ignore[arg-type]
    pieces = list(compute_values(ws, catalogue, cycles, batch=2, **kwargs))  # type: ignore[arg-type]
    assert [p.get_column("entity").to_list() for p in pieces] == [["G", "S1"], ["U21"]]
    assert pl.concat(pieces).equals(whole.values, null_equal=True)


def test_no_records_is_an_empty_array() -> None:
    empty = pl.DataFrame(
        schema={k: pl.String for k in ("kpi", "entity", "cycle", "status", "unit")}
        | {k: pl.Float64 for k in ("value", "green", "amber")}
    )
    assert b"".join(values_json_chunks([empty, empty])) == b"[]\n"
    assert b"".join(values_csv_chunks([empty])) == records_csv([]).encode()
