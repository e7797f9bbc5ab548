"""What a new user broke at the bench (issue 9), on the demo station through the terminal:
lots checked against stock, scans while weighing, undo at a quantity prompt, wording of an
over-scan, a badge where an item was expected, GS1 answers at prompts, case labels."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from packstation.bootstrap import Station, build_station
from packstation.config import Config, PackingConfig, StationConfig
from packstation.demo import catalog, orders
from packstation.domain.barcodes import GS, with_check_digit
from packstation.domain.packing import Verdict
from packstation.services.terminal import Terminal

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo database seeded for the module; each test works on its own copy of it."""
    folder = tmp_path_factory.mktemp("demo-template")
    build_station(Config(station=StationConfig(demo=True), data_dir=folder), clock=lambda: NOW).close()
    return folder / "packstation.db"


def demo(tmp_path: Path, template: Path, **packing: object) -> Station:
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, tmp_path / "packstation.db")
    config = Config(station=StationConfig(demo=True), data_dir=tmp_path, packing=PackingConfig(**packing))  # type: ignore[arg-type]
    return build_station(config, clock=lambda: NOW)


@pytest.fixture
def station(tmp_path: Path, seeded: Path) -> Iterator[Station]:
    st = demo(tmp_path, seeded)
    yield st
    st.close()


def showcase() -> tuple[dict, dict]:
    """The demo's two showcase orders: a line of 6 (a 6-pack), and a lot + expiry product."""
    *_, six, dated = orders(catalog(), now=NOW)
    return six, dated


def at_bench(station: Station, order_id: str, carton: str = "BOX-M") -> Terminal:
    t = station.terminal()
    assert t.scan("PACKER-001").verdict is Verdict.LOGGED_IN
    assert t.scan(order_id).verdict is Verdict.ORDER_OPENED
    assert t.scan(carton).verdict is Verdict.CARTON_OPENED
    return t


def lots(station: Station, sku: str) -> list:
    with station.uow(readonly=True) as uow:
        return uow.catalog.lots(sku)


def product(sku: str) -> dict:
    return next(p for p in catalog() if p["sku"] == sku)


# --- lots against stock --------------------------------------------------------------------------


def test_an_expired_stock_lot_is_refused_whatever_expiry_is_typed(station: Station) -> None:
    """Issue 9: L143A expired 2026-11-11; scanning it again with a typed 271231 was ACCEPTED."""
    _, dated = showcase()
    sku = dated["lines"][0]["sku"]
    expired = next(lot for lot in lots(station, sku) if lot.expiry and lot.expiry < NOW.date())
    t = at_bench(station, dated["order_id"])
    ean = product(sku)["barcodes"][0]
    assert t.scan(ean).verdict is Verdict.NEEDS_LOT
    refused = t.scan(expired.lot)
    assert refused.verdict is Verdict.EXPIRED_LOT and expired.expiry.isoformat() in refused.message
    # the same lot with a later expiry typed (or in the GS1 data): still refused, the stock's date counts
    gs1 = f"]C101{with_check_digit('0' + ean[:-1])}17271231{GS}10{expired.lot}"
    assert t.scan(gs1).verdict is Verdict.EXPIRED_LOT
    assert not t.handler.pack.items


def test_the_expiry_comes_from_stock_and_a_disagreeing_one_is_refused(station: Station) -> None:
    _, dated = showcase()
    sku = dated["lines"][0]["sku"]
    good = next(lot for lot in lots(station, sku) if lot.expiry and lot.expiry > NOW.date())
    t = at_bench(station, dated["order_id"])
    ean = product(sku)["barcodes"][0]
    assert t.scan(ean).verdict is Verdict.NEEDS_LOT
    accepted = t.scan(good.lot)  # no expiry prompt: the stock knows it
    assert accepted.verdict is Verdict.ACCEPTED
    assert t.handler.pack.items[-1].expiry == good.expiry
    other_date = (good.expiry + timedelta(days=30)).strftime("%y%m%d")
    gs1 = f"]C101{with_check_digit('0' + ean[:-1])}17{other_date}{GS}10{good.lot}"
    refused = t.scan(gs1)
    assert refused.verdict is Verdict.INVALID_SCAN and "by the stock records" in refused.message
    assert len(t.handler.pack.items) == 1


