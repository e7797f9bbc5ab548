"""Ids never become paths (issue 8: "an order imported with order_id ``../../../escaped`` is
accepted and used in PDF file names"): imports refuse such ids with a reason, and the PDF folder
writes only inside the documents folder whatever a job's ref or file name holds.
"""

from __future__ import annotations

import os
from pathlib import Path

import helpers_faults as hf
import pytest

from packstation.adapters.devices.printers import StationPrinters
from packstation.bootstrap import Station
from packstation.domain.print_jobs import PrintJob

HOSTILE = {
    "parent dirs": "../../../escaped",
    "absolute": "/tmp/escaped-order",
    "nul": "SO-1\x00.pdf",
    "500 chars": "S" * 500,
    "backslashes": "..\\..\\escaped",
    "dot dot inside": "SO-1/../../escaped",
}


@pytest.fixture
def station(tmp_path: Path) -> Station:
    st = hf.new_station(tmp_path / "data")
    report = hf.import_recs(st, "catalog", [{"sku": "TS-1", "name": "Tee", "weight_g": 200, "barcodes": []}])
    assert report.ok, report.rejected
    yield st
    st.close()


def _order(order_id: str) -> dict[str, object]:
    return {
        "order_id": order_id, "channel": "web", "placed_at": "2026-11-20T09:15:00+01:00",
        "customer": {"name": "Anna Schmidt", "email": "anna@example.com"},
        "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                    "country": "DE"},
        "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL", "service": "Paket",
        "lines": [{"sku": "TS-1", "qty": 1, "unit_price": "9.95"}],
    }


@pytest.mark.parametrize("order_id", list(HOSTILE.values())[:4], ids=list(HOSTILE)[:4])
def test_an_order_id_that_could_be_a_path_is_refused_at_import(station: Station, order_id: str) -> None:
    before = hf.table_counts(station)
    report = hf.import_recs(station, "orders", [_order("SO-OK"), _order(order_id)])
    assert not report.ok
    [rejection] = report.rejected
    assert rejection.position == "record 2"
    assert "order_id" in rejection.reason and (
        "may hold only letters" in rejection.reason or "control characters" in rejection.reason
        or "longer than" in rejection.reason), rejection.reason
    assert len(str(rejection)) < 300  # a 500-character id is not repeated in full
    assert hf.table_counts(station) == before  # nothing stored, the good order neither


@pytest.mark.parametrize("tote", ["../totes", "TOTE\x00", "/etc"])
def test_a_tote_that_could_be_a_path_is_refused_too(station: Station, tote: str) -> None:
    report = hf.import_recs(station, "orders", [{**_order("SO-T"), "tote": tote}])
    assert not report.ok and "tote" in report.rejected[0].reason


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("field", ["ref", "file_name", "target"])
@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_the_pdf_folder_writes_only_inside_the_documents_folder(tmp_path: Path, field: str, value: str) -> None:
    documents = tmp_path / "station" / "documents"
    documents.mkdir(parents=True)
    printers = StationPrinters(documents, {"label": 9600})
    job = PrintJob(id="job-1", printer="label", target="folder:labels", kind="shipping_label", ref="SO-1/0",
                   payload=b"%PDF-1.4 test", file_name="SO-1.pdf")
    fields = {"ref": {"ref": value, "file_name": ""}, "file_name": {"file_name": value},
              "target": {"target": "folder:" + value}}[field]
    job = PrintJob(**{**job.__dict__, **fields})
    outside_before = _tree(tmp_path) - _tree(documents)
    where = Path(printers.send(job))
    assert where.resolve().is_relative_to(documents.resolve()), where
    assert where.read_bytes() == b"%PDF-1.4 test"
    assert len(where.name) <= 255 and "\x00" not in str(where)
    assert _tree(tmp_path) - _tree(documents) == outside_before  # nothing written anywhere else
    assert not Path("/tmp/escaped-order").exists() and not (tmp_path / "escaped").exists()
    # the same job again gets a name of its own: the earlier file is kept
    again = Path(printers.send(job))
    assert again != where and again.parent == where.parent and where.read_bytes() == b"%PDF-1.4 test"


def test_a_hostile_file_name_cannot_overwrite_through_a_symlink(tmp_path: Path) -> None:
    """A link planted in the folder (by anyone with access) is not followed out of it."""
    documents = tmp_path / "documents"
    (documents / "labels").mkdir(parents=True)
    victim = tmp_path / "victim.pdf"
    victim.write_bytes(b"keep me")
    os.symlink(victim, documents / "labels" / "SO-1.pdf")
    printers = StationPrinters(documents, {})
    where = Path(printers.send(PrintJob(id="j", printer="label", target="folder:labels", kind="shipping_label",
                                        ref="SO-1", payload=b"new", file_name="SO-1.pdf")))
    assert victim.read_bytes() == b"keep me"
    assert where.resolve().is_relative_to(documents.resolve()) and where.read_bytes() == b"new"
