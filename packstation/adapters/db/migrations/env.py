"""Alembic environment: runs on the connection the station hands it (SQLite or PostgreSQL)."""

from alembic import context
from sqlalchemy import create_engine

from packstation.adapters.db.tables import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic -x url=... revision --autogenerate` from a developer shell
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///dev-migrations.db")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
