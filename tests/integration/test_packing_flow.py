"""Packing whole orders the way a packer does, on a real SQLite file.

Every action goes through ``Terminal.scan`` (badges, PINs, orders, command and carton barcodes,
items, lot/expiry/serial answers, reason numbers) or the packing use cases with a session the
station issued, and the results are read back from the database: what a restart, another bench
or ``packstation status`` would see.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import helpers_faults as hf
import pytest
import sqlalchemy as sa
from packstation_tests_station import (
    BUDS_EAN,
    LEAD_PIN,
    MUG_EAN,
    NOT_IN_CATALOG_EAN,
    NOW,
    SERUM_EAN,
    TEE_EAN,
    TEE_SIX,
    TOY_EAN,
    StationFactory,
    order,
    stock,
)

from packstation.adapters.db import tables
from packstation.bootstrap import Station
from packstation.domain.barcodes import GS, sscc18
from packstation.domain.identity import Session
from packstation.domain.packing import Verdict
from packstation.services import packing as p
from packstation.services.auth import NotAllowed
from packstation.services.packing import Outcome
from packstation.services.picking import create_pick_wave
from packstation.services.reports import NotFound, order_status
from packstation.services.terminal import Terminal

TEE_G, SERUM_G, MUG_G, BUDS_G = 200, 100, 350, 80
BOX_S, BOX_M = 150, 280


def play(bench: Terminal, *scans: str) -> list[Verdict]:
    return [bench.scan(s).verdict for s in scans]


def expect(bench: Terminal, scan: str, verdict: Verdict) -> Outcome:
    outcome = bench.scan(scan)
    assert outcome.verdict is verdict, f"{scan!r}: {outcome.verdict} {outcome.message}"
    return outcome


def close(bench: Terminal, grams: int, verdict: Verdict = Verdict.CARTON_CLOSED) -> Outcome:
    expect(bench, "CMD-CLOSE-CARTON", Verdict.NEEDS_WEIGHT)
    assert bench.handler.awaiting_weight
    outcome = hf.close_with_weight(bench, grams)
    assert outcome.verdict is verdict, f"close at {grams} g: {outcome.verdict} {outcome.message}"
    return outcome


def lead_approves(bench: Terminal, reason_no: str = "1", verdict: Verdict = Verdict.SHORT_SHIPPED) -> Outcome:
    """With a lead's approval awaited: the reason by number, the lead's badge, the PIN."""
    expect(bench, reason_no, Verdict.NEEDS_LEAD)
    expect(bench, "LEAD-001", Verdict.NEEDS_PIN)
    outcome = bench.enter_pin(LEAD_PIN)
    assert outcome.verdict is verdict, f"PIN: {outcome.verdict} {outcome.message}"
    return outcome


def status(station: Station, order_id: str) -> dict[str, Any]:
    return order_status(station.ctx, hf.admin(station), order_id)


def events(station: Station) -> int:
    return hf.count(station, "events")


def login_and_open(station: Station, order_id: str, badge: str = "PACKER-001") -> Terminal:
    bench = hf.login(station, badge)
    expect(bench, order_id, Verdict.ORDER_OPENED)
    return bench


def user(station: Station, badge: str) -> Session:
    """A session of this station's Authenticator (each station vouches only for its own)."""
    return hf.person(station, badge)


def gs1(ean: str, **ai: str) -> str:
    codes = {"lot": "10", "expiry": "17", "serial": "21"}
    return "]C101" + ean.zfill(14) + GS.join(codes[k] + v for k, v in ai.items())


# --- whole orders ---------------------------------------------------------------------------------


def test_whole_order_in_two_cartons_packed_by_scans(station: Station) -> None:
    bench = station.terminal()
    assert play(bench, "PACKER-001", "TOTE-002", "BOX-M") == [Verdict.LOGGED_IN, Verdict.ORDER_OPENED, Verdict.CARTON_OPENED]
    assert play(bench, TEE_SIX, TEE_EAN, TEE_EAN) == [Verdict.ACCEPTED] * 3
    assert play(bench, SERUM_EAN, "B-77", "271231") == [Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.ACCEPTED]
    assert play(bench, gs1(MUG_EAN, lot="M-1")) == [Verdict.ACCEPTED]
    first = close(bench, BOX_M + 8 * TEE_G + SERUM_G + MUG_G + 30)
    assert "1" in first.message or "left" in first.message
    assert play(bench, "BOX-S", BUDS_EAN, "SN-0001", gs1(BUDS_EAN, serial="SN-0002")) == [
        Verdict.CARTON_OPENED, Verdict.NEEDS_SERIAL, Verdict.ACCEPTED, Verdict.ACCEPTED]
    last = close(bench, BOX_S + 2 * BUDS_G, Verdict.ORDER_COMPLETE)
    assert hf.pack_of(bench) is None

    doc = status(station, "SO-2")
    assert doc["status"] == "packed" and doc["claimed_by"] is None
    assert [(c["seq"], c["type"], c["status"]) for c in doc["cartons"]] == [(1, "BOX-M", "closed"), (2, "BOX-S", "closed")]
    ssccs = [c["sscc"] for c in doc["cartons"]]
    assert ssccs == [first.data["sscc"], last.data["sscc"]] and len(set(ssccs)) == 2
    assert all(len(s) == 18 and s.startswith("00614141") for s in ssccs)
    lines = {ln["sku"]: ln for ln in doc["lines"]}
    assert {k: (v["packed"], v["qty"]) for k, v in lines.items()} == {
        "TS-1": (8, 8), "CO-1": (1, 1), "HW-1": (1, 1), "EL-1": (2, 2)}
    assert lines["CO-1"]["scans"][0]["lot"] == "B-77" and lines["CO-1"]["scans"][0]["expiry"] == "2027-12-31"
    assert sorted(s["serial"] for s in lines["EL-1"]["scans"]) == ["SN-0001", "SN-0002"]
    assert [s["carton"] for s in lines["EL-1"]["scans"]] == [2, 2]
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds[:4] == ["order.received", "order.packing", "order.claimed", "carton.opened"]
    assert kinds[-1] == "order.packed" and kinds.count("carton.closed") == 2 and kinds.count("scan.recorded") == 7
    assert kinds.count("print.queued") == 3  # two labels and the slip, each with its seal
    packed = doc["events"][-1]
    assert packed["data"] == {"from": "packing", "to": "packed", "cartons": 2}
    assert packed["actor"] == "person:Pat Packer" and packed["user"] == "Pat Packer"
    assert all(e["actor"] for e in doc["events"])


