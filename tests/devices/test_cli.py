"""`packstation devices ...` driven through packstation.cli.main with configs pointing at simulators."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from packstation.adapters.devices.simulators.hid import FakeHidScale
from packstation.adapters.devices.simulators.pty_scanner import PtyScannerSimulator
from packstation.cli import main
from packstation.domain.barcodes import GS


@pytest.mark.parametrize("protocol", ["mt-sics", "cas", "toledo-8217", "adam"])
def test_read_scale_json(scale_sim, write_config, capsys, protocol):
    sim = scale_sim(protocol, 2345)
    cfg = write_config(f'[scale]\nport = "{sim.port}"\nprotocol = "{protocol}"\nbaudrate = 9600\n')
    assert main(["--config", cfg, "devices", "read-scale", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"grams": 2345, "stable": True}


def test_read_scale_hid(write_config, capsys):
    with FakeHidScale(640) as sim:
        cfg = write_config(f'[scale]\nport = "{sim.path}"\nprotocol = "hid-pos"\n')
        assert main(["--config", cfg, "devices", "read-scale", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["grams"] == 640


def test_read_scale_failure_goes_to_stderr_with_nonzero_exit(scale_sim, write_config, capsys):
    sim = scale_sim("mt-sics", 2345)
    sim.set_overload(True)
    cfg = write_config(f'[scale]\nport = "{sim.port}"\nprotocol = "mt-sics"\n')
    assert main(["--config", cfg, "devices", "read-scale", "--json", "--timeout", "2"]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "over capacity" in out.err


def test_read_scale_unknown_protocol_is_a_config_error(write_config, capsys):
    cfg = write_config('[scale]\nport = "/dev/ttyS0"\nprotocol = "avery"\n')
    assert main(["--config", cfg, "devices", "read-scale", "--json"]) == 2
    err = capsys.readouterr().err
    assert "[scale] protocol must be one of" in err and "'avery'" in err


def test_config_knows_exactly_the_protocols_the_drivers_speak():
    from packstation.adapters.devices.scale_protocols import PROTOCOLS
    from packstation.config import SCALE_PROTOCOLS

    assert set(SCALE_PROTOCOLS) == set(PROTOCOLS) | {"hid-pos", "simulated"}


def test_test_print_zpl_reaches_the_printer(printer_sim, write_config, capsys):
    cfg = write_config(
        f'[station]\nid = "B7"\n[label_printer]\nurl = "{printer_sim.url}"\nlanguage = "zpl"\n'
    )
    assert main(["--config", cfg, "devices", "test-print"]) == 0
    (job,) = printer_sim.wait_for_jobs(1)
    assert job.startswith(b"^XA") and job.rstrip().endswith(b"^XZ") and b"^FDTEST-B7^FS" in job
    assert "sent a zpl test print" in capsys.readouterr().out


def test_test_print_escpos_and_pdf(printer_sim, write_config):
    cfg = write_config(
        f'[label_printer]\nurl = "{printer_sim.url}"\nlanguage = "escpos"\n'
        f'[document_printer]\nurl = "{printer_sim.url}"\nlanguage = "pdf"\n'
    )
    assert main(["--config", cfg, "devices", "test-print"]) == 0
    assert main(["--config", cfg, "devices", "test-print", "--printer", "document"]) == 0
    escpos_job, pdf_job = printer_sim.wait_for_jobs(2)
    assert escpos_job.startswith(b"\x1b@") and pdf_job.startswith(b"%PDF-")


def test_test_print_without_printer_says_so(write_config, capsys):
    cfg = write_config('[station]\nid = "B1"\n')
    assert main(["--config", cfg, "devices", "test-print"]) == 2
    assert "no label printer is configured" in capsys.readouterr().err


def test_test_print_refused(printer_sim, write_config, capsys):
    printer_sim.set_fault("refuse")
    cfg = write_config(f'[label_printer]\nurl = "{printer_sim.url}"\nlanguage = "zpl"\n')
    assert main(["--config", cfg, "devices", "test-print", "--timeout", "2"]) == 1
    assert "refused the connection" in capsys.readouterr().err


def test_printer_status(printer_sim, write_config, capsys):
    cfg = write_config(f'[label_printer]\nurl = "{printer_sim.url}"\nlanguage = "zpl"\n')
    assert main(["--config", cfg, "devices", "printer-status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"ready": True, "problems": []}
    printer_sim.paused = True  # a Zebra reports a pause in its ~HS reply
    assert main(["--config", cfg, "devices", "printer-status"]) == 1
    assert "paused" in capsys.readouterr().out
    printer_sim.paused, printer_sim.paper_out = False, True  # ...but sends no reply when out of labels
    assert main(["--config", cfg, "devices", "printer-status"]) == 1
    err = capsys.readouterr().err
    assert "not answering" in err and "check the paper" in err and "language" not in err


def test_listen_scanner_prints_symbology_and_gs1_fields(write_config, capsys):
    with PtyScannerSimulator(terminator="crlf") as sim:
        cfg = write_config(f'[scanner]\nserial = ["{sim.port}"]\n')

        def scan_when_ready():
            deadline = time.monotonic() + 5
            while "connected" not in capsys_err() and time.monotonic() < deadline:
                time.sleep(0.02)
            sim.scan("01040063813339311725063010LOT42", aim="]C1")
            sim.scan("CMD-CLOSE-CARTON")

        err_parts: list[str] = []

        def capsys_err() -> str:
            err_parts.append(capsys.readouterr().err)
            return "".join(err_parts)

        t = threading.Thread(target=scan_when_ready)
        t.start()
        try:
            rc = main(
                ["--config", cfg, "devices", "listen-scanner", "--count", "2", "--timeout", "10"]
            )
        finally:
            t.join(10)
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert out[0].startswith("serial ]C1") and "gtin 04006381333931" in out[0]
    assert "lot LOT42" in out[0] and "expiry 2025-06-30" in out[0]
    assert "command CMD-CLOSE-CARTON" in out[1]
    assert GS not in "".join(out)


def test_listen_scanner_without_scanner(write_config, capsys):
    assert main(["--config", write_config(""), "devices", "listen-scanner"]) == 2
    assert "no scanner is configured" in capsys.readouterr().err


def test_list_runs(capsys):
    assert main(["devices", "list"]) == 0
    assert capsys.readouterr().out.strip()


_EXEC_WITH_SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


class SimProcess:
    """`python -m packstation devices simulate ...` with stdout lines readable with a timeout."""

    def __init__(self, args: list[str], ignore_sigint: bool = False) -> None:
        cmd = [sys.executable, "-m", "packstation", *args]
        if ignore_sigint:  # as a shell starts a background job: SIG_IGN survives the exec
            cmd = [sys.executable, "-c", _EXEC_WITH_SIGINT_IGNORED, *cmd]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def line(self, timeout: float = 30.0) -> str:
        return self._lines.get(timeout=timeout)

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def interrupt(self, signum: int = signal.SIGINT) -> int:
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the simulator did not stop within 20 s of signal {signum}") from None
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(5)
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()


def test_simulate_scale_then_read_it(write_config, capsys):
    sim = SimProcess(["devices", "simulate", "scale", "--protocol", "cas", "--grams", "980"])
    try:
        port = sim.line().rsplit(" on ", 1)[1].strip()
        assert sim.line().strip() == f'config: [scale] port = "{port}"  protocol = "cas"'
        sim.send("1500\n")
        assert sim.line().strip() == "ok: 1500"
        cfg = write_config(f'[scale]\nport = "{port}"\nprotocol = "cas"\n')
        assert main(["--config", cfg, "devices", "read-scale", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["grams"] == 1500
    finally:
        assert sim.interrupt() == 0


def test_simulate_printer_prints_its_url_and_jobs():
    from packstation.adapters.devices.transports import open_transport

    sim = SimProcess(["devices", "simulate", "printer"])
    try:
        url = sim.line().rsplit(" on ", 1)[1].strip()
        sim.line()
        open_transport(url).send(b"^XA^XZ", timeout_s=5)
        assert sim.line().startswith("job 1: 6 bytes")
    finally:
        assert sim.interrupt() == 0


def test_simulate_scanner_sends_typed_lines(write_config):
    from packstation.adapters.devices.serial_scanner import SerialScannerReader

    sim = SimProcess(["devices", "simulate", "scanner", "--aim", "]E0"])
    got = []
    arrived = threading.Event()
    try:
        port = sim.line().rsplit(" on ", 1)[1].strip()
        connected = threading.Event()
        reader = SerialScannerReader(
            port,
            lambda s: (got.append(s), arrived.set()),
            on_state=lambda st: connected.set() if st.status.value == "connected" else None,
        ).start()
        try:
            assert connected.wait(5)
            sim.send("4006381333931\n")
            assert arrived.wait(5)
        finally:
            reader.stop()
    finally:
        assert sim.interrupt() == 0
    assert (got[0].data, got[0].symbology) == ("4006381333931", "]E0")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("device", ["scale", "printer", "scanner"])
def test_simulator_stops_on_a_signal_even_when_started_with_sigint_ignored(device, signum):
    """A background job (``&``, ``nohup``) inherits SIGINT ignored; SIGTERM is what ``kill`` and
    service managers send. Either must stop the simulator cleanly (exit 0, after its stop())."""
    sim = SimProcess(["devices", "simulate", device], ignore_sigint=True)
    try:
        assert " simulator on " in sim.line()  # started: the signal handlers are in place
        assert sim.line().startswith("config: ")
    finally:
        assert sim.interrupt(signum) == 0
