"""Print jobs are written with their cause and sent by a worker: never silently lost, never
silently doubled (issue 8, "printing sits outside the transaction").

A station process is killed with SIGKILL between the seal's commit and the send, or in the
middle of the send; the next start prints the label exactly once, or shows it as interrupted
for a lead to decide, never resending it on its own. The bytes the TCP printer simulator
received are what counts. Reprints are audited in one event and never overwrite a PDF.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest

from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator
from packstation.bootstrap import Station, build_station
from packstation.domain.packing import Verdict
from packstation.services import printing

HELPERS_PATH = Path(__file__).with_name("helpers_faults.py")


def _seal_in_a_process(data: Path, printer_url: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HELPERS_PATH), "seal", str(data), printer_url, mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _restart(data: Path, printer: TcpPrinterSimulator) -> Station:
    return build_station(hf.printing_config(data, printer.url), seed_demo=False)


def _jobs(station: Station) -> list[dict[str, Any]]:
    return hf.rows(station, "print_jobs", order_by="created_at")


def _until(what: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    hf.seed_for_packing(tmp_path / "data", orders=2)
    return tmp_path / "data"


def test_killed_between_the_seals_commit_and_the_send_the_label_prints_exactly_once(data: Path) -> None:
    with TcpPrinterSimulator() as printer:
        proc = _seal_in_a_process(data, printer.url, "die-after-commit")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, (out, err)
        assert "SEALED" not in out  # it died inside close_with_weight, after the commit

        station = _restart(data, printer)
        [carton] = [c for c in hf.rows(station, "cartons") if c["status"] == "closed"]
        jobs = _jobs(station)
        assert [(j["kind"], j["status"]) for j in jobs] == [("shipping_label", "pending"), ("packing_slip", "pending")]
        assert jobs[0]["ref"].endswith("/" + carton["sscc"])
        assert printer.jobs == []  # nothing was sent before the kill
        station.start_workers()  # a new station start: the worker resumes, then sends what is pending
        _until(lambda: [j["status"] for j in _jobs(station)] == ["done", "done"])
        station.close()
        received = printer.wait_for_jobs(1)
        assert len(received) == 1 and carton["sscc"] in received[0].decode()
        assert sum(map(len, received)) == len(jobs[0]["payload"])  # every byte of the label, once

        again = _restart(data, printer)  # and once more: nothing is sent twice
        again.print_worker.resume()
        assert again.print_worker.drain() == []
        again.close()
        time.sleep(0.2)
        assert len(printer.jobs) == 1


def test_killed_while_sending_the_label_is_interrupted_and_not_resent(data: Path) -> None:
    with TcpPrinterSimulator() as printer:
        printer.set_fault("hang")  # takes the connection, never reads: the send hangs
        proc = _seal_in_a_process(data, printer.url, "send")
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("SEALED "), (line, proc.stderr.read() if proc.stderr else "")
            sscc = line.split()[1]
            watcher = _restart(data, printer)
            _until(lambda: [j["status"] for j in _jobs(watcher)][:1] == ["sending"])
            watcher.close()
        finally:
            proc.kill()  # SIGKILL in the middle of the send
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        printer.set_fault(None)

        station = _restart(data, printer)
        interrupted = station.print_worker.resume()
        assert [j.kind for j in interrupted] == ["shipping_label"]  # type: ignore[attr-defined]
        results = station.print_worker.drain()
        assert [r.job.kind for r in results] == ["packing_slip"]  # the slip, pending, goes; the label does not
        time.sleep(0.2)
        assert printer.jobs == []  # not resent on its own: it may have printed already
        lead = hf.person(station, "PACKER-001")
        waiting = printing.waiting_jobs(station.ctx, lead)
        assert [(j.kind, j.status.value) for j in waiting] == [("shipping_label", "interrupted")]
        assert "check whether it printed" in waiting[0].error
        assert "print.interrupted" in hf.event_kinds(station)
        # a lead who checked the printer sends it again: now it prints, once
        hf.add_user(station, "Lee Lead", "lead", hf.LEAD_BADGE)
        printing.retry(station.ctx, hf.person(station, hf.LEAD_BADGE), waiting[0].id)
        [retried] = station.print_worker.drain()
        assert retried.ok, retried.message
        received = printer.wait_for_jobs(1)
        assert len(received) == 1 and sscc in received[0].decode()
        station.close()


def _lead_approval(bench: Any, reason_no: str) -> Any:
    assert bench.scan("CMD-REPRINT").verdict is Verdict.NEEDS_REASON
    assert bench.scan(reason_no).verdict is Verdict.NEEDS_LEAD
    assert bench.scan(hf.LEAD_BADGE).verdict is Verdict.NEEDS_PIN
    return bench.enter_pin(hf.LEAD_PIN)


def test_a_reprint_is_audited_in_one_event_asks_its_reason_each_time_and_never_overwrites(data: Path) -> None:
    station = build_station(hf.station_config(data), seed_demo=False)
    hf.add_user(station, "Lee Lead", "lead", hf.LEAD_BADGE)
    bench = hf.login(station)
    order_id = hf._next_released(station)
    assert order_id is not None
    sealed = hf.pack_order(bench, order_id)[-1]
    sscc = sealed.data["sscc"]
    [first] = [r for r in station.print_worker.drain() if r.job.kind == "shipping_label"]
    original = Path(first.where)
    before = hashlib.sha256(original.read_bytes()).hexdigest()

    # a reason is asked first, by number; a scan that is no reason number asks again
    assert bench.scan("CMD-REPRINT").verdict is Verdict.NEEDS_REASON
    assert bench.scan("00" + sscc).verdict is Verdict.NEEDS_REASON
    assert bench.scan("CMD-UNDO").verdict is Verdict.UNDONE
    reprints = []
    for reason_no, reason in (("1", "label damaged"), ("3", "printer jammed")):
        target = _lead_approval(bench, reason_no)  # the reason never carries over from the last reprint
        assert target.verdict is Verdict.NEEDS_REPRINT_TARGET
        done = bench.scan("]C100" + sscc)  # the carton's label scanned
        assert done.verdict is Verdict.REPRINT_REQUESTED and reason in done.message, done
        reprints.append(done)

    audit = [e for e in hf.rows(station, "events", order_by="seq") if e["kind"] == "label.reprinted"]
    payloads = [json.loads(e["payload"]) for e in audit]
    assert [(e["actor"], e["order_id"]) for e in audit] == [("person:Lee Lead", order_id)] * 2
    assert [(d["reason"], d["printer"], d["sscc"], d["for"]) for d in payloads] == [
        ("label damaged", "folder:labels", [sscc], "person:Pat Packer"),
        ("printer jammed", "folder:labels", [sscc], "person:Pat Packer")]
    assert [d["jobs"] for d in payloads] == [r.data["jobs"] for r in reprints]
    jobs = {j["id"]: j for j in _jobs(station)}
    assert [[jobs[i]["reason"] for i in d["jobs"]] for d in payloads] == [
        ["reprint: label damaged"], ["reprint: printer jammed"]]

    written = [Path(r.where) for r in station.print_worker.drain()]
    assert [p.name for p in written] == [original.stem + "-2.pdf", original.stem + "-3.pdf"]
    assert all(p.parent == original.parent for p in written)
    assert hashlib.sha256(original.read_bytes()).hexdigest() == before  # the earlier PDF is untouched
    station.close()