def test_wrong_item_unknown_barcode_and_over_scan_count_nothing(station: Station) -> None:
    bench = login_and_open(station, "SO-1")
    expect(bench, "BOX-S", Verdict.CARTON_OPENED)
    wrong = expect(bench, TOY_EAN, Verdict.WRONG_ITEM)
    assert "Wooden puzzle" in wrong.message
    expect(bench, NOT_IN_CATALOG_EAN, Verdict.UNKNOWN_BARCODE)
    expect(bench, TEE_SIX, Verdict.OVER_SCAN)  # six for a line of two
    assert play(bench, TEE_EAN, TEE_EAN) == [Verdict.ACCEPTED] * 2
    expect(bench, TEE_EAN, Verdict.OVER_SCAN)
    doc = status(station, "SO-1")
    assert doc["lines"][0]["packed"] == 2 and len(doc["lines"][0]["scans"]) == 2


def test_refused_scans_are_recorded_for_the_leads_error_figures(station: Station) -> None:
    from packstation.services.stats import shift_figures

    bench = login_and_open(station, "SO-1")
    expect(bench, "BOX-S", Verdict.CARTON_OPENED)
    play(bench, TOY_EAN, TOY_EAN, NOT_IN_CATALOG_EAN, TEE_SIX)
    with station.uow(readonly=True) as uow:
        refused = [e for e in uow.events.for_order("SO-1") if e.kind == "scan.refused"]
    assert [(e.user, e.actor, e.payload["verdict"]) for e in refused] == [
        ("Pat Packer", "person:Pat Packer", "wrong_item"), ("Pat Packer", "person:Pat Packer", "wrong_item"),
        ("Pat Packer", "person:Pat Packer", "unknown_barcode"), ("Pat Packer", "person:Pat Packer", "over_scan")]
    assert status(station, "SO-1")["lines"][0]["packed"] == 0  # recorded, never counted
    figures = {f.user: f for f in shift_figures(station.ctx, hf.admin(station), NOW - timedelta(days=1))}
    assert figures["Pat Packer"].errors == {"wrong item": 2, "unknown barcode": 1, "over scan": 1}


def test_sealing_the_carton_while_a_lot_prompt_waits_does_not_lose_or_crash(station: Station) -> None:
    bench = login_and_open(station, "SO-3")
    assert play(bench, "BOX-S", TEE_EAN, MUG_EAN) == [Verdict.CARTON_OPENED, Verdict.ACCEPTED, Verdict.NEEDS_LOT]
    refused = expect(bench, "CMD-CLOSE-CARTON", Verdict.NOT_ALLOWED)  # the mug waits for its lot
    assert "Finish the prompt first" in refused.message
    cancelled = expect(bench, "CMD-UNDO", Verdict.UNDONE)  # cancels the prompt, takes back nothing
    assert cancelled.data["headline"] == "PROMPT CANCELLED"
    assert [ln["packed"] for ln in status(station, "SO-3")["lines"]] == [1, 0]
    close(bench, BOX_S + TEE_G)
    assert play(bench, "BOX-M", MUG_EAN, "LOT-1", MUG_EAN, "LOT-1") == [
        Verdict.CARTON_OPENED, Verdict.NEEDS_LOT, Verdict.ACCEPTED, Verdict.NEEDS_LOT, Verdict.ACCEPTED]
    close(bench, BOX_M + 2 * MUG_G, Verdict.ORDER_COMPLETE)


def test_quantity_command_counts_the_next_item(station: Station) -> None:
    bench = login_and_open(station, "SO-5")
    assert play(bench, "BOX-S", "CMD-QTY", "3", TEE_EAN) == [
        Verdict.CARTON_OPENED, Verdict.NEEDS_QTY, Verdict.QTY_SET, Verdict.ACCEPTED]
    close(bench, BOX_S + 3 * TEE_G, Verdict.ORDER_COMPLETE)
    assert status(station, "SO-5")["lines"][0]["scans"][0]["qty"] == 3


def test_expired_lot_is_refused_by_the_fixed_clock_date(station: Station) -> None:
    bench = login_and_open(station, "SO-2")
    expect(bench, "BOX-M", Verdict.CARTON_OPENED)
    expect(bench, gs1(SERUM_EAN, expiry="260309", lot="OLD"), Verdict.EXPIRED_LOT)  # today is 2026-03-10
    expect(bench, gs1(SERUM_EAN, expiry="260310", lot="NEW"), Verdict.ACCEPTED)


def test_serial_shipped_in_another_order_is_refused_until_undone(station: Station) -> None:
    bench = login_and_open(station, "SO-4")
    assert play(bench, "BOX-S", gs1(BUDS_EAN, serial="SN-9")) == [Verdict.CARTON_OPENED, Verdict.ACCEPTED]
    close(bench, BOX_S + BUDS_G, Verdict.ORDER_COMPLETE)
    expect(bench, "SO-2", Verdict.ORDER_OPENED)
    expect(bench, "BOX-M", Verdict.CARTON_OPENED)
    expect(bench, gs1(BUDS_EAN, serial="SN-9"), Verdict.SERIAL_ALREADY_SHIPPED)
    expect(bench, gs1(BUDS_EAN, serial="SN-10"), Verdict.ACCEPTED)
    expect(bench, "CMD-UNDO", Verdict.UNDONE)  # SN-10 is free again
    expect(bench, BUDS_EAN, Verdict.NEEDS_SERIAL)
    expect(bench, "SN-10", Verdict.ACCEPTED)


