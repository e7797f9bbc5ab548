"""Many rows into one table with one statement: the imports' insert path.

On SQLite the rows go straight to the driver's ``executemany`` as tuples, converted by the same
bind processors SQLAlchemy would apply (time zones to UTC, dates to SQLite's text format), so
what is stored is what ``conn.execute(insert(table), rows)`` stores, at about a fifth less cost
per row. :func:`insert_columns` on PostgreSQL uses COPY. Other databases get
``conn.execute(insert(table), rows)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError

_Processor = Callable[[Any], Any] | None
_prepared: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[_Processor]]] = {}


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
    key = (conn.dialect.name, table.name, tuple(columns))
    if key not in _prepared:
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        _prepared[key] = (sql, [table.c[c].type.bind_processor(conn.dialect) for c in columns])
    sql, processors = _prepared[key]
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


_copies: dict[tuple[str, tuple[str, ...]], tuple[str, list[_Processor]]] = {}


def insert_columns(conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
    """INSERT rows given as values in the order of *columns*, in **one** statement whatever their number.

    On PostgreSQL: ``COPY table (columns) FROM STDIN``, the rows converted by their columns' bind
    processors (as SQLAlchemy converts a row) and written by psycopg's COPY, which formats them in
    C: the cheapest way in for the client and the server alike (an ``INSERT ... SELECT unnest()``
    of one array per column cost the client 2.6 times as much; an ``executemany`` executes the
    INSERT once per row). Triggers fire as for an INSERT (statement triggers once). Elsewhere:
    :func:`insert_values`.
    """
    if not values:
        return
    if conn.dialect.name != "postgresql":
        insert_values(conn, table, columns, values)
        return
    key = (table.name, tuple(columns))
    prepared = _copies.get(key)
    if prepared is None:
        prepared = _copies[key] = (f"COPY {table.name} ({', '.join(columns)}) FROM STDIN",
                                   [table.c[c].type.bind_processor(conn.dialect) for c in columns])
    sql, processors = prepared
    rows = _processed(values, processors)

    def copy(cursor: Any) -> None:
        with cursor.copy(sql) as out:
            for row in rows:
                out.write_row(row)

    _execute(conn, sql, copy)
