"""A return parcel on its way back, through the simulated carrier on a real database: the order is
packed, handed over and delivered by tracking; the shop's returns record names the return label's
tracking number (the simulated carrier issued it); the tracking poller asks the carrier about it and
the return becomes *picked* once the customer has handed the parcel in; the returns desk finds the
return by that parcel's label. And ``packstation tracking poll --once`` says so."""

from __future__ import annotations

import sys

import pytest

from packstation.domain.identity import ActorKind
from packstation.domain.packing import Verdict
from packstation.services import carriers as carrier_service
from packstation.services import returns as rs
from packstation.services import users
from packstation.services.imports import import_records
from packstation.services.reports import order_status

S = sys.modules["packstation_tests_shipping"]


def hand_over_and_deliver(station, order_id: str) -> None:
    S.pack(S.login(station, "PACKER-001"), order_id, [["TY-1"]])
    dock = S.login(station, "DISPATCH-001")
    assert dock.scan("CARRIER-DHL").verdict is Verdict.MANIFEST_OPENED
    assert dock.scan(S.cartons_of(station, order_id)[0]["sscc"]).verdict is Verdict.CARTON_LOADED
    assert dock.scan("CMD-CLOSE-MANIFEST").verdict is Verdict.MANIFEST_CLOSED
    account = station.ctx.carriers.for_carrier("DHL")
    account.deliver_after_s = 0
    carrier_service.poll_tracking(station.ctx, carrier_service.TrackingPoller(clock=lambda: 0.0))
    assert order_status(station.ctx, station.system_session(), order_id)["status"] == "delivered"
    account.deliver_after_s = 3600


def announce(station, rma_id: str, order_id: str, number: str) -> None:
    record = {"rma_id": rma_id, "order_id": order_id, "reason": "wrong size", "lines": [{"sku": "TY-1", "qty": 1}],
              "status": "initiated", "tracking_number": number}  # carrier: the order's (DHL)
    importer = station.system_session(ActorKind.IMPORT, "test")
    report = import_records(station.ctx, importer, "returns", [("record 1", record)], "returns.json")
    assert report.ok, report.rejected


def return_status(station, rma_id: str) -> str:
    return rs.detail(station.ctx, station.system_session(), rma_id)["status"]


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_carriers_tracking_moves_a_return_to_picked_once_the_parcel_is_handed_in(db, make_shipping_station,
                                                                                       request):
    url = request.getfixturevalue("fresh_pg_database") if db == "postgresql" else None
    station = make_shipping_station(url=url)
    hand_over_and_deliver(station, "SO-1C")
    dhl = station.ctx.carriers.for_carrier("DHL")
    number = dhl.issue_return_label("RMA-1C")  # the shop's returns portal got a return label for the customer
    announce(station, "RMA-1C", "SO-1C", number)
    assert rs.detail(station.ctx, station.system_session(), "RMA-1C")["tracking_number"] == number

    poller = carrier_service.TrackingPoller(clock=lambda: 0.0)
    assert carrier_service.poll_tracking(station.ctx, poller) == []  # label printed, parcel not handed in yet
    assert return_status(station, "RMA-1C") == "initiated"

    dhl.hand_in(number)
    poller.last_asked.clear()
    [event] = carrier_service.poll_tracking(station.ctx, poller)
    shown = rs.detail(station.ctx, station.system_session(), "RMA-1C")
    assert shown["status"] == "picked"
    assert [(e["kind"], e["actor"]) for e in shown["events"]] == [("return.initiated", "import:test"),
                                                                   ("return.picked", "carrier:DHL")]
    dhl.deliver_after_s = 0  # the parcel reached the warehouse's door: still only picked
    poller.last_asked.clear()
    assert carrier_service.poll_tracking(station.ctx, poller) == []
    assert return_status(station, "RMA-1C") == "picked"
    assert order_status(station.ctx, station.system_session(), "SO-1C")["status"] == "delivered"  # untouched

    # the returns desk opens the parcel by its return label
    users.add_user(station.ctx, station.system_session(), "Rae Returns", "returns", "RETURNS-001", None)
    desk = S.login(station, "RETURNS-001")
    opened = desk.scan(number)
    assert opened.verdict is Verdict.RETURN_OPENED, opened.message
    assert opened.data["rma_ids"] == ["RMA-1C"] and "found by return parcel" in opened.message


def test_the_tracking_worker_reports_the_return_that_moved_as_tracking_poll_prints_it(make_shipping_station, capsys):
    from packstation.cli.tracking import _print_round, round_json
    from packstation.workers import TrackingWorker

    station = make_shipping_station()
    hand_over_and_deliver(station, "SO-1C")
    dhl = station.ctx.carriers.for_carrier("DHL")
    number = dhl.issue_return_label("RMA-1C")
    announce(station, "RMA-1C", "SO-1C", number)
    dhl.hand_in(number)
    # the worker `packstation tracking poll` runs, on this station (whose simulated carrier issued the label)
    worker = TrackingWorker(station.ctx, poller=carrier_service.TrackingPoller(clock=lambda: 0.0), report=True)
    result = worker.poll_round()
    assert [(m.rma_id, m.order_id, m.carrier, m.before, m.after) for m in result.moved] == [
        ("RMA-1C", "SO-1C", "DHL", "initiated", "picked")]
    assert round_json(result)["moved"] == [{"order_id": "SO-1C", "carrier": "DHL", "from": "initiated", "to": "picked",
                                            "rma_id": "RMA-1C"}]
    _print_round(result, as_json=False, quiet_when_idle=False)
    assert capsys.readouterr().out == "RMA-1C (return of SO-1C): initiated -> picked (DHL)\n"
    assert return_status(station, "RMA-1C") == "picked"
