"""Many rows into one table with one statement: the imports' insert path.

On SQLite the rows go straight to the driver's ``executemany`` as tuples, converted by the same
bind processors SQLAlchemy would apply (time zones to UTC, dates to SQLite's text format), so
what is stored is what ``conn.execute(insert(table), rows)`` stores, at about a fifth less cost
per row. Other databases get ``conn.execute(insert(table), rows)``.
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
    converting = [(i, p) for i, p in enumerate(processors) if p is not None]
    if converting:  # e.g. a time: to UTC, as SQLite's text (the same instant is converted once)
        rows = [list(v) for v in values]
        for i, processor in converting:
            seen: dict[Any, Any] = {None: None}
            for row in rows:
                v = row[i]
                row[i] = seen[v] if v in seen else seen.setdefault(v, processor(v))
        values = rows
    driver = conn.connection.dbapi_connection
    assert driver is not None
    dbapi = conn.dialect.loaded_dbapi
    try:
        driver.cursor().executemany(sql, values)
    except dbapi.Error as exc:  # as SQLAlchemy raises it: IntegrityError, OperationalError, ...
        raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc


_arrays: dict[tuple[str, tuple[str, ...]], Any] = {}


def insert_columns(conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
    """INSERT rows given as values in the order of *columns*, in **one** statement whatever their number.

    On PostgreSQL: ``INSERT ... SELECT unnest(:a), unnest(:b), ...`` with one array parameter per
    column (each array converted by its column type's bind processor, as a row would be): one
    statement text (prepared once by the driver), one execution for all the rows, where an
    ``executemany`` executes the INSERT once per row on the server. Elsewhere: :func:`insert_values`.
    """
    if not values:
        return
    if conn.dialect.name != "postgresql":
        insert_values(conn, table, columns, values)
        return
    key = (table.name, tuple(columns))
    stmt = _arrays.get(key)
    if stmt is None:
        from sqlalchemy import bindparam, func, select
        from sqlalchemy.dialects.postgresql import ARRAY

        stmt = insert(table).from_select(list(columns), select(*[
            func.unnest(bindparam(f"u_{c}", type_=ARRAY(table.c[c].type))) for c in columns]))
        _arrays[key] = stmt
    conn.execute(stmt, {f"u_{c}": [v[i] for v in values] for i, c in enumerate(columns)})
