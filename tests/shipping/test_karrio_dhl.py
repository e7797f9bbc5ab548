"""The karrio carrier adapter at its HTTP boundary: DHL Parcel DE answered by a local stub server.

The stub (FastAPI under uvicorn, 127.0.0.1 on a free port) serves DHL's token, shipping and
tracking endpoints with the request/response samples of karrio's own connector tests
(``samples/README.md``), DHL's error answers, and answers that never come (timeouts). The adapter
is configured exactly as a warehouse would, with ``server_url`` pointing at the stub.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from packstation.adapters.carriers.karrio_carrier import KarrioCarrier
from packstation.config import CarrierConfig
from packstation.domain.documents import Address as DocAddress
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import Address
from packstation.domain.packing import Verdict
from packstation.services import carriers as carrier_service
from packstation.services.carriers import CarrierError, CarrierTimeout, Parcel, ShipmentRequest

S = sys.modules["packstation_tests_shipping"]
SAMPLES = Path(__file__).with_name("samples")
TOKEN = {"access_token": "stub-access-token", "token_type": "Bearer", "expires_in": "1799"}


class DhlStub:
    """DHL Parcel DE as far as the adapter sees it; ``mode`` says how the next answers go."""

    def __init__(self) -> None:
        self.mode = "ok"  # ok | unauthorized | invalid | hang
        self.hang_s = 1.0
        self.requests: list[dict[str, Any]] = []
        app = FastAPI()

        @app.post("/parcel/de/account/auth/ropc/v1/token")
        async def token(request: Request) -> Response:
            form = urllib.parse.parse_qs((await request.body()).decode())
            self.requests.append({"path": "token", "form": form})
            return Response(json.dumps(TOKEN), media_type="application/json")

        @app.post("/parcel/de/shipping/v2/orders")
        async def orders(request: Request) -> Response:
            body = json.loads(await request.body())
            self.requests.append({"path": "orders", "query": dict(request.query_params), "body": body,
                                  "auth": request.headers.get("authorization")})
            if self.mode == "hang":
                await asyncio.sleep(self.hang_s)
            if self.mode == "unauthorized":
                return Response((SAMPLES / "dhl_parcel_de_error_401.json").read_text(), status_code=401,
                                media_type="application/json")
            if self.mode == "invalid":
                return Response((SAMPLES / "dhl_parcel_de_validation_error_400.json").read_text(), status_code=400,
                                media_type="application/json")
            return Response((SAMPLES / "dhl_parcel_de_shipment_response.json").read_text(), media_type="application/json")

        @app.delete("/parcel/de/shipping/v2/orders")
        async def cancel(request: Request) -> Response:
            self.requests.append({"path": "cancel", "query": dict(request.query_params)})
            return Response((SAMPLES / "dhl_parcel_de_cancel_response.json").read_text(), media_type="application/json")

        @app.get("/parcel/de/tracking/v0/shipments")
        async def tracking(request: Request) -> Response:
            self.requests.append({"path": "tracking", "xml": request.query_params.get("xml", ""),
                                  "auth": request.headers.get("authorization")})
            name = "dhl_parcel_de_tracking_error.xml" if self.mode == "invalid" else "dhl_parcel_de_tracking_response.xml"
            return Response((SAMPLES / name).read_text(), media_type="application/xml")

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DhlStub:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "stub server did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def of(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def dhl() -> Any:
    stub = DhlStub().start()
    yield stub
    stub.stop()


def account(stub: DhlStub, **kw: Any) -> CarrierConfig:
    return CarrierConfig(
        code="DHL", connector="dhl_parcel_de", server_url=stub.url, timeout_s=kw.pop("timeout_s", 2.0),
        credentials={"username": "user-valid", "password": "SandboxPasswort2023!", "client_id": "env:STUB_DHL_ID",
                     "client_secret": "secret"},
        options={"default_billing_number": "33333333330102"}, services={"Paket": "dhl_parcel_de_paket"}, **kw)


def request() -> ShipmentRequest:
    return ShipmentRequest(
        order_id="SO-1", carton_seq=1, sscc="006141410000000012", carrier="DHL", service="Paket",
        ship_from=DocAddress(name="My Online Shop GmbH", line1="Sträßchensweg 10", city="Bonn", postcode="53113",
                             country="DE"),
        ship_to=Address(name="Maria Muster", line1="Kurt-Schumacher-Str. 20", line2="Apartment 107", city="Bonn",
                        postcode="53113", country="DE"),
        recipient_email="maria@musterfrau.de", recipient_phone="+49 987654321", parcel=Parcel(500, 200, 150, 100),
        label_format="PDF")


def test_create_shipment_sends_dhl_its_request_and_reads_the_label(dhl, monkeypatch):
    monkeypatch.setenv("STUB_DHL_ID", "client-from-env")
    carrier = KarrioCarrier(account(dhl))
    created = carrier.create_shipment(request())
    # the answer of karrio's sample: DHL's shipment number and a real PDF label
    assert created.tracking_number == "0034043333301020022796580"
    assert created.label_format == "PDF" and created.label.startswith(b"%PDF-1.5")
    [token] = dhl.of("token")
    assert token["form"]["client_id"] == ["client-from-env"]  # env: credentials are read from the environment
    assert token["form"]["grant_type"] == ["password"] and token["form"]["username"] == ["user-valid"]
    [sent] = dhl.of("orders")
    assert sent["auth"] == "Bearer stub-access-token"
    assert sent["query"]["docFormat"] == "PDF" and sent["query"]["printFormat"] != "A4"
    shipment = sent["body"]["shipments"][0]
    assert shipment["product"] == "V01PAK"  # DHL Paket
    assert shipment["billingNumber"] == "33333333330102"
    assert shipment["refNo"] == "SO-1/1"
    assert shipment["consignee"]["name1"] == "Maria Muster" and shipment["consignee"]["postalCode"] == "53113"
    assert shipment["consignee"]["addressStreet"] == "Kurt-Schumacher-Str." and shipment["consignee"]["addressHouse"] == "20"
    assert shipment["details"]["weight"] == {"uom": "kg", "value": 0.5}


def test_a_zpl_label_printer_gets_zpl_from_dhl(dhl):
    carrier = KarrioCarrier(account(dhl))
    carrier.create_shipment(ShipmentRequest(**{**request().__dict__, "label_format": "ZPL"}))
    assert dhl.of("orders")[0]["query"]["docFormat"] == "ZPL2"


def test_dhl_error_answers_become_the_carriers_reason(dhl):
    carrier = KarrioCarrier(account(dhl))
    dhl.mode = "unauthorized"
    with pytest.raises(CarrierError, match="Unauthorized for given resource"):
        carrier.create_shipment(request())
    dhl.mode = "invalid"
    with pytest.raises(CarrierError, match="Street name is required"):
        carrier.create_shipment(request())


def test_a_carrier_that_does_not_answer_times_out_within_the_accounts_timeout(dhl):
    carrier = KarrioCarrier(account(dhl, timeout_s=0.5))
    carrier.create_shipment(request())  # token fetched and cached
    dhl.mode = "hang"
    started = time.monotonic()
    with pytest.raises(CarrierTimeout, match="did not answer within 0.5 s"):
        carrier.create_shipment(request())
    assert time.monotonic() - started < 1.5


def test_an_unreachable_carrier_is_said_so():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens there once closed
    carrier = KarrioCarrier(CarrierConfig(code="DHL", connector="dhl_parcel_de", server_url=f"http://127.0.0.1:{port}",
                                          credentials={"username": "u", "password": "p", "client_id": "c",
                                                       "client_secret": "s"}, timeout_s=2))
    with pytest.raises(CarrierError, match="cannot be reached|refused"):
        carrier.create_shipment(request())


def test_void_and_tracking_through_dhl(dhl):
    carrier = KarrioCarrier(account(dhl))
    carrier.void("340434310428091700")
    assert dhl.of("cancel")[0]["query"]["shipment"] == "340434310428091700"
    [update] = carrier.track(["00340434161094015902"])
    # karrio's sample: delivered in Bonn on 18.03.2016 at 10:02
    assert update.status is OrderStatus.DELIVERED and update.tracking_number == "00340434161094015902"
    assert update.at is not None and update.at.isoformat().startswith("2016-03-18T10:02")
    assert dhl.of("tracking")[0]["auth"].startswith("Basic ")
    assert 'piece-code="00340434161094015902"' in dhl.of("tracking")[0]["xml"]
    dhl.mode = "invalid"
    assert carrier.track(["00340434161094015902"]) == []  # "No data found": nothing moves
    assert carrier.supports_close is False  # karrio has no end-of-day close for DHL Parcel DE


def test_a_carrier_timing_out_at_the_seal_never_blocks_packing(dhl, make_shipping_station):
    """Carton sealed, LABEL NOT CREATED with the reason, the lead view lists it, retried, printed once."""
    clock = S.TickingClock(step_s=0.001)
    station = make_shipping_station(carriers=(account(dhl, timeout_s=0.5),), clock=clock)
    dhl.mode = "hang"
    bench = S.login(station, "PACKER-001")
    started = time.monotonic()
    [seal] = S.pack(bench, "SO-1C", [["TY-1"]])
    assert time.monotonic() - started < 5
    assert seal.verdict is Verdict.LABEL_NOT_CREATED and seal.data["headline"] == "LABEL NOT CREATED"
    assert "did not answer within 0.5 s" in seal.message and seal.data["order_complete"] is True
    assert bench.handler.pack is None  # the order is packed: the bench is free for the next one
    carton = S.cartons_of(station, "SO-1C")[0]
    assert carton["status"] == "closed" and carton["sscc"] and carton["tracking_number"] is None
    assert [r.job.kind for r in station.print_worker.drain()] == ["packing_slip"]  # no label without the carrier's
    lead = station.system_session()
    [waiting] = carrier_service.waiting_labels(station.ctx, lead)
    assert waiting.carrier == "DHL" and "did not answer" in waiting.error and waiting.attempts == 1
    # the next seal within the minute does not wait for DHL again
    started = time.monotonic()
    [second] = S.pack(bench, "SO-2C", [["TS-1", "HW-1"]])
    assert second.verdict is Verdict.LABEL_NOT_CREATED and time.monotonic() - started < 0.4
    # not due yet: the worker leaves it
    assert station.label_worker.drain() == []
    # DHL answers again; the retry comes when due
    dhl.mode = "ok"
    clock.advance(20)
    results = station.label_worker.drain()
    assert [r.ok for r in results] == [True, True]
    carton = S.cartons_of(station, "SO-1C")[0]
    assert carton["tracking_number"] == "0034043333301020022796580" and carton["label_carrier"] == "DHL"
    printed = [r for r in station.print_worker.drain() if r.job.kind == "shipping_label"]
    assert len(printed) == 2 and all(r.ok and r.job.payload.startswith(b"%PDF") for r in printed)
    assert carrier_service.waiting_labels(station.ctx, lead) == []
    # printed once: nothing is retried or printed again
    clock.advance(3600)
    assert station.label_worker.drain() == [] and station.print_worker.drain() == []
    from packstation.services.reports import order_status

    kinds = [e["kind"] for e in order_status(station.ctx, lead, "SO-1C")["events"]]
    assert kinds.count("carton.label_failed") == 1 and kinds.count("carton.label_created") == 1
    # the dock waited for the label: now it loads
    dock = S.login(station, "DISPATCH-001")
    dock.scan("CARRIER-DHL")
    assert dock.scan(carton["sscc"]).verdict is Verdict.CARTON_LOADED


def test_the_dock_refuses_a_carton_whose_carrier_label_is_still_missing(dhl, make_shipping_station):
    station = make_shipping_station(carriers=(account(dhl, timeout_s=0.5),))
    dhl.mode = "unauthorized"
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-1C", [["TY-1"]])
    dock = S.login(station, "DISPATCH-001")
    dock.scan("CARRIER-DHL")
    out = dock.scan(S.cartons_of(station, "SO-1C")[0]["sscc"])
    assert out.verdict is Verdict.LABEL_MISSING and out.data["headline"] == "NO CARRIER LABEL YET"
