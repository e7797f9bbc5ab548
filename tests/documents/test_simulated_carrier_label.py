"""The simulated carrier's ZPL label, the way the demo and the e2e tests print it: sent over the raw
TCP transport to the ZPL printer simulator (``adapters/devices/simulators/tcp_printer.py``, as the
device tests use it), and the bytes the printer received read back.

What a ZPL label must be comes from Zebra's ZPL II Programming Guide: one format opens with ``^XA``
and ends with ``^XZ``; ``^BC`` is a Code 128 field and ``^FD`` its data. The barcodes are checked
by rendering the received bytes with zpl-renderer-js and decoding them with zbarimg (neither is
ours), against the tracking number the carrier handed back and the SSCC the station gave.
"""

from __future__ import annotations

from decimal import Decimal

from doc_read import zbar
from zpl_parse import parse

from packstation.adapters.carriers.simulated import SimulatedCarrier
from packstation.adapters.devices.printers import open_transport
from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator
from packstation.config import CarrierConfig
from packstation.domain.barcodes import sscc18
from packstation.domain.documents import Address as DocAddress
from packstation.domain.model import Address
from packstation.services.carriers import Parcel, ShipmentRequest

SSCC = sscc18(0, "0614141", 4242)


def request(fmt: str = "ZPL") -> ShipmentRequest:
    return ShipmentRequest(
        order_id="SO-7001", carton_seq=1, sscc=SSCC, carrier="DHL", service="Paket",
        ship_from=DocAddress(name="Acme Fulfilment B.V.", line1="Havenweg 12", city="Rotterdam", postcode="3089 JK",
                             country="NL"),
        ship_to=Address(name="Anna Schmidt", line1="Hauptstraße 12", city="Berlin", postcode="10115", country="DE"),
        recipient_email="anna@example.com", recipient_phone="+49 30 1234567", parcel=Parcel(1250, 350, 250, 150),
        label_format=fmt, cod_amount=Decimal("49.90"), currency="EUR",
    )


def test_the_simulated_carriers_zpl_label_prints_whole_on_a_zpl_printer(zpl_renderer, tmp_path) -> None:
    carrier = SimulatedCarrier(CarrierConfig(code="DHL", connector="simulated", tracking_prefix="00340434"))
    created = carrier.create_shipment(request())
    assert created.label_format == "ZPL" and created.tracking_number
    with TcpPrinterSimulator() as printer:
        open_transport(printer.url).send(created.label, timeout_s=5)
        [received] = printer.wait_for_jobs(1)
    assert received == created.label  # the printer got every byte, once
    text = received.decode("utf-8")
    # one format: ^XA first, ^XZ last (ZPL II Programming Guide, "^XA Start Format" / "^XZ End Format")
    assert text.lstrip().startswith("^XA") and text.rstrip().endswith("^XZ")
    assert text.count("^XA") == 1 and text.count("^XZ") == 1
    fmt = parse(text)
    code128 = [f.data for f in fmt.fields if f.get("BC") is not None]
    assert any(created.tracking_number in (data or "") for data in code128), code128
    # drawn by an independent renderer and scanned back: the tracking number and the carton's SSCC
    [png] = zpl_renderer.render([(text, 101.6, 152.4, 203, tmp_path / "dhl-label.png")])
    symbols = {(s.type, s.gs1): s.data for s in zbar(png)}
    assert symbols.get(("CODE-128", False)) == created.tracking_number
    assert symbols.get(("CODE-128", True)) == "00" + SSCC


def test_a_pdf_label_printer_gets_the_simulated_carriers_label_as_pdf() -> None:
    carrier = SimulatedCarrier(CarrierConfig(code="DHL", connector="simulated", tracking_prefix="00340434"))
    created = carrier.create_shipment(request("PDF"))
    assert created.label_format == "PDF" and created.label.startswith(b"%PDF-")  # ISO 32000-1, 7.5.2 file header
