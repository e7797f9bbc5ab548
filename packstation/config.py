"""Station configuration: a TOML file (``--config`` or ``PACKSTATION_CONFIG``) or the embedded default.

Without a file the station runs on an embedded SQLite database in the user's data folder,
with simulated devices and demo data.
"""

from __future__ import annotations

import os
import re
import tomllib
import zlib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "packstation"


SCALE_PROTOCOLS = ("mt-sics", "toledo-8217", "cas", "adam", "hid-pos", "simulated")
PRINTER_LANGUAGES = ("zpl", "escpos", "pdf")
LABEL_SIZES = ("4x6", "100x150")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or has a bad value."""


@dataclass(frozen=True)
class StationConfig:
    id: str = "BENCH-01"
    name: str = "Bench 1"
    demo: bool = False
    idle_logout_s: int = 600
    fullscreen: bool = False  # full screen instead of maximized
    ship_from_name: str = "Packstation Demo Warehouse"
    ship_from_line1: str = "1 Logistics Way"
    ship_from_city: str = "Rotterdam"
    ship_from_postcode: str = "3011 AA"
    ship_from_country: str = "NL"


@dataclass(frozen=True)
class DatabaseConfig:
    local: str = ""  # SQLAlchemy URL or a file path; empty = data folder
    central: str = ""  # PostgreSQL URL of the shared database (empty: standalone)


@dataclass(frozen=True)
class PackingConfig:
    tolerance_pct: float = 5.0
    tolerance_g: int = 20
    gs1_company_prefix: str = "0614141"
    sscc_extension: int = 0
    carton_prefix: str = "BOX-"
    accept_typed_sku: bool = False  # a SKU typed on the keyboard counts as an item scan
    unknown_lot: str = "refuse"  # refuse | warn: a scanned lot the stock records do not know


@dataclass(frozen=True)
class SecurityConfig:
    lead_pin_required: bool = True  # leads and admins log in and approve with badge + PIN


@dataclass(frozen=True)
class NumbersConfig:
    """This station's range of each number series (used until a central database hands out blocks)."""

    sscc_first: int = 0  # 0 (both 0): this station's own default range, see Config.sscc_range
    sscc_last: int = 0  # 0: as many as the GS1 company prefix leaves room for
    block_size: int = 100


# A standalone station without a [numbers] range takes one of this many equal slices of the
# SSCC serials, chosen by the number its station id ends in (see Config.sscc_range).
SSCC_SLOTS = 100
MIN_SLOT_SERIALS = 1_000_000  # a slice smaller than this would run out within a few years at a bench


def station_slot(station_id: str) -> int:
    """The slice of the SSCC serials a standalone station takes by default: the number its id
    ends in (``BENCH-07`` -> 7), modulo ``SSCC_SLOTS``; an id without one, a stable hash of it."""
    digits = re.search(r"(\d+)\s*$", station_id)
    if digits:
        return int(digits.group(1)) % SSCC_SLOTS
    return zlib.crc32(station_id.strip().encode("utf-8")) % SSCC_SLOTS


@dataclass(frozen=True)
class ScaleConfig:
    port: str = ""
    protocol: str = "simulated"  # mt-sics, toledo-8217, cas, adam, hid-pos, simulated
    baudrate: int = 0  # 0: the protocol's factory default (9600; Adam 4800)
    unit: str = "kg"  # for protocols that do not send a unit (Toledo 8217)
    stable_timeout_s: float = 5.0


@dataclass(frozen=True)
class PrinterConfig:
    url: str = ""  # tcp://HOST:PORT, file:///PATH, usb://VID:PID, cups://QUEUE, /dev/ttyS0
    language: str = "pdf"  # zpl, escpos, pdf
    dpi: int = 203
    size: str = "4x6"  # 4x6 or 100x150
    baudrate: int = 9600  # serial printers only