def test_another_products_barcode_at_the_lot_prompt_is_a_wrong_item_not_the_lot(station: Station) -> None:
    bench = login_and_open(station, "SO-3")
    assert play(bench, "BOX-S", MUG_EAN) == [Verdict.CARTON_OPENED, Verdict.NEEDS_LOT]
    wrong = expect(bench, TOY_EAN, Verdict.WRONG_ITEM)
    assert "Wooden puzzle" in wrong.message
    assert hf.pack_of(bench) is not None and hf.pack_of(bench).pending is None
    # a numeric lot that happens to have a valid GTIN check digit, but is no product, is a lot
    assert play(bench, MUG_EAN, NOT_IN_CATALOG_EAN) == [Verdict.NEEDS_LOT, Verdict.ACCEPTED]
    scans = status(station, "SO-3")["lines"][1]["scans"]
    assert [s["lot"] for s in scans] == [NOT_IN_CATALOG_EAN]


# --- SSCCs ------------------------------------------------------------------------------------------------


def pack_single(station: Station, order_id: str, grams: int, scans: tuple[str, ...]) -> str:
    bench = login_and_open(station, order_id)
    assert play(bench, "BOX-S", *scans) == [Verdict.CARTON_OPENED] + [Verdict.ACCEPTED] * len(scans)
    return close(bench, grams, Verdict.ORDER_COMPLETE).data["sscc"]


def test_ssccs_keep_counting_across_a_new_station_on_the_same_file(station: Station, make_station: StationFactory) -> None:
    first = pack_single(station, "SO-1", BOX_S + 2 * TEE_G, (TEE_EAN, TEE_EAN))
    station.close()
    again = make_station("BENCH-01")
    second = pack_single(again, "SO-5", BOX_S + 3 * TEE_G, (TEE_EAN,) * 3)
    assert int(second[8:17]) == int(first[8:17]) + 1
    assert sorted(r["sscc"] for r in hf.rows(again, "cartons")) == sorted([first, second])


# BENCH-01 on a database of its own, no [numbers] range: its own slice of the serials (config.sscc_range)
FIRST_SERIAL = 10_000_000


def test_failed_seal_burns_its_sscc_and_the_retry_gets_a_new_one(station: Station) -> None:
    """A counter behind the SSCCs in use (restored backup) must not block closing for ever."""
    prefix = station.ctx.packing.gs1_company_prefix
    taken = sscc18(station.ctx.packing.sscc_extension, prefix, FIRST_SERIAL)
    with station.uow() as uow:  # a carton of another order already carries serial 1
        uow.conn.execute(sa.update(tables.orders).where(tables.orders.c.order_id == "SO-HOLD").values(status="packed"))
        uow.conn.execute(sa.insert(tables.cartons).values(
            id=str(uuid.uuid4()), order_id="SO-HOLD", seq=1, type_code="BOX-S", status="closed", sscc=taken,
            opened_by="restore", station_id="OLD", opened_at=station.ctx.clock()))
        uow.commit()
    bench = login_and_open(station, "SO-1")
    assert play(bench, "BOX-S", TEE_EAN, TEE_EAN) == [Verdict.CARTON_OPENED, Verdict.ACCEPTED, Verdict.ACCEPTED]
    before = events(station)
    expect(bench, "CMD-CLOSE-CARTON", Verdict.NEEDS_WEIGHT)
    failed = hf.close_with_weight(bench, BOX_S + 2 * TEE_G)
    assert failed.verdict is Verdict.STORAGE_FAILED and "NOT SAVED" in failed.message
    assert events(station) == before  # nothing of the failed close was stored
    doc = status(station, "SO-1")
    assert doc["status"] == "packing" and doc["cartons"][0]["status"] == "open" and doc["cartons"][0]["sscc"] is None
    retry = close(bench, BOX_S + 2 * TEE_G, Verdict.ORDER_COMPLETE)
    assert retry.data["sscc"] == sscc18(0, prefix, FIRST_SERIAL + 1)


def test_a_counter_value_is_handed_out_only_when_its_unit_of_work_commits(station: Station) -> None:
    """A rolled-back reservation hands nothing out (so its number comes again); the seal commits its own."""
    first = FIRST_SERIAL
    with station.uow() as uow:
        assert uow.numbers.next("sscc") == first
        uow.commit()
    with station.uow() as uow:
        assert uow.numbers.next("sscc") == first + 1
        # no commit: rolled back, that value was never handed to anyone
    with station.uow() as uow:
        assert uow.numbers.next("sscc") == first + 1
        assert uow.numbers.next("sscc") == first + 2
        uow.commit()
    sscc = pack_single(station, "SO-1", BOX_S + 2 * TEE_G, (TEE_EAN, TEE_EAN))
    assert int(sscc[8:17]) == first + 3


# --- cartons: blocked, fixed, overridden --------------------------------------------------------------------


def test_lead_overrides_a_blocked_carton_with_badge_and_pin(station: Station) -> None:
    bench = login_and_open(station, "SO-1")
    assert play(bench, "BOX-S", TEE_EAN, TEE_EAN) == [Verdict.CARTON_OPENED] + [Verdict.ACCEPTED] * 2
    blocked = close(bench, 900, Verdict.CARTON_BLOCKED)
    assert blocked.data["expected_g"] == BOX_S + 2 * TEE_G and blocked.data["allowed_g"] == 27  # 5 % of 550 g = 27.5 g
    expect(bench, "1", Verdict.NEEDS_LEAD)  # reason 1: packaging material not in the tare
    refused = expect(bench, "PACKER-002", Verdict.NOT_ALLOWED)  # a packer's badge overrides nothing
    assert "not a lead's badge" in refused.message
    close(bench, 900, Verdict.CARTON_BLOCKED)  # still blocked: weighed again, asked again
    done = lead_approves(bench, "1", Verdict.ORDER_COMPLETE)
    carton = status(station, "SO-1")["cartons"][0]
    assert (carton["status"], carton["weight_g"], carton["override_by"], carton["sscc"]) == (
        "closed", 900, "Lee Lead", done.data["sscc"])
    [override] = [e for e in status(station, "SO-1")["events"] if e["kind"] == "carton.overridden"]
    assert override["actor"] == "person:Lee Lead" and override["data"]["packer"] == "person:Pat Packer"
    assert override["data"]["reason"] == "packaging material not in the tare"


