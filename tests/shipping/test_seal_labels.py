"""The carrier's label at the seal, on a real SQLite station with the simulated carrier.

- The seal in two steps (``packing.PendingSeal``, as the window runs it: the carrier asked off the
  GUI thread, the seal stored after): a seal whose transaction fails after the carrier made the
  label voids that shipment (``carriers.void_quietly``), for the database refusing the write and
  for a claim lost meanwhile; sealing again makes one shipment that stands.
- The simulated carrier's ZPL label through the station's print worker to a ZPL printer simulator
  on loopback TCP: the printer gets one whole ``^XA`` ... ``^XZ`` format carrying the carton's
  tracking number (ZPL II Programming Guide: ``^XA`` starts a format, ``^XZ`` ends it).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from pathlib import Path

from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator
from packstation.config import PrinterConfig
from packstation.domain.packing import Verdict
from packstation.services import packing
from packstation.services.packing import PendingSeal

S = sys.modules["packstation_tests_shipping"]


def weighed(station, order_id: str, skus: list[str]):
    """A packer's bench with *order_id*'s carton filled and weighed: the seal handed back, carrier not asked yet."""
    terminal = S.login(station, "PACKER-001")
    assert terminal.scan(order_id).verdict is Verdict.ORDER_OPENED
    assert terminal.scan("BOX-M").verdict is Verdict.CARTON_OPENED
    for sku in skus:
        assert terminal.scan(S.BARCODE[sku]).verdict is Verdict.ACCEPTED
    assert terminal.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
    bench = terminal.handler
    bench.labels_in_background = True  # as in the window
    out = bench.close_with_weight(bench.pack.expected_weight(bench.pack.open_carton))
    assert out.verdict is Verdict.CREATING_LABEL and out.data["carrier"] == "DHL", out.message
    seal = out.data["seal"]
    assert isinstance(seal, PendingSeal) and bench.sealing is seal
    return terminal, bench, seal


def hold_write_lock(path: Path, until: threading.Event, held: threading.Event) -> threading.Thread:
    """Another program holding the station database's write lock (a real SQLite lock on its file)."""
    def run() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        until.wait(30)
        other.execute("ROLLBACK")
        other.close()

    thread = threading.Thread(target=run, name="write-lock-holder")
    thread.start()
    return thread


def test_a_seal_the_database_refuses_after_the_carrier_made_the_label_voids_the_shipment(make_shipping_station,
                                                                                           tmp_path):
    station = make_shipping_station()
    dhl = station.ctx.carriers.accounts["DHL"]
    _terminal, bench, seal = weighed(station, "SO-1C", ["TY-1"])
    seal.ask_carrier()  # the carrier made the label ...
    [(shipment_id, shipment)] = dhl.shipments.items()
    assert not shipment.voided and seal.label is not None and seal.label.created is not None
    release, held = threading.Event(), threading.Event()
    holder = hold_write_lock(tmp_path / "station.db", release, held)
    try:
        assert held.wait(10)
        out = bench.finish_seal(seal)  # ... and the seal's transaction cannot be stored
    finally:
        release.set()
        holder.join(10)
    assert out.verdict is Verdict.STORAGE_FAILED, out.message
    assert dhl.shipments[shipment_id].voided  # the label will not be used: the shipment is cancelled
    carton = S.cartons_of(station, "SO-1C")[0]
    assert carton["status"] == "open" and carton["tracking_number"] is None and carton["sscc"] is None
    assert station.print_worker.drain() == []  # nothing printed for a seal that did not happen
    # the packer seals again: one new shipment, which stands
    assert bench.pack.open_carton is not None and bench.sealing is None
    bench.weighing_for = (bench.pack.order.order_id, bench.pack.open_carton.seq)
    again = bench.close_with_weight(bench.pack.expected_weight(bench.pack.open_carton))
    assert again.verdict is Verdict.CREATING_LABEL
    done = bench.finish_seal(again.data["seal"].ask_carrier())
    assert done.verdict is Verdict.ORDER_COMPLETE, done.message
    standing = [sid for sid, s in dhl.shipments.items() if not s.voided]
    assert len(dhl.shipments) == 2 and len(standing) == 1
    carton = S.cartons_of(station, "SO-1C")[0]
    assert carton["status"] == "closed" and f"{dhl.code}-{carton['tracking_number']}" == standing[0]
    labels = [r for r in station.print_worker.drain() if r.job.kind == "shipping_label"]
    assert len(labels) == 1 and labels[0].ok


