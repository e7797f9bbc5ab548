"""Imports stored in chunks under an import batch, on the fake storage (``services.imports``).

The fake database answers ``one_transaction`` as SQLite does (False: a batch of short
transactions) unless the test says otherwise, and :data:`imports.CHUNK` is made small so a file
of a few dozen orders goes in several chunks. What is checked: a held order cannot be packed,
a file is whole or nothing across chunks, a stopped import is rolled back or finished by
``recover_imports``, and the events name the import.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fakes import FakeDatabase, FakeStaging, fake_context
from warehouse import stocked_database

from packstation.domain.identity import ActorKind, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.services import imports, packing
from packstation.services.context import Context
from packstation.services.imports import ImportStopped, import_records, recover_imports
from packstation.services.packing import OrderRefused
from packstation.services.ports import BatchState, StorageError


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "CHUNK", 5)


def importer(ctx: Context) -> Session:
    return ctx.auth.system(ActorKind.IMPORT, "pat")


def an_order(order_id: str, **changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "order_id": order_id, "channel": "shop-web", "placed_at": "2026-03-10T08:00:00+01:00",
        "customer": {"name": "Anna Schmidt", "email": "anna@example.com"},
        "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                    "country": "DE"},
        "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL",
        "lines": [{"sku": "TS-1", "qty": 1, "unit_price": "9.95"}, {"sku": "TY-1", "qty": 2, "unit_price": "4.50"}],
    }
    rec.update(changes)
    return rec


def records(*recs: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(f"record {i}", r) for i, r in enumerate(recs, 1)]


def many(n: int, prefix: str = "WEB-") -> list[tuple[str, Any]]:
    return records(*(an_order(f"{prefix}{i:03d}") for i in range(1, n + 1)))


def stored(ctx: Context, *order_ids: str) -> dict[str, Any]:
    with ctx.uow(readonly=True) as uow:
        return {i: uow.orders.get(i) for i in order_ids}


def batches(ctx: Context) -> list[Any]:
    with ctx.uow(readonly=True) as uow:
        return sorted(uow.state.batches.values(), key=lambda b: b.started_at)  # type: ignore[attr-defined]


def all_events(ctx: Context) -> list[Any]:
    with ctx.uow(readonly=True) as uow:
        return list(uow.state.events)  # type: ignore[attr-defined]


# --- a file in chunks ---------------------------------------------------------------------------


def test_a_file_goes_in_chunks_under_a_batch_and_comes_out_whole(ctx: Context, db: FakeDatabase) -> None:
    before = len(db.transactions)
    report = import_records(ctx, importer(ctx), "orders", many(23), "orders.ndjson")
    assert (report.ok, report.records, report.created) == (True, 23, 23)
    orders = stored(ctx, *(f"WEB-{i:03d}" for i in range(1, 24)))
    assert all(o is not None and o.status is OrderStatus.RELEASED for o in orders.values())
    [batch] = batches(ctx)
    assert (batch.state, batch.kind, batch.file, batch.actor) == (BatchState.DONE, "orders", "orders.ndjson", "import:pat")
    assert (batch.records, batch.created, batch.updated, batch.unchanged) == (23, 23, 0, 0)
    # 5 chunks in, each with its orders' events (held, like the orders), then the commit point
    written = db.transactions[before:]
    assert [len(t) for t in written[:-1]] == [5, 5, 5, 5, 3]
    assert {k for t in written[:-1] for k in t} == {"order.received"}
    assert written[-1] == ["import.orders"]
    received = [e for e in all_events(ctx) if e.kind == "order.received" and e.order_id.startswith("WEB-")]
    assert len(received) == 23 and {e.actor for e in received} == {"import:pat"}
    assert received[0].payload == {"status": "released", "channel": "shop-web"}


def test_an_order_held_by_an_unfinished_import_cannot_be_packed_or_picked(
        ctx: Context, pat: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _stopped_while_publishing(ctx, monkeypatch, 23)  # two chunks in, then the process died
    with pytest.raises(OrderRefused, match="WEB-003 is arriving with the import of big.ndjson, which has not finished"):
        packing.claim_order(ctx, pat, "WEB-003")
    with ctx.uow() as uow:
        assert not uow.orders.try_claim("WEB-003", "BENCH-01", "Pat Packer", ctx.clock())
        assert not any(i.startswith("WEB-") for i, _ in uow.orders.ready(100))
        assert not any(o.order_id.startswith("WEB-") for o in uow.orders.next_to_pick(100))
    pack = packing.claim_next_order(ctx, pat)
    assert pack is not None and not pack.order.order_id.startswith("WEB-")  # the bench's own orders still flow


def test_the_new_orders_of_a_file_can_be_packed_all_at_once_from_its_commit(
        ctx: Context, pat: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = imports._Import._import_event

    def before_the_commit_point(job: Any, uow: Any) -> None:
        with ctx.uow(readonly=True) as other:  # another station's view, just before the commit
            seen.append(any(other.orders.claim_of(f"WEB-{i:03d}").importing is None for i in range(1, 13)))
        real(job, uow)

    monkeypatch.setattr(imports._Import, "_import_event", before_the_commit_point)
    assert import_records(ctx, importer(ctx), "orders", many(12), "orders.ndjson").ok
    assert seen == [False]  # every chunk was in, none of its orders free
    assert packing.claim_order(ctx, pat, "WEB-012").order.order_id == "WEB-012"


def test_a_refused_commit_halfway_rolls_the_whole_file_back(ctx: Context, db: FakeDatabase) -> None:
    counts = {k: len(getattr(db.snapshot(), k)) for k in ("orders", "events")}
    db.refuse_commit(4)  # batch opened, 2 chunks in, then the disk is full
    with pytest.raises(StorageError, match="disk is full"):
        import_records(ctx, importer(ctx), "orders", many(23), "orders.ndjson")
    assert {k: len(getattr(db.snapshot(), k)) for k in ("orders", "events")} == counts  # nothing of the file
    [batch] = batches(ctx)
    assert batch.state is BatchState.ROLLED_BACK and "disk is full" in batch.reason
    report = import_records(ctx, importer(ctx), "orders", many(23), "orders.ndjson")  # and again, whole
    assert (report.ok, report.created) == (True, 23)


def test_an_update_is_kept_aside_until_the_file_is_committed(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    held = an_order("WEB-050", payment={"method": "prepaid", "status": "pending"})
    assert import_records(ctx, importer(ctx), "orders", records(held), "a.json").created == 1
    assert stored(ctx, "WEB-050")["WEB-050"].status is OrderStatus.ON_HOLD
    paid = an_order("WEB-050", lines=[{"sku": "TS-1", "qty": 3, "unit_price": "9.95"}])
    seen: list[Any] = []
    real = imports._release

    def look_first(c: Context, s: Session, batch: Any, *a: Any) -> Any:
        seen.append(stored(c, "WEB-050")["WEB-050"])  # the commit point has passed, nothing let go yet
        return real(c, s, batch, *a)

    monkeypatch.setattr(imports, "_release", look_first)
    report = import_records(ctx, importer(ctx), "orders", [*many(6), ("record 7", paid)], "b.json")
    assert (report.ok, report.created, report.updated) == (True, 6, 1)
    assert seen[0].lines[0].qty == 1 and seen[0].status is OrderStatus.ON_HOLD  # old content while held
    order = stored(ctx, "WEB-050")["WEB-050"]
    assert [(ln.sku, ln.qty) for ln in order.lines] == [("TS-1", 3)]
    assert order.status is OrderStatus.RELEASED  # paid meanwhile: through the lifecycle
    kinds = [(e.kind, e.actor) for e in all_events(ctx) if e.order_id == "WEB-050"]
    assert kinds == [("order.received", "import:pat"), ("order.updated", "import:pat"), ("order.released", "import:pat")]


def test_an_order_claimed_between_the_checks_and_its_chunk_refuses_the_file(
        ctx: Context, pat: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    assert import_records(ctx, importer(ctx), "orders", records(an_order("WEB-060")), "a.json").ok
    real = imports._Import._store_orders

    def bench_first(job: Any) -> None:
        packing.claim_order(ctx, pat, "WEB-060")  # a bench claims it while the file is checked
        real(job)

    monkeypatch.setattr(imports._Import, "_store_orders", bench_first)
    changed = an_order("WEB-060", carrier="UPS")
    report = import_records(ctx, importer(ctx), "orders", [*many(12), ("record 13", changed)], "b.json")
    assert [(r.position, r.key, r.reason) for r in report.rejected] == [
        ("record 13", "WEB-060", "order already exists and is packing: it can no longer be changed")]
    assert all(o is None for o in stored(ctx, *(f"WEB-{i:03d}" for i in range(1, 13))).values())
    assert batches(ctx)[-1].state is BatchState.ROLLED_BACK


def test_an_order_held_by_another_unfinished_import_refuses_the_file(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    _stopped_while_publishing(ctx, monkeypatch, 23)
    report = import_records(ctx, importer(ctx), "orders", many(24), "second.ndjson")
    assert [(r.key, r.reason.split(",")[0]) for r in report.rejected[:1]] == [
        ("WEB-001", "order is held by the import of big.ndjson started 2026-03-10 09:00 UTC by import:pat")]
    assert len(report.rejected) == 10  # the two chunks the first one got in
    assert stored(ctx, "WEB-024")["WEB-024"] is None


# --- recovery after a crash ------------------------------------------------------------------------


def _stopped_while_publishing(ctx: Context, monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """An import that got some chunks in and then died (nothing rolled back: the process is gone)."""
    real = imports._Import._publish
    calls = []

    def die_at_third(job: Any, uow: Any, chunk: Any, batch: Any, built: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("killed")
        real(job, uow, chunk, batch, built)

    monkeypatch.setattr(imports._Import, "_publish", die_at_third)
    monkeypatch.setattr(imports, "_roll_back", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("dead")))
    with pytest.raises(ImportStopped):
        import_records(ctx, importer(ctx), "orders", many(n), "big.ndjson")
    monkeypatch.undo()
    monkeypatch.setattr(imports, "CHUNK", 5)


def test_a_batch_that_died_while_publishing_is_rolled_back(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    _stopped_while_publishing(ctx, monkeypatch, 23)
    with ctx.uow(readonly=True) as uow:
        held = [o for o in uow.state.orders.values() if o.import_batch]  # type: ignore[attr-defined]
    assert len(held) == 10  # two chunks in, held
    admin = ctx.auth.system(ActorKind.SYSTEM, "import-recovery")
    assert recover_imports(ctx, admin, lambda holder: False) == []  # its lease still runs: left alone
    assert len(recover_imports(ctx, admin, lambda holder: True)) == 1  # its holder is dead
    assert all(o is None for o in stored(ctx, *(f"WEB-{i:03d}" for i in range(1, 24))).values())
    assert batches(ctx)[-1].state is BatchState.ROLLED_BACK
    assert not [e for e in all_events(ctx) if (e.order_id or "").startswith("WEB-")]
    assert recover_imports(ctx, admin, lambda holder: True) == []  # nothing left to do


def test_a_batch_whose_lease_ran_out_is_recovered_by_anyone(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    _stopped_while_publishing(ctx, monkeypatch, 23)
    admin = ctx.auth.system(ActorKind.SYSTEM, "import-recovery")
    ctx.clock.advance(seconds=imports.LEASE.total_seconds() + 1)  # type: ignore[attr-defined]
    [line] = recover_imports(ctx, admin, lambda holder: False)
    assert "stopped before its file was stored whole: rolled back" in line and "big.ndjson" in line


def test_a_batch_that_died_while_applying_its_updates_is_finished(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    assert import_records(ctx, importer(ctx), "orders", many(12), "first.ndjson").created == 12
    monkeypatch.setattr(imports, "_UPDATES", 5)
    real = imports._release

    def die_after_one_chunk(c: Context, s: Session, batch: Any, *a: Any) -> Any:
        calls = []
        real_update = imports._update

        def update(*args: Any) -> Any:
            calls.append(1)
            if len(calls) > 5:
                raise SystemExit("killed")
            return real_update(*args)

        monkeypatch.setattr(imports, "_update", update)
        return real(c, s, batch, *a)

    monkeypatch.setattr(imports, "_release", die_after_one_chunk)
    changed = records(*(an_order(f"WEB-{i:03d}", carrier="UPS") for i in range(1, 13)))
    with pytest.raises(ImportStopped, match="applying its updates of existing orders stopped"):
        import_records(ctx, importer(ctx), "orders", changed, "second.ndjson")
    monkeypatch.setattr(imports, "_release", real)
    monkeypatch.undo()
    monkeypatch.setattr(imports, "_UPDATES", 5)
    carriers = [o.carrier for o in stored(ctx, *(f"WEB-{i:03d}" for i in range(1, 13))).values()]
    assert carriers.count("UPS") == 5  # one chunk of updates applied, the rest held
    with ctx.uow(readonly=True) as uow:
        assert uow.orders.claim_of("WEB-012").importing == "second.ndjson"
    admin = ctx.auth.system(ActorKind.SYSTEM, "import-recovery")
    [line] = recover_imports(ctx, admin, lambda holder: True)
    assert "finished, its last 7 update(s) of existing orders applied" in line
    orders = stored(ctx, *(f"WEB-{i:03d}" for i in range(1, 13)))
    assert all(o.carrier == "UPS" and o.status is OrderStatus.RELEASED for o in orders.values())
    with ctx.uow(readonly=True) as uow:
        assert all(uow.orders.claim_of(i).importing is None for i in orders)
    assert batches(ctx)[-1].state is BatchState.DONE
    updated = [e for e in all_events(ctx) if e.kind == "order.updated"]
    assert sorted(e.order_id for e in updated) == sorted(orders)  # each update once


# --- one transaction where that blocks nobody (PostgreSQL) ---------------------------------------


def test_where_one_transaction_blocks_nobody_the_file_goes_in_one(pat: Session) -> None:
    db = stocked_database()
    db.one_transaction = True
    ctx = fake_context(db)
    before = len(db.transactions)
    report = import_records(ctx, importer(ctx), "orders", many(23), "orders.ndjson")
    assert (report.ok, report.created) == (True, 23)
    [one] = db.transactions[before:]
    assert one.count("order.received") == 23 and one[-1] == "import.orders"
    assert batches(ctx) == []  # no batch: the transaction is the whole or nothing


def test_in_one_transaction_a_bad_chunk_stores_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    db = stocked_database()
    db.one_transaction = True
    ctx = fake_context(db)
    counts = len(db.snapshot().orders)
    real = imports._Import._publish

    def packed_meanwhile(job: Any, uow: Any, chunk: Any, batch: Any, built: Any) -> None:
        if chunk[0].key == "WEB-011":  # stored and packed elsewhere after the checks (the API, a pull)
            order = replace(imports._order_from_staged(chunk[0].data), status=OrderStatus.PACKED)
            uow.orders.add_many([(order, "someone else's")], ctx.clock())
        real(job, uow, chunk, batch, built)

    monkeypatch.setattr(imports._Import, "_publish", packed_meanwhile)
    report = import_records(ctx, importer(ctx), "orders", many(23), "orders.ndjson")
    assert [(r.key, r.reason) for r in report.rejected] == [
        ("WEB-011", "order already exists and is packed: it can no longer be changed")]
    assert len(db.snapshot().orders) == counts


# --- the other kinds, and the staging area -------------------------------------------------------


def test_stock_is_validated_and_stored(ctx: Context) -> None:
    lots = [{"sku": "CO-1", "lot": "L-NEW", "expiry": "2027-06-30", "location": "B-02-03", "qty": 12},
            {"sku": "HW-1", "lot": "H-1", "qty": 4}]
    report = import_records(ctx, importer(ctx), "stock", records(*lots), "stock.json")
    assert (report.ok, report.created) == (True, 2)
    with ctx.uow(readonly=True) as uow:
        assert [(x.lot, str(x.expiry), x.qty) for x in uow.catalog.lots("CO-1") if x.lot == "L-NEW"] == [
            ("L-NEW", "2027-06-30", 12)]
    bad = import_records(ctx, importer(ctx), "stock", records({**lots[0], "sku": "NOPE-1"}, lots[1], lots[1]), "s.json")
    assert [(r.position, r.reason) for r in bad.rejected] == [  # in file order, whichever check found them
        ("record 1", "unknown sku NOPE-1: import the catalog first"),
        ("record 3", "appears twice in the file (first at record 2)")]


def test_rejections_come_in_file_order_and_nothing_is_stored(ctx: Context) -> None:
    recs = [an_order("WEB-001", tote="T-1"), an_order("WEB-002", currency="euro"), an_order("WEB-001"),
            an_order("WEB-004", tote="T-1"), an_order("WEB-005", lines=[{"sku": "GHOST", "qty": 1, "unit_price": "1"}])]
    report = import_records(ctx, importer(ctx), "orders", records(*recs), "o.json")
    assert [(r.position, r.key, r.reason) for r in report.rejected] == [
        ("record 2", "WEB-002", "currency is longer than 3 characters"),
        ("record 3", "WEB-001", "appears twice in the file (first at record 1)"),
        ("record 4", "WEB-004", "tote T-1 is also given to order WEB-001 in this file"),
        ("record 5", "WEB-005", "unknown sku GHOST: import the catalog first"),
    ]
    assert stored(ctx, "WEB-001")["WEB-001"] is None and batches(ctx) == []


def test_the_staging_area_is_thrown_away_after_every_import(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[FakeStaging] = []

    def factory() -> FakeStaging:
        made.append(FakeStaging())
        return made[-1]

    ctx = replace(fake_context(stocked_database()), staging=factory)
    import_records(ctx, importer(ctx), "orders", many(3), "ok.json")
    import_records(ctx, importer(ctx), "orders", records(an_order("X", currency="euro")), "bad.json")
    with pytest.raises(StorageError):
        ctx.uow.db.refuse_commit(1)  # type: ignore[attr-defined]
        import_records(ctx, importer(ctx), "orders", many(3, "N-"), "stopped.json")
    assert len(made) == 3 and all(s.closed for s in made)


def test_staged_records_hold_plain_values_only() -> None:
    staging = FakeStaging()
    with pytest.raises(ValueError):
        staging.add([imports.StagedRecord(1, "record 1", "A", data={"when": timedelta(1)})])


@pytest.mark.parametrize("changes", [
    {}, {"tracking_number": "1Z999AA10123456784", "tote": "TOTE-7"},
    {"customer": {"name": "Νίκος \"Nick\" Παπαδόπουλος\\", "email": "n@example.com", "phone": "+30 21 0"}},
    {"ship_to": {"name": "Zoë", "line1": "ul. Marszałkowska 84", "line2": "Hof\u2028links", "city": "Москва",
                 "region": "😀 region", "postcode": "00-514", "country": "pl"}},
    {"placed_at": "2026-11-26T09:15:00.123456+05:30", "service": "", "currency": "gbp"},
    {"lines": [{"sku": "A-1", "qty": "3", "unit_price": "0.5"}, {"sku": "B-2", "qty": 9999, "unit_price": "12.3456"}]},
])
def test_the_order_fingerprint_is_the_generic_hash_of_the_same_order(changes: dict[str, Any]) -> None:
    """Stored fingerprints must stay what they were: a file imported again must be unchanged."""
    _, row, lines = imports._order({**an_order("WEB-1"), **changes})
    fingerprint = row.pop("content_hash")
    assert fingerprint == imports._hash([row, [(ln["sku"], ln["qty"], ln["unit_price"]) for ln in lines]])


def test_the_event_ids_of_a_chunk_are_unique_time_ordered_uuids() -> None:
    """RFC 9562 version 7: 48 bits of milliseconds first, version 7, variant 10, the rest random
    (one system call's worth of randomness shared out over the chunk, ten bytes each)."""
    import uuid

    ids = [imports._time_ordered_uuid(i.to_bytes(10, "big")) for i in range(300)] + \
        [imports._time_ordered_uuid() for _ in range(300)]
    parsed = [uuid.UUID(i) for i in ids]
    assert len(set(ids)) == len(ids)
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    stamps = [u.int >> 80 for u in parsed]
    assert stamps == sorted(stamps)  # made one after the other: never earlier
    assert parsed[7].int & ((1 << 62) - 1) == 7  # the random part is the bytes given


def test_the_orders_and_events_built_for_a_chunk_equal_those_made_the_usual_way() -> None:
    """``_built`` fills the frozen Event and Address directly (no per-field setattr): every field
    must come out as their own constructors make it."""
    import dataclasses
    import uuid

    from packstation import demo
    from packstation.domain.events import Event
    from packstation.domain.model import Address

    staged = [imports._check_record("orders", n, f"line {n}", {**rec, "tote": None})
              for n, rec in enumerate(demo.orders(demo.catalog(30), 20)[:20], 1)]
    built = imports._built(staged, "import:pat")  # type: ignore[arg-type]
    assert len(built) == 20
    for order, event in built.values():
        made = Event("order.received", order.order_id, "import:pat", None,
                     {"status": order.status.value, "channel": order.channel}, id=event.id)
        assert event == made and vars(event) == vars(made)
        assert vars(order.ship_to) == vars(Address(**{f.name: getattr(order.ship_to, f.name)
                                                       for f in dataclasses.fields(Address)}))
        assert str(uuid.UUID(event.id)) == event.id and uuid.UUID(event.id).version == 7
