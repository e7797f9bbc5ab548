"""Device settings: pick the scale, printers and serial scanners, test them, save the TOML config.

Discovery, test reads and test prints talk to hardware, so they run on a thread pool; the
dialog stays responsive and shows each result (or the reason it failed) when it arrives.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import tomli_w
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from packstation.adapters.devices.transports import PrinterConfigError, open_transport
from packstation.config import Config, ConfigError, parse_config, to_toml_dict
from packstation.domain.packing import Tone
from packstation.ui import theme
from packstation.ui.background import run_in_pool

SCALE_PROTOCOLS = ("simulated", "mt-sics", "toledo-8217", "cas", "adam", "hid-pos")
LANGUAGES = ("pdf", "zpl", "escpos")


BAUD_RATES = (0, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


def config_path(config: Config) -> Path:
    """Where saving writes: the file the config came from, else packstation.toml in the data folder."""
    return config.source or config.data_dir / "packstation.toml"


def save_config(config: Config, path: Path) -> None:
    """Write *config* as TOML, atomically, after checking it reads back the same."""
    text = tomli_w.dumps(to_toml_dict(config))
    parse_config(text, source=path)  # never write a file the station cannot start from
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _editable_combo(values: tuple[str, ...] | list[str], current: str) -> QComboBox:
    combo = QComboBox()
    combo.setEditable(True)
    combo.addItems(list(values))
    combo.setCurrentText(current)
    return combo


class SettingsDialog(QDialog):
    def __init__(self, store: object, parent: QWidget | None = None) -> None:
        config: Config = store.config  # type: ignore[attr-defined]
        super().__init__(parent)
        self.config = config
        self.saved_to: Path | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self.pool.setExpiryTimeout(0)  # no idle threads left behind
        self.setWindowTitle("Devices")
        self.resize(760, 560)
        # scale
        self.scale_protocol = QComboBox()
        self.scale_protocol.addItems(SCALE_PROTOCOLS)
        self.scale_protocol.setCurrentText(config.scale.protocol)
        self.scale_port = _editable_combo([], config.scale.port)
        self.scale_baud = QComboBox()  # 0 is "the protocol's factory default", never a rate of its own
        for rate in BAUD_RATES:
            self.scale_baud.addItem("protocol default" if rate == 0 else str(rate), rate)
        if config.scale.baudrate not in BAUD_RATES:
            self.scale_baud.addItem(str(config.scale.baudrate), config.scale.baudrate)
        self.scale_baud.setCurrentIndex(self.scale_baud.findData(config.scale.baudrate))
        self.test_scale_button = QPushButton("Read the scale")
        self.test_scale_button.clicked.connect(self.test_scale)
        scale_box = QGroupBox("Scale")
        form = QFormLayout(scale_box)
        form.addRow("Protocol", self.scale_protocol)
        form.addRow("Port", self.scale_port)
        form.addRow("Baud rate", self.scale_baud)
        form.addRow(self.test_scale_button)
        # printers
        self.label_url = _editable_combo([], config.label_printer.url)
        self.label_language = QComboBox()
        self.label_language.addItems(LANGUAGES)
        self.label_language.setCurrentText(config.label_printer.language)
        self.doc_url = _editable_combo([], config.document_printer.url)
        self.doc_language = QComboBox()
        self.doc_language.addItems(LANGUAGES)
        self.doc_language.setCurrentText(config.document_printer.language)
        self.test_label_button = QPushButton("Test print (label)")
        self.test_label_button.clicked.connect(lambda: self.test_print("label"))
        self.test_doc_button = QPushButton("Test print (slip)")
        self.test_doc_button.clicked.connect(lambda: self.test_print("document"))
        printer_box = QGroupBox("Printers (empty URL: PDF files in the documents folder)")
        pform = QFormLayout(printer_box)
        pform.addRow("Label printer URL", self.label_url)
        pform.addRow("Label language", self.label_language)
        pform.addRow(self.test_label_button)
        pform.addRow("Slip printer URL", self.doc_url)
        pform.addRow("Slip language", self.doc_language)
        pform.addRow(self.test_doc_button)
        # scanners
        self.scanners = QLineEdit(", ".join(config.scanner.serial))
        self.scanners.setPlaceholderText("serial scanners: /dev/ttyACM0, socket://host:port …")
        scanner_box = QGroupBox("Serial scanners (keyboard-wedge scanners need no setting)")
        QVBoxLayout(scanner_box).addWidget(self.scanners)
        # discovery + result line
        self.found = QLabel("")
        self.found.setWordWrap(True)
        self.discover_button = QPushButton("Find devices")
        self.discover_button.clicked.connect(self.discover)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setFont(theme.font(12, bold=True))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.discover_button)
        top.addWidget(self.found, 1)
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(scale_box)
        box.addWidget(printer_box)
        box.addWidget(scanner_box)
        box.addWidget(self.result)
        box.addWidget(buttons)
        self.discover()

    # --- what the form says ---------------------------------------------------------------
    def edited_config(self) -> Config:
        c = self.config
        serial = tuple(s.strip() for s in self.scanners.text().split(",") if s.strip())
        return replace(
            c,
            scale=replace(c.scale, protocol=self.scale_protocol.currentText(),
                          port=self.scale_port.currentText().strip(), baudrate=int(self.scale_baud.currentData())),
            label_printer=replace(c.label_printer, url=self.label_url.currentText().strip(),
                                  language=self.label_language.currentText()),
            document_printer=replace(c.document_printer, url=self.doc_url.currentText().strip(),
                                     language=self.doc_language.currentText()),
            scanner=replace(c.scanner, serial=serial),
        )

    # --- actions --------------------------------------------------------------------------
    def discover(self) -> None:
        from packstation.adapters.devices.discovery import everything

        self.found.setText("Looking for devices…")
        run_in_pool(self.pool, self, everything, self._discovered)

    def _discovered(self, found: list | None, error: BaseException | None) -> None:
        if error is not None:
            self.found.setText(f"Could not list devices: {error}")
            return
        found = found or []
        ports = [f.path for f in found if f.kind in ("serial", "hid")]
        printers = [f.path for f in found if f.kind in ("usb-printer", "cups")]
        for combo, values in ((self.scale_port, ports), (self.label_url, printers), (self.doc_url, printers)):
            current = combo.currentText()
            combo.clear()
            combo.addItems(values)
            combo.setCurrentText(current)
        self.found.setText(
            "Found: " + ", ".join(f"{f.path} ({f.description or f.kind})" for f in found)
            if found else "No serial ports, HID scales, USB printers or CUPS queues found.")

    def test_scale(self) -> None:
        from packstation.adapters.devices.scales import open_scale

        scale_cfg = self.edited_config().scale
        if scale_cfg.protocol == "simulated":
            self._say(Tone.INFO, "The simulated scale needs no test: it weighs what the station expects.")
            return

        def read() -> int:
            scale = open_scale(scale_cfg)
            try:
                return scale.read_stable()
            finally:
                scale.close()

        self._say(Tone.PROMPT, "Reading the scale…")
        run_in_pool(self.pool, self, read, lambda grams, error: self._say(
            Tone.ERROR, f"Scale: {error}") if error else self._say(Tone.OK, f"Scale reads {grams} g (stable)."))

    def test_print(self, which: str) -> None:
        from packstation.adapters.devices.selftest import test_page_bytes
        from packstation.adapters.devices.transports import open_printer

        cfg = self.edited_config()
        section = cfg.label_printer if which == "label" else cfg.document_printer
        if not section.url:
            self._say(Tone.WARNING, f"No {which} printer URL: documents go to PDF files in {cfg.documents_dir}.")
            return

        def send() -> int:
            data = test_page_bytes(section.language, cfg.station.id, section.dpi)
            open_printer(section).send(data)
            return len(data)

        self._say(Tone.PROMPT, f"Sending a test print to {section.url}…")
        run_in_pool(self.pool, self, send, lambda n, error: self._say(
            Tone.ERROR, f"Test print failed: {error}") if error else self._say(
            Tone.OK, f"Sent a {section.language} test print ({n} bytes) to {section.url}."))

    def problems(self) -> list[str]:
        """What would stop these settings from working, checked before anything is saved."""
        cfg = self.edited_config()
        found = []
        if cfg.scale.protocol != "simulated" and not cfg.scale.port:
            found.append(f"a {cfg.scale.protocol} scale needs its port (a device path such as /dev/ttyUSB0, "
                         "or a pyserial URL): press Find devices")
        for name, section in (("label printer", cfg.label_printer), ("slip printer", cfg.document_printer)):
            if section.url:
                try:
                    open_transport(section.url)
                except PrinterConfigError as exc:
                    found.append(f"{name}: {exc}")
        return found

    def save(self) -> None:
        path = config_path(self.config)
        problems = self.problems()
        if problems:
            self._say(Tone.ERROR, "Not saved: " + "; ".join(problems) + ".")
            return
        try:
            save_config(self.edited_config(), path)
        except (ConfigError, OSError, ValueError) as exc:
            self._say(Tone.ERROR, f"Not saved: {exc}")
            return
        self.saved_to = path
        how = "" if self.config.source else f" Start the station with --config {path} (or set PACKSTATION_CONFIG)."
        self._say(Tone.OK, f"Saved to {path}. Restart the station to use the new devices.{how}")
        self.accept()

    def _say(self, tone: Tone, text: str) -> None:
        style = theme.TONES[tone]
        self.result.setText(f"{style.word}: {text}")
        self.result.setStyleSheet(f"background: {style.background}; color: {style.foreground}; padding: 6px;")

    def done(self, result: int) -> None:  # noqa: D401 - Qt API
        self.pool.clear()
        self.pool.waitForDone(10_000)
        super().done(result)