def test_a_claim_lost_while_the_carrier_answered_voids_the_shipment(make_shipping_station):
    station = make_shipping_station()
    dhl = station.ctx.carriers.accounts["DHL"]
    _terminal, bench, seal = weighed(station, "SO-1C", ["TY-1"])
    lead = station.ctx.auth.login("LEAD-001", S.LEAD_PIN)
    seal.ask_carrier()
    # while the carrier answered, a lead released the order from this bench (it looked stuck)
    assert packing.release_claim(station.ctx, lead, "SO-1C", "bench looked stuck").verdict is Verdict.ORDER_RELEASED
    out = bench.finish_seal(seal)
    assert out.verdict is Verdict.ORDER_REFUSED and out.data.get("claim_lost"), out.message
    [shipment] = dhl.shipments.values()
    assert shipment.voided
    assert S.cartons_of(station, "SO-1C")[0]["status"] == "open"


def test_the_simulated_carriers_zpl_label_prints_once_on_a_zpl_printer(make_shipping_station):
    with TcpPrinterSimulator() as printer:
        station = make_shipping_station(label_printer=PrinterConfig(url=printer.url, language="zpl"))
        terminal = S.login(station, "PACKER-001")
        [seal] = S.pack(terminal, "SO-2C", [["TS-1", "HW-1"]])
        assert seal.verdict is Verdict.ORDER_COMPLETE, seal.message
        carton = S.cartons_of(station, "SO-2C")[0]
        assert carton["label_carrier"] == "DHL" and carton["tracking_number"]
        assert carton["tracking_number"] in seal.message  # the verdict names it
        results = station.print_worker.drain()
        labels = [r for r in results if r.job.kind == "shipping_label"]
        assert len(labels) == 1 and labels[0].ok, [r.message for r in results]
        [job] = printer.wait_for_jobs(1)
        assert station.print_worker.drain() == [] and printer.jobs == [job]  # printed once
    text = job.decode("utf-8")
    assert text.lstrip().startswith("^XA") and text.rstrip().endswith("^XZ") and text.count("^XA") == 1
    assert carton["tracking_number"] in text and carton["sscc"] in text


def test_a_slow_simulated_carrier_answers_late_and_one_slower_than_its_timeout_times_out(shipping_station):
    """``delay_s`` (the demo's way to rehearse a slow carrier): the label comes late, or not within timeout_s."""
    import pytest

    from packstation.adapters.carriers.simulated import SimulatedCarrier
    from packstation.config import parse_carriers
    from packstation.services.carriers import CarrierTimeout, shipment_request

    [slow] = parse_carriers({"DHL": {"connector": "simulated", "delay_s": 0.05, "timeout_s": 5}})
    assert slow.delay_s == 0.05
    _terminal, _bench, seal = weighed(shipping_station, "SO-1C", ["TY-1"])
    req = shipment_request(shipping_station.ctx, seal.after.order, seal.sealed)
    assert SimulatedCarrier(slow).create_shipment(req).tracking_number
    [hanging] = parse_carriers({"DHL": {"connector": "simulated", "delay_s": 5, "timeout_s": 0.05}})
    with pytest.raises(CarrierTimeout, match="did not answer within 0.05 s"):
        SimulatedCarrier(hanging).create_shipment(req)