def test_blocked_carton_fixed_by_a_scan_is_open_again_after_a_restart(station: Station, make_station: StationFactory) -> None:
    bench = login_and_open(station, "SO-1")
    play(bench, "BOX-S", TEE_EAN)
    close(bench, BOX_S + 2 * TEE_G, Verdict.CARTON_BLOCKED)  # weighed with both tees, only one scanned
    expect(bench, TEE_EAN, Verdict.ACCEPTED)
    assert status(station, "SO-1")["cartons"][0]["status"] == "open"
    assert status(station, "SO-1")["cartons"][0]["weight_g"] is None
    again = make_station("BENCH-01").terminal()
    expect(again, "PACKER-001", Verdict.LOGGED_IN)
    assert hf.pack_of(again) is not None and hf.pack_of(again).open_carton is not None
    assert hf.pack_of(again).open_carton.status.value == "open"
    close(again, BOX_S + 2 * TEE_G, Verdict.ORDER_COMPLETE)


def test_blocked_carton_fixed_by_undoing_the_extra_item(station: Station) -> None:
    bench = login_and_open(station, "SO-1")
    play(bench, "BOX-S", TEE_EAN, TEE_EAN)
    close(bench, BOX_S + TEE_G, Verdict.CARTON_BLOCKED)  # one tee fell out
    expect(bench, "CMD-UNDO", Verdict.UNDONE)
    assert status(station, "SO-1")["cartons"][0]["status"] == "open"
    close(bench, BOX_S + TEE_G, Verdict.CARTON_CLOSED)
    doc = status(station, "SO-1")
    assert doc["lines"][0]["packed"] == 1 and doc["undone_scans"] == 1


def test_new_carton_command_and_carton_swap(station: Station) -> None:
    bench = login_and_open(station, "SO-1")
    expect(bench, "CMD-NEW-CARTON", Verdict.CARTON_OPENED)  # no carton yet: the lightest type
    swapped = expect(bench, "BOX-M", Verdict.CARTON_OPENED)  # empty carton: swapped, not a second one
    assert "now a Medium box" in swapped.message
    expect(bench, TEE_EAN, Verdict.ACCEPTED)
    expect(bench, "BOX-S", Verdict.NOT_ALLOWED)  # still open with an item in it
    expect(bench, "BOX-NONE", Verdict.INVALID_SCAN)
    assert [(c["seq"], c["type"]) for c in status(station, "SO-1")["cartons"]] == [(1, "BOX-M")]


# --- undo ---------------------------------------------------------------------------------------------------


def test_undo_own_scan_only_and_a_lead_undoes_anyones(station: Station) -> None:
    bench = login_and_open(station, "SO-5")
    play(bench, "BOX-S", TEE_EAN)
    bench.logout()
    expect(bench, "PACKER-002", Verdict.LOGGED_IN)  # resumes the order on this bench
    expect(bench, "CMD-UNDO", Verdict.NOTHING_TO_UNDO)
    expect(bench, "CMD-LOGOUT", Verdict.LOGGED_OUT)
    hf.login(bench, "LEAD-001")  # badge, PIN, DESK-BENCH: the order is resumed
    assert hf.pack_of(bench) is not None
    expect(bench, "CMD-UNDO", Verdict.UNDONE)
    expect(bench, "CMD-UNDO", Verdict.NOTHING_TO_UNDO)
    assert status(station, "SO-5")["lines"][0]["packed"] == 0


def test_after_a_restart_undo_takes_back_the_newest_scan_even_if_the_clock_stepped_back(
        make_station: StationFactory) -> None:
    ticks = iter(range(10_000))  # a clock that steps back a second at every reading
    station = make_station(clock=lambda: NOW - timedelta(seconds=next(ticks)))
    stock(station)
    bench = login_and_open(station, "SO-3")
    assert play(bench, "BOX-S", TEE_EAN, gs1(MUG_EAN, lot="M1")) == [Verdict.CARTON_OPENED] + [Verdict.ACCEPTED] * 2
    again = make_station().terminal()  # the bench restarts and resumes the order from the database
    expect(again, "PACKER-001", Verdict.LOGGED_IN)
    undone = expect(again, "CMD-UNDO", Verdict.UNDONE)
    assert undone.sku == "HW-1"  # the mug, scanned last, though its timestamp is the older one
    lines = {ln["sku"]: ln["packed"] for ln in status(station, "SO-3")["lines"]}
    assert lines == {"TS-1": 1, "HW-1": 0}


def test_a_weight_that_arrives_after_the_packer_moved_on_closes_nothing(station: Station) -> None:
    bench = login_and_open(station, "SO-1")
    assert play(bench, "BOX-S", TEE_EAN, "CMD-CLOSE-CARTON") == [Verdict.CARTON_OPENED, Verdict.ACCEPTED, Verdict.NEEDS_WEIGHT]
    expect(bench, "CMD-CANCEL", Verdict.WEIGHING)  # nothing but CMD-UNDO while the scale is read
    expect(bench, "CMD-UNDO", Verdict.UNDONE)  # the seal is cancelled ...
    expect(bench, "CMD-CANCEL", Verdict.ORDER_RELEASED)  # ... and the packer gives the order up
    assert play(bench, "SO-5", "BOX-S", TEE_EAN) == [Verdict.ORDER_OPENED, Verdict.CARTON_OPENED, Verdict.ACCEPTED]
    late = hf.close_with_weight(bench, BOX_S + TEE_G)  # SO-1's weighing finally answers
    assert late.verdict is Verdict.NOT_ALLOWED and "CMD-CLOSE-CARTON again" in late.message
    assert hf.pack_of(bench) is not None and hf.pack_of(bench).open_carton is not None  # SO-5's carton still open
    assert [c["status"] for c in status(station, "SO-5")["cartons"]] == ["open"]
    expect(bench, "CMD-CLOSE-CARTON", Verdict.NEEDS_WEIGHT)
    expect(bench, TEE_EAN, Verdict.WEIGHING)  # an item while weighing counts nothing
    expect(bench, "CMD-UNDO", Verdict.UNDONE)  # the seal is cancelled: the packer goes on
    expect(bench, TEE_EAN, Verdict.ACCEPTED)  # another item after asking for the weight
    assert hf.close_with_weight(bench, BOX_S + 2 * TEE_G).verdict is Verdict.NOT_ALLOWED
    close(bench, BOX_S + 2 * TEE_G)  # asked again, weighed, sealed