def test_a_lot_the_stock_does_not_know_is_refused_and_the_prompt_stays_open(station: Station) -> None:
    """Issue 9: any lot text was accepted ("LOTXYZ" reached the customer's slip)."""
    _, dated = showcase()
    sku = dated["lines"][0]["sku"]
    t = at_bench(station, dated["order_id"])
    t.scan(product(sku)["barcodes"][0])
    refused = t.scan("LOTXYZ")
    assert refused.verdict is Verdict.UNKNOWN_LOT and "LOTXYZ" in refused.message
    assert t.handler.pack.pending is not None  # scan the right lot now
    good = next(lot for lot in lots(station, sku) if lot.expiry and lot.expiry > NOW.date())
    assert t.scan(good.lot).verdict is Verdict.ACCEPTED


def test_with_unknown_lot_warn_the_lot_is_taken_and_marked_unverified(tmp_path: Path, seeded: Path) -> None:
    station = demo(tmp_path, seeded, unknown_lot="warn")
    try:
        _, dated = showcase()
        sku = dated["lines"][0]["sku"]
        t = at_bench(station, dated["order_id"])
        t.scan(product(sku)["barcodes"][0])
        assert t.scan("LOTXYZ").verdict is Verdict.NEEDS_EXPIRY  # no stock record: the expiry is asked
        accepted = t.scan("2027-06-30")
        assert accepted.verdict is Verdict.ACCEPTED and "not in the stock records" in accepted.message
        with station.uow(readonly=True) as uow:
            [event] = [e for e in uow.events.for_order(dated["order_id"]) if e.kind == "scan.recorded"]
        assert event.payload["lot_unverified"] is True and event.payload["lot"] == "LOTXYZ"
    finally:
        station.close()


def test_a_gs1_lot_scanned_at_the_lot_prompt_gives_the_lot_not_the_raw_text(station: Station) -> None:
    _, dated = showcase()
    sku = dated["lines"][0]["sku"]
    good = next(lot for lot in lots(station, sku) if lot.expiry and lot.expiry > NOW.date())
    t = at_bench(station, dated["order_id"])
    t.scan(product(sku)["barcodes"][0])
    accepted = t.scan(f"]C110{good.lot}")  # a GS1-128 lot label: AI (10)
    assert accepted.verdict is Verdict.ACCEPTED, accepted.message
    assert t.handler.pack.items[-1].lot == good.lot


# --- quantities and case labels ----------------------------------------------------------------


def test_a_six_pack_fills_a_line_of_six_in_one_scan(station: Station) -> None:
    six, _ = showcase()
    sku = six["lines"][0]["sku"]
    t = at_bench(station, six["order_id"])
    pack = product(sku)["pack_barcodes"][0]["barcode"]
    accepted = t.scan(pack)
    assert accepted.verdict is Verdict.ACCEPTED and accepted.data["packed"] == 6


def test_too_many_says_what_is_wrong(station: Station) -> None:
    """Issue 9: CMD-QTY 5 on a line needing 2 said ALREADY COMPLETE with 0 scanned."""
    _, dated = showcase()  # a line of 2
    sku = dated["lines"][0]["sku"]
    t = at_bench(station, dated["order_id"])
    assert t.scan("CMD-QTY").verdict is Verdict.NEEDS_QTY
    assert t.scan("5").verdict is Verdict.QTY_SET
    over = t.scan(product(sku)["barcodes"][0])
    assert over.verdict is Verdict.OVER_SCAN
    assert over.data["headline"] == "TOO MANY"
    assert "the quantity is 5, more than the 2 still needed" in over.message


