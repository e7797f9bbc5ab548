"""Loading and closing at the dispatch dock (issue 11): a carton on another open manifest, the rest
of a split order, a carton loaded while a close waits for the carrier, a carrier whose end-of-day
close fails, and the manifest numbers of docks closing at the same time.

Real SQLite files and real PostgreSQL servers, through the station's composition root; the docks
work by scans, with the simulated carrier for the accounts.
"""

from __future__ import annotations

import sys

import pytest

from packstation.domain.packing import Verdict
from packstation.services import dock as dock_service
from packstation.services.reports import order_status

S = sys.modules["packstation_tests_shipping"]
DB = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def status(station, order_id):
    return order_status(station.ctx, station.system_session(), order_id)


def events(station, kind):
    with station.uow(readonly=True) as uow:
        return [e for e in uow.events.since(S.NOW) if e.kind == kind]


def split_close(dock, cartons):
    """Load *cartons* and close with a lead's approval (reason 3: driver's truck full)."""
    dock.scan("CARRIER-DHL")
    for c in cartons:
        assert dock.scan(c["sscc"]).verdict is Verdict.CARTON_LOADED
    assert dock.scan("CMD-CLOSE-MANIFEST").verdict is Verdict.MANIFEST_INCOMPLETE
    assert dock.scan("3").verdict is Verdict.NEEDS_LEAD
    assert dock.scan("LEAD-001").verdict is Verdict.NEEDS_PIN
    closed = dock.enter_pin(S.LEAD_PIN)
    assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
    return closed


# --- a carton on another open manifest ----------------------------------------------------------


def test_a_carton_on_another_open_manifest_is_refused_with_its_own_sound(shipping_station):
    from packstation.ui.sounds import VERDICT_PATTERNS

    station = shipping_station
    S.pack(S.login(station, "PACKER-001"), "SO-1C", [["TY-1"]])
    sscc = S.cartons_of(station, "SO-1C")[0]["sscc"]
    paket, every = S.login(station, "DISPATCH-001"), S.login(station, "DISPATCH-001")
    paket.scan("CARRIER-DHL/PAKET")
    assert paket.scan(sscc).verdict is Verdict.CARTON_LOADED
    every.scan("CARRIER-DHL")  # the manifest for every DHL service: another one
    out = every.scan(sscc)
    assert out.verdict is Verdict.ON_OTHER_MANIFEST and out.data["headline"] == "ON ANOTHER MANIFEST"
    assert "not loaded here" in out.message
    assert VERDICT_PATTERNS[Verdict.ON_OTHER_MANIFEST] != VERDICT_PATTERNS[Verdict.ALREADY_LOADED]
    assert out.verdict.tone is not Verdict.ALREADY_LOADED.tone  # red, not the amber no-op
    assert every.handler.view().manifest.cartons == []
    [refused] = events(station, "dock.refused")
    assert refused.payload["verdict"] == "on_other_manifest"


# --- the rest of a split order ------------------------------------------------------------------


@pytest.mark.parametrize("db", DB)
def test_the_rest_of_a_split_order_goes_on_the_next_manifest(db, make_shipping_station, request):
    url = request.getfixturevalue("fresh_pg_database") if db == "postgresql" else None
    station = make_shipping_station(url=url)
    S.pack(S.login(station, "PACKER-001"), "SO-4C", [["TS-1"], ["HW-1"], ["TY-1"], ["CP-1"]])
    cartons = S.cartons_of(station, "SO-4C")
    dock = S.login(station, "DISPATCH-001")
    assert split_close(dock, cartons[:3]).data["number"] == 1
    assert status(station, "SO-4C")["status"] == "handed_over"

    # the 4th carton ("driver's truck full") goes with the next driver
    assert dock.scan("CARRIER-DHL").verdict is Verdict.MANIFEST_OPENED
    loaded = dock.scan(cartons[3]["sscc"])
    assert loaded.verdict is Verdict.CARTON_LOADED, loaded.message
    assert loaded.data["headline"] == "LOADED — REST OF A SPLIT ORDER"
    # its handed-over cartons are not "missing": the page shows the order whole
    assert dock.handler.view().missing == []
    # a carton that left on M-000001 is still refused here
    again = dock.scan(cartons[0]["sscc"])
    assert again.verdict is Verdict.ON_CLOSED_MANIFEST and "M-000001" in again.message
    closed = dock.scan("CMD-CLOSE-MANIFEST")  # no split this time: nothing of the order is left behind
    assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
    assert closed.data["number"] == 2 and "1 carton(s) of 1 order(s)" in closed.message

    final = status(station, "SO-4C")
    assert final["status"] == "handed_over"  # it stays handed over: never back, never twice
    assert [s["stage"] for s in final["stages"]].count("handed_over") == 1
    assert [(m["code"], m["status"], m["cartons"]) for m in final["manifests"]] == [
        ("M-000001", "closed", [c["sscc"] for c in cartons[:3]]), ("M-000002", "closed", [cartons[3]["sscc"]])]
    [rest] = [e for e in final["events"] if e["kind"] == "carton.handed_over"]
    assert rest["data"]["sscc"] == cartons[3]["sscc"] and rest["data"]["manifest"] == "M-000002"
    assert rest["data"]["seq"] == 4 and rest["data"]["order_status"] == "handed_over"
    assert rest["actor"] == "person:Dan Dispatch"
    assert len(events(station, "order.handed_over")) == 1
    second = dock_service.find_manifest(station.ctx, station.system_session(), "M-000002")
    assert [(c.order_id, c.seq) for c in second.cartons] == [("SO-4C", 4)] and second.split_by is None
    [event] = [e for e in events(station, "manifest.closed") if e.payload["number"] == 2]
    assert event.payload["cartons"] == [{"order_id": "SO-4C", "seq": 4, "sscc": cartons[3]["sscc"]}]
    assert event.payload["split"] == []


def test_the_rest_of_a_split_order_must_leave_whole_too(shipping_station):
    """Two cartons left behind: loading one of them is a split again (1 of the 2 still to go)."""
    station = shipping_station
    S.pack(S.login(station, "PACKER-001"), "SO-4C", [["TS-1"], ["HW-1"], ["TY-1"], ["CP-1"]])
    cartons = S.cartons_of(station, "SO-4C")
    dock = S.login(station, "DISPATCH-001")
    split_close(dock, cartons[:2])
    dock.scan("CARRIER-DHL")
    assert dock.scan(cartons[2]["sscc"]).verdict is Verdict.CARTON_LOADED
    refused = dock.scan("CMD-CLOSE-MANIFEST")
    assert refused.verdict is Verdict.MANIFEST_INCOMPLETE
    assert "1 of 2 cartons" in refused.message and cartons[3]["sscc"] in refused.message
    dock.scan("CMD-UNDO")  # cancels the close
    assert dock.scan(cartons[3]["sscc"]).verdict is Verdict.CARTON_LOADED
    assert dock.scan("CMD-CLOSE-MANIFEST").verdict is Verdict.MANIFEST_CLOSED
    assert [len(m["cartons"]) for m in status(station, "SO-4C")["manifests"]] == [2, 2]
    assert len(events(station, "carton.handed_over")) == 2
