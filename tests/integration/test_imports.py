"""Imports of catalog, cartons, orders, returns and tracking files into a real SQLite station.

Every test checks what is stored by counting rows: a refused file stores nothing, an imported
file stores everything, and a file imported again changes nothing (rows and events alike).
The sample files in tests/fixtures/ are the README examples.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest

from packstation import demo
from packstation.bootstrap import Station
from packstation.services.imports import ImportFileError, import_file

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def station(tmp_path: Path) -> Any:
    st = hf.new_station(tmp_path / "data")
    yield st
    st.close()


def _import(station: Station, kind: str, path: Path) -> Any:
    return import_file(station.ctx, hf.importer(station), kind, path)


def _rows(station: Station, table: str, **where: Any) -> list[dict[str, Any]]:
    return hf.rows(station, table, **where)


def _base(station: Station) -> None:
    for kind, name in (("catalog", "catalog.json"), ("cartons", "cartons.csv")):
        report = _import(station, kind, FIXTURES / name)
        assert report.ok, report.rejected


def _flatten(rec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in rec.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _orders_csv(records: list[dict[str, Any]]) -> str:
    """Orders as CSV, one row per line item, nested fields as dotted columns."""
    rows = []
    for rec in records:
        head = _flatten({k: v for k, v in rec.items() if k != "lines"})
        rows += [{**head, **line} for line in rec["lines"]]
    return _csv(rows)


def _catalog_csv(records: list[dict[str, Any]]) -> str:
    rows = [{**{k: v for k, v in r.items() if k not in ("barcodes", "pack_barcodes")},
             "barcodes": "|".join(r.get("barcodes", [])),
             "pack_barcodes": "|".join(f"{p['barcode']}:{p['qty']}" for p in r.get("pack_barcodes", []))}
            for r in records]
    return _csv(rows)


def _csv(rows: list[dict[str, Any]]) -> str:
    header = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _write(path: Path, records: list[dict[str, Any]], kind: str) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    elif path.suffix == ".ndjson":
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    else:
        path.write_text(_orders_csv(records) if kind == "orders" else _catalog_csv(records), encoding="utf-8")
    return path


def _order(order_id: str = "WEB-1", **changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "order_id": order_id, "channel": "shop-web", "placed_at": "2026-11-20T09:15:00+01:00",
        "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": "+49 30 1"},
        "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "line2": "", "city": "Berlin",
                    "region": "", "postcode": "10115", "country": "DE"},
        "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"},
        "carrier": "DHL", "service": "Paket",
        "lines": [{"sku": "TS-2001", "qty": 2, "unit_price": "19.95"}],
    }
    rec.update(changes)
    return rec


# --- the sample files, in every format ------------------------------------------------------------


def test_sample_files_import_in_every_format(station: Station) -> None:
    cat = _import(station, "catalog", FIXTURES / "catalog.json")
    assert (cat.records, cat.created, cat.ok) == (5, 5, True)
    assert "5 new" in cat.summary()
    codes = {(r["code"], r["sku"], r["qty"]) for r in _rows(station, "barcodes")}
    assert ("18712345000018", "TS-2001", 6) in codes  # pack barcode counts 6
    assert ("EARBUDS-BLK", "EL-2005", 1) in codes  # second barcode
    assert len(codes) == 8

    cartons = _import(station, "cartons", FIXTURES / "cartons.csv")
    assert (cartons.records, cartons.created) == (4, 4)
    box_m = _rows(station, "carton_types", code="BOX-M")[0]
    assert (box_m["tare_g"], box_m["inner_l_mm"], box_m["inner_w_mm"], box_m["inner_h_mm"], box_m["max_weight_g"]) == (
        280, 350, 250, 150, 10000)

    nd = _import(station, "orders", FIXTURES / "orders.ndjson")
    assert (nd.records, nd.created, nd.ok) == (4, 4, True)
    rows = _import(station, "orders", FIXTURES / "orders.csv")
    assert (rows.records, rows.created, rows.ok) == (3, 3, True)  # 5 CSV rows, 3 orders
    status = {r["order_id"]: r["status"] for r in _rows(station, "orders")}
    assert status == {
        "WEB-5001": "released", "AMZ-302-7781": "released", "COD-9001": "released",
        "WEB-5002": "on_hold",  # prepaid, payment pending
        "ZAL-88001": "released", "EBY-4410": "on_hold", "COD-9002": "released",  # COD is released
    }
    zal = sorted((r["line_no"], r["sku"], r["qty"], r["unit_price"]) for r in _rows(station, "order_lines", order_id="ZAL-88001"))
    assert zal == [(1, "TS-2001", 3, "19.95"), (2, "SH-2002", 1, "89.00")]
    amz = _rows(station, "orders", order_id="AMZ-302-7781")[0]
    assert amz["tracking_number"] == "1Z999AA10123456784" and amz["ship_region"] == "Île-de-France"
    assert _rows(station, "orders", order_id="COD-9002")[0]["ship_line1"] == "ul. Marszałkowska 84"
    received = [e for e in _rows(station, "events") if e["kind"] == "order.received"]
    assert len(received) == 7


def test_csv_catalog_equals_the_json_catalog(station: Station) -> None:
    _import(station, "catalog", FIXTURES / "catalog.json")
    before = hf.table_counts(station)
    report = _import(station, "catalog", FIXTURES / "catalog.csv")
    assert (report.records, report.unchanged, report.created, report.updated) == (5, 5, 0, 0)
    assert hf.table_counts(station) == before


@pytest.mark.parametrize("kind, name", [
    ("catalog", "catalog.json"), ("catalog", "catalog.csv"), ("cartons", "cartons.csv"),
    ("orders", "orders.ndjson"), ("orders", "orders.csv"),
])
def test_importing_the_same_file_again_changes_nothing(station: Station, kind: str, name: str) -> None:
    if kind == "orders":
        _base(station)
    first = _import(station, kind, FIXTURES / name)
    assert first.ok and first.created == first.records
    before = hf.table_counts(station)
    events = _rows(station, "events")
    again = _import(station, kind, FIXTURES / name)
    assert again.ok
    assert (again.created, again.updated, again.unchanged) == (0, 0, again.records)
    assert f"{again.records} unchanged" in again.summary()
    assert hf.table_counts(station) == before
    assert _rows(station, "events") == events  # not even an "import" event


def test_returns_and_tracking_after_packing(station: Station) -> None:
    _base(station)
    _import(station, "orders", FIXTURES / "orders.ndjson")
    refused = _import(station, "returns", FIXTURES / "returns.json")
    assert not refused.ok  # nothing packed yet
    assert refused.rejected[0].reason == "order WEB-5001 is released: only a packed or shipped order can be returned"
    bench = station.terminal()
    assert bench.scan(hf.BADGE).verdict.value == "login_refused"  # no users yet
    hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
    hf.login(bench, hf.BADGE)
    hf.pack_order(bench, "WEB-5001")
    hf.pack_order(bench, "AMZ-302-7781")

    rma = _import(station, "returns", FIXTURES / "returns.json")
    assert (rma.ok, rma.created) == (True, 1)
    assert _rows(station, "returns")[0]["status"] == "initiated"
    assert [(r["sku"], r["qty"]) for r in _rows(station, "return_lines")] == [("TS-2001", 1)]

    track = _import(station, "tracking", FIXTURES / "tracking.csv")
    assert track.ok, track.rejected
    assert (track.records, track.updated) == (3, 3)
    status = {r["order_id"]: r["status"] for r in _rows(station, "orders") if r["order_id"] in ("WEB-5001", "AMZ-302-7781")}
    assert status == {"WEB-5001": "delivered", "AMZ-302-7781": "in_transit"}  # found by its tracking number
    before = hf.table_counts(station)
    again = _import(station, "tracking", FIXTURES / "tracking.csv")
    assert (again.updated, again.unchanged) == (0, 3)
    assert hf.table_counts(station) == before


def test_a_return_parcels_tracking_row_moves_its_return_to_picked(station: Station, tmp_path: Path) -> None:
    _base(station)
    _import(station, "orders", FIXTURES / "orders.ndjson")
    hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
    bench = station.terminal()
    hf.login(bench, hf.BADGE)
    hf.pack_order(bench, "WEB-5001")
    # a returns CSV (one row per line item) naming the return parcel and its carrier
    returns = tmp_path / "returns.csv"
    returns.write_text("rma_id,order_id,reason,status,tracking_number,carrier,sku,qty\n"
                       "RMA-7001,WEB-5001,wrong size,initiated,JJD0099887766,DHL,TS-2001,1\n", encoding="utf-8")
    assert _import(station, "returns", returns).created == 1
    [row] = _rows(station, "returns")
    assert (row["tracking_number"], row["carrier"], row["status"]) == ("JJD0099887766", "DHL", "initiated")
    tracking = tmp_path / "tracking.csv"
    tracking.write_text("order_id,tracking_number,status,at\n"
                        ",JJD0099887766,in_transit,2026-11-24T09:30:00+01:00\n"
                        ",JJD0099887766,delivered,2026-11-25T11:00:00+01:00\n", encoding="utf-8")
    report = _import(station, "tracking", tracking)
    assert report.ok and (report.updated, report.unchanged) == (1, 1), report.rejected
    assert _rows(station, "returns")[0]["status"] == "picked"  # delivered to the warehouse: still only picked
    [event] = _rows(station, "events", kind="return.picked")
    assert event["actor"] == "import:tests"
    assert _rows(station, "orders", order_id="WEB-5001")[0]["status"] == "packed"  # the order is not touched
    before = hf.table_counts(station)
    again = _import(station, "tracking", tracking)
    assert (again.updated, again.unchanged) == (0, 2) and hf.table_counts(station) == before


def test_tracking_rejection_names_the_order_not_the_position(station: Station, tmp_path: Path) -> None:
    _base(station)
    _import(station, "orders", FIXTURES / "orders.ndjson")
    report = _import(station, "tracking", FIXTURES / "tracking.csv")  # nothing packed yet
    assert [(r.position, r.key) for r in report.rejected] == [
        ("line 2", "WEB-5001"), ("line 3", "1Z999AA10123456784"), ("line 4", "WEB-5001")]
    assert str(report.rejected[0]) == "line 2 (WEB-5001): order WEB-5001 is released: it has not been packed"


def test_changed_order_is_updated_and_a_paid_hold_is_released(station: Station, tmp_path: Path) -> None:
    _base(station)
    held = _order("WEB-7", payment={"method": "prepaid", "status": "pending"})
    assert _import(station, "orders", _write(tmp_path / "a.json", [held], "orders")).created == 1
    assert _rows(station, "orders", order_id="WEB-7")[0]["status"] == "on_hold"
    paid = _order("WEB-7", payment={"method": "prepaid", "status": "paid"})
    report = _import(station, "orders", _write(tmp_path / "b.json", [paid], "orders"))
    assert (report.created, report.updated) == (0, 1)
    assert _rows(station, "orders", order_id="WEB-7")[0]["status"] == "released"
    events = [e for e in _rows(station, "events", order_by="seq") if e["order_id"] == "WEB-7"]
    assert [e["kind"] for e in events] == ["order.received", "order.updated", "order.released"]
    assert json.loads(events[-1]["payload"]) == {"from": "on_hold", "to": "released"}
    assert {e["actor"] for e in events} == {"import:tests"}


# --- orders with missing or contradictory data ----------------------------------------------------


BAD_ORDERS = [
    ("no customer name", {"customer": {"email": "a@example.com"}}, "customer.name is missing"),
    ("COD already paid", {"payment": {"method": "cod", "status": "paid"}}, "cash on delivery cannot already be paid"),
    ("unknown payment method", {"payment": {"method": "card", "status": "paid"}}, "payment.method must be prepaid or cod"),
    ("no payment status", {"payment": {"method": "prepaid"}}, "payment.status must be paid or pending"),
    ("same sku twice", {"lines": [{"sku": "TS-2001", "qty": 1, "unit_price": "1.00"},
                                  {"sku": "TS-2001", "qty": 2, "unit_price": "1.00"}]}, "appears twice"),
    ("zero quantity", {"lines": [{"sku": "TS-2001", "qty": 0, "unit_price": "1.00"}]}, "lines[1].qty must be at least 1"),
    ("comma price", {"lines": [{"sku": "TS-2001", "qty": 1, "unit_price": "12,50"}]}, "unit_price must be a decimal string"),
    ("no lines", {"lines": []}, "needs at least one line"),
    ("country name", {"ship_to": {"name": "A", "line1": "B", "city": "C", "postcode": "1", "country": "Germany"}}, "country"),
    ("no address", {"ship_to": None}, "ship_to is missing"),
    ("bad date", {"placed_at": "20/11/2026"}, "placed_at must be an ISO 8601 date-time"),
    ("bad currency", {"currency": "euro"}, "currency"),
    ("bad e-mail", {"customer": {"name": "A", "email": "not-an-address"}}, "is not an e-mail address"),
    ("unknown sku", {"lines": [{"sku": "NOPE-1", "qty": 1, "unit_price": "1.00"}]}, "unknown sku NOPE-1: import the catalog first"),
]


_NOT_CSV = ("no lines", "no address")  # a CSV row always has a line and address columns


@pytest.mark.parametrize("suffix, label, change, reason", [
    pytest.param(suffix, *bad, id=f"{bad[0]}{suffix}")
    for bad in BAD_ORDERS for suffix in (".json", ".ndjson", ".csv")
    if not (suffix == ".csv" and bad[0] in _NOT_CSV)
])
def test_order_with_missing_or_contradictory_data_is_refused(
    station: Station, tmp_path: Path, suffix: str, label: str, change: dict[str, Any], reason: str,
) -> None:
    _base(station)
    records = [_order("OK-1"), _order("BAD-2", **change), _order("OK-3")]
    before = hf.table_counts(station)
    report = _import(station, "orders", _write(tmp_path / f"orders{suffix}", records, "orders"))
    assert not report.ok
    assert len(report.rejected) == 1, report.rejected
    rej = report.rejected[0]
    expected_pos = {".json": "record 2", ".ndjson": "line 2", ".csv": "line 3"}[suffix]
    assert (rej.position, rej.key) == (expected_pos, "BAD-2")
    assert reason in rej.reason
    assert "nothing was imported" in report.summary()
    assert hf.table_counts(station) == before  # the good orders were not stored either


def test_refused_at_store_time_still_stores_nothing(station: Station, tmp_path: Path) -> None:
    """The last order names an unknown SKU (found only against the database): no order lands."""
    _base(station)
    records = [_order(f"OK-{i}") for i in range(50)] + [_order("BAD", lines=[{"sku": "GHOST", "qty": 1, "unit_price": "1"}])]
    before = hf.table_counts(station)
    report = _import(station, "orders", _write(tmp_path / "o.ndjson", records, "orders"))
    assert [(r.position, r.key) for r in report.rejected] == [("line 51", "BAD")]
    assert hf.table_counts(station) == before


def test_duplicate_records_and_barcode_conflicts_are_refused(station: Station, tmp_path: Path) -> None:
    recs = demo.catalog(3)
    dup = [*recs, dict(recs[1])]
    report = _import(station, "catalog", _write(tmp_path / "dup.json", dup, "catalog"))
    assert [(r.position, r.key) for r in report.rejected] == [("record 4", recs[1]["sku"])]
    assert "appears twice in the file (first at record 2)" in report.rejected[0].reason
    clash = [recs[0], {**recs[1], "barcodes": recs[0]["barcodes"]}]
    report = _import(station, "catalog", _write(tmp_path / "clash.csv", clash, "catalog"))
    assert not report.ok and "is also given to" in report.rejected[0].reason
    assert hf.table_counts(station)["products"] == 0


# --- bad input from the field ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".ndjson", ".csv"])
def test_one_bad_record_among_ten_thousand_refuses_the_file(station: Station, tmp_path: Path, suffix: str) -> None:
    records = demo.catalog(10_001)
    bad = records[7345]
    bad["weight_g"] = "heavy"
    path = _write(tmp_path / f"big{suffix}", records, "catalog")
    report = _import(station, "catalog", path)
    expected_pos = {".json": "record 7346", ".ndjson": "line 7346", ".csv": "line 7347"}[suffix]
    assert report.records == 10_001
    assert [(r.position, r.key) for r in report.rejected] == [(expected_pos, bad["sku"])]
    assert "weight_g must be a whole number, got 'heavy'" in report.rejected[0].reason
    counts = hf.table_counts(station)
    assert counts["products"] == counts["barcodes"] == counts["events"] == 0
    # fixed, the same file goes in whole
    bad["weight_g"] = 250
    report = _import(station, "catalog", _write(path, records, "catalog"))
    assert report.ok and report.created == 10_001
    assert hf.table_counts(station)["products"] == 10_001


ENCODINGS = [
    ("utf-16 with BOM", lambda t: t.encode("utf-16"), "is UTF-16 text, not UTF-8"),
    ("utf-16le, no BOM", lambda t: t.encode("utf-16-le"), "is UTF-16 text, not UTF-8"),
    ("utf-16be, no BOM", lambda t: t.encode("utf-16-be"), "is UTF-16 text, not UTF-8"),
    ("latin-1", lambda t: t.encode("latin-1"), "is not UTF-8 text (bad byte 0xE8 on line"),
]


@pytest.mark.parametrize("suffix", [".json", ".ndjson", ".csv"])
@pytest.mark.parametrize("label, encode, message", ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_file_in_the_wrong_encoding_is_refused(station: Station, tmp_path: Path, suffix: str, label: str, encode: Any, message: str) -> None:
    rec = {"sku": "FR-1", "name": "Crème brûlée torch, È edition", "weight_g": 300, "barcodes": [], "pack_barcodes": []}
    utf8 = _write(tmp_path / f"ok{suffix}", [rec], "catalog")
    wrong = tmp_path / f"wrong{suffix}"
    wrong.write_bytes(encode(utf8.read_text(encoding="utf-8")))
    with pytest.raises(ImportFileError) as err:
        _import(station, "catalog", wrong)
    assert message in str(err.value) and "Save it as UTF-8" in str(err.value)
    assert hf.table_counts(station)["products"] == 0
    assert _import(station, "catalog", utf8).created == 1  # the UTF-8 file is fine


@pytest.mark.parametrize("name, data, message", [
    ("csv.json", b"sku,name,weight_g\nA-1,Mug,300\n", "is not valid JSON: Expecting value at line 1, column 1"),
    ("cut.json", b'[{"sku": "A-1", "name": "Mug", "weight_g": 3', "is not valid JSON"),
    ("object.json", b'{"sku": "A-1", "name": "Mug", "weight_g": 300}', "expected a JSON array of records, found an object"),
    ("binary.json", b"%PDF-1.4\n\x00\x01\x02 stream", "contains NUL bytes: it is a binary file"),
    ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "contains NUL bytes"),
])
def test_file_that_is_not_what_it_says_is_refused(station: Station, tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _import(station, "catalog", path)
    assert hf.table_counts(station)["products"] == 0


def test_ndjson_line_that_is_not_json_is_named(station: Station, tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in demo.catalog(5)]
    lines.insert(3, '{"sku": "X-1", "name": "broken", ')
    path = tmp_path / "c.ndjson"
    path.write_text("\n".join(lines), encoding="utf-8")
    report = _import(station, "catalog", path)
    assert [r.position for r in report.rejected] == ["line 4"]
    assert report.rejected[0].reason.startswith("not valid JSON")
    assert hf.table_counts(station)["products"] == 0


@pytest.mark.parametrize("name, data, message", [
    ("empty.json", b"", "is empty"), ("empty.ndjson", b"", "is empty"), ("empty.csv", b"", "is empty"),
    ("blank.json", b"  \n\n", "is empty"), ("bom-only.csv", b"\xef\xbb\xbf", "is empty"),
    ("array.json", b"[]", "holds no records"), ("header.csv", b"sku,name,weight_g\n", "holds no records"),
])
def test_empty_file_is_refused(station: Station, tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImportFileError, match=message):
        _import(station, "catalog", path)


@pytest.mark.parametrize("suffix", [".json", ".ndjson", ".csv"])
def test_huge_field_is_refused_with_its_record(station: Station, tmp_path: Path, suffix: str) -> None:
    records = demo.catalog(3)
    records[1]["name"] = "N" * 2_000_000  # 2 MB, far over csv's default 128 KiB field limit
    report = _import(station, "catalog", _write(tmp_path / f"huge{suffix}", records, "catalog"))
    pos = {".json": "record 2", ".ndjson": "line 2", ".csv": "line 3"}[suffix]
    assert [(r.position, r.key, r.reason) for r in report.rejected] == [
        (pos, records[1]["sku"], "name is longer than 200 characters")]
    assert hf.table_counts(station)["products"] == 0


def test_unknown_extension_and_kind_are_refused(station: Station, tmp_path: Path) -> None:
    for name in ("catalog.xml", "catalog.txt", "catalog.xlsx", "catalog"):
        path = tmp_path / name
        path.write_text("[]", encoding="utf-8")
        with pytest.raises(ImportFileError, match="unknown file type .*use .json"):
            _import(station, "catalog", path)
    with pytest.raises(ImportFileError, match="unknown import kind 'products'; use one of catalog, cartons"):
        _import(station, "products", FIXTURES / "catalog.json")
    with pytest.raises(ImportFileError, match="cannot read"):
        _import(station, "catalog", tmp_path / "missing.json")


# --- reading details that used to go wrong ---------------------------------------------------------


def test_ndjson_keeps_unicode_line_separators_inside_strings(station: Station, tmp_path: Path) -> None:
    """U+2028 / U+0085 are legal unescaped in JSON strings; they must not split the record."""
    _base(station)
    rec = _order("SEP-1", customer={"name": "Anna\u2028Schmidt", "email": "a@example.com"},
                 ship_to={"name": "Anna", "line1": "Hauptstraße 12", "line2": "Hof\u0085links", "city": "Berlin",
                          "postcode": "10115", "country": "DE"})
    path = tmp_path / "sep.ndjson"
    path.write_text(json.dumps(rec, ensure_ascii=False) + "\r\n" + json.dumps(_order("SEP-2"), ensure_ascii=False) + "\r\n", encoding="utf-8")
    report = _import(station, "orders", path)
    assert report.ok, report.rejected
    assert report.created == 2
    assert _rows(station, "orders", order_id="SEP-1")[0]["customer_name"] == "Anna\u2028Schmidt"


def test_csv_positions_are_file_lines_even_after_a_multiline_field(station: Station, tmp_path: Path) -> None:
    text = (
        "sku,name,weight_g\n"
        'A-1,"Mug\nwith a line break",300\n'  # lines 2-3: one record
        "A-2,Plate,400\n"  # line 4
        "A-3,Bowl,heavy\n"  # line 5
    )
    path = tmp_path / "c.csv"
    path.write_text(text, encoding="utf-8")
    report = _import(station, "catalog", path)
    assert [(r.position, r.key) for r in report.rejected] == [("line 2", "A-1"), ("line 5", "A-3")]
    assert "control characters" in report.rejected[0].reason


def test_progress_is_reported_while_importing(station: Station, tmp_path: Path) -> None:
    path = _write(tmp_path / "c.ndjson", demo.catalog(3000), "catalog")
    calls: list[tuple[int, int]] = []
    report = import_file(station.ctx, hf.importer(station), "catalog", path,
                         progress=lambda done, total: calls.append((done, total)))
    assert report.ok
    assert len(calls) >= 3
    assert calls == sorted(calls) and calls[-1][0] == calls[-1][1]


def test_a_unit_can_only_be_returned_once(station: Station, tmp_path: Path) -> None:
    _base(station)
    _import(station, "orders", FIXTURES / "orders.ndjson")
    hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
    hf.pack_order(hf.login(station, hf.BADGE), "WEB-5001")  # 2 × TS-2001, 1 × CO-2003

    def rma(rma_id: str, *lines: tuple[str, int]) -> dict[str, Any]:
        return {"rma_id": rma_id, "order_id": "WEB-5001", "reason": "damaged",
                "lines": [{"sku": sku, "qty": qty} for sku, qty in lines]}

    # two lines of the same SKU add up; two returns in one file add up
    report = _import(station, "returns", _write(tmp_path / "a.json", [rma("R-1", ("TS-2001", 2), ("TS-2001", 1))], "returns"))
    assert [r.reason for r in report.rejected] == ["returns 3 × TS-2001 but order WEB-5001 shipped 2"]
    report = _import(station, "returns", _write(tmp_path / "b.json", [rma("R-1", ("TS-2001", 1)), rma("R-2", ("TS-2001", 2))], "returns"))
    assert [(r.key, r.reason) for r in report.rejected] == [
        ("R-2", "returns 2 × TS-2001 but order WEB-5001 shipped 2, and 1 are already on other returns")]
    assert hf.table_counts(station)["returns"] == 0
    # one return stored; a second file cannot return the same unit again
    assert _import(station, "returns", _write(tmp_path / "c.json", [rma("R-1", ("TS-2001", 2))], "returns")).created == 1
    report = _import(station, "returns", _write(tmp_path / "d.json", [rma("R-9", ("TS-2001", 1))], "returns"))
    assert "2 are already on other returns" in report.rejected[0].reason
    moved = {**rma("R-1", ("TS-2001", 1)), "order_id": "AMZ-302-7781"}
    report = _import(station, "returns", _write(tmp_path / "f.json", [moved], "returns"))
    assert "return already exists for order WEB-5001, not AMZ-302-7781" in [r.reason for r in report.rejected]
    # the stored return itself may still change (it is not counted against itself)
    report = _import(station, "returns", _write(tmp_path / "e.json", [rma("R-1", ("TS-2001", 1), ("CO-2003", 1))], "returns"))
    assert (report.ok, report.updated) == (True, 1)


@pytest.mark.parametrize("body, reason", [
    ('{"sku": "A-1", "name": "Mug", "weight_g": %s}' % ("9" * 5000), "weight_g must be at most 1000000, got 9999"),
    ('{"sku": "A-1", "name": "Mug", "weight_g": 1e999999999}', "weight_g must be at most 1000000, got 1E+999999999"),
    ('{"sku": "A-1", "name": "Mug", "weight_g": 99999999999999999999}', "weight_g must be at most 1000000"),
    ('{"sku": "A-1", "name": "Mug", "weight_g": NaN}', "not valid JSON: NaN is not a number in JSON"),
    ('{"sku": "A-1", "name": "Mug", "weight_g": 1, "x": %s}' % ("[" * 50_000 + "]" * 50_000), "nested too deeply"),
])
def test_numbers_and_nesting_that_used_to_crash_are_rejected(station: Station, tmp_path: Path, body: str, reason: str) -> None:
    """Each of these raised OverflowError/ValueError/RecursionError (a traceback) or hung."""
    path = tmp_path / "c.ndjson"
    path.write_text(json.dumps({"sku": "OK-1", "name": "Plate", "weight_g": 400}) + "\n" + body + "\n", encoding="utf-8")
    report = _import(station, "catalog", path)
    assert [r.position for r in report.rejected] == ["line 2"]
    assert reason in report.rejected[0].reason
    assert len(str(report.rejected[0])) < 200  # the message does not repeat a huge value
    assert hf.table_counts(station)["products"] == 0
    whole = tmp_path / "c.json"
    whole.write_text("[" + body + "]", encoding="utf-8")
    try:
        report = _import(station, "catalog", whole)
    except ImportFileError as exc:
        assert "is not valid JSON" in str(exc)
    else:
        assert not report.ok and reason in report.rejected[0].reason


@pytest.mark.parametrize("field, value", [("weight_g", 2_000_000), ("qty", 10_000)])
def test_quantities_beyond_what_a_bench_can_handle_are_refused(station: Station, tmp_path: Path, field: str, value: int) -> None:
    _base(station)
    if field == "weight_g":
        recs = [{"sku": "HEAVY-1", "name": "Anvil", "weight_g": value}]
        report = _import(station, "catalog", _write(tmp_path / "c.json", recs, "catalog"))
    else:
        recs = [_order("BIG-1", lines=[{"sku": "TS-2001", "qty": value, "unit_price": "1.00"}])]
        report = _import(station, "orders", _write(tmp_path / "o.json", recs, "orders"))
    assert not report.ok and f"must be at most {value - 1 if field == 'qty' else 1_000_000}" in report.rejected[0].reason


def test_demo_seed_interrupted_after_the_imports_is_finished_on_the_next_start(tmp_path: Path) -> None:
    """The demo goes in through the imports; a first start killed before the users were added
    left a station nobody could log in to, and it was never seeded again."""
    from packstation.bootstrap import build_station
    from packstation.config import Config, StationConfig
    from packstation.domain.packing import Verdict

    config = Config(data_dir=tmp_path / "demo", station=StationConfig(demo=True))
    station = build_station(config, seed_demo=False)
    try:
        products = demo.catalog()
        for kind, recs in (("catalog", products), ("cartons", list(demo.CARTON_TYPES)), ("orders", demo.orders(products))):
            assert hf.import_recs(station, kind, recs, kind).ok
    finally:
        station.close()
    station = build_station(config)  # the next start, as the embedded demo does it
    try:
        counts = hf.table_counts(station)
        assert counts["users"] == len(demo.DEMO_USERS) and counts["stock_lots"] > 0
        assert counts["orders"] == len(demo.orders(products)) >= 60  # the 60 generated and the showcase orders
        assert station.terminal().scan("PACKER-001").verdict is Verdict.LOGGED_IN
        lead = station.terminal()  # the demo lead logs in with the PIN the demo login screen shows
        assert lead.scan("LEAD-001").verdict is Verdict.NEEDS_PIN
        assert lead.enter_pin(demo.DEMO_LEAD_PIN).verdict is Verdict.LOGGED_IN
    finally:
        station.close()
    station = build_station(config)  # and a complete demo is left alone
    try:
        assert hf.table_counts(station) == {**counts, "events": counts["events"] + 2}  # the two logins above
    finally:
        station.close()


def test_an_order_being_packed_cannot_be_changed_by_an_import(station: Station, tmp_path: Path) -> None:
    _base(station)
    _import(station, "orders", FIXTURES / "orders.ndjson")
    hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
    bench = hf.login(station, hf.BADGE)
    assert bench.scan("WEB-5001").verdict.value == "order_opened"
    assert _import(station, "orders", FIXTURES / "orders.ndjson").unchanged == 4  # same content: fine
    changed = [json.loads(line) for line in (FIXTURES / "orders.ndjson").read_text(encoding="utf-8").splitlines()]
    changed[0]["lines"][0]["qty"] = 5
    before = hf.table_counts(station)
    report = _import(station, "orders", _write(tmp_path / "o.ndjson", changed, "orders"))
    assert [(r.position, r.key, r.reason) for r in report.rejected] == [
        ("line 1", "WEB-5001", "order already exists and is packing: it can no longer be changed")]
    assert hf.table_counts(station) == before
    assert [ln["qty"] for ln in _rows(station, "order_lines", order_id="WEB-5001")] == [2, 1]


@pytest.mark.parametrize("kind, text, reason", [
    ("catalog", "sku,name,weight_g,barcodes,pack_barcodes\nA-1,Mug,300,8712345000011,18712345000018\n",
     "pack_barcodes[1].qty is missing (in CSV: barcode:qty)"),
    ("catalog", "sku,name,weight_g,pack_barcodes\nA-1,Mug,300,18712345000018:1\n",
     "pack_barcodes[1].qty must be at least 2, got 1"),
    ("cartons", "code,name,tare_g,inner_mm.l,inner_mm.w,inner_mm.h\nBOX-Q,Odd box,100,30 cm,200,100\n",
     "inner_mm.l must be a whole number, got '30 cm'"),
])
def test_nested_field_errors_name_the_nested_field(station: Station, tmp_path: Path, kind: str, text: str, reason: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(text, encoding="utf-8")
    report = _import(station, kind, path)
    assert [(r.position, r.reason) for r in report.rejected] == [("line 2", reason)]


def test_a_tote_holds_one_open_order(station: Station, tmp_path: Path) -> None:
    """Totes are reused once packed; two open orders on one tote would make a tote scan ambiguous."""
    _base(station)
    hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
    assert _import(station, "orders", _write(tmp_path / "a.json", [_order("OLD-1", tote="TOTE-9")], "orders")).ok
    report = _import(station, "orders", _write(tmp_path / "b.json", [_order("NEW-2", tote="TOTE-9")], "orders"))
    assert [(r.key, r.reason) for r in report.rejected] == [
        ("NEW-2", "tote TOTE-9 already holds open order OLD-1 (released); use another tote or pack that order first")]
    hf.pack_order(hf.login(station, hf.BADGE), "TOTE-9")  # packs OLD-1; the tote is free again
    assert _import(station, "orders", _write(tmp_path / "b.json", [_order("NEW-2", tote="TOTE-9")], "orders")).ok
    assert _import(station, "orders", _write(tmp_path / "b.json", [_order("NEW-2", tote="TOTE-9")], "orders")).unchanged == 1
    report = _import(station, "orders", _write(tmp_path / "c.json", [_order("NEW-3", tote="TOTE-7"), _order("NEW-4", tote="TOTE-7")], "orders"))
    assert [(r.key, r.reason) for r in report.rejected] == [("NEW-4", "tote TOTE-7 is also given to order NEW-3 in this file")]


def test_a_reused_tote_opens_its_open_order(station: Station, tmp_path: Path) -> None:
    _base(station)
    hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
    _import(station, "orders", _write(tmp_path / "a.json", [_order("OLD-1", tote="TOTE-9")], "orders"))
    bench = hf.login(station, hf.BADGE)
    hf.pack_order(bench, "TOTE-9")
    assert _import(station, "orders", _write(tmp_path / "b.json", [_order("NEW-2", tote="TOTE-9")], "orders")).ok
    out = bench.scan("TOTE-9")
    assert out.verdict.value == "order_opened" and out.data["order_id"] == "NEW-2", out


# --- the same on PostgreSQL (the central database) ----------------------------------------------


@pytest.fixture
def pg_station(tmp_path: Path, fresh_pg_database: str) -> Any:
    from packstation.bootstrap import build_station
    from packstation.config import with_database

    st = build_station(with_database(hf.station_config(tmp_path / "data"), fresh_pg_database), seed_demo=False)
    yield st
    st.close()


def _pg_counts(station: Station) -> dict[str, int]:
    return {t: hf.count(station, t) for t in ("products", "barcodes", "carton_types", "orders", "order_lines", "events")}


def test_postgresql_imports_every_format_once(pg_station: Station) -> None:
    for kind, name in (("catalog", "catalog.json"), ("catalog", "catalog.csv"), ("cartons", "cartons.csv"),
                       ("orders", "orders.ndjson"), ("orders", "orders.csv")):
        first = _import(pg_station, kind, FIXTURES / name)
        assert first.ok, first.rejected
        before = _pg_counts(pg_station)
        again = _import(pg_station, kind, FIXTURES / name)
        assert (again.created, again.updated, again.unchanged) == (0, 0, again.records)
        assert _pg_counts(pg_station) == before
    status = {r["order_id"]: r["status"] for r in _rows(pg_station, "orders")}
    assert status["WEB-5002"] == status["EBY-4410"] == "on_hold" and status["COD-9002"] == "released"
    placed = _rows(pg_station, "orders", order_id="COD-9001")[0]["placed_at"]
    assert placed.astimezone(UTC).isoformat() == "2026-11-20T06:35:00+00:00"


def test_postgresql_one_bad_record_stores_nothing(pg_station: Station, tmp_path: Path) -> None:
    records = demo.catalog(2000)
    records[1500]["weight_g"] = 2_147_483_648  # over PostgreSQL's integer: a record error, not a failed file
    report = _import(pg_station, "catalog", _write(tmp_path / "c.ndjson", records, "catalog"))
    assert [(r.position, r.key) for r in report.rejected] == [("line 1501", records[1500]["sku"])]
    assert _pg_counts(pg_station)["products"] == 0