@dataclass(frozen=True)
class ScannerConfig:
    serial: tuple[str, ...] = ()
    baudrate: int = 9600
    wedge_max_interval_ms: int = 35
    wedge_min_length: int = 3
    evdev: tuple[str, ...] = ()
    evdev_layout: str = "us"


CARRIER_CONNECTOR_SIMULATED = "simulated"
LABEL_FORMATS = ("auto", "zpl", "pdf")


@dataclass(frozen=True)
class CarrierConfig:
    """One carrier account: ``[carriers.<CODE>]``. The code is matched (without regard to case)
    against the orders' ``carrier`` field; the dock card's barcode is ``CARRIER-<CODE>``.

    ``connector`` is a karrio connector (``dhl_parcel_de``, ``ups``, ...; its package
    ``karrio-<name>`` must be installed) or ``simulated``. ``credentials`` go to the connector as
    its settings (``username``, ``password``, ``client_id``, ...): a value ``"env:NAME"`` is read
    from the environment variable NAME, so secrets need not sit in the file. ``options`` is the
    connector's own ``config`` (billing numbers, label type, ...). ``services`` maps an order's
    service (``Paket``) to the connector's service code (``dhl_parcel_de_paket``).
    """

    code: str
    connector: str
    credentials: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)
    test_mode: bool = False  # the carrier's sandbox
    server_url: str = ""  # instead of the connector's own API address (a proxy; the tests' stub)
    timeout_s: float = 5.0  # a seal waits at most this long for the label, then retries later
    label_format: str = "auto"  # auto: ZPL for a ZPL label printer, else PDF
    track_every_s: float = 900.0  # tracking: at most one request per account this often
    track_batch: int = 20  # tracking numbers per request
    # simulated connector only: what it does ("ok", "error", "timeout"), its tracking prefix, and how
    # long it takes to answer (a slow carrier; at timeout_s or more it times out)
    simulate: str = "ok"
    tracking_prefix: str = ""
    delay_s: float = 0.0

    def secret(self, key: str) -> str:
        value = self.credentials.get(key, "")
        if value.startswith("env:"):
            return os.environ.get(value[4:], "")
        return value

    def settings(self) -> dict[str, str]:
        """The credentials with ``env:`` values resolved."""
        return {key: self.secret(key) for key in self.credentials}


_CARRIER_KEYS = {f.name for f in fields(CarrierConfig)} - {"code"}


CARRIER_SETTINGS = ("poll_tracking",)  # the keys of [carriers] itself that are settings, not accounts


def parse_carrier_settings(raw: Any) -> bool | None:
    """``[carriers] poll_tracking = true|false``; None when not set (the deployment decides, see
    :meth:`Config.polls_tracking`)."""
    if not isinstance(raw, dict) or "poll_tracking" not in raw:
        return None
    value = raw["poll_tracking"]
    if not isinstance(value, bool):
        raise ConfigError(f"[carriers] poll_tracking must be true or false (whether this process asks the carriers "
                          f"about parcels on the way); got {value!r}")
    return value