# --- short-ship ------------------------------------------------------------------------------------------------


def test_short_ship_needs_a_reason_a_lead_badge_and_pin_then_the_carton_closes_the_order(station: Station) -> None:
    bench = login_and_open(station, "SO-3")
    assert play(bench, "BOX-S", TEE_EAN, gs1(MUG_EAN, lot="M1")) == [Verdict.CARTON_OPENED] + [Verdict.ACCEPTED] * 2
    asked = expect(bench, "CMD-SHORT", Verdict.NEEDS_REASON)
    assert asked.data["reasons"][0] == "not available at pick"
    expect(bench, "1", Verdict.NEEDS_LEAD)
    expect(bench, "PACKER-002", Verdict.NOT_ALLOWED)  # not a lead: the request is cancelled
    expect(bench, "CMD-SHORT", Verdict.NEEDS_REASON)
    expect(bench, "1", Verdict.NEEDS_LEAD)
    swallowed = expect(bench, TEE_EAN, Verdict.NOT_ALLOWED)  # an item while a lead is awaited
    assert "not counted: scan it again" in swallowed.message
    expect(bench, "CMD-SHORT", Verdict.NEEDS_REASON)
    lead_approves(bench, "1")
    close(bench, BOX_S + TEE_G + MUG_G, Verdict.ORDER_COMPLETE)
    doc = status(station, "SO-3")
    mug = next(ln for ln in doc["lines"] if ln["sku"] == "HW-1")
    assert (doc["status"], mug["packed"], mug["short"], mug["short_reason"]) == ("packed", 1, 1, "not available at pick")
    short = next(e for e in doc["events"] if e["kind"] == "order.short_shipped")
    assert short["user"] == "Lee Lead" and short["actor"] == "person:Lee Lead"
    assert short["data"]["lines"] == [{"sku": "HW-1", "short": 1}] and short["data"]["packer"] == "person:Pat Packer"


def test_the_reason_picked_for_a_short_ship_is_stored_with_the_lines(station: Station) -> None:
    bench = login_and_open(station, "SO-3")
    assert play(bench, "BOX-S", TEE_EAN) == [Verdict.CARTON_OPENED, Verdict.ACCEPTED]
    assert bench.handler.set_lead_reason("damaged in stock") is None  # nothing awaits a lead yet
    expect(bench, "CMD-SHORT", Verdict.NEEDS_REASON)
    assert bench.handler.set_lead_reason("damaged in the tote") is None  # not a reason on the list
    picked = bench.handler.set_lead_reason("damaged in stock")  # picked on the screen instead of by number
    assert picked is not None and picked.verdict is Verdict.NEEDS_LEAD
    expect(bench, "LEAD-001", Verdict.NEEDS_PIN)
    assert bench.enter_pin(LEAD_PIN).verdict is Verdict.SHORT_SHIPPED
    mug = next(ln for ln in status(station, "SO-3")["lines"] if ln["sku"] == "HW-1")
    assert (mug["short"], mug["short_reason"]) == (2, "damaged in stock")


def test_short_ship_after_the_last_carton_was_sealed_finishes_the_order(station: Station) -> None:
    bench = login_and_open(station, "SO-3")
    play(bench, "BOX-S", TEE_EAN, gs1(MUG_EAN, lot="M1"))
    close(bench, BOX_S + TEE_G + MUG_G, Verdict.CARTON_CLOSED)  # one mug still missing
    expect(bench, "CMD-SHORT", Verdict.NEEDS_REASON)
    lead_approves(bench, "1", Verdict.ORDER_COMPLETE)
    assert hf.pack_of(bench) is None
    doc = status(station, "SO-3")
    assert doc["status"] == "packed" and doc["claimed_by"] is None
    kinds = [e["kind"] for e in doc["events"]]
    assert [k for k in kinds if not k.startswith("print.")][-2:] == ["order.short_shipped", "order.packed"]
    assert kinds.count("print.queued") == 2  # the label with its seal, the slip with the short-ship


def test_short_ship_of_an_order_with_nothing_packed_is_refused(station: Station) -> None:
    bench = login_and_open(station, "SO-3", badge="LEAD-001")
    expect(bench, "CMD-SHORT", Verdict.NEEDS_REASON)
    refused = expect(bench, "1", Verdict.NOT_ALLOWED)  # a lead at the bench approves their own request
    assert "CMD-CANCEL" in refused.message
    assert status(station, "SO-3")["status"] == "packing"


# --- claims, release, resume -----------------------------------------------------------------------------------


