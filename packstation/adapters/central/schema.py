"""The central PostgreSQL: ``packstation central init`` creates or upgrades it.

The centre has the same tables as a station (the same Alembic migrations), so its truth is read
and written through the same repositories. On top, this module installs what only the centre
needs, idempotently (running it again upgrades and keeps data and roles):

- the change log: a trigger on orders, order lines, products, barcodes, carton types, users,
  stock lots and returns (their lines and received items) appends ``(entity, key)`` to ``changes``
  (and stamps the row's ``change_seq``), then ``pg_notify('packstation', entity)`` wakes the
  stations' pull workers. Order lines, barcodes and the returns' tables have statement triggers:
  one change per order (product, return) and statement, not one per row. The
  trigger functions are SECURITY DEFINER, so stations need no rights on ``changes``.
- ``lease_token_seq``: the fencing tokens of order leases.
- events written at the centre itself (not pushed) are stored *applied*: they happened there.
- two roles: a *station* role that reads everything but the order API's tables, appends events and takes leases but cannot
  UPDATE, DELETE or TRUNCATE history (events, conflicts, the stock ledger), is no owner and has no
  BYPASSRLS; and an *admin* role with every privilege (imports, the command line, the API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine, text

from packstation.adapters.db.engine import migrate

HISTORY = ("events", "conflicts", "stock_movements", "credit_notes", "return_resolutions")
# table -> (entity name in the change log, the key as an SQL expression of the row R)
WATCHED = {
    "orders": ("order", "R.order_id"),
    "order_lines": ("order", "R.order_id"),
    "products": ("product", "R.sku"),
    "barcodes": ("product", "R.sku"),
    "carton_types": ("carton_type", "R.code"),
    "users": ("user", "R.name"),
    "stock_lots": ("stock_lot", "R.sku || chr(31) || R.lot"),
    # a return: announced by an import, received, graded, decided, resolved (its lines carry the
    # resolution) at any desk; a station pulls it whole (services/sync/pull.py)
    "returns": ("return", "R.rma_id"),
    "return_lines": ("return", "R.rma_id"),
    "return_items": ("return", "R.rma_id"),
}
# The order API's own tables (tokens' hashes, subscribers' signing secrets, shops' raw deliveries,
# stored answers): only the admin role (the API servers) reads them; a station has no business there.
API_ONLY = ("api_clients", "idempotency_keys", "webhook_inbox", "shop_orders", "push_subscriptions",
            "push_deliveries", "push_cursors")
STATION_READS = {  # columns of API_ONLY tables a station may read (the lead view's status push tab)
    "push_subscriptions": ("id", "kind", "url", "shop", "events", "created_at", "created_by"),
    "push_deliveries": ("id", "subscription_id", "event_id", "event_seq", "order_id", "event", "state", "attempts",
                        "next_attempt_at", "lease_until", "last_status", "last_error", "created_at", "delivered_at"),
}
_STAMPED = ("orders", "products", "carton_types", "users", "stock_lots")  # have a change_seq column
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# What a station may do, table by table (everything else: SELECT only).
_RETURNS = ("returns", "return_lines", "return_receipts", "return_receipt_rmas", "return_items", "photos")
STATION_GRANTS = {
    # the bench's and the returns desk's pushed events are applied as the station (carrier labels still
    # to come: label_requests); the dock works on the centre directly (manifests, and the manifest's print
    # job written with its close, for the dock's station to take). Credit notes and resolutions are never
    # changed once written. Orders: a returns desk's replacement order (services/sync/appliers.py,
    # order.received).
    "INSERT": ("events", "conflicts", "stock_movements", "scans", "cartons", "serial_registry", "leases",
               "orders", "order_lines",
               "station_sync", "number_blocks", "number_series", "manifests", "manifest_cartons",
               "return_resolutions", "credit_notes", "label_requests", "print_jobs", *_RETURNS),
    "UPDATE": ("orders", "order_lines", "cartons", "scans", "leases", "station_sync", "number_series",
               "number_blocks", "manifests", "manifest_cartons", "label_requests", "print_jobs", *_RETURNS),
    "DELETE": ("cartons", "serial_registry", "manifest_cartons", "return_receipt_rmas"),
}


class CentralSetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class Roles:
    station: str = "packstation_station"
    admin: str = "packstation_admin"


def _check_role(name: str) -> str:
    if not _ROLE.match(name):
        raise CentralSetupError(f"role name {name!r}: use lowercase letters, digits and _")
    return name


def init_central(engine: Engine, roles: Roles = Roles(), *, station_password: str | None = None,
                 admin_password: str | None = None) -> list[str]:
    """Create or upgrade the central database on *engine* (connected as its owner or a superuser).

    Returns what was done, one line each, for the command line to print.
    """
    if engine.dialect.name != "postgresql":
        raise CentralSetupError("the central database is PostgreSQL: give a postgresql+psycopg:// URL")
    done = []
    migrate(engine)
    done.append("schema: migrated to the newest revision")
    station, admin = _check_role(roles.station), _check_role(roles.admin)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(7061636)"))  # one init at a time
        conn.execute(text("CREATE SEQUENCE IF NOT EXISTS lease_token_seq"))
        conn.execute(text("CREATE SEQUENCE IF NOT EXISTS change_seq_seq"))
        conn.execute(text(_CHANGE_FUNCTION))
        for table, (entity, key) in WATCHED.items():
            for suffix in ("", "_ins", "_upd", "_del"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS packstation_changes{suffix} ON {table}"))
            if table in _STAMPED:  # each row stamped with its change's number: a row trigger
                conn.execute(text(_TRIGGER_FUNCTION.format(table=table, entity=entity, new=key.replace("R.", "NEW."),
                                                           old=key.replace("R.", "OLD."), stamp="NEW.change_seq := s;")))
                conn.execute(text(f"CREATE TRIGGER packstation_changes BEFORE INSERT OR UPDATE ON {table} "
                                  f"FOR EACH ROW EXECUTE FUNCTION packstation_change_{table}()"))
                continue
            # the rest (an order's lines, a product's barcodes): one change per key and statement,
            # however many of its rows the statement wrote (an order's ten lines: one change, not ten)
            for op, rows in (("INSERT", "new_rows"), ("UPDATE", "new_rows"), ("DELETE", "old_rows")):
                conn.execute(text(_STATEMENT_FUNCTION.format(table=table, op=op.lower(), entity=entity, rows=rows,
                                                             key=key.replace("R.", "r."))))
                ref = "NEW TABLE AS new_rows" if rows == "new_rows" else "OLD TABLE AS old_rows"
                conn.execute(text(f"CREATE TRIGGER packstation_changes_{op.lower()[:3]} AFTER {op} ON {table} "
                                  f"REFERENCING {ref} FOR EACH STATEMENT "
                                  f"EXECUTE FUNCTION packstation_change_{table}_{op.lower()}()"))
        done.append(f"change log: triggers on {', '.join(WATCHED)}")
        # returns stored before their triggers existed (a centre from before this version): logged
        # once, so that stations pull them too; a centre whose log has returns already needs nothing
        logged = conn.execute(text(_LOG_OLD_RETURNS)).rowcount
        if logged:
            done.append(f"change log: {logged} return(s) from before their triggers logged for the stations")
        # an event written at the centre itself (the dock, the returns desk's lookups, the API, an
        # import) happened there: applied, with the centre's clock (a push states its own answer)
        conn.execute(text(_APPLIED_HERE))
        conn.execute(text("DROP TRIGGER IF EXISTS packstation_applied_here ON events"))
        conn.execute(text("CREATE TRIGGER packstation_applied_here BEFORE INSERT ON events FOR EACH ROW "
                          "WHEN (NEW.sync_state = 'pending') EXECUTE FUNCTION packstation_applied_here()"))
        for role, password in ((station, station_password), (admin, admin_password)):
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
            verb = "ALTER" if exists else "CREATE"
            # CREATE ROLE takes no bound parameters: the name was checked against _ROLE above, the
            # password is quoted by psycopg as a literal
            pw = f" PASSWORD {_literal(conn, password)}" if password else ""
            conn.exec_driver_sql(f'{verb} ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS{pw}')
            done.append(f"role {role}: {'updated' if exists else 'created'}")
        conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{station}", "{admin}"'))
        conn.execute(text(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{station}"'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{station}"'))
        for privilege, tables in STATION_GRANTS.items():
            conn.execute(text(f'GRANT {privilege} ON {", ".join(tables)} TO "{station}"'))
        conn.execute(text(f'REVOKE UPDATE, DELETE, TRUNCATE ON {", ".join(HISTORY)} FROM "{station}"'))
        conn.execute(text(f'REVOKE ALL ON {", ".join(API_ONLY)} FROM "{station}"'))
        # ... but the lead view at a station lists the status push endpoints and how their
        # deliveries fare: those columns, never a signing secret nor a delivery's body
        for table, columns in STATION_READS.items():
            conn.execute(text(f'GRANT SELECT ({", ".join(columns)}) ON {table} TO "{station}"'))
        conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{station}"'))
        conn.execute(text(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{admin}"'))
        conn.execute(text(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{admin}"'))
        # tables a later upgrade adds are readable by stations at once (run init again for more)
        conn.execute(text(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{station}"'))
        conn.execute(text(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO "{admin}"'))
        done.append(f"grants: {station} reads all but the API's tables (of those only the status push "
                    "endpoints and their deliveries, without secrets or bodies), appends events, takes leases; no "
                    f"UPDATE/DELETE/TRUNCATE on {', '.join(HISTORY)}; {admin} has every privilege")
    return done


_APPLIED_HERE = """
CREATE OR REPLACE FUNCTION packstation_applied_here() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.sync_state := 'applied';
    NEW.received_at := coalesce(NEW.received_at, clock_timestamp());
    RETURN NEW;
