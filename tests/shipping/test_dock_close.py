"""Loading and closing at the dispatch dock (issue 11): a carton on another open manifest, the rest
of a split order, a carton loaded while a close waits for the carrier, a carrier whose end-of-day
close fails, and the manifest numbers of docks closing at the same time.

Real SQLite files and real PostgreSQL servers, through the station's composition root; the docks
work by scans, with the simulated carrier for the accounts.
"""

from __future__ import annotations

import sys

from packstation.domain.packing import Verdict
from packstation.services.reports import order_status

S = sys.modules["packstation_tests_shipping"]


def status(station, order_id):
    return order_status(station.ctx, station.system_session(), order_id)


def events(station, kind):
    with station.uow(readonly=True) as uow:
        return [e for e in uow.events.since(S.NOW) if e.kind == kind]


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
