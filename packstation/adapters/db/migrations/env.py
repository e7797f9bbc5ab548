"""Alembic environment: runs on the connection the station hands it (SQLite or PostgreSQL)."""

from alembic import context

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


if connection is None:
    raise RuntimeError(
        "run migrations through packstation.adapters.db.engine.migrate() or scripts/new-migration"
    )
_run(connection)