def test_order_claimed_by_another_bench_is_refused_with_its_name(station: Station, make_station: StationFactory) -> None:
    login_and_open(station, "SO-1")
    bench7 = make_station("BENCH-07")
    other = hf.login(bench7, "PACKER-002")
    refused = expect(other, "TOTE-001", Verdict.ORDER_REFUSED)
    assert "BENCH-01" in refused.message and "Pat Packer" in refused.message
    lead = user(bench7, "LEAD-001")
    with pytest.raises(NotAllowed, match="lead"):  # a packer releases nothing
        p.release_claim(bench7.ctx, user(bench7, "PACKER-002"), "SO-1", "bench 1 crashed")
    assert p.release_claim(bench7.ctx, lead, "SO-1", " ").verdict is Verdict.NOT_ALLOWED  # no reason
    assert status(station, "SO-1")["claimed_by"] == "BENCH-01"
    released = p.release_claim(bench7.ctx, lead, "SO-1", "bench 1 crashed")
    assert released.verdict is Verdict.ORDER_RELEASED and "BENCH-01" in released.message
    [event] = [e for e in status(station, "SO-1")["events"] if e["kind"] == "order.claim_released"]
    assert event["actor"] == "person:Lee Lead" and event["data"]["reason"] == "bench 1 crashed"
    expect(other, "SO-1", Verdict.ORDER_OPENED)


def test_a_bench_whose_order_was_taken_over_stores_nothing_more(station: Station, make_station: StationFactory) -> None:
    """A lead released bench 1's order and bench 2 took it: bench 1 must not keep packing it."""
    stale = login_and_open(station, "SO-5")
    play(stale, "BOX-S", TEE_EAN)
    bench2 = make_station("BENCH-02")
    assert p.release_claim(bench2.ctx, user(bench2, "LEAD-001"), "SO-5", "packer went home").verdict is Verdict.ORDER_RELEASED
    other = login_and_open(bench2, "SO-5", badge="PACKER-002")
    before = events(station)
    refused = expect(stale, TEE_EAN, Verdict.ORDER_REFUSED)
    assert "BENCH-02" in refused.message and "Olu Other" in refused.message
    assert hf.pack_of(stale) is None  # the stale bench lets go of the order
    assert events(station) == before
    assert status(station, "SO-5")["lines"][0]["packed"] == 1
    assert play(other, TEE_EAN, TEE_EAN) == [Verdict.ACCEPTED, Verdict.ACCEPTED]
    close(other, BOX_S + 3 * TEE_G, Verdict.ORDER_COMPLETE)


@pytest.mark.parametrize("action", ["CMD-UNDO", "CMD-CANCEL", "BOX-M", "CMD-CLOSE-CARTON", "CMD-SHORT"])
def test_every_change_checks_the_order_is_still_this_benchs(station: Station, make_station: StationFactory, action: str) -> None:
    bench = login_and_open(station, "SO-5", badge="LEAD-001")
    play(bench, "BOX-S", TEE_EAN)
    if action == "BOX-M":
        expect(bench, "CMD-CLOSE-CARTON", Verdict.NEEDS_WEIGHT)
        assert hf.close_with_weight(bench, BOX_S + TEE_G).verdict is Verdict.CARTON_CLOSED
    bench2 = make_station("BENCH-02")
    p.release_claim(bench2.ctx, user(bench2, "LEAD-001"), "SO-5", "test")
    login_and_open(bench2, "SO-5", badge="PACKER-002")
    before = events(station)
    if action == "CMD-CLOSE-CARTON":
        expect(bench, action, Verdict.NEEDS_WEIGHT)
        outcome = hf.close_with_weight(bench, BOX_S + TEE_G)
    elif action == "CMD-SHORT":
        expect(bench, action, Verdict.NEEDS_REASON)
        outcome = bench.scan("1")  # the lead at the bench approves: the short-ship itself runs
    else:
        outcome = bench.scan(action)
    assert outcome.verdict is Verdict.ORDER_REFUSED and "BENCH-02" in outcome.message, outcome
    assert hf.pack_of(bench) is None and events(station) == before
    assert status(station, "SO-5")["claimed_by"] == "BENCH-02"


