"""The bench's devices seen from the window: scanner readers, printer probes, database health.

Serial and evdev scanner readers run on their own threads and reach the GUI through
:class:`DeviceSignals`. Printer status queries (network or USB round trips) run on a small
thread pool; the database check is one short read on the GUI thread. Everything reports a
:class:`DeviceState` keyed by a stable slot name ("scanner:…", "scale", "label printer", …)
so the status bar can show it.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from packstation.adapters.devices.state import DeviceState, Status
from packstation.bootstrap import Station
from packstation.services.ports import StorageError
from packstation.ui.device_signals import DeviceSignals

PRINTER_CHECK_MS = 60_000
DATABASE_CHECK_MS = 30_000


class _Probe(QRunnable):
    def __init__(self, manager: DeviceManager, slot: str, section: object) -> None:
        super().__init__()
        self.manager, self.slot, self.section = manager, slot, section

    def run(self) -> None:  # on a pool thread
        state = probe_printer(self.slot, self.section)
        self.manager._probed.emit(self.slot, state)


def probe_printer(slot: str, section: object) -> DeviceState:
    """Ask a printer for its status (ZPL ~HS, ESC/POS DLE EOT); may take seconds: not on the GUI thread."""
    from packstation.adapters.devices.printer_status import query_status
    from packstation.adapters.devices.transports import PrinterError, open_printer

    url = str(getattr(section, "url", "") or "")
    language = str(getattr(section, "language", "pdf"))
    if not url:
        return DeviceState(slot, Status.CONNECTED, "PDF files")
    try:
        transport = open_printer(section)
        if url.startswith("file:"):
            folder = Path(url[len("file://"):]).parent
            if not os.access(folder, os.W_OK):
                return DeviceState(slot, Status.ERROR, f"cannot write to {folder}")
            return DeviceState(slot, Status.CONNECTED, f"{language} to {url}")
        problems = query_status(transport, language)
        if problems is None:
            return DeviceState(slot, Status.CONNECTED, f"{language} to {url} (no status query)")
    except PrinterError as exc:
        return DeviceState(slot, Status.ERROR, str(exc))
    except Exception as exc:  # noqa: BLE001 - shown in the status bar, never crashes the window
        return DeviceState(slot, Status.ERROR, f"{type(exc).__name__}: {exc}")
    if problems:
        return DeviceState(slot, Status.ERROR, "; ".join(problems))
    return DeviceState(slot, Status.CONNECTED, f"{language} {url} ready")


class DeviceManager(QObject):
    state_changed = Signal(str, object)  # slot, DeviceState
    _probed = Signal(str, object)

    def __init__(self, station: Station, signals: DeviceSignals, *, start_readers: bool = True,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.station = station
        self.signals = signals
        self.states: dict[str, DeviceState] = {}
        self._readers: list[object] = []
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._pool.setExpiryTimeout(0)  # no idle threads left behind
        self._closed = False
        signals.state_changed.connect(self._reader_state)
        self._probed.connect(self._set)
        cfg = station.devices
        self._set("scanner:wedge", DeviceState("keyboard wedge", Status.CONNECTED, "ready"))
        scale = cfg.scale
        if scale.protocol == "simulated":
            self._set("scale", DeviceState("scale", Status.CONNECTED, "simulated"))
        else:
            self._set("scale", DeviceState("scale", Status.DISCONNECTED,
                                           f"{scale.protocol} on {scale.port or '(no port)'}: not read yet"))
        if start_readers:
            self._start_readers()
        self.check_database()
        self.check_printers()
        self._db_timer = QTimer(self)
        self._db_timer.timeout.connect(self.check_database)
        self._db_timer.start(DATABASE_CHECK_MS)
        self._printer_timer = QTimer(self)
        self._printer_timer.timeout.connect(self.check_printers)
        self._printer_timer.start(PRINTER_CHECK_MS)

    # --- scanners -------------------------------------------------------------------------
    def _start_readers(self) -> None:
        cfg = self.station.devices.scanner
        for url in cfg.serial:
            from packstation.adapters.devices.serial_scanner import SerialScannerReader

            self._set(f"scanner:{url}", DeviceState(f"scanner {url}", Status.DISCONNECTED, "opening"))
            reader = SerialScannerReader(url, self.signals.on_scan, baudrate=cfg.baudrate,
                                         on_state=self.signals.on_state,
                                         on_reject=self.signals.on_reject)
            self._readers.append(reader.start())
        for path in cfg.evdev:
            from packstation.adapters.devices.evdev_scanner import EvdevScannerReader

            self._set(f"scanner:{path}", DeviceState(f"scanner {path}", Status.DISCONNECTED, "opening"))
            evdev = EvdevScannerReader(path, self.signals.on_scan, layout=cfg.evdev_layout,
                                       on_state=self.signals.on_state,
                                       on_reject=self.signals.on_reject)
            self._readers.append(evdev.start())

    def _reader_state(self, state: DeviceState) -> None:
        device = state.device
        if device.startswith("scanner "):
            self._set("scanner:" + device[len("scanner "):], state)
        elif device.startswith("scale"):
            self._set("scale", state)
        else:
            self._set(device, state)

    # --- printers and database ------------------------------------------------------------
    def check_printers(self) -> None:
        cfg = self.station.devices
        for slot, section in (("label printer", cfg.label_printer), ("document printer", cfg.document_printer)):
            if slot not in self.states:
                self._set(slot, DeviceState(slot, Status.DISCONNECTED, "checking…"))
            self._pool.start(_Probe(self, slot, section))

    def check_database(self) -> DeviceState:
        name = self.station.info.database
        try:
            with self.station.ctx.uow(readonly=True) as uow:
                uow.ping()
        except StorageError as exc:
            state = DeviceState("database", Status.ERROR, str(exc))
        else:
            state = DeviceState("database", Status.CONNECTED, Path(name).name if "sqlite" in name else name)
        self._set("database", state)
        return state

    def watch_sync(self, read_status) -> None:  # type: ignore[no-untyped-def]
        """Show the central database's sync state ("Central" entry), read now and after each round."""
        self._read_sync = read_status
        self.check_sync()

    def check_sync(self) -> None:
        from packstation.services.sync.status import status_line

        reader = getattr(self, "_read_sync", None)
        if reader is None:
            return
        try:
            status = reader()
        except StorageError as exc:
            self._set("central", DeviceState("central", Status.ERROR, str(exc)))
            return
        line = status_line(status)
        detail = line + (f" — {status.last_error}" if status.last_error and not status.online else "")
        if status.clock_warning:
            detail += f" — {status.clock_warning}"
        ok = status.online and not status.refused and not status.clock_warning
        self._set("central", DeviceState("central", Status.CONNECTED if ok else Status.ERROR if status.refused
                                         or status.clock_warning else Status.DISCONNECTED, detail))

    def database_failed(self, reason: str) -> None:
        """A scan could not be saved: show it until the next successful check."""
        self._set("database", DeviceState("database", Status.ERROR, reason))

    def report(self, slot: str, state: DeviceState) -> None:
        """A state learnt elsewhere (e.g. a print job's result) for the status bar."""
        self._set(slot, state)

    def _set(self, slot: str, state: DeviceState) -> None:
        if self._closed:
            return
        self.states[slot] = state
        self.state_changed.emit(slot, state)

    def close(self) -> None:
        self._closed = True
        self._db_timer.stop()
        self._printer_timer.stop()
        for reader in self._readers:
            reader.stop()  # type: ignore[attr-defined]
        self._readers.clear()
        self._pool.clear()
        self._pool.waitForDone(15_000)
