"""The composition root: builds the database, the use-case context, the desks, the printers and the
workers from a Config.

Nothing else creates engines or reads the config to build services: the window, the CLI, the
tests and the benchmarks all start here and then use what :class:`Station` hands them (use
cases through ``ctx``, desks through :meth:`Station.terminal`, sessions for scripts through
:meth:`Station.system_session`).
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from packstation.adapters.db.engine import make_engine, migrate
from packstation.adapters.db.numbers import BlockSource, LocalBlocks, RoutedBlocks, SeriesRange
from packstation.adapters.db.staging import StagingFolder
from packstation.adapters.db.uow import SqlUnitOfWork
from packstation.adapters.devices.camera import open_camera
from packstation.adapters.devices.printers import StationPrinters
from packstation.adapters.documents.jobs import PrinterSlot, StationDocuments
from packstation.config import Config, PrinterConfig, ScaleConfig, ScannerConfig
from packstation.domain.documents import Address as DocAddress
from packstation.domain.identity import ActorKind, Desk, Role, Session
from packstation.domain.packing import Tolerance
from packstation.domain.returns import CREDIT_NOTE_SERIES, ReturnsPolicy, parse_grade
from packstation.services.auth import Authenticator
from packstation.services.bench import Bench
from packstation.services.context import Context, PackingSettings
from packstation.services.dock import Dock
from packstation.services.photos import Cameras
from packstation.services.ports import StorageError, UnitOfWork
from packstation.services.returns_desk import returns_desk_factory
from packstation.services.terminal import DeskFactory, Terminal
from packstation.workers import LabelWorker, PrintWorker, SeatHeartbeat, TrackingWorker


class StationBusy(RuntimeError):
    """This data folder or station id is already in use by a running window; the message says by whom."""


@dataclass(frozen=True)
class StationInfo:
    """What the window shows of its station (no config access needed there)."""

    id: str
    name: str
    demo: bool
    idle_logout_s: int
    fullscreen: bool
    data_dir: Path
    documents_dir: Path
    database: str  # a description for people ("SQLite …/packstation.db"), never a password


@dataclass(frozen=True)
class DeviceSettings:
    """The device sections of the config, as values for the device readers and the devices dialog."""

    scale: ScaleConfig
    scanner: ScannerConfig
    label_printer: PrinterConfig
    document_printer: PrinterConfig
    config_file: Path | None


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class SettingsStore:
    """The station's config file, for the devices dialog: what it was started with, where to save."""

    config: Config

    @property
    def path(self) -> Path:
        return self.config.source or self.config.data_dir / "packstation.toml"


