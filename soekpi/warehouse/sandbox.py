"""The sandbox: the only connection on which catalogue SQL (measure expressions, filters and
view definitions) runs (SPEC §7).

It is a read-only DuckDB connection to the warehouse file with external access switched off
(no ``read_csv``, ``COPY … TO``, ``ATTACH``, ``INSTALL``/``LOAD``) and the configuration
locked, so that no statement can switch those settings back on. Nothing run on it can write
to the warehouse or read a file outside it; temporary objects live in memory and vanish when
the connection closes. On a Spark workspace it is a
:class:`~soekpi.warehouse.spark.SparkReader` (the same read-only calls; every statement is
checked on its syntax tree before it is sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from soekpi.base.errors import UsageError
from soekpi.warehouse.connection import open_warehouse
from soekpi.warehouse.ledger import checked_load_id, shadow_views

if TYPE_CHECKING:
    import duckdb

    from soekpi.workspace import Workspace

_LOCK_DOWN = "SET enable_external_access = false; SET lock_configuration = true;"


@contextmanager
def sandbox(
    ws: Workspace, wait: float = 0, memory_limit: str | None = None, as_of: int | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only, locked-down connection to the workspace's warehouse, closed on exit.
    DuckDB's memory limit is soekpi.yaml's ``warehouse.memory_limit``, else ``memory_limit``
    (None: DuckDB's default); it cannot be changed on the connection.

    Every source table is shadowed by a temp view of its contract columns (the load ids
    stay out of catalogue SQL; a projection costs nothing). With ``as_of`` (a load id) the
    views hold the rows as they stood right after that load, and the ledger and
    ``_rejected`` end there (:func:`soekpi.warehouse.ledger.shadow_views`); an unknown
    load id is a :class:`~soekpi.base.errors.UsageError` (exit 2) naming the last load.

    A missing warehouse is an :class:`~soekpi.base.errors.InputError` (exit 2); a warehouse held by
    a writer raises :class:`~soekpi.base.errors.WarehouseLocked` (exit 3) naming the holder, after
    waiting up to ``wait`` seconds.

    Example::

        with sandbox(ws) as con:
            rows = con.sql("select count(*) from financials").fetchall()
    """
    if ws.warehouse.engine == "spark":
        if as_of is not None:
            raise UsageError(
                "--as-of: a Spark warehouse keeps no load history; "
                "data as of a load needs the DuckDB engine"
            )
        # Spark has no read-only connection: the reader checks each statement's syntax tree.
        from soekpi.warehouse.spark import spark_reader

        with spark_reader(ws) as reader:
            yield reader  # type: ignore[misc]
        return
    with open_warehouse(ws, write=False, wait=wait, memory_limit=memory_limit) as con:
        con.execute(_LOCK_DOWN)
        if as_of is not None:
            checked_load_id(con, as_of)
        shadow_views(con, as_of)
        yield con