def parse_carriers(raw: Any) -> tuple[CarrierConfig, ...]:
    """``[carriers.<CODE>]`` tables -> carrier accounts, every key checked (the settings of
    ``[carriers]`` itself, :data:`CARRIER_SETTINGS`, are read by :func:`parse_carrier_settings`)."""
    if not isinstance(raw, dict):
        raise ConfigError("[carriers] must hold one table per carrier, e.g. [carriers.DHL]")
    out = []
    for code, table in raw.items():
        if code in CARRIER_SETTINGS:
            continue
        where = f"[carriers.{code}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table (connector = \"...\", ...); the settings of [carriers] "
                              f"itself are: {', '.join(CARRIER_SETTINGS)}")
        if not code.strip() or not all(ch.isalnum() or ch in "-_" for ch in code):
            raise ConfigError(f"{where}: a carrier code is letters, digits, - and _ (it becomes the barcode CARRIER-{code})")
        unknown = sorted(set(table) - _CARRIER_KEYS)
        if unknown:
            raise ConfigError(f"{where} has an unknown key {unknown[0]!r}; known keys: {', '.join(sorted(_CARRIER_KEYS))}")
        connector = table.get("connector")
        if not isinstance(connector, str) or not connector.strip():
            raise ConfigError(f"{where} needs connector = \"<karrio connector>\" (e.g. \"dhl_parcel_de\") or \"simulated\"")
        values: dict[str, Any] = {"code": code.upper(), "connector": connector.strip()}
        for key in ("credentials", "services"):
            if key in table:
                value = table[key]
                if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                    raise ConfigError(f"{where} {key} must be a table of strings")
                values[key] = dict(value)
        if "options" in table:
            if not isinstance(table["options"], dict):
                raise ConfigError(f"{where} options must be a table")
            values["options"] = dict(table["options"])
        for key in ("server_url", "label_format", "simulate", "tracking_prefix"):
            if key in table:
                if not isinstance(table[key], str):
                    raise ConfigError(f"{where} {key} must be a string, got {table[key]!r}")
                values[key] = table[key]
        if "test_mode" in table:
            if not isinstance(table["test_mode"], bool):
                raise ConfigError(f"{where} test_mode must be true or false")
            values["test_mode"] = table["test_mode"]
        for key in ("timeout_s", "track_every_s", "track_batch"):
            if key in table:
                value = table[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    raise ConfigError(f"{where} {key} must be a positive number, got {value!r}")
                values[key] = int(value) if key == "track_batch" else float(value)
        if "delay_s" in table:
            value = table["delay_s"]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{where} delay_s must be a number of seconds, 0 or more; got {value!r}")
            values["delay_s"] = float(value)
        cfg = CarrierConfig(**values)
        if cfg.delay_s and cfg.connector != CARRIER_CONNECTOR_SIMULATED:
            raise ConfigError(f"{where} delay_s is for the simulated carrier only")
        if cfg.label_format not in LABEL_FORMATS:
            raise ConfigError(f"{where} label_format must be one of {', '.join(LABEL_FORMATS)}; got {cfg.label_format!r}")
        if cfg.simulate not in ("ok", "error", "timeout"):
            raise ConfigError(f"{where} simulate must be ok, error or timeout; got {cfg.simulate!r}")
        if cfg.server_url and not cfg.server_url.startswith(("http://", "https://")):
            raise ConfigError(f"{where} server_url must be an http:// or https:// address; got {cfg.server_url!r}")
        if cfg.timeout_s > 60:
            raise ConfigError(f"{where} timeout_s is how long a seal may wait for the label: at most 60 s")
        if any(c.code == cfg.code for c in out):
            raise ConfigError(f"{where}: carrier {cfg.code} is configured twice (codes ignore case)")
        out.append(cfg)
    return tuple(out)


# The embedded demo station's carriers: simulated accounts (tracking numbers and ZPL/PDF labels
# like a carrier's) for three of the demo's carriers; DPD and GLS keep our own SSCC label.
DEMO_CARRIERS = (
    CarrierConfig(code="DHL", connector=CARRIER_CONNECTOR_SIMULATED, tracking_prefix="00340434"),
    CarrierConfig(code="UPS", connector=CARRIER_CONNECTOR_SIMULATED, tracking_prefix="1Z999AA1"),
    CarrierConfig(code="POSTNL", connector=CARRIER_CONNECTOR_SIMULATED, tracking_prefix="3SDEVC"),
)


@dataclass(frozen=True)
class ReturnsConfig:
    """The returns desk: grades, photos, fees, the credit-note series, the camera."""

    # "CODE label": GRADE-<CODE> on the desk card; listed best first
    grades: tuple[str, ...] = ("A new/resealable", "B opened, as new", "C used or damaged, repairable", "D unusable",
                               "MISSING missing", "WRONG wrong item")
    photo_required_below: str = "A"  # grades after this one need a photo; "" = never
    no_refund_grades: tuple[str, ...] = ("MISSING", "WRONG")  # units so graded get no money back
    restocking_fee_pct: float = 0.0  # of every refunded or credited line
    legal_entity: str = "MAIN"  # whose credit notes this station issues
    credit_note_prefix: str = "CN"
    tax_rate_pct: float = 0.0  # printed on credit notes
    reasons: tuple[str, ...] = ("damaged in transit", "wrong item sent", "not as described", "no longer needed",
                                "arrived too late", "other")
    camera: str = ""  # "": none; "folder:/path" (a folder of images); "qt" or "qt:<camera name>" (Qt Multimedia)


@dataclass(frozen=True)
class BenchConfig:
    camera: str = ""  # a photo of each sealed carton (the returns desk's evidence): as [returns] camera


@dataclass(frozen=True)
class ApiConfig:
    """``packstation serve``: the order API and its workers."""

    station_id: str = "API"  # the station id its events carry
    max_body_bytes: int = 1_048_576  # larger request bodies are refused (413) before they are read
    rate_per_s: float = 50.0  # a new API token's rate limit (requests per second) ...
    burst: int = 100  # ... and how many it may send at once
    pool_size: int = 10  # database connections per server process
    processes: int = 1  # server processes on the port (Python runs one core per process)
    workers: bool = True  # run the webhook inbox and status push workers in the server too
    inbox_poll_s: float = 0.5
    push_poll_s: float = 1.0


@dataclass(frozen=True)
class ShopifyConfig:
    secrets: tuple[str, ...] = ()  # webhook signing secrets (the app's client secret); two during a rotation
    order_prefix: str = "SHOPIFY-"  # our order id: prefix + the order's name without '#'
    channel: str = "shopify"
    carrier: str = "DHL"  # when the order's shipping line names no carrier
    cod_gateways: tuple[str, ...] = ()  # payment gateway names that mean cash on delivery (default: Shopify's)
    shop: str = ""  # SHOP.myshopify.com: fulfillments are created there (with access_token)
    access_token: str = ""  # Admin API access token (write_merchant_managed_fulfillment_orders)
    api_version: str = "2024-01"
    admin_url: str = ""  # default https://{shop}/admin/api/{api_version}
    notify_customer: bool = True


@dataclass(frozen=True)
class WooCommerceConfig:
    secrets: tuple[str, ...] = ()  # the webhook's secret; two during a rotation
    order_prefix: str = "WC-"
    channel: str = "woocommerce"
    carrier: str = "DHL"


@dataclass(frozen=True)
class WebhooksConfig:
    """Status push to subscribed endpoints."""

    retry_base_s: float = 1.0  # the first pause after a failed try; doubling ...
    retry_max_s: float = 3600.0  # ... up to this
    give_up_after_h: float = 72.0  # then the delivery is failed (shown, kept, retried by hand); at least 24
    timeout_s: float = 10.0
    concurrency: int = 16  # deliveries in flight at once per server
    batch: int = 200
    missing_grace_s: float = 900.0  # how long an event number not committed yet is waited for


@dataclass(frozen=True)
class Config:
    station: StationConfig = field(default_factory=StationConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    packing: PackingConfig = field(default_factory=PackingConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    label_printer: PrinterConfig = field(default_factory=PrinterConfig)
    document_printer: PrinterConfig = field(default_factory=PrinterConfig)
    scanner: ScannerConfig = field(default_factory=ScannerConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    numbers: NumbersConfig = field(default_factory=NumbersConfig)
    carriers: tuple[CarrierConfig, ...] = ()  # [carriers.<CODE>]: carrier accounts
    poll_tracking: bool | None = None  # [carriers] poll_tracking; None: as the deployment says (polls_tracking)
    returns: ReturnsConfig = field(default_factory=ReturnsConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    shopify: ShopifyConfig = field(default_factory=ShopifyConfig)
    woocommerce: WooCommerceConfig = field(default_factory=WooCommerceConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    source: Path | None = None  # the TOML file it came from, if any

    @property
    def database_url(self) -> str:
        local = self.database.local
        if not local:
            return f"sqlite:///{self.data_dir / 'packstation.db'}"
        if "://" in local:
            return local
        path = Path(local).expanduser()
        if not path.is_absolute():
            # relative to the station's data folder, not to wherever the station was started
            # from (a desktop launcher and a shell would otherwise open two different files)
            path = self.data_dir / path
        return f"sqlite:///{path}"

    @property
    def sscc_range_configured(self) -> bool:
        """Whether ``[numbers]`` names this station's SSCC range (else :attr:`sscc_range` is a default)."""
        return bool(self.numbers.sscc_first or self.numbers.sscc_last)

    @property
    def sscc_range(self) -> tuple[int, int]:
        """This station's range of SSCC serials: the configured one; without one, a station with a
        database of its own takes the slot of its id's number (one of ``SSCC_SLOTS`` equal ranges:
        ``BENCH-01`` the second, ``BENCH-02`` the next, ...), so that two standalone stations whose
        ids end in different numbers below ``SSCC_SLOTS`` never hand out the same SSCC (any other
        set of stations needs ``[numbers]``); stations sharing a database (or a central one) draw
        disjoint blocks from one shared range, the whole of it. A company prefix of 9 digits or
        more leaves too few serials to share out (a slice under ``MIN_SLOT_SERIALS``): the whole
        range then, as stations sharing one."""
        digits = 16 - len(self.packing.gs1_company_prefix)
        top = 10**digits - 1
        first, last = self.numbers.sscc_first, self.numbers.sscc_last
        if first or last:
            return first or 1, last or top
        size = (top + 1) // SSCC_SLOTS
        if self.database.central or not self.database_url.startswith("sqlite") or size < MIN_SLOT_SERIALS:
            return 1, top  # shared, or a long company prefix whose serials are too few to share out
        slot = station_slot(self.station.id)
        return max(1, slot * size), slot * size + size - 1

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    def polls_tracking(self, process: str) -> bool:
        """Whether *process* (``"station"``: the station window; ``"serve"``: ``packstation serve``)
        asks the carriers about parcels on the way. Exactly one place per deployment by default: a
        standalone station polls itself; with ``[database] central`` the order API server does
        (the centre's one process), the stations do not. ``[carriers] poll_tracking`` decides
        otherwise; nothing polls without carrier accounts."""
        if process not in ("station", "serve"):
            raise ValueError(f"unknown process {process!r}")
        if not self.carriers:
            return False
        if self.poll_tracking is not None:
            return self.poll_tracking
        central = bool(self.database.central)
        return central if process == "serve" else not central


def default_data_dir() -> Path:
    override = os.environ.get("PACKSTATION_DATA_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


_SECTIONS = {
    "station": StationConfig,
    "database": DatabaseConfig,
    "packing": PackingConfig,
    "scale": ScaleConfig,
    "label_printer": PrinterConfig,
    "document_printer": PrinterConfig,
    "scanner": ScannerConfig,
    "security": SecurityConfig,
    "numbers": NumbersConfig,
    "returns": ReturnsConfig,
    "bench": BenchConfig,
    "api": ApiConfig,
    "shopify": ShopifyConfig,
    "woocommerce": WooCommerceConfig,
    "webhooks": WebhooksConfig,
}


def _section(cls: type, name: str, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"[{name}] has an unknown key {key!r}; known keys: {', '.join(known)}")
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"[{name}] {key} must be a list of strings")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"[{name}] {key} must be true or false")
        elif isinstance(default, int | float) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"[{name}] {key} must be a number, got {value!r}")
            if isinstance(default, int) and value != int(value):
                # int(20.5) would silently become 20: say so instead
                raise ConfigError(f"[{name}] {key} must be a whole number, got {value!r}")
            value = type(default)(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"[{name}] {key} must be a string, got {value!r}")
        values[key] = value
    return cls(**values)


def parse_config(text: str, source: Path | None = None) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source or 'config'}: not valid TOML: {exc}") from exc
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "data_dir":
            kwargs["data_dir"] = Path(str(value)).expanduser()
            continue
        if key == "carriers":
            kwargs["carriers"] = parse_carriers(value)
            kwargs["poll_tracking"] = parse_carrier_settings(value)
            continue
        if key not in _SECTIONS:
            raise ConfigError(f"unknown section [{key}]; known: {', '.join(_SECTIONS)}, carriers")
        kwargs[key] = _section(_SECTIONS[key], key, value)
    config = Config(source=source, **kwargs)
    _check_values(config)
    return config


def _check_values(config: Config) -> None:
    """Values that parse but would fail later (at the first carton close, say): refuse them now."""
    packing = config.packing
    prefix = packing.gs1_company_prefix
    if not (prefix.isascii() and prefix.isdigit() and 6 <= len(prefix) <= 12):
        raise ConfigError(f"[packing] gs1_company_prefix must be your GS1 company prefix, 6 to 12 digits; got {prefix!r}")
    if not 0 <= packing.sscc_extension <= 9:
        raise ConfigError(f"[packing] sscc_extension must be one digit, 0 to 9; got {packing.sscc_extension}")
    if packing.tolerance_pct < 0 or packing.tolerance_g < 0:
        raise ConfigError("[packing] tolerance_pct and tolerance_g cannot be negative")
    if not packing.carton_prefix.strip():
        raise ConfigError("[packing] carton_prefix cannot be empty (e.g. \"BOX-\")")
    if packing.unknown_lot not in ("refuse", "warn"):
        raise ConfigError(f"[packing] unknown_lot must be refuse or warn; got {packing.unknown_lot!r}")
    serial_digits = 16 - len(prefix)
    numbers = config.numbers
    if numbers.sscc_first < 0 or numbers.sscc_last < 0 or (numbers.sscc_last and numbers.sscc_last < numbers.sscc_first):
        raise ConfigError("[numbers] sscc_first must be at least 1 (0: this station's default range) "
                          "and sscc_last (if set) not below it")
    if max(numbers.sscc_first, numbers.sscc_last) >= 10**serial_digits:
        raise ConfigError(f"[numbers] an SSCC serial has {serial_digits} digits with the company prefix {prefix}: "
                          f"the range must stay below {10**serial_digits}")
    if numbers.block_size < 1:
        raise ConfigError("[numbers] block_size must be at least 1")
    if not config.station.id.strip():
        raise ConfigError("[station] id cannot be empty: other benches see it when this one holds an order")
    _check_returns(config)
    if config.poll_tracking and not config.carriers:
        raise ConfigError("[carriers] poll_tracking = true, but there is no carrier account to ask: add a "
                          "[carriers.<CODE>] section (connector = ...) or remove poll_tracking")
    api, hooks = config.api, config.webhooks
    if api.max_body_bytes < 1024 or api.rate_per_s <= 0 or api.burst < 1 or api.pool_size < 1 or api.processes < 1:
        raise ConfigError("[api] max_body_bytes must be at least 1024, rate_per_s above 0, burst, pool_size and "
                          "processes at least 1")
    if hooks.give_up_after_h < 24:
        raise ConfigError(f"[webhooks] give_up_after_h must be at least 24 (endpoints are retried for a day at "
                          f"least); got {hooks.give_up_after_h:g}")
    if hooks.retry_base_s <= 0 or hooks.retry_max_s < hooks.retry_base_s or hooks.timeout_s <= 0:
        raise ConfigError("[webhooks] retry_base_s and timeout_s must be above 0 and retry_max_s not below retry_base_s")
    if hooks.concurrency < 1 or hooks.batch < 1:
        raise ConfigError("[webhooks] concurrency and batch must be at least 1")
    if config.shopify.access_token and not (config.shopify.shop or config.shopify.admin_url):
        raise ConfigError("[shopify] access_token needs shop = \"SHOP.myshopify.com\" (or admin_url)")
    if config.scale.protocol not in SCALE_PROTOCOLS:
        raise ConfigError(f"[scale] protocol must be one of {', '.join(SCALE_PROTOCOLS)}; got {config.scale.protocol!r}")
    for name in ("label_printer", "document_printer"):
        printer: PrinterConfig = getattr(config, name)
        if printer.language not in PRINTER_LANGUAGES:
            raise ConfigError(f"[{name}] language must be one of {', '.join(PRINTER_LANGUAGES)}; got {printer.language!r}")
        if printer.size not in LABEL_SIZES:
            raise ConfigError(f"[{name}] size must be one of {', '.join(LABEL_SIZES)}; got {printer.size!r}")
        if printer.dpi not in (203, 300):
            raise ConfigError(f"[{name}] dpi must be 203 or 300; got {printer.dpi}")


def _check_camera(section: str, spec: str) -> None:
    if spec and not (spec == "qt" or spec.startswith("qt:") or (spec.startswith("folder:") and spec[7:].strip())):
        raise ConfigError(f"[{section}] camera must be \"\" (none), \"folder:/path/to/images\", \"qt\" or "
                          f"\"qt:<camera name>\"; got {spec!r}")


def _check_returns(config: Config) -> None:
    from packstation.domain.returns import parse_grade

    r = config.returns
    try:
        codes = [parse_grade(g).code for g in r.grades]
    except ValueError as exc:
        raise ConfigError(f"[returns] grades: {exc}") from None
    if not codes or len(set(codes)) != len(codes):
        raise ConfigError("[returns] grades must list at least one grade, each code once")
    if r.photo_required_below and r.photo_required_below.upper() not in codes:
        raise ConfigError(f"[returns] photo_required_below must be one of the grades ({', '.join(codes)}) or \"\"; "
                          f"got {r.photo_required_below!r}")
    unknown = [g for g in r.no_refund_grades if g.upper() not in codes]
    if unknown:
        raise ConfigError(f"[returns] no_refund_grades names grades that are not in grades: {', '.join(unknown)}")
    if not 0 <= r.restocking_fee_pct <= 100 or not 0 <= r.tax_rate_pct <= 100:
        raise ConfigError("[returns] restocking_fee_pct and tax_rate_pct are percentages from 0 to 100")
    for key in ("legal_entity", "credit_note_prefix"):
        value = getattr(r, key)
        if not value or len(value) > 16 or not value.isascii() or not all(ch.isalnum() or ch in "-_" for ch in value):
            raise ConfigError(f"[returns] {key} must be 1 to 16 letters, digits, - or _; got {value!r}")
    if not r.reasons or any(not x.strip() for x in r.reasons) or len(r.reasons) > 20:
        raise ConfigError("[returns] reasons must list 1 to 20 reasons")
    _check_camera("returns", r.camera)
    _check_camera("bench", config.bench.camera)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the TOML file at *path*, or ``$PACKSTATION_CONFIG``, or the embedded default."""
    chosen = path or os.environ.get("PACKSTATION_CONFIG")
    if not chosen:
        return Config(station=StationConfig(demo=True), carriers=DEMO_CARRIERS)
    p = Path(chosen).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from exc
    return parse_config(text, source=p)


def with_database(config: Config, url: str) -> Config:
    return replace(config, database=replace(config.database, local=url))


def to_toml_dict(config: Config) -> dict[str, Any]:
    """The config as a dict ready for ``tomli_w.dumps`` (used by the settings dialog)."""
    out: dict[str, Any] = {"data_dir": str(config.data_dir)}
    for name in _SECTIONS:
        section = getattr(config, name)
        out[name] = {
            f.name: list(v) if isinstance(v := getattr(section, f.name), tuple) else v
            for f in fields(section)
        }
    if config.carriers:
        out["carriers"] = {c.code: {f.name: getattr(c, f.name) for f in fields(c) if f.name != "code"}
                           for c in config.carriers}
    if config.poll_tracking is not None:
        out.setdefault("carriers", {})["poll_tracking"] = config.poll_tracking
    return out
