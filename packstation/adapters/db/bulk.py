"""Many rows into one table with one statement: the imports' insert path.

On SQLite the rows go straight to the driver's ``executemany`` as tuples, converted by the same
bind processors SQLAlchemy would apply (time zones to UTC, dates to SQLite's text format), so
what is stored is what ``conn.execute(insert(table), rows)`` stores, at about a fifth less cost
per row. :func:`insert_tables` on PostgreSQL sends few rows in one statement (JSON), many with
COPY. Other databases get ``conn.execute(insert(table), rows)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError

_Processor = Callable[[Any], Any] | None


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """INSERT *rows* (dicts with at least *columns*; other columns get their server default)."""
    if rows:
        get = itemgetter(*columns)
        insert_values(conn, table, columns, [get(row) for row in rows] if len(columns) > 1
                      else [(row[columns[0]],) for row in rows])


def insert_values(conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
    """INSERT rows given as values in the order of *columns* (other columns get their server default)."""
    if not values:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), [dict(zip(columns, v, strict=True)) for v in values])
        return
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    processors = _processors_of(conn, table, columns)
    _execute(conn, sql, lambda cursor: cursor.executemany(sql, _processed(values, processors)))


def _processed(values: Sequence[Sequence[Any]], processors: list[_Processor]) -> Sequence[Sequence[Any]]:
    """*values* as the columns' bind processors make them (SQLAlchemy's conversion of each value)."""
    converting = [(i, p) for i, p in enumerate(processors) if p is not None]
    if not converting:
        return values
    rows = [list(v) for v in values]
    for i, processor in converting:  # e.g. a time: to UTC (the same instant is converted once)
        seen: dict[Any, Any] = {None: None}
        for row in rows:
            v = row[i]
            row[i] = seen[v] if v in seen else seen.setdefault(v, processor(v))
    return rows


def _execute(conn: Connection, sql: str, work: Callable[[Any], Any]) -> None:
    """*work* on a cursor of *conn*'s driver connection, its errors raised as SQLAlchemy raises them
    (IntegrityError, OperationalError, ...)."""
    driver = conn.connection.dbapi_connection
    assert driver is not None
    dbapi = conn.dialect.loaded_dbapi
    try:
        cursor = driver.cursor()
        try:
            work(cursor)
        finally:
            cursor.close()
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc


# Below this many rows in all, the rows go in as JSON in one statement; from it on, with COPY.
ONE_STATEMENT_ROWS = 500

Part = tuple[Table, Sequence[str], Sequence[Sequence[Any]]]  # a table, its columns, rows of values
_processors: dict[tuple[str, str, tuple[str, ...]], list[_Processor]] = {}
_statements: dict[tuple[tuple[str, tuple[str, ...]], ...], str] = {}


def insert_columns(conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
    """INSERT rows given as values in the order of *columns*, in one statement whatever their number
    (see :func:`insert_tables`)."""
    insert_tables(conn, [(table, columns, values)])


def insert_tables(conn: Connection, parts: Sequence[Part]) -> None:
    """INSERT the rows of each part (a table, its columns, rows of values in their order), the parts
    in their order (an order before its lines), the rows converted by their columns' bind processors
    as SQLAlchemy converts a row.

    On PostgreSQL, as few round trips as the size allows (each is a wait on a busy server, for the
    client and the database's process alike):

    - up to ``ONE_STATEMENT_ROWS`` rows in all (the order API's batches, a small import): **one**
      statement for every part, ``WITH p1 AS (INSERT INTO t1 ... SELECT ... FROM
      json_to_recordset(:rows1)), ... INSERT INTO tn ...``, each part's rows one JSON parameter
      (made by ``json.dumps``, in C). The foreign keys are checked at the statement's end, so a
      line finds its order inserted by the part before it; triggers fire as for any INSERT.
      One round trip instead of two per part with COPY (an orders+lines+events batch: 2, not 6).
    - more: ``COPY table (columns) FROM STDIN`` per part, which psycopg formats in C: the cheapest
      way in for many rows (an ``INSERT ... SELECT unnest()`` of an array per column cost the
      client 2.6 times as much per row; an ``executemany`` executes the INSERT once per row).

    Elsewhere: :func:`insert_values` per part.
    """
    parts = [part for part in parts if part[2]]
    if not parts:
        return
    if conn.dialect.name != "postgresql":
        for table, columns, values in parts:
            insert_values(conn, table, columns, values)
        return
    converted = [(table, columns, _processed(values, _processors_of(conn, table, columns)))
                 for table, columns, values in parts]
    if sum(len(rows) for _, _, rows in converted) >= ONE_STATEMENT_ROWS:
        for table, columns, rows in converted:
            copy_rows(conn, table, columns, rows)
        return
    key = tuple((table.name, tuple(columns)) for table, columns, _ in converted)
    sql = _statements.get(key)
    if sql is None:
        inserts = [_from_json(conn, table, columns) for table, columns, _ in converted]
        sql = _statements[key] = "".join(f"WITH p{i} AS ({q}) " if i == 0 else f", p{i} AS ({q}) "
                                         for i, q in enumerate(inserts[:-1])) + inserts[-1]
    params = [json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=_json_value,
                         ensure_ascii=False) for _, columns, rows in converted]
    _execute(conn, sql, lambda cursor: cursor.execute(sql, params, prepare=True))


def _processors_of(conn: Connection, table: Table, columns: Sequence[str]) -> list[_Processor]:
    key = (conn.dialect.name, table.name, tuple(columns))
    found = _processors.get(key)
    if found is None:
        found = _processors[key] = [table.c[c].type.bind_processor(conn.dialect) for c in columns]
    return found


def _from_json(conn: Connection, table: Table, columns: Sequence[str]) -> str:
    types = ", ".join(f"{c} {table.c[c].type.compile(dialect=conn.dialect)}" for c in columns)
    names = ", ".join(columns)
    return f"INSERT INTO {table.name} ({names}) SELECT {names} FROM json_to_recordset(%s::json) AS r({types})"


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()  # a time zone stays in it: timestamptz reads it as that instant
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} does not go into JSON")


def copy_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``COPY table (columns) FROM STDIN`` of *rows* (values in the order of *columns*, as the driver
    takes them: no bind processors), on PostgreSQL; errors raised as SQLAlchemy raises them."""
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"

    def copy(cursor: Any) -> None:
        with cursor.copy(sql) as out:
            for row in rows:
                out.write_row(row)

    _execute(conn, sql, copy)


_unprepared: dict[Any, tuple[str, dict[str, Any]]] = {}


def select_planned_each_time(conn: Connection, stmt: Any, params: dict[str, Any]) -> list[Any]:
    """The rows of the SELECT *stmt* (built once, at module level) with *params*, planned by
    PostgreSQL for this execution's values and the table's size now.

    psycopg prepares a statement on the server after its fifth execution, and PostgreSQL then
    keeps the generic plan it made then: for a lookup by key in a table that was nearly empty at
    the time (a new centre's orders, the first minute of intake), a sequential scan, kept while the
    table grows to thousands of rows until autovacuum's ANALYZE invalidates it (0.7 ms a lookup at
    5,000 orders, against a few microseconds by the primary key). Planning each time costs tens
    of microseconds and never goes wrong that way."""
    known = _unprepared.get(stmt)
    if known is None:
        compiled = stmt.compile(dialect=conn.dialect)
        own = {name: b.value for name, b in compiled.binds.items() if not b.required}  # the statement's own values
        known = _unprepared[stmt] = (str(compiled), own)
    sql, fixed = known
    bound = {**fixed, **params}
    rows: list[Any] = []
    _execute(conn, sql, lambda cursor: rows.extend(cursor.execute(sql, bound, prepare=False).fetchall()))
    return rows