def test_a_case_label_counts_its_items(station: Station) -> None:
    """(02) GTIN of the contents + (37) count: one scan of the case counts the units it holds."""
    six, _ = showcase()
    sku = six["lines"][0]["sku"]
    ean = product(sku)["barcodes"][0]
    t = at_bench(station, six["order_id"])
    case = f"]C102{with_check_digit('0' + ean[:-1])}374"
    accepted = t.scan(case)
    assert accepted.verdict is Verdict.ACCEPTED and accepted.data["packed"] == 4


# --- prompts, weighing, badges ------------------------------------------------------------------


def test_cmd_undo_at_the_quantity_prompt_cancels_it_and_undoes_nothing(station: Station) -> None:
    """Issue 9: CMD-UNDO during a quantity prompt undid the previous item and left the prompt open."""
    six, _ = showcase()
    sku = six["lines"][0]["sku"]
    t = at_bench(station, six["order_id"])
    assert t.scan(product(sku)["barcodes"][0]).verdict is Verdict.ACCEPTED
    t.scan("CMD-QTY")
    cancelled = t.scan("CMD-UNDO")
    assert cancelled.verdict is Verdict.UNDONE and cancelled.data["headline"] == "PROMPT CANCELLED"
    pack = t.handler.pack
    assert len(pack.items) == 1 and not pack.awaiting_qty
    assert t.scan(product(sku)["barcodes"][0]).data["packed"] == 2  # a plain item scan again


def test_a_scan_while_weighing_is_refused_and_cmd_undo_cancels_the_seal(station: Station) -> None:
    """Issue 9: an item scanned ~250 ms after CMD-CLOSE-CARTON silently cancelled the seal."""
    six, _ = showcase()
    sku = six["lines"][0]["sku"]
    t = at_bench(station, six["order_id"])
    code = product(sku)["barcodes"][0]
    t.scan(code)
    assert t.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
    waiting = t.scan(code)
    assert waiting.verdict is Verdict.WEIGHING and "nothing was counted" in waiting.message
    assert len(t.handler.pack.items) == 1 and t.handler.awaiting_weight  # still weighing
    cancelled = t.scan("CMD-UNDO")
    assert cancelled.data["headline"] == "SEAL CANCELLED" and not t.handler.awaiting_weight
    late = t.handler.close_with_weight(1000)  # the scale's answer after the cancel seals nothing
    assert late.verdict is Verdict.NOT_ALLOWED
    assert t.handler.pack.open_carton is not None


def test_a_badge_scanned_when_nothing_needs_it_is_named_a_badge(station: Station) -> None:
    six, _ = showcase()
    t = at_bench(station, six["order_id"])
    outcome = t.scan("DISPATCH-001")
    assert outcome.data["headline"] == "BADGE NOT NEEDED" and "Put the item aside" not in outcome.message


def test_a_typed_sku_is_refused_unless_the_setting_allows_it(tmp_path: Path, seeded: Path) -> None:
    from packstation.domain.barcodes import RawScan

    six, _ = showcase()
    sku = six["lines"][0]["sku"]
    strict = demo(tmp_path / "strict", seeded)
    try:
        t = at_bench(strict, six["order_id"])
        refused = t.scan(RawScan.from_wire(sku, source="typed"))
        assert refused.verdict is Verdict.NOT_ALLOWED and "typed" in refused.message
        assert t.scan(RawScan.from_wire(sku, source="wedge")).verdict is Verdict.ACCEPTED  # a scanned SKU label
    finally:
        strict.close()
    lenient = demo(tmp_path / "lenient", seeded, accept_typed_sku=True)
    try:
        t = at_bench(lenient, six["order_id"])
        assert t.scan(RawScan.from_wire(sku, source="typed")).verdict is Verdict.ACCEPTED
        with lenient.uow(readonly=True) as uow:
            [scan] = uow.shipments.scans(six["order_id"])
        assert scan.item.source == "typed"
    finally:
        lenient.close()