@dataclass
class Station:
    ctx: Context
    info: StationInfo
    devices: DeviceSettings
    printers: StationPrinters
    print_worker: PrintWorker
    settings: SettingsStore
    _engine: Any  # the database engine: tests and benchmarks may look at the database; drivers never do
    _central_engine: Any = None  # the central database's, when configured (same rule)
    desks: dict[Desk, DeskFactory] = field(default_factory=dict)
    label_worker: LabelWorker | None = None  # asks carriers again for labels that failed at the seal
    cameras: Cameras = field(default_factory=Cameras)  # the window installs Qt cameras into their slots
    _occupied: Any = None
    _heartbeat: Any = None
    sync_worker: Any = None  # workers.SyncWorker on a synced station (None: standalone)
    # asks the carriers about parcels on the way, when this station is the deployment's poller
    # ([carriers] poll_tracking; by default a standalone station with carrier accounts)
    tracking_worker: TrackingWorker | None = None

    def sync_status(self) -> Any:
        from packstation.services.sync.status import sync_status

        return sync_status(self.ctx, self.system_session(ActorKind.SYSTEM, "sync"))

    def sync_now(self, *, rounds: int = 20) -> Any:
        """Push and pull until drained (``packstation sync now``); the last round's result."""
        from packstation.adapters.central.outbox import central_outbox
        from packstation.services.sync.status import sync_round

        outbox = central_outbox(self.ctx.central)
        if outbox is None:
            raise StorageError("This station has no central database: set [database] central in its config.")
        session = self.system_session(ActorKind.SYSTEM, "sync")
        result = None
        for _ in range(rounds):
            result = sync_round(self.ctx, session, outbox)
            if result.error or result.drained:
                break
        return result

    # --- what drivers use -----------------------------------------------------------------
    def terminal(self) -> Terminal:
        return Terminal(self.ctx, self.desks)

    def system_session(self, kind: ActorKind = ActorKind.CLI, name: str | None = None, role: Role = Role.ADMIN) -> Session:
        """A session for the command line or an import, naming the operating-system user."""
        return self.ctx.auth.system(kind, name or os_user(), role)

    def uow(self, *, readonly: bool = False) -> UnitOfWork:
        return self.ctx.uow(readonly=readonly)

    def tracking(self, *, report: bool = False) -> TrackingWorker:
        """A tracking worker on this station's context, not started (``packstation tracking poll``);
        the one the station runs itself, when it is the deployment's poller, is :attr:`tracking_worker`."""
        return TrackingWorker(self.ctx, report=report)

    def start_workers(self) -> None:
        self.print_worker.start()
        if self.sync_worker is not None:
            self.sync_worker.start()
        if self.label_worker is not None:
            self.label_worker.start()
        if self.tracking_worker is not None:
            self.tracking_worker.start()

    def change_listener(self, wake: Callable[[], None], *, poll_s: float = 5.0) -> Any:
        """A ``ChangeListener`` (not started) that calls *wake* when the centre's change log grows,
        and every *poll_s* anyway; None on a standalone station. The sync worker owns it."""
        if self._central_engine is None:
            return None
        from packstation.adapters.central.listener import ChangeListener

        return ChangeListener(self._central_engine, wake, poll_s=poll_s)

    def occupy(self) -> None:
        """Take this station's data folder and its station id (a window is starting).

        Raises StationBusy saying which process holds either. Released by :meth:`close`.
        """
        from packstation.adapters.folder_lock import FolderLock, FolderLocked
        from packstation.services.seats import SeatTaken, take_seat

        holder = f"pid {os.getpid()} on {socket.gethostname()} (user {os_user()})"
        lock = FolderLock(self.info.data_dir / "station.lock")
        try:
            lock.acquire(f"{holder}, station {self.info.id}")
        except FolderLocked as exc:
            raise StationBusy(f"Another packstation window is already running on the data folder "
                              f"{self.info.data_dir}: {exc.holder}. Close it first.") from None
        session = self.system_session(ActorKind.SYSTEM, "station")
        try:
            try:
                seat = take_seat(self.ctx, session, holder)
            except SeatTaken as exc:
                if not _died_here(exc.seat.holder):
                    raise
                seat = take_seat(self.ctx, session, holder, stale_token=exc.seat.token)
        except SeatTaken as exc:
            lock.release()
            raise StationBusy(str(exc)) from None
        self._occupied = (lock, seat)
        self._heartbeat = SeatHeartbeat(self.ctx, seat)
        self._heartbeat.start()

    def close(self) -> None:
        if self.sync_worker is not None:  # first: its rounds use the engines disposed below
            self.sync_worker.stop()
        if self.tracking_worker is not None:
            self.tracking_worker.stop()
        if self.label_worker is not None:
            self.label_worker.stop()
        self.print_worker.stop()
        occupied, self._occupied = self._occupied, None
        if occupied is not None:
            from packstation.services.seats import release_seat

            lock, seat = occupied
            self._heartbeat.stop()
            try:
                release_seat(self.ctx, seat)
            except StorageError:
                pass  # the seat expires on its own
            lock.release()
        self._engine.dispose()
        if self._central_engine is not None:
            self._central_engine.dispose()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _died_here(holder: str) -> bool:
    """The seat's holder was a process on this machine that no longer runs (it crashed)."""
    parts = holder.split()
    if len(parts) < 4 or parts[0] != "pid" or parts[2] != "on" or parts[3] != socket.gethostname():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def _slot(cfg: PrinterConfig) -> PrinterSlot:
    return PrinterSlot(url=cfg.url, language=cfg.language, dpi=cfg.dpi, size=cfg.size)


def _sscc_ranges(config: Config) -> dict[str, SeriesRange]:
    first, last = config.sscc_range
    return {"sscc": SeriesRange(first, last, configured=config.sscc_range_configured)}