def test_benches_sharing_one_sqlite_file_race_for_an_order_and_one_wins(station: Station, make_station: StationFactory) -> None:
    benches = [make_station(f"BENCH-{i:02d}") for i in range(2, 6)]
    packers = [user(bench, "PACKER-001") for bench in benches]
    barrier = threading.Barrier(len(benches))
    results: list[object] = [None] * len(benches)

    def claim(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            results[i] = p.claim_order(benches[i].ctx, packers[i], "SO-2").order.order_id
        except p.OrderRefused as exc:
            results[i] = exc

    threads = [threading.Thread(target=claim, args=(i,), daemon=True) for i in range(len(benches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    winners = [benches[i].ctx.station_id for i, r in enumerate(results) if r == "SO-2"]
    assert len(winners) == 1, results
    assert all(isinstance(r, p.OrderRefused) and winners[0] in str(r) for r in results if r != "SO-2"), results


def test_cancel_releases_the_order_and_another_bench_resumes_it(station: Station, make_station: StationFactory) -> None:
    bench = login_and_open(station, "SO-1")
    play(bench, "BOX-S", TEE_EAN)
    expect(bench, "CMD-CANCEL", Verdict.ORDER_RELEASED)
    assert hf.pack_of(bench) is None and status(station, "SO-1")["claimed_by"] is None
    [put_back] = [e for e in status(station, "SO-1")["events"] if e["kind"] == "order.put_back"]
    assert put_back["actor"] == "person:Pat Packer" and put_back["data"] == {"station": "BENCH-01"}
    other = hf.login(make_station("BENCH-02"), "PACKER-002")
    opened = expect(other, "SO-1", Verdict.ORDER_OPENED)
    assert "1 item(s)" in opened.message
    assert hf.pack_of(other) is not None and len(hf.pack_of(other).items) == 1
    expect(other, TEE_EAN, Verdict.ACCEPTED)  # into the same open carton
    close(other, BOX_S + 2 * TEE_G, Verdict.ORDER_COMPLETE)
    doc = status(station, "SO-1")
    assert {s["user"] for s in doc["lines"][0]["scans"]} == {"Pat Packer", "Olu Other"}
    claims = [e["station"] for e in doc["events"] if e["kind"] == "order.claimed"]
    assert claims == ["BENCH-01", "BENCH-02"]


def test_crash_recovery_resumes_the_order_with_its_scans_and_cartons(station: Station, make_station: StationFactory) -> None:
    bench = login_and_open(station, "SO-2")
    play(bench, "BOX-M", TEE_SIX, TEE_EAN, TEE_EAN)
    close(bench, BOX_M + 8 * TEE_G)
    play(bench, "BOX-S", gs1(BUDS_EAN, serial="S-1"), MUG_EAN)  # the mug waits for its lot
    before = hf.pack_of(bench)
    assert before is not None
    station.close()  # power cut: the Terminal and Station objects are gone

    again = make_station("BENCH-01").terminal()
    welcome = expect(again, "PACKER-001", Verdict.LOGGED_IN)
    assert welcome.data == {"resumed": "SO-2"}
    after = hf.pack_of(again)
    assert after is not None
    assert [(c.seq, c.type.code, c.status, c.sscc) for c in after.cartons] == [
        (c.seq, c.type.code, c.status, c.sscc) for c in before.cartons]
    assert sorted((i.scan_id, i.qty, i.serial) for i in after.items) == sorted((i.scan_id, i.qty, i.serial) for i in before.items)
    assert [ln.packed for ln in after.order.lines] == [ln.packed for ln in before.order.lines]
    assert after.pending is None  # an unanswered prompt is not stored: the mug is scanned again
    assert play(again, MUG_EAN, "M-9", BUDS_EAN, "S-2", SERUM_EAN, "B1", "271231") == [
        Verdict.NEEDS_LOT, Verdict.ACCEPTED, Verdict.NEEDS_SERIAL, Verdict.ACCEPTED,
        Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.ACCEPTED]
    close(again, BOX_S + 2 * BUDS_G + MUG_G + SERUM_G, Verdict.ORDER_COMPLETE)


def test_held_packed_and_unknown_orders_are_refused_with_a_reason(station: Station) -> None:
    bench = hf.login(station, "PACKER-001")
    assert "on hold" in expect(bench, "SO-HOLD", Verdict.ORDER_REFUSED).message
    assert "No order or tote" in expect(bench, "SO-404", Verdict.ORDER_REFUSED).message
    expect(bench, "SO-5", Verdict.ORDER_OPENED)
    play(bench, "BOX-S", "CMD-QTY", "3", TEE_EAN)
    close(bench, BOX_S + 3 * TEE_G, Verdict.ORDER_COMPLETE)
    assert "already packed" in expect(bench, "SO-5", Verdict.ORDER_REFUSED).message


def test_a_reused_tote_opens_the_order_now_in_it(station: Station) -> None:
    pack_single(station, "TOTE-001", BOX_S + 2 * TEE_G, (TEE_EAN, TEE_EAN))  # SO-1 packed
    report = hf.import_recs(station, "orders", [order("SO-9", {"TS-1": 1}, tote="TOTE-001")], "next wave")
    assert report.ok, report.rejected
    bench = hf.login(station, "PACKER-001")
    opened = expect(bench, "TOTE-001", Verdict.ORDER_OPENED)
    assert opened.data["order_id"] == "SO-9"
    assert status(station, "SO-1")["status"] == "packed"  # the order number still finds the old one


def test_scans_with_nobody_logged_in_or_no_order_open(station: Station) -> None:
    bench = station.terminal()
    expect(bench, "CMD-CLOSE-CARTON", Verdict.NOT_ALLOWED)
    expect(bench, "NOBODY-1", Verdict.LOGIN_REFUSED)
    expect(bench, "PACKER-001", Verdict.LOGGED_IN)
    for command in ("CMD-CLOSE-CARTON", "CMD-UNDO", "CMD-SHORT", "CMD-CANCEL"):
        expect(bench, command, Verdict.NO_ORDER)
    expect(bench, TEE_EAN, Verdict.ORDER_REFUSED)  # an item is no order number
    assert hf.pack_of(bench) is None
    assert hf.close_with_weight(bench, 500).verdict is Verdict.NO_ORDER
    assert expect(bench, "A\x1bB", Verdict.INVALID_SCAN).message.startswith("Unreadable scan")


def test_claim_next_hands_out_the_oldest_released_orders_one_each(station: Station, make_station: StationFactory) -> None:
    other = make_station("BENCH-02")
    packer, packer2 = user(station, "PACKER-001"), user(other, "PACKER-001")
    got = [p.claim_next_order(st.ctx, who) for st, who in ((station, packer), (other, packer2), (station, packer))]
    assert [s.order.order_id if s else None for s in got] == ["SO-1", "SO-2", "SO-3"]
    assert status(station, "SO-2")["claimed_by"] == "BENCH-02"


def test_claim_next_also_hands_out_picked_and_put_back_orders(station: Station) -> None:
    packer = user(station, "PACKER-001")
    create_pick_wave(station.ctx, hf.admin(station), 2)  # SO-1 and SO-2 are being picked
    bench = login_and_open(station, "SO-3")
    play(bench, "BOX-S", TEE_EAN)
    expect(bench, "CMD-CANCEL", Verdict.ORDER_RELEASED)  # SO-3 half packed, put back
    statuses = {o: status(station, o)["status"] for o in ("SO-1", "SO-2", "SO-3", "SO-4")}
    assert statuses == {"SO-1": "picking", "SO-2": "picking", "SO-3": "packing", "SO-4": "released"}
    got = []
    while (session := p.claim_next_order(station.ctx, packer)) is not None:
        got.append(session.order.order_id)
    assert got == ["SO-1", "SO-2", "SO-3", "SO-4", "SO-5"]  # oldest first; never the held order
    assert status(station, "SO-3")["lines"][0]["packed"] == 1


def read_only(station: Station) -> None:
    """SQLite itself refuses every write from now on (SQLITE_READONLY, as a read-only file)."""

    def query_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=ON")

    engine = hf.engine_of(station)
    sa.event.listen(engine, "connect", query_only)
    engine.dispose()


def test_pin_entry_on_a_read_only_database_is_refused_with_a_hint(station: Station) -> None:
    hf.add_user(station, "Pia Pin", "packer", "PACKER-PIN", pin="4321")
    bench = station.terminal()
    expect(bench, "PACKER-PIN", Verdict.NEEDS_PIN)
    read_only(station)
    outcome = bench.enter_pin("4321")
    assert outcome.verdict is Verdict.STORAGE_FAILED
    assert "read-only" in outcome.message and bench.session is None


# --- events and the status document ------------------------------------------------------------------------------


def test_every_state_change_writes_exactly_its_events(station: Station) -> None:
    bench = station.terminal()
    steps: list[tuple[str | int, Verdict, int]] = [
        ("PACKER-001", Verdict.LOGGED_IN, 1),  # user.login
        ("SO-3", Verdict.ORDER_OPENED, 2),  # order.packing (released -> packing) + order.claimed
        ("BOX-S", Verdict.CARTON_OPENED, 1),  # carton.opened
        ("BOX-M", Verdict.CARTON_OPENED, 1),  # carton.changed
        (TEE_EAN, Verdict.ACCEPTED, 1),  # scan.recorded
        (TOY_EAN, Verdict.WRONG_ITEM, 1),  # scan.refused (the lead's error figures)
        (MUG_EAN, Verdict.NEEDS_LOT, 0),  # nothing stored until the item is complete
        ("M-1", Verdict.ACCEPTED, 1),
        ("CMD-UNDO", Verdict.UNDONE, 1),  # scan.undone
        ("CMD-QTY", Verdict.NEEDS_QTY, 0),
        ("2", Verdict.QTY_SET, 0),
        (MUG_EAN, Verdict.NEEDS_LOT, 0),
        ("M-2", Verdict.ACCEPTED, 1),
        ("CMD-CLOSE-CARTON", Verdict.NEEDS_WEIGHT, 0),
        (100, Verdict.CARTON_BLOCKED, 1),  # carton.blocked
        ("CMD-CLOSE-CARTON", Verdict.NEEDS_WEIGHT, 0),
        # carton.closed + print.queued (label) + print.queued (slip) + order.packed
        (BOX_M + TEE_G + 2 * MUG_G, Verdict.ORDER_COMPLETE, 4),
    ]
    for action, verdict, new_events in steps:
        before = events(station)
        outcome = hf.close_with_weight(bench, action) if isinstance(action, int) else bench.scan(action)
        assert outcome.verdict is verdict, f"{action!r}: {outcome.verdict} {outcome.message}"
        assert events(station) - before == new_events, f"{action!r} wrote {events(station) - before} events"
    rows = hf.rows(station, "events")
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    # random (version 4) ids, or time-ordered version 7 ones for the events a big import writes (RFC 9562)
    assert all(uuid.UUID(i).version in (4, 7) and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert all(r["station_id"] == "BENCH-01" for r in rows if r["order_id"] == "SO-3" and r["kind"] != "order.received")
    assert all(r["actor"] == "person:Pat Packer" for r in rows if r["order_id"] == "SO-3" and r["kind"] != "order.received")


def test_status_document_of_an_order_in_progress(station: Station) -> None:
    bench = login_and_open(station, "SO-2")
    play(bench, "BOX-M", TEE_EAN, TEE_EAN, "CMD-UNDO", gs1(BUDS_EAN, serial="SN-5"))
    doc = status(station, "TOTE-002")  # a tote finds its order too
    assert doc["order_id"] == "SO-2" and doc["status"] == "packing" and doc["claimed_by"] == "BENCH-01"
    assert doc["carrier"] == "DHL" and doc["service"] == "Paket"
    assert doc["payment"] == {"method": "prepaid", "status": "paid", "currency": "EUR"}
    assert doc["ship_to"]["city"] == "Berlin" and doc["ship_to"]["country"] == "DE"
    lines = {ln["sku"]: ln for ln in doc["lines"]}
    assert (lines["TS-1"]["packed"], lines["TS-1"]["qty"], lines["TS-1"]["name"]) == (1, 8, "Cotton tee")
    assert lines["EL-1"]["scans"] == [
        {**lines["EL-1"]["scans"][0], "qty": 1, "carton": 1, "serial": "SN-5", "lot": None, "user": "Pat Packer",
         "source": "wedge", "station": "BENCH-01"}]
    assert doc["undone_scans"] == 1
    assert doc["cartons"] == [{"seq": 1, "type": "BOX-M", "status": "open", "expected_g": None, "weight_g": None,
                               "sscc": None, "tracking_number": None, "override_by": None, "closed_at": None,
                               "label_carrier": None}]
    assert [e["kind"] for e in doc["events"]] == [
        "order.received", "order.packing", "order.claimed", "carton.opened", "scan.recorded", "scan.recorded", "scan.undone",
        "scan.recorded"]
    with pytest.raises(NotFound):
        status(station, "SO-404")


def test_a_station_on_an_empty_file_migrates_and_stocks(make_station: StationFactory) -> None:
    fresh = make_station("BENCH-09")
    assert hf.count(fresh, "orders") == 0
    stock(fresh)
    assert hf.count(fresh, "orders") == 6 and hf.count(fresh, "users") == 3


def test_lead_lists_held_orders_and_ready_orders_from_the_database(station: Station) -> None:
    from packstation.services.stats import claimed_orders, ready_orders

    lead = user(station, "LEAD-001")
    assert claimed_orders(station.ctx, lead) == []
    login_and_open(station, "SO-2")
    held = claimed_orders(station.ctx, lead)
    assert [(h.order_id, h.station_id, h.user, h.status.value) for h in held] == [
        ("SO-2", "BENCH-01", "Pat Packer", "packing")]
    with pytest.raises(NotAllowed):  # a packer does not see who holds what
        claimed_orders(station.ctx, user(station, "PACKER-001"))
    ready = ready_orders(station.ctx, limit=10)
    assert ("SO-1", "TOTE-001") in ready and all(o not in dict(ready) for o in ("SO-2", "SO-HOLD"))
    assert len(ready_orders(station.ctx, limit=2)) == 2
