"""The unit of work on the station database: one transaction, one repository per aggregate.

``with uow_factory() as uow: ...; uow.commit()``: leaving the block without ``commit()`` rolls
everything back. Database errors leave as :class:`StorageError` with a hint a person can act on
(``engine.database_hint``), so the bench says "NOT SAVED — scan again" instead of crashing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from packstation.adapters.central.changes import SqlChangeLog
from packstation.adapters.db.catalog import SqlCatalog
from packstation.adapters.db.engine import database_hint
from packstation.adapters.db.events import SqlEventLog
from packstation.adapters.db.imports import SqlImports
from packstation.adapters.db.intake import SqlApiClients, SqlIdempotency, SqlInbox, SqlShopOrders
from packstation.adapters.db.leases import SqlLeases
from packstation.adapters.db.manifests import SqlLabelRequests, SqlManifests
from packstation.adapters.db.numbers import BlockSource, SqlNumberSeries
from packstation.adapters.db.orders import SqlOrders
from packstation.adapters.db.photos import SqlPhotos
from packstation.adapters.db.print_jobs import SqlPrintJobs
from packstation.adapters.db.returns import SqlReturns
from packstation.adapters.db.shipments import SqlShipments
from packstation.adapters.db.stations import SqlStations
from packstation.adapters.db.status_push import SqlStatusPush
from packstation.adapters.db.stock import SqlStockLedger
from packstation.adapters.db.sync_state import SqlSyncBookkeeping
from packstation.adapters.db.users import SqlUsers
from packstation.services.ports import StorageError, UnitOfWork

Clock = Callable[[], datetime]


class SqlUnitOfWork(UnitOfWork):
    def __init__(self, engine: Engine, station_id: str, numbers: BlockSource, *, readonly: bool = False):
        self._engine = engine
        self._station_id = station_id
        self._numbers = numbers
        self._readonly = readonly
        self.conn: Connection

    def __enter__(self) -> SqlUnitOfWork:
        try:
            conn = self._engine.connect()
            if self._readonly:
                conn = conn.execution_options(readonly=True)
            self._tx = conn.begin()
        except (OperationalError, DBAPIError) as exc:
            raise StorageError(database_hint(exc, self._engine.url)) from exc
        self.conn = conn
        self.orders = SqlOrders(conn)
        self.catalog = SqlCatalog(conn)
        self.users = SqlUsers(conn)
        self.shipments = SqlShipments(conn)
        self.print_jobs = SqlPrintJobs(conn)
        self.events = SqlEventLog(conn)
        self.numbers = SqlNumberSeries(conn, self._station_id, self._numbers)
        self.returns = SqlReturns(conn)
        self.stations = SqlStations(conn)
        self.manifests = SqlManifests(conn)
        self.label_requests = SqlLabelRequests(conn)
        self.changes = SqlChangeLog(conn)
        self.sync_state = SqlSyncBookkeeping(conn)
        self.stock = SqlStockLedger(conn)
        self.photos = SqlPhotos(conn)
        self.leases = SqlLeases(conn)
        self.api_clients = SqlApiClients(conn)
        self.idempotency = SqlIdempotency(conn)
        self.inbox = SqlInbox(conn)
        self.shop_orders = SqlShopOrders(conn)
        self.status_push = SqlStatusPush(conn)
        self.imports = SqlImports(conn)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        except DBAPIError:
            pass
        finally:
            self.conn.close()
        if isinstance(exc, DBAPIError):
            # constraint violations too: a unique SSCC or serial taken by another bench must
            # reach the packer as "not saved, scan again", not crash the bench
            raise StorageError(database_hint(exc, self._engine.url)) from exc

    def commit(self) -> None:
        try:
            self._tx.commit()
        except DBAPIError as exc:
            raise StorageError(database_hint(exc, self._engine.url)) from exc

    def ping(self) -> None:
        self.conn.exec_driver_sql("SELECT 1")

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name