END $$
"""


def _literal(conn: object, value: str) -> str:
    from psycopg import sql

    raw = conn.connection.dbapi_connection  # type: ignore[attr-defined]
    return sql.Literal(value).as_string(raw)


_LOG_OLD_RETURNS = """
INSERT INTO changes (seq, entity, key)
SELECT nextval('change_seq_seq'), 'return', rma_id FROM (SELECT rma_id FROM returns ORDER BY rma_id) AS old
WHERE NOT EXISTS (SELECT 1 FROM changes WHERE entity = 'return')
"""

_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION packstation_log_change(entity text, k text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE s bigint;
BEGIN
    s := nextval('change_seq_seq');
    INSERT INTO changes (seq, entity, key) VALUES (s, entity, k);
    PERFORM pg_notify('packstation', entity);
    RETURN s;
END $$
"""

_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION packstation_change_{table}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE s bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        s := packstation_log_change('{entity}', {old});
        RETURN OLD;
    END IF;
    s := packstation_log_change('{entity}', {new});
    {stamp}
    RETURN NEW;
END $$
"""

_STATEMENT_FUNCTION = """
CREATE OR REPLACE FUNCTION packstation_change_{table}_{op}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO changes (seq, entity, key)
    SELECT nextval('change_seq_seq'), '{entity}', k FROM (SELECT DISTINCT {key} AS k FROM {rows} r) AS keys;
    IF FOUND THEN
        PERFORM pg_notify('packstation', '{entity}');
    END IF;
    RETURN NULL;
END $$
"""

__all__ = ["HISTORY", "CentralSetupError", "Roles", "init_central"]