def build_station(config: Config, *, seed_demo: bool | None = None, clock: Callable[[], datetime] | None = None,
                  auth_key: bytes | None = None) -> Station:
    """Open (and upgrade) the database and build everything on it; seed demo data on the embedded
    default's first start. *clock* (default: UTC now) dates everything the station decides and
    stores."""
    clock = clock or (lambda: datetime.now(UTC))
    engine = make_engine(config.database_url)
    migrate(engine)
    station_id = config.station.id
    # manifests are numbered without gaps: blocks of one, drawn in the close's own transaction
    blocks: BlockSource = LocalBlocks(ranges=_sscc_ranges(config), block_size=config.numbers.block_size,
                                      block_sizes={"manifest": 1})

    central_engine = None
    central_factory = None
    if config.database.central:
        from packstation.adapters.central.blocks import CentralBlocks
        from packstation.adapters.db.engine import postgres_engine

        central_engine = postgres_engine(config.database.central, application_name=f"packstation:{station_id}")
        central_blocks = LocalBlocks(ranges=_sscc_ranges(config), block_size=config.numbers.block_size,
                                     block_sizes={"manifest": 1})
        # a synced station numbers from blocks of the centre's series (held locally, so offline too);
        # manifests in blocks of one (a close that fails after the centre gave its number leaves a gap)
        # (a station's own credit-note series stays in its own database: gap-free, see RoutedBlocks)
        blocks = RoutedBlocks(CentralBlocks(central_engine, station_id, ranges=_sscc_ranges(config),
                                            block_size=config.numbers.block_size, block_sizes={"manifest": 1}),
                              blocks, local_prefixes=(CREDIT_NOTE_SERIES,))

        def central_factory(*, readonly: bool = False) -> UnitOfWork:
            return SqlUnitOfWork(central_engine, station_id, central_blocks, readonly=readonly)

    def uow_factory(*, readonly: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(engine, station_id, blocks, readonly=readonly)

    s = config.station
    documents = StationDocuments(
        ship_from=DocAddress(name=s.ship_from_name, line1=s.ship_from_line1, city=s.ship_from_city,
                             postcode=s.ship_from_postcode, country=s.ship_from_country),
        label_printer=_slot(config.label_printer), document_printer=_slot(config.document_printer),
    )
    auth = Authenticator(uow_factory, station_id, clock, lead_pin_required=config.security.lead_pin_required,
                         key=auth_key)
    from packstation.adapters.carriers import build_carriers

    carriers = build_carriers(config.carriers, account_country=s.ship_from_country)
    p = config.packing
    cameras = Cameras(returns=open_camera(config.returns.camera), bench=open_camera(config.bench.camera))
    ctx = Context(
        uow=uow_factory, auth=auth, station_id=station_id, documents=documents, clock=clock, central=central_factory,
        carriers=carriers,
        staging=StagingFolder(config.data_dir / "imports"),
        packing=PackingSettings(tolerance=Tolerance(p.tolerance_pct, p.tolerance_g), gs1_company_prefix=p.gs1_company_prefix,
                                sscc_extension=p.sscc_extension, carton_prefix=p.carton_prefix,
                                accept_typed_sku=p.accept_typed_sku, unknown_lot=p.unknown_lot),
        returns=returns_policy(config), cameras=cameras,
    )
    printers = StationPrinters(config.documents_dir, {"label": config.label_printer.baudrate,
                                                      "document": config.document_printer.baudrate})
    worker = PrintWorker(ctx, auth.system(ActorKind.SYSTEM, "print-worker"), printers)
    documents.on_wake = worker.wake
    label_worker = LabelWorker(ctx, auth.system(ActorKind.SYSTEM, "label-worker"))
    url = engine.url
    info = StationInfo(id=station_id, name=s.name, demo=s.demo, idle_logout_s=s.idle_logout_s, fullscreen=s.fullscreen,
                       data_dir=config.data_dir, documents_dir=config.documents_dir,
                       database=f"{url.get_backend_name()} {url.render_as_string(hide_password=True)}")
    station = Station(
        ctx=ctx, info=info, printers=printers, print_worker=worker, settings=SettingsStore(config),
        _engine=engine, _central_engine=central_engine, label_worker=label_worker,
        tracking_worker=TrackingWorker(ctx) if config.polls_tracking("station") else None,
        devices=DeviceSettings(config.scale, config.scanner, config.label_printer, config.document_printer,
                               config.source),
        desks={Desk.BENCH: Bench,
               Desk.DOCK: Dock,
               Desk.RETURNS: returns_desk_factory(cameras.returns)},
        cameras=cameras,
    )
    if central_engine is not None:
        from packstation.adapters.central.outbox import central_outbox
        from packstation.services import leases
        from packstation.workers import SyncWorker

        sync_session = auth.system(ActorKind.SYSTEM, "sync")
        # the same thread renews the leases of the orders this bench holds (TTL 2 min, every 40 s)
        station.sync_worker = SyncWorker(ctx, sync_session, central_outbox(ctx.central),
                                         listener_factory=station.change_listener,
                                         renew=lambda: leases.renew_leases(ctx, sync_session),
                                         renew_every_s=leases.HEARTBEAT_INTERVAL.total_seconds())
    _recover_imports(station)
    if seed_demo if seed_demo is not None else s.demo:
        from packstation.demo import seed_if_empty

        seed_if_empty(station)
    return station


def returns_policy(config: Config) -> ReturnsPolicy:
    """``[returns]`` as the returns rules take it (the config check has refused bad values)."""
    from decimal import Decimal

    r = config.returns
    return ReturnsPolicy(
        grades=tuple(parse_grade(g) for g in r.grades), photo_required_below=r.photo_required_below.upper(),
        no_refund_grades=tuple(g.upper() for g in r.no_refund_grades),
        restocking_fee_pct=Decimal(str(r.restocking_fee_pct)), legal_entity=r.legal_entity,
        credit_note_prefix=r.credit_note_prefix, tax_rate=Decimal(str(r.tax_rate_pct)) / 100, reasons=r.reasons)
def _recover_imports(station: Station) -> None:
    """An import killed while storing a big file in chunks (SQLite) is rolled back or finished here,
    before anything else uses the database; one whose process still runs is left alone."""
    from packstation.services.imports import recover_imports

    with station.uow(readonly=True) as uow:
        if not uow.imports.unfinished():
            return
    for line in recover_imports(station.ctx, station.system_session(ActorKind.SYSTEM, "import-recovery"), _died_here):
        logging.getLogger("packstation.imports").warning("%s", line)


def init_central_database(url: str, *, station_role: str = "packstation_station", admin_role: str = "packstation_admin",
                          station_password: str | None = None, admin_password: str | None = None) -> list[str]:
    """``packstation central init``: migrate the centre, install its change log, roles and grants."""
    from sqlalchemy.exc import DBAPIError

    from packstation.adapters.central.schema import CentralSetupError, Roles, init_central
    from packstation.adapters.db.engine import database_hint, postgres_engine

    try:
        engine = postgres_engine(url, application_name="packstation:central-init", statement_timeout_ms=600_000)
    except Exception as exc:  # noqa: BLE001 - a bad URL: said as such
        raise CentralSetupError(f"cannot use {url!r}: {exc}") from exc
    try:
        return init_central(engine, Roles(station_role, admin_role), station_password=station_password,
                            admin_password=admin_password)
    except DBAPIError as exc:
        raise CentralSetupError(database_hint(exc, engine.url)) from exc
    finally:
        engine.dispose()



# --- the order API (``packstation serve``) ----------------------------------------------------


@dataclass
class ApiHost:
    """What ``packstation serve`` runs on: the use-case context on the database the API serves (the
    central one when ``[database] central`` is set, else the station's), the shop readers, the status
    push sender and the settings. Built by :func:`build_api`; the HTTP app gets it whole."""

    ctx: Context
    config: Config
    reader: Any  # services.intake.ShopReader
    sender: Any  # services.status_push.PushSender
    retry: Any  # domain.integration.RetryPolicy
    database: str  # for people: backend and URL without password
    _engine: Any
    # asks the carriers about parcels on the way when this server is the deployment's poller
    # ([carriers] poll_tracking; by default with [database] central and carrier accounts)
    tracking_worker: TrackingWorker | None = None

    def system_session(self, kind: ActorKind = ActorKind.SYSTEM, name: str = "api", role: Role = Role.ADMIN) -> Session:
        """A session the API acts with: an API client's (``ActorKind.API``, its token's name), a shop's
        webhooks (``api:shopify:SHOP``) or its workers'."""
        return self.ctx.auth.system(kind, name, role)

    def cli_session(self) -> Session:
        """The command line's session on the API's database (``api-tokens``, ``webhooks``): it acts
        as the operating-system user, as :meth:`Station.system_session` does for a station."""
        return self.system_session(ActorKind.CLI, os_user())

    @property
    def shopify_admin_url(self) -> str:
        s = self.config.shopify
        if not s.access_token:
            return ""
        return (s.admin_url or f"https://{s.shop}/admin/api/{s.api_version}").rstrip("/")

    def ping(self) -> None:
        with self.ctx.uow(readonly=True) as uow:
            uow.ping()

    def close(self) -> None:
        if self.tracking_worker is not None:
            self.tracking_worker.stop()
        close = getattr(self.sender, "close", None)
        if close is not None:
            close()
        self._engine.dispose()


def build_api(config: Config, *, clock: Callable[[], datetime] | None = None) -> ApiHost:
    """The order API's composition root: engine (psycopg 3 pool on PostgreSQL), context, shops, sender.

    With ``[database] central`` the API serves the central database (created and migrated by
    ``packstation central init``; a schema that is not up to date is refused here, not half-used);
    without it, the station's own database, migrated like a station does at start."""
    from packstation.adapters.db.engine import DatabaseError, postgres_engine
    from packstation.adapters.push import HttpPushSender
    from packstation.adapters.shops import ShopReaders, ShopSettings
    from packstation.adapters.shops.shopify import ShopifyAdmin
    from packstation.domain.integration import RetryPolicy

    clock = clock or (lambda: datetime.now(UTC))
    api = config.api
    if config.database.central:
        engine = postgres_engine(config.database.central, application_name=f"packstation:api:{socket.gethostname()}",
                                 pool_size=api.pool_size, pre_ping=False)
        _check_schema(engine, DatabaseError)
    else:
        engine = make_engine(config.database_url)
        migrate(engine)
    blocks = LocalBlocks(ranges=_sscc_ranges(config), block_size=config.numbers.block_size)

    def uow_factory(*, readonly: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(engine, api.station_id, blocks, readonly=readonly)

    auth = Authenticator(uow_factory, api.station_id, clock, lead_pin_required=config.security.lead_pin_required)
    carriers = None
    if config.carriers:  # for tracking only: the API makes no labels
        from packstation.adapters.carriers import build_carriers

        carriers = build_carriers(config.carriers, account_country=config.station.ship_from_country)
    ctx = Context(uow=uow_factory, auth=auth, station_id=api.station_id, documents=None, clock=clock,
                  staging=StagingFolder(config.data_dir / "imports"), carriers=carriers)
    sh, wc, hooks = config.shopify, config.woocommerce, config.webhooks
    reader = ShopReaders(ShopSettings(sh.order_prefix, sh.channel, sh.carrier, sh.cod_gateways),
                         ShopSettings(wc.order_prefix, wc.channel, wc.carrier))
    host = ApiHost(ctx=ctx, config=config, reader=reader, sender=None,
                   retry=RetryPolicy(base_s=hooks.retry_base_s, max_s=hooks.retry_max_s,
                                     give_up_after=timedelta(hours=hooks.give_up_after_h)),
                   database=f"{engine.url.get_backend_name()} {engine.url.render_as_string(hide_password=True)}",
                   _engine=engine, tracking_worker=TrackingWorker(ctx) if config.polls_tracking("serve") else None)
    admin = ShopifyAdmin(host.shopify_admin_url, sh.access_token, notify_customer=sh.notify_customer,
                         timeout_s=hooks.timeout_s) if sh.access_token else None
    host.sender = HttpPushSender(timeout_s=hooks.timeout_s, concurrency=hooks.concurrency, shopify=admin)
    return host


def _check_schema(engine: Any, error: type[Exception]) -> None:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import DBAPIError

    from packstation.adapters.db.engine import alembic_config, database_hint

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:
        raise error(database_hint(exc, engine.url)) from exc
    if current != head:
        raise error(f"The central database is at schema revision {current or 'none'}, this program needs {head}: "
                    "run 'packstation central init' (as the database owner) first.")

# --- devices: the one place that turns device settings into open devices ----------------------


def open_scale(settings: Config | DeviceSettings):  # type: ignore[no-untyped-def]
    """The configured scale, opened (raises ScaleError with what to check)."""
    from packstation.adapters.devices.scales import open_scale as _open

    return _open(settings.scale)


def open_printer(settings: Config | DeviceSettings, slot: str):  # type: ignore[no-untyped-def]
    """The transport of the ``label`` or ``document`` printer (raises PrinterError)."""
    from packstation.adapters.devices.transports import open_printer as _open

    return _open(settings.label_printer if slot == "label" else settings.document_printer)


__all__ = ["ApiHost", "build_api", "init_central_database", "DeviceSettings", "SettingsStore", "Station", "StationBusy", "StationInfo", "build_station", "open_printer", "open_scale", "os_user"]
