"""The order API's use cases on the fake storage: tokens, orders in, the inbox, cancel."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import FakeClock, FakeDatabase, fake_context

from packstation.domain.identity import ActorKind, Session
from packstation.domain.integration import InboxItem, ShopOrder
from packstation.domain.lifecycle import OrderStatus, TransitionRefused
from packstation.services import intake
from packstation.services.auth import NotAllowed
from packstation.services.context import Context
from packstation.services.imports import RecordError


def record(order_id: str, lines: dict[str, int] | None = None, **changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "order_id": order_id, "channel": "api", "placed_at": "2026-03-10T08:00:00Z",
        "customer": {"name": "Anna Schmidt"},
        "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                    "country": "DE"},
        "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL",
        "lines": [{"sku": s, "qty": q, "unit_price": "1.00"} for s, q in (lines or {"TS-1": 1}).items()]}
    rec.update(changes)
    return rec


@pytest.fixture
def api(ctx: Context) -> Session:
    return ctx.auth.system(ActorKind.API, "acme")


def test_a_token_is_shown_once_stored_hashed_and_admits_its_client(ctx: Context, db: FakeDatabase) -> None:
    admin = ctx.auth.system(ActorKind.CLI, "root")
    client, token = intake.add_api_token(ctx, admin, "acme", rate_per_s=5, burst=2)
    assert token.startswith("ps_") and len(token) > 40 and client.token_prefix == token[:10]
    stored = [r.token_hash for r in db.snapshot().api.clients.values()]
    assert stored == [intake.token_hash(token)] and token not in json.dumps(stored)
    assert intake.admit(ctx, token).client == "acme"
    assert intake.admit(ctx, token + "x").client is None
    assert intake.admit(ctx, "").client is None
    assert intake.revoke_api_token(ctx, admin, "acme") == 1
    assert intake.admit(ctx, token).client is None


def test_only_an_admin_session_manages_tokens(ctx: Context, lee: Session) -> None:
    with pytest.raises(NotAllowed):
        intake.add_api_token(ctx, lee, "acme")
    with pytest.raises(intake.IntakeError, match="client name"):
        intake.add_api_token(ctx, ctx.auth.system(ActorKind.CLI, "root"), "../etc")


def test_an_order_is_stored_as_an_import_stores_it(ctx: Context, db: FakeDatabase, api: Session) -> None:
    answer = intake.submit_orders(ctx, api, record("API-1", {"TS-1": 2}))
    assert (answer.status, answer.body) == (201, {"order_id": "API-1", "result": "created"})
    order = db.snapshot().orders["API-1"].order
    assert order.status is OrderStatus.RELEASED and [(ln.sku, ln.qty) for ln in order.lines] == [("TS-1", 2)]
    assert [(e.kind, e.actor) for e in db.snapshot().events if e.order_id == "API-1"] == [("order.received", "api:acme")]
    assert intake.submit_orders(ctx, api, record("API-1", {"TS-1": 2})).body["result"] == "unchanged"
    assert intake.submit_orders(ctx, api, record("API-1", {"TS-1": 3})).body["result"] == "updated"


def test_every_invalid_field_has_a_code_and_path_and_nothing_is_stored(ctx: Context, db: FakeDatabase,
                                                                        api: Session) -> None:
    no_lines = record("A-3")
    no_lines["lines"] = []
    bad = [record("A-1", currency="EURO"), record("A-2", payment={"method": "card", "status": "paid"}), no_lines,
           "not an order", record("A-4")]
    answer = intake.submit_orders(ctx, api, bad)
    assert answer.status == 422
    got = [(d["index"], d["path"], d["code"]) for d in answer.body["error"]["details"]]
    assert got == [(0, "currency", "too_long"), (1, "payment.method", "invalid_choice"), (2, "lines", "no_lines"),
                   (3, "", "not_an_object")]
    assert "A-4" not in db.snapshot().orders


def test_a_request_with_two_copies_of_one_order_or_unknown_skus_is_refused(ctx: Context, api: Session) -> None:
    twice = intake.submit_orders(ctx, api, [record("A-5"), record("A-5")])
    assert twice.status == 422
    assert [(d["index"], d["path"], d["code"]) for d in twice.body["error"]["details"]] == [(1, "order_id", "duplicate_order")]
    unknown = intake.submit_orders(ctx, api, [record("A-6", {"TS-1": 1, "XX-1": 1, "YY-1": 2})])
    assert [(d["path"], d["code"]) for d in unknown.body["error"]["details"]] == [
        ("lines[2].sku", "unknown_sku"), ("lines[3].sku", "unknown_sku")]


def test_reasons_read_as_codes_and_paths() -> None:
    cases = {
        "ship_to.country must be a two-letter ISO 3166 code": ("ship_to.country", "invalid_country"),
        "lines[3].unit_price must be a decimal string such as \"12.50\", got 1.5": ("lines[3].unit_price", "invalid_price"),
        "placed_at must be an ISO 8601 date-time, got 'x'": ("placed_at", "invalid_datetime"),
        "customer.name is missing": ("customer.name", "missing"),
        "order_id '../x' may hold only letters, digits and . _ : # + @ / - (starting with a letter or digit, no '..')":
            ("order_id", "invalid_id"),
        "lines[2]: sku TS-1 appears twice; put the whole quantity on one line": ("lines[2]", "duplicate_sku"),
        "expected an object, got list": ("", "not_an_object"),
        "something new the import may say one day": ("", "invalid"),
    }
    for message, (path, code) in cases.items():
        assert (intake.reason_path(message), intake.reason_code(message)) == (path, code), message


def test_the_first_answer_of_an_idempotency_key_is_kept(ctx: Context, db: FakeDatabase, api: Session) -> None:
    first = intake.submit_orders(ctx, api, record("IK-1"), idempotency_key="k", body_hash="h1")
    intake.submit_orders(ctx, api, record("IK-1", {"TS-1": 9}))
    again = intake.submit_orders(ctx, api, record("IK-1"), idempotency_key="k", body_hash="h1")
    assert again.replayed and (again.status, again.body) == (first.status, first.body)
    other = intake.submit_orders(ctx, api, record("IK-1"), idempotency_key="k", body_hash="h2")
    assert other.status == 422 and other.body["error"]["code"] == "idempotency_key_reused"
    theirs = intake.submit_orders(ctx, ctx.auth.system(ActorKind.API, "other"), record("IK-2"), idempotency_key="k",
                                  body_hash="h1")
    assert theirs.status == 201 and not theirs.replayed  # keys are per client


def test_a_changed_order_being_packed_is_a_conflict(ctx: Context, pat: Session, api: Session) -> None:
    from packstation.services.packing import claim_order

    claim_order(ctx, pat, "SO-1")
    refused = intake.submit_orders(ctx, api, record("SO-1", {"TS-1": 7}))
    assert refused.status == 409 and refused.body["error"]["details"][0]["order_id"] == "SO-1"
    answer = intake.submit_orders(ctx, api, record("SO-DONE", {"TS-1": 7}))
    assert answer.status == 409  # packed: no longer changeable either


def test_cancel_goes_through_the_lifecycle_and_frees_the_bench(ctx: Context, db: FakeDatabase, pat: Session,
                                                               api: Session) -> None:
    from packstation.services.packing import claim_order

    claim_order(ctx, pat, "SO-1")
    assert intake.cancel_order(ctx, api, "SO-1", "shop cancelled")["result"] == "cancelled"
    row = db.snapshot().orders["SO-1"]
    assert row.order.status is OrderStatus.CANCELLED and row.claimed_by is None
    (event,) = [e for e in db.snapshot().events if e.kind == "order.cancelled"]
    assert event.payload == {"from": "packing", "to": "cancelled", "reason": "shop cancelled", "held_by": "BENCH-01"}
    assert intake.cancel_order(ctx, api, "SO-1")["result"] == "unchanged"
    with pytest.raises(intake.NotFound):
        intake.cancel_order(ctx, api, "SO-404")
    with pytest.raises(NotAllowed):
        intake.cancel_order(ctx, pat, "SO-2")  # a packer does not cancel orders
    _deliver(ctx, "SO-DONE")
    with pytest.raises(TransitionRefused, match="SO-DONE has been delivered: it can no longer be cancelled"):
        intake.cancel_order(ctx, api, "SO-DONE")


def _deliver(ctx: Context, order_id: str) -> None:
    from packstation.services.lifecycle import change_status

    with ctx.uow() as uow:
        change_status(uow, ctx, ctx.auth.system(ActorKind.CARRIER, "dhl"), order_id, OrderStatus.PACKED,
                      OrderStatus.DELIVERED)
        uow.commit()


# --- the inbox ---------------------------------------------------------------------------------


class Reader(intake.ShopReader):
    """Reads bodies that are JSON ShopOrder fields (the real readers are tested on the shops' samples)."""

    def read(self, item: InboxItem) -> ShopOrder | None:
        doc = json.loads(item.body)
        if doc.get("topic") == "ignore":
            return None
        if doc.get("broken"):
            raise RecordError("the order has no id")
        from datetime import datetime

        return ShopOrder(source=item.source, external_id=doc["id"], order_id=doc["order_id"],
                         updated_at=datetime.fromisoformat(doc["updated"]) if doc.get("updated") else None,
                         record=doc.get("record"), cancelled=doc.get("cancelled", False))


def put(ctx: Context, delivery: str, **doc: Any) -> None:
    with ctx.uow() as uow:
        uow.inbox.add("shopify", delivery, "orders/create", "acme", json.dumps(doc).encode(), ctx.clock())
        uow.commit()


def run(ctx: Context) -> dict[str, int]:
    return intake.process_inbox(ctx, Reader(), lambda item: ctx.auth.system(ActorKind.API, f"shopify:{item.shop}")).states


def states(db: FakeDatabase) -> dict[str, tuple[str, str]]:
    return {r.item.delivery_id: (r.item.state.value, r.item.reason) for r in db.snapshot().api.inbox.values()}


def test_the_inbox_applies_versions_newest_wins_whatever_the_order(ctx: Context, db: FakeDatabase) -> None:
    put(ctx, "d2", id="77", order_id="SH-77", updated="2026-03-10T10:00:00+00:00", record=record("X", {"TS-1": 3}))
    put(ctx, "d1", id="77", order_id="SH-77", updated="2026-03-10T09:00:00+00:00", record=record("X", {"TS-1": 1}))
    assert run(ctx) == {"done": 1, "stale": 1}
    order = db.snapshot().orders["SH-77"].order  # our id from the reader, not the record's
    assert [(ln.sku, ln.qty) for ln in order.lines] == [("TS-1", 3)]
    assert states(db)["d1"][0] == "stale" and "2026-03-10T10:00:00" in states(db)["d1"][1]
    ref = db.snapshot().api.shop_orders[("shopify", "acme", "77")]
    assert ref.order_id == "SH-77" and ref.updated_at.hour == 10
    actors = {e.actor for e in db.snapshot().events if e.order_id == "SH-77"}
    assert actors == {"api:shopify:acme"}


def test_the_inbox_keeps_invalid_and_refused_deliveries_with_their_reason(ctx: Context, db: FakeDatabase,
                                                                         pat: Session) -> None:
    from packstation.services.packing import claim_order

    put(ctx, "broken", broken=True)
    put(ctx, "nosku", id="1", order_id="SH-1", updated="2026-03-10T09:00:00+00:00", record=record("X", {"ZZ-9": 1}))
    put(ctx, "topic", topic="ignore")
    claim_order(ctx, pat, "SO-2")
    put(ctx, "busy", id="2", order_id="SO-2", updated="2026-03-10T09:00:00+00:00", record=record("X", {"TS-1": 5}))
    assert run(ctx) == {"rejected": 2, "ignored": 1, "refused": 1}
    got = states(db)
    assert got["broken"] == ("rejected", "not an order shopify would send: the order has no id")
    assert got["nosku"] == ("rejected", "unknown sku ZZ-9: import the catalog first")
    assert got["busy"] == ("refused", "order SO-2 is packing: the shop's change was not applied")
    assert "SH-1" not in db.snapshot().orders
    counts, attention = intake.inbox_overview(ctx, ctx.auth.system(ActorKind.CLI, "root"))
    assert counts == {"rejected": 2, "ignored": 1, "refused": 1}
    assert {i.delivery_id for i in attention} == {"broken", "nosku", "busy"}


def test_a_cancellation_before_the_order_is_known_imports_and_cancels_it(ctx: Context, db: FakeDatabase) -> None:
    put(ctx, "cx", id="5", order_id="SH-5", updated="2026-03-10T11:00:00+00:00", record=record("X"), cancelled=True)
    put(ctx, "new", id="5", order_id="SH-5", updated="2026-03-10T09:00:00+00:00", record=record("X"))
    assert run(ctx) == {"done": 1, "stale": 1}
    assert db.snapshot().orders["SH-5"].order.status is OrderStatus.CANCELLED
    put(ctx, "gone", id="6", order_id="SH-6", updated=None, record=None, cancelled=True)  # a deletion of one never had
    assert run(ctx) == {"ignored": 1}


def test_a_delivery_whose_transaction_fails_stays_pending_for_the_next_pass(ctx: Context, db: FakeDatabase) -> None:
    put(ctx, "d", id="8", order_id="SH-8", updated="2026-03-10T09:00:00+00:00", record=record("X"))
    db.refuse_commit(2)  # the claim commits; the delivery's own transaction is refused (a full disk)
    result = intake.process_inbox(ctx, Reader(), lambda item: ctx.auth.system(ActorKind.API, "shop"))
    assert result.retried == 1 and states(db)["d"][0] == "pending"
    assert run(ctx) == {"done": 1}


def test_old_idempotency_answers_are_forgotten_after_two_days(db: FakeDatabase) -> None:
    clock = FakeClock()
    ctx = fake_context(db, clock=clock)
    api = ctx.auth.system(ActorKind.API, "acme")
    intake.submit_orders(ctx, api, record("IK-9"), idempotency_key="k", body_hash="h")
    clock.advance(hours=47)
    assert intake.forget_old_answers(ctx, api) == 0
    clock.advance(hours=2)
    assert intake.forget_old_answers(ctx, api) == 1
    assert not intake.submit_orders(ctx, api, record("IK-9"), idempotency_key="k", body_hash="h").replayed


# --- token leases (intake.TokenLeases) ----------------------------------------------------------


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def bucket(db: FakeDatabase, client: str) -> float:
    return next(r.bucket for r in db.snapshot().api.clients.values() if r.client.name == client)


def test_a_lease_takes_a_tenth_of_a_second_of_the_rate_and_spends_it_without_the_database(
        ctx: Context, db: FakeDatabase) -> None:
    admin = ctx.auth.system(ActorKind.CLI, "root")
    _, token = intake.add_api_token(ctx, admin, "acme", rate_per_s=50, burst=100)
    ticks = Ticks()
    leases = intake.TokenLeases(ctx, monotonic=ticks)
    assert leases.admit(token).client == "acme" and leases.taken == 1  # the first: one token (the rate is not known yet)
    answers = [leases.admit(token) for _ in range(5)]  # then a lease of 50/s x 0.1 s = 5 tokens
    assert all(a.allowed and a.client == "acme" for a in answers) and leases.taken == 2
    assert bucket(db, "acme") == 100 - 1 - 5  # the clock in the database stood still: no refill
    ticks.now += 1.5  # unspent tokens are dropped after keep_s: the next request asks the database
    leases.admit(token)
    assert leases.taken == 3
    assert leases.admit(token + "x").client is None and leases.admit("").client is None


def test_a_slow_clients_limit_is_exact_through_leases(ctx: Context) -> None:
    admin = ctx.auth.system(ActorKind.CLI, "root")
    _, token = intake.add_api_token(ctx, admin, "slow", rate_per_s=0.5, burst=3)
    leases = intake.TokenLeases(ctx, monotonic=Ticks())
    answers = [leases.admit(token) for _ in range(5)]
    assert [a.allowed for a in answers] == [True, True, True, False, False]
    assert leases.taken == 5  # a lease of one token each: every request asked the database
    assert answers[3].retry_after_s == pytest.approx(2.0, abs=0.01)


def test_a_token_revoked_while_its_lease_has_tokens_left_stores_nothing_more(ctx: Context, db: FakeDatabase) -> None:
    admin = ctx.auth.system(ActorKind.CLI, "root")
    _, token = intake.add_api_token(ctx, admin, "acme", rate_per_s=50, burst=100)
    leases = intake.TokenLeases(ctx, monotonic=Ticks())
    batcher = intake.OrderBatcher(ctx)
    try:
        session = ctx.auth.system(ActorKind.API, "acme")
        for i in (1, 2):
            assert leases.admit(token).allowed
            answer = batcher.submit(session, record(f"LEASED-{i}"), token=intake.token_hash(token))
            assert answer.status == 201
        assert intake.revoke_api_token(ctx, admin, "acme") == 1
        admitted = leases.admit(token)  # from the lease: this server does not know yet
        assert admitted.allowed and leases.taken == 2
        with pytest.raises(intake.TokenRevoked):
            batcher.submit(session, record("LEASED-3"), token=intake.token_hash(token))
        assert "LEASED-3" not in db.snapshot().orders and "LEASED-2" in db.snapshot().orders
    finally:
        batcher.stop()


def test_held_answers_from_a_lease_only_and_never_asks_the_database(ctx: Context) -> None:
    admin = ctx.auth.system(ActorKind.CLI, "root")
    _, token = intake.add_api_token(ctx, admin, "acme", rate_per_s=50, burst=100)
    ticks = Ticks()
    leases = intake.TokenLeases(ctx, monotonic=ticks)
    assert leases.held(token) is None and leases.taken == 0  # no lease yet: the caller takes one (admit)
    leases.admit(token)
    leases.admit(token)  # a lease of 5 tokens, one spent
    held = [leases.held(token) for _ in range(4)]
    assert all(a is not None and a.allowed and a.client == "acme" for a in held) and leases.taken == 2
    assert leases.held(token) is None  # spent: the next one needs the database again
    assert leases.held("").client is None and leases.held("x" * 201).client is None  # type: ignore[union-attr]
    assert leases.digest(token) == intake.token_hash(token)
