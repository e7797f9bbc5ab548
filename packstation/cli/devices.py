"""``packstation devices ...``: find, test and simulate scanners, scales and printers.

list, read-scale, test-print, printer-status, listen-scanner, and simulate
scale|printer|scanner (starts a simulator, prints the port to use, runs until Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from packstation.adapters.devices.selftest import test_page_bytes
from packstation.config import Config

EXIT_OK, EXIT_DEVICE, EXIT_CONFIG = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    devices = sub.add_parser("devices", help="find, test and simulate scanners, scales, printers")
    dsub = devices.add_subparsers(dest="devices_command", metavar="ACTION", required=True)

    p = dsub.add_parser("list", help="serial ports, HID scales, USB printers and CUPS queues")
    p.set_defaults(func=run_list)

    p = dsub.add_parser("read-scale", help="print one stable weight from the configured scale")
    p.add_argument("--json", action="store_true", help='print {"grams": ..., "stable": true}')
    p.add_argument("--timeout", type=float, help="seconds to wait for a stable weight")
    p.set_defaults(func=run_read_scale)

    p = dsub.add_parser("test-print", help="print a small test label on the configured printer")
    p.add_argument("--printer", choices=("label", "document"), default="label")
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(func=run_test_print)

    p = dsub.add_parser("printer-status", help="ask the printer for its status (ZPL ~HS, ESC/POS)")
    p.add_argument("--printer", choices=("label", "document"), default="label")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_printer_status)

    p = dsub.add_parser("listen-scanner", help="print each scan from the configured scanners")
    p.add_argument("--count", type=int, help="stop after this many scans")
    p.add_argument("--timeout", type=float, help="stop after this many seconds")
    p.set_defaults(func=run_listen_scanner)

    sim = dsub.add_parser("simulate", help="run a device simulator until Ctrl-C")
    ssub = sim.add_subparsers(dest="simulator", metavar="DEVICE", required=True)
    p = ssub.add_parser("scale", help="a scale on a pty (or a HID report FIFO for hid-pos)")
    p.add_argument(
        "--protocol",
        default="mt-sics",
        choices=("mt-sics", "toledo-8217", "cas", "adam", "hid-pos"),
    )
    p.add_argument("--grams", type=int, default=1250)
    p.add_argument("--unit", default="kg", choices=("g", "kg", "lb", "oz"))
    p.set_defaults(func=run_simulate_scale)
    p = ssub.add_parser("printer", help="a raw TCP label printer on 127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    p.set_defaults(func=run_simulate_printer)
    p = ssub.add_parser("scanner", help="a serial scanner on a pty; each line you type is scanned")
    p.add_argument("--terminator", choices=("cr", "lf", "crlf"), default="cr")
    p.add_argument("--aim", default="", help="AIM symbology prefix to send, e.g. ]C1")
    p.set_defaults(func=run_simulate_scanner)


def _err(message: str) -> None:
    print(f"packstation devices: {message}", file=sys.stderr)


# -- list ---------------------------------------------------------------------------------
def run_list(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.devices.discovery import everything

    found = everything()
    if not found:
        print("no serial ports, HID scales, USB printers or CUPS queues found")
        return EXIT_OK
    for item in found:
        print(f"{item.kind:<12} {item.path:<32} {item.description}".rstrip())
    return EXIT_OK


# -- scale --------------------------------------------------------------------------------
def run_read_scale(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.devices.scale_errors import ScaleError
    from packstation.bootstrap import open_scale

    try:
        scale = open_scale(config)
    except ScaleError as exc:
        _err(str(exc))
        return EXIT_CONFIG if "[scale]" in str(exc) else EXIT_DEVICE
    try:
        grams = scale.read_stable(args.timeout)
    except ScaleError as exc:
        _err(str(exc))
        return EXIT_DEVICE
    finally:
        scale.close()
    if args.json:
        print(json.dumps({"grams": grams, "stable": True}))
    else:
        print(f"{grams} g (stable)")
    return EXIT_OK


# -- printers -----------------------------------------------------------------------------
def _printer_config(args: argparse.Namespace, config: Config) -> Any:
    return config.label_printer if args.printer == "label" else config.document_printer


def run_test_print(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.devices.transports import PrinterConfigError, PrinterError
    from packstation.bootstrap import open_printer

    section = "label_printer" if args.printer == "label" else "document_printer"
    printer = _printer_config(args, config)
    if not printer.url:
        _err(
            f"no {args.printer} printer is configured: set url in [{section}] "
            "(tcp://HOST:9100, cups://QUEUE, usb://VID:PID, file:///PATH or a serial port)"
        )
        return EXIT_CONFIG
    try:
        transport = open_printer(config, args.printer)
        data = test_page_bytes(printer.language, config.station.id, printer.dpi)
    except (PrinterConfigError, ValueError) as exc:
        _err(f"[{section}]: {exc}")
        return EXIT_CONFIG
    try:
        transport.send(data, args.timeout)
    except PrinterError as exc:
        _err(str(exc))
        return EXIT_DEVICE
    print(f"sent a {printer.language} test print ({len(data)} bytes) to {printer.url}")
    return EXIT_OK


def run_printer_status(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.devices.printer_status import query_status
    from packstation.adapters.devices.transports import PrinterError
    from packstation.bootstrap import open_printer

    printer = _printer_config(args, config)
    if not printer.url:
        _err(f"no {args.printer} printer is configured")
        return EXIT_CONFIG
    try:
        problems = query_status(open_printer(config, args.printer), printer.language)
    except PrinterError as exc:
        _err(str(exc))
        return EXIT_DEVICE
    if problems is None:
        _err(f"{printer.language} printers have no status query")
        return EXIT_CONFIG
    if args.json:
        print(json.dumps({"ready": not problems, "problems": problems}))
    else:
        print("ready" if not problems else "; ".join(problems))
    return EXIT_OK if not problems else EXIT_DEVICE


# -- scanners -----------------------------------------------------------------------------
def describe_scan(scan: Any) -> str:
    from packstation.domain.barcodes import BarcodeError, interpret

    head = f"{scan.source:<6} {scan.symbology or '-':<4} {scan.data!r}"
    try:
        code = interpret(scan)
    except BarcodeError as exc:
        return f"{head}  rejected: {exc}"
    parts = [f"{code.kind.value} {code.value}"]
    if code.lot:
        parts.append(f"lot {code.lot}")
    if code.expiry:
        parts.append(f"expiry {code.expiry.isoformat()}")
    if code.serial:
        parts.append(f"serial {code.serial}")
    return f"{head}  -> " + ", ".join(parts)


def run_listen_scanner(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.devices.evdev_scanner import EvdevScannerReader
    from packstation.adapters.devices.serial_scanner import SerialScannerReader

    sc = config.scanner
    if not sc.serial and not sc.evdev:
        _err(
            'no scanner is configured: set serial = ["/dev/ttyACM0"] or evdev = '
            '["/dev/input/by-id/...-event-kbd"] in [scanner] (wedge scanners type into the '
            "station window instead)"
        )
        return EXIT_CONFIG
    count = 0
    done = threading.Event()
    lock = threading.Lock()

    def on_scan(scan: Any) -> None:
        nonlocal count
        with lock:
            if done.is_set():
                return
            print(describe_scan(scan), flush=True)
            count += 1
            if args.count and count >= args.count:
                done.set()

    def on_state(state: Any) -> None:
        print(f"# {state}", file=sys.stderr, flush=True)

    readers: list[Any] = [
        SerialScannerReader(url, on_scan, baudrate=sc.baudrate, on_state=on_state)
        for url in sc.serial
    ]
    readers += [
        EvdevScannerReader(p, on_scan, layout=sc.evdev_layout, on_state=on_state) for p in sc.evdev
    ]
    for r in readers:
        r.start()
    print("listening; Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        done.wait(args.timeout)
    except KeyboardInterrupt:
        pass
    finally:
        for r in readers:
            r.stop()
    return EXIT_OK


# -- simulators ---------------------------------------------------------------------------
def _serve(
    stop: Callable[[], None],
    banner: list[str],
    hint: str,
    commands: Callable[[str], None] | None = None,
) -> int:
    """Print where the simulator is, feed stdin lines to *commands*, run until Ctrl-C.

    Everything after the simulator exists runs under one KeyboardInterrupt guard, so Ctrl-C
    (SIGINT) or SIGTERM at any moment stops it cleanly with exit code 0.
    """
    restore_signals = _stop_on_signals()
    try:
        for line in banner:
            print(line, flush=True)
        print(hint, file=sys.stderr, flush=True)
        if commands is not None:
            for line in sys.stdin:
                if line.strip():
                    commands(line.strip())
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            stop()
        finally:
            restore_signals()
    return EXIT_OK


def _stop_on_signals() -> Callable[[], None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt (once); returns a function restoring both.

    Installed explicitly because a simulator started in the background (``&`` or ``nohup`` in
    a non-interactive shell) inherits SIGINT ignored through exec, and Python then never turns
    it into KeyboardInterrupt; SIGTERM's default would kill it without stopping the simulator.
    """
    stopping = False

    def handler(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:  # a second signal while stopping must not interrupt the clean-up
            stopping = True
            raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _scale_command(sim: Any) -> Callable[[str], None]:
    def handle(line: str) -> None:
        word, _, arg = line.partition(" ")
        on = arg.strip().lower() in ("on", "1", "true", "yes")
        if word.lstrip("-").isdigit():
            sim.set_weight(int(word))
        elif word in ("motion", "over", "silent", "garbage"):
            if hasattr(sim, "set_silent"):  # a pty scale
                setter = {
                    "motion": sim.set_motion,
                    "over": sim.set_overload,
                    "silent": sim.set_silent,
                    "garbage": sim.set_garbage,
                }[word]
                setter(on)
            elif word == "garbage":
                print("the HID simulator has no garbage mode", file=sys.stderr)
                return
            else:
                sim.set(**{word: on})
        else:
            print(
                "commands: GRAMS | motion on|off | over on|off | silent on|off | garbage on|off",
                file=sys.stderr,
            )
            return
        print(f"ok: {line}", flush=True)

    return handle


def run_simulate_scale(args: argparse.Namespace, config: Config) -> int:
    if args.protocol == "hid-pos":
        from packstation.adapters.devices.simulators.hid import FakeHidScale

        sim: Any = FakeHidScale(args.grams)
        port = sim.path
    else:
        from packstation.adapters.devices.simulators.pty_scale import PtyScaleSimulator

        sim = PtyScaleSimulator(args.protocol, args.grams, unit=args.unit)
        port = sim.port
    unit = f'  unit = "{args.unit}"' if args.protocol == "toledo-8217" else ""
    return _serve(
        sim.stop,
        [
            f"{args.protocol} scale simulator on {port}",
            f'config: [scale] port = "{port}"  protocol = "{args.protocol}"{unit}',
        ],
        "type a weight in grams, or: motion on|off, over on|off, silent on|off, garbage on|off",
        _scale_command(sim),
    )


def run_simulate_printer(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator

    sim = TcpPrinterSimulator(port=args.port)
    done = threading.Event()

    def report() -> None:
        seen = 0
        while not done.is_set():
            jobs = sim.wait_for_jobs(seen + 1, timeout_s=0.2)
            for job in jobs[seen:]:
                print(f"job {seen + 1}: {len(job)} bytes: {job[:60]!r}", flush=True)
                seen += 1

    reporter = threading.Thread(target=report, daemon=True)

    def stop() -> None:
        done.set()
        if reporter.is_alive():
            reporter.join(2)
        sim.stop()

    reporter.start()
    return _serve(
        stop,
        [
            f"label printer simulator on {sim.url}",
            f'config: [label_printer] url = "{sim.url}"  language = "zpl"',
        ],
        "jobs are listed as they arrive; Ctrl-C to stop",
    )


def run_simulate_scanner(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.devices.simulators.pty_scanner import PtyScannerSimulator

    sim = PtyScannerSimulator(terminator=args.terminator, aim=args.aim or None)
    return _serve(
        sim.stop,
        [f"serial scanner simulator on {sim.port}", f'config: [scanner] serial = ["{sim.port}"]'],
        "each line you type is sent as a scan (use \\x1d for GS)",
        lambda line: sim.scan(line.replace("\\x1d", "\x1d")),
    )
