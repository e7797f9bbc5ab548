"""The order API's storage ports (issue 13), one contract on the in-memory fake, SQLite and PostgreSQL.

Same layout as test_repositories.py: each test states what a port method promises
(``packstation/services/ports.py``) and checks it on every backend the same way.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from fakes import NOW

from packstation.domain.events import Event
from packstation.domain.integration import (
    Delivery,
    DeliveryState,
    InboxState,
    ShopOrderRef,
    StoredAnswer,
    SubscriptionKind,
)
from packstation.services.ports import PushCursor, StorageError, UnitOfWorkFactory


def secs(n: float) -> timedelta:
    return timedelta(seconds=n)


# === API clients ==============================================================================


class TestApiClients:
    def test_a_token_is_listed_under_its_client_and_admitted_by_its_hash(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            made = u.api_clients.add("acme-shop", "h" * 64, "ps_abcd", 5.0, 10, "cli:root", NOW)
            u.commit()
        assert made.name == "acme-shop" and made.active and made.burst == 10
        with uow() as u:
            assert [c.name for c in u.api_clients.list()] == ["acme-shop"]
            admitted = u.api_clients.admit("h" * 64, NOW)
            unknown = u.api_clients.admit("x" * 64, NOW)
            u.commit()
        assert admitted.client == "acme-shop" and admitted.allowed
        assert unknown.client is None and not unknown.allowed
        with uow(readonly=True) as u:
            assert u.api_clients.list()[0].last_used_at == NOW

    def test_the_bucket_empties_after_the_burst_and_refills_at_the_rate(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.api_clients.add("acme-shop", "h" * 64, "ps_abcd", 2.0, 3, "cli:root", NOW)
            u.commit()
        with uow() as u:
            first = [u.api_clients.admit("h" * 64, NOW) for _ in range(4)]
            u.commit()
        assert [a.allowed for a in first] == [True, True, True, False]
        assert first[3].client == "acme-shop"
        assert first[3].retry_after_s == pytest.approx(0.5, abs=0.01)  # one token at 2 per second
        with uow() as u:
            later = [u.api_clients.admit("h" * 64, NOW + secs(1)) for _ in range(3)]  # 2 tokens came back
            u.commit()
        assert [a.allowed for a in later] == [True, True, False]
        with uow() as u:
            much_later = [u.api_clients.admit("h" * 64, NOW + secs(3600)) for _ in range(4)]
            u.commit()
        assert [a.allowed for a in much_later] == [True, True, True, False]  # never more than the burst

    def test_a_clock_stepping_back_refills_nothing(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.api_clients.add("acme-shop", "h" * 64, "ps_abcd", 1.0, 1, "cli:root", NOW)
            u.commit()
        with uow() as u:
            assert u.api_clients.admit("h" * 64, NOW).allowed
            assert not u.api_clients.admit("h" * 64, NOW - secs(60)).allowed
            u.commit()

    def test_a_lease_takes_several_tokens_while_the_bucket_holds_them_else_one(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.api_clients.add("acme-shop", "h" * 64, "ps_abcd", 2.0, 10, "cli:root", NOW)
            u.commit()
        with uow() as u:
            leases = [u.api_clients.admit("h" * 64, NOW, take=4) for _ in range(4)]
            u.commit()
        # 10 in the bucket: 4, 4, then only 2 left (less than a lease: one), then 1
        assert [(a.allowed, a.tokens) for a in leases] == [(True, 4), (True, 4), (True, 1), (True, 1)]
        assert {a.client for a in leases} == {"acme-shop"} and leases[0].rate_per_s == 2.0
        with uow() as u:
            empty = u.api_clients.admit("h" * 64, NOW, take=4)
            u.commit()
        assert not empty.allowed and empty.tokens == 0 and empty.retry_after_s == pytest.approx(0.5, abs=0.01)

    def test_live_names_the_tokens_not_revoked(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.api_clients.add("acme-shop", "a" * 64, "ps_old1", 5.0, 10, "cli:root", NOW)
            u.api_clients.add("acme-shop", "b" * 64, "ps_new1", 5.0, 10, "cli:root", NOW)
            u.commit()
        with uow() as u:
            assert u.api_clients.live(["a" * 64, "b" * 64, "x" * 64]) == {"a" * 64, "b" * 64}
            u.api_clients.revoke("acme-shop", "cli:root", NOW + secs(1), prefix="ps_old1")
            assert u.api_clients.live(["a" * 64, "b" * 64]) == {"b" * 64}
            assert u.api_clients.live([]) == set()
            u.commit()

    def test_a_revoked_token_is_unknown_and_another_token_of_the_client_still_works(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.api_clients.add("acme-shop", "a" * 64, "ps_old1", 5.0, 10, "cli:root", NOW)
            u.api_clients.add("acme-shop", "b" * 64, "ps_new1", 5.0, 10, "cli:root", NOW + secs(1))
            u.api_clients.add("other", "c" * 64, "ps_oth1", 5.0, 10, "cli:root", NOW)
            u.commit()
        with uow() as u:
            assert u.api_clients.revoke("acme-shop", "cli:root", NOW + secs(5), prefix="ps_old1") == 1
            assert u.api_clients.revoke("acme-shop", "cli:root", NOW + secs(5), prefix="ps_old1") == 0
            u.commit()
        with uow() as u:
            assert u.api_clients.admit("a" * 64, NOW + secs(6)).client is None
            assert u.api_clients.admit("b" * 64, NOW + secs(6)).allowed
            u.commit()
        with uow() as u:
            assert u.api_clients.revoke("acme-shop", "cli:root", NOW + secs(7)) == 1
            u.commit()
        with uow(readonly=True) as u:
            tokens = {c.token_prefix: c for c in u.api_clients.list()}
        assert tokens["ps_old1"].revoked_at == NOW + secs(5) and tokens["ps_old1"].revoked_by == "cli:root"
        assert not tokens["ps_new1"].active and tokens["ps_oth1"].active
        assert [c.name for c in tokens.values()].count("acme-shop") == 2

    def test_two_tokens_with_the_same_hash_are_refused(self, uow: UnitOfWorkFactory) -> None:
        with pytest.raises(StorageError), uow() as u:
            u.api_clients.add("a", "h" * 64, "ps_1", 1.0, 1, "cli:root", NOW)
            u.api_clients.add("b", "h" * 64, "ps_2", 1.0, 1, "cli:root", NOW)

    def test_concurrent_requests_never_take_more_than_the_burst(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.api_clients.add("acme-shop", "h" * 64, "ps_abcd", 0.0, 10, "cli:root", NOW)  # no refill
            u.commit()
        allowed: list[bool] = []
        lock = threading.Lock()

        def one() -> None:
            with uow() as u:
                ok = u.api_clients.admit("h" * 64, NOW).allowed
                u.commit()
            with lock:
                allowed.append(ok)

        threads = [threading.Thread(target=one) for _ in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert allowed.count(True) == 10 and len(allowed) == 16


# === idempotency keys ==========================================================================


class TestIdempotency:
    def test_the_first_answer_is_kept_and_a_second_one_refused(self, uow: UnitOfWorkFactory) -> None:
        first = StoredAnswer(201, '{"created": 1}', "r1")
        with uow() as u:
            assert u.idempotency.get("acme", "k-1") is None
            u.idempotency.put("acme", "k-1", first, NOW)
            u.commit()
        with pytest.raises(StorageError), uow() as u:
            u.idempotency.put("acme", "k-1", StoredAnswer(200, "{}", "r2"), NOW)
        with uow(readonly=True) as u:
            assert u.idempotency.get("acme", "k-1") == first
            assert u.idempotency.get("other", "k-1") is None  # keys are per client

    def test_old_answers_are_forgotten(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.idempotency.put("acme", "old", StoredAnswer(200, "{}", "r"), NOW - timedelta(days=3))
            u.idempotency.put("acme", "new", StoredAnswer(200, "{}", "r"), NOW)
            u.commit()
        with uow() as u:
            assert u.idempotency.forget_before(NOW - timedelta(days=1)) == 1
            u.commit()
        with uow(readonly=True) as u:
            assert u.idempotency.get("acme", "old") is None and u.idempotency.get("acme", "new") is not None


# === the webhook inbox =========================================================================


def _body(n: int) -> bytes:
    return b'{"id": %d, "note": "caf\xc3\xa9 \x00 raw"}' % n


class TestInbox:
    def test_a_delivery_is_stored_once_per_source_and_delivery_id(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            assert u.inbox.add("shopify", "d-1", "orders/create", "a.myshopify.com", _body(1), NOW)
            assert not u.inbox.add("shopify", "d-1", "orders/create", "a.myshopify.com", _body(2), NOW)
            assert u.inbox.add("woocommerce", "d-1", "order.created", "https://shop.example/", _body(3), NOW)
            u.commit()
        with uow() as u:
            assert not u.inbox.add("shopify", "d-1", "orders/updated", "a.myshopify.com", _body(4), NOW)
            items = u.inbox.claim(10, NOW, NOW + secs(60))
            u.commit()
        assert [(i.source, i.delivery_id, i.body) for i in items] == [
            ("shopify", "d-1", _body(1)), ("woocommerce", "d-1", _body(3))]
        assert items[0].received_at == NOW and items[0].attempts == 1 and items[0].state is InboxState.PENDING

    def test_a_claimed_delivery_is_held_until_its_lease_ends(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            for n in range(3):
                u.inbox.add("shopify", f"d-{n}", "orders/create", "a", _body(n), NOW)
            u.commit()
        with uow() as u:
            first = u.inbox.claim(2, NOW, NOW + secs(60))
            u.commit()
        with uow() as u:
            second = u.inbox.claim(10, NOW + secs(1), NOW + secs(61))
            u.commit()
        assert [i.delivery_id for i in first] == ["d-0", "d-1"] and [i.delivery_id for i in second] == ["d-2"]
        with uow() as u:
            again = u.inbox.claim(10, NOW + secs(90), NOW + secs(150))  # the first worker died: leases ran out
            u.commit()
        assert [i.delivery_id for i in again] == ["d-0", "d-1", "d-2"]
        assert [i.attempts for i in again] == [2, 2, 2]

    def test_finished_deliveries_are_not_claimed_and_released_ones_are_at_once(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            for n in range(3):
                u.inbox.add("shopify", f"d-{n}", "orders/create", "a", _body(n), NOW)
            u.commit()
        with uow() as u:
            a, b, c = u.inbox.claim(10, NOW, NOW + secs(60))
            u.inbox.finish(a.id, InboxState.DONE, "", "SH-1", NOW + secs(1))
            u.inbox.finish(b.id, InboxState.REJECTED, "lines[1].sku is missing", None, NOW + secs(1))
            u.inbox.release(c.id)
            u.commit()
        with uow() as u:
            assert [i.delivery_id for i in u.inbox.claim(10, NOW + secs(2), NOW + secs(60))] == ["d-2"]
            u.commit()
        with uow(readonly=True) as u:
            done = u.inbox.get(a.id)
            assert done is not None and done.state is InboxState.DONE and done.order_id == "SH-1"
            assert done.processed_at == NOW + secs(1)
            assert u.inbox.counts() == {"done": 1, "rejected": 1, "pending": 1}
            rejected = u.inbox.recent([InboxState.REJECTED, InboxState.REFUSED], 5)
            assert [(i.delivery_id, i.reason) for i in rejected] == [("d-1", "lines[1].sku is missing")]

    def test_rejected_deliveries_can_be_replayed(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.inbox.add("shopify", "d-1", "orders/create", "a", _body(1), NOW)
            (item,) = u.inbox.claim(1, NOW, NOW + secs(60))
            u.inbox.finish(item.id, InboxState.REJECTED, "unknown sku X", None, NOW)
            u.commit()
        with uow() as u:
            assert u.inbox.replay([InboxState.REJECTED], NOW + secs(5)) == 1
            assert [i.id for i in u.inbox.claim(1, NOW + secs(5), NOW + secs(65))] == [item.id]
            u.commit()

    def test_two_workers_claim_disjoint_deliveries(self, backend: object, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            for n in range(40):
                u.inbox.add("shopify", f"d-{n}", "orders/create", "a", _body(n), NOW)
            u.commit()
        got: list[list[int]] = []
        lock = threading.Lock()

        def worker() -> None:
            while True:
                with uow() as u:
                    items = u.inbox.claim(3, NOW, NOW + secs(60))
                    u.commit()
                if not items:
                    return
                with lock:
                    got.append([i.id for i in items])

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        ids = [i for batch in got for i in batch]
        assert len(ids) == 40 and len(set(ids)) == 40


# === shop order references =====================================================================


class TestShopOrders:
    def test_a_reference_is_stored_overwritten_and_found_by_order(self, uow: UnitOfWorkFactory) -> None:
        ref = ShopOrderRef("shopify", "a.myshopify.com", "820982911946154508", "SH-9999", NOW)
        with uow() as u:
            assert u.shop_orders.get("shopify", "a.myshopify.com", "820982911946154508") is None
            u.shop_orders.put(ref)
            u.commit()
        with uow() as u:
            assert u.shop_orders.get("shopify", "a.myshopify.com", "820982911946154508", lock=True) == ref
            u.shop_orders.put(ShopOrderRef("shopify", "a.myshopify.com", "820982911946154508", "SH-9999", NOW + secs(9)))
            u.shop_orders.set_fulfillment("SH-9999", "1069019884")
            u.commit()
        with uow(readonly=True) as u:
            got = u.shop_orders.for_order("SH-9999")
            assert got is not None and got.updated_at == NOW + secs(9) and got.fulfillment_id == "1069019884"
            assert u.shop_orders.get("shopify", "b.myshopify.com", "820982911946154508") is None
            assert u.shop_orders.for_order("SH-1") is None
        with uow() as u:  # a newer version without a fulfillment id keeps the one stored
            u.shop_orders.put(ShopOrderRef("shopify", "a.myshopify.com", "820982911946154508", "SH-9999", NOW + secs(20)))
            u.commit()
        with uow(readonly=True) as u:
            got = u.shop_orders.for_order("SH-9999")
            assert got is not None and got.fulfillment_id == "1069019884"


# === status push ===============================================================================


def a_delivery(sub: int, event_id: str, seq: int, order_id: str | None = "SO-1", *, at=NOW, event: str = "order.packed",
               next_at=None) -> Delivery:
    return Delivery(id=str(uuid.uuid4()), subscription_id=sub, event_id=event_id, event_seq=seq, order_id=order_id,
                    event=event, body=json.dumps({"event": event}), created_at=at, next_attempt_at=next_at or at)


class TestStatusPush:
    def test_subscriptions_keep_their_events_secret_and_kind(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            hook = u.status_push.add_subscription("https://erp.example/hooks", ["order.packed", "order.delivered"],
                                                  "whsec_1", SubscriptionKind.WEBHOOK, "", "cli:root", NOW)
            shop = u.status_push.add_subscription("https://a.myshopify.com/admin/api/2024-01", ["order.packed"], "",
                                                  SubscriptionKind.SHOPIFY, "a.myshopify.com", "system:api", NOW)
            u.commit()
        with uow(readonly=True) as u:
            subs = u.status_push.subscriptions()
        assert [s.id for s in subs] == [hook.id, shop.id]
        assert subs[0].events == ("order.packed", "order.delivered") and subs[0].secret == "whsec_1"
        assert subs[0].wants("order.packed") and not subs[0].wants("order.cancelled")
        assert subs[1].kind is SubscriptionKind.SHOPIFY and subs[1].shop == "a.myshopify.com"

    def test_the_cursor_starts_at_zero_and_keeps_the_numbers_it_missed(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            assert u.status_push.cursor("events", lock=True) == PushCursor()
            u.status_push.set_cursor("events", PushCursor(41, ((7, NOW), (40, NOW + secs(1.5)))))
            u.commit()
        with uow(readonly=True) as u:
            assert u.status_push.cursor("events") == PushCursor(41, ((7, NOW), (40, NOW + secs(1.5))))
            assert u.status_push.cursor("other") == PushCursor()

    def test_events_after_a_seq_come_in_seq_order(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            for n in range(5):
                u.events.add(Event(f"order.k{n}", "SO-1", "api:acme", None, {"n": n}), "API", NOW + secs(n))
            u.commit()
        with uow(readonly=True) as u:
            everything = u.status_push.events_after(0, 100)
            rest = u.status_push.events_after(everything[1].event.seq, 2)
        assert [x.event.kind for x in everything] == [f"order.k{n}" for n in range(5)]
        assert [x.event.payload["n"] for x in rest] == [2, 3]
        assert everything[0].event.occurred_at == NOW and everything[0].event.actor == "api:acme"
        assert everything[0].sync_state == "pending"
        with uow(readonly=True) as u:
            picked = u.status_push.events_numbered([everything[3].event.seq, everything[0].event.seq, 10**9])
        assert [x.event.kind for x in picked] == ["order.k0", "order.k3"]

    def _sub(self, uow: UnitOfWorkFactory) -> int:
        with uow() as u:
            sub = u.status_push.add_subscription("https://erp.example/h", ["order.packed"], "s",
                                                 SubscriptionKind.WEBHOOK, "", "cli:root", NOW)
            u.commit()
        return sub.id

    def test_a_delivery_per_subscription_and_event_is_stored_once(self, uow: UnitOfWorkFactory) -> None:
        sub = self._sub(uow)
        with uow() as u:
            assert u.status_push.add_deliveries([a_delivery(sub, "e1", 1), a_delivery(sub, "e2", 2)]) == 2
            u.commit()
        with uow() as u:
            assert u.status_push.add_deliveries([a_delivery(sub, "e1", 1), a_delivery(sub, "e3", 3)]) == 1
            u.commit()
        with uow(readonly=True) as u:
            assert [x.event_id for x in u.status_push.deliveries(sub, [DeliveryState.PENDING], 10)] == ["e1", "e2", "e3"]

    def test_only_due_unheld_deliveries_are_claimed_and_an_orders_stages_go_in_order(self, uow: UnitOfWorkFactory) -> None:
        sub = self._sub(uow)
        with uow() as u:
            u.status_push.add_deliveries([
                a_delivery(sub, "e1", 1, "SO-1"),
                a_delivery(sub, "e2", 2, "SO-1", event="order.handed_over"),  # waits for e1
                a_delivery(sub, "e3", 3, "SO-2"),
                a_delivery(sub, "e4", 4, "SO-3", next_at=NOW + secs(30)),  # not due yet
                a_delivery(sub, "e5", 5, None, event="return.received"),
            ])
            u.commit()
        with uow() as u:
            first = u.status_push.claim_due(NOW, 10, NOW + secs(60))
            u.commit()
        assert [x.event_id for x in first] == ["e1", "e3", "e5"]
        with uow() as u:
            assert u.status_push.claim_due(NOW + secs(1), 10, NOW + secs(60)) == []  # held
            u.commit()
        e1 = first[0]
        with uow() as u:
            u.status_push.record([replace(e1, state=DeliveryState.DELIVERED, attempts=1, last_status=200,
                                          delivered_at=NOW + secs(2))])
            u.commit()
        with uow() as u:
            assert [x.event_id for x in u.status_push.claim_due(NOW + secs(3), 10, NOW + secs(60))] == ["e2"]
            assert [x.event_id for x in u.status_push.claim_due(NOW + secs(31), 10, NOW + secs(90))] == ["e4"]
            u.commit()

    def test_a_failed_try_waits_for_its_time_and_failed_deliveries_can_be_retried(self, uow: UnitOfWorkFactory) -> None:
        sub = self._sub(uow)
        with uow() as u:
            u.status_push.add_deliveries([a_delivery(sub, "e1", 1, "SO-1"), a_delivery(sub, "e2", 2, "SO-2")])
            u.commit()
        with uow() as u:
            x1, x2 = u.status_push.claim_due(NOW, 10, NOW + secs(60))
            u.status_push.record([
                replace(x1, attempts=1, next_attempt_at=NOW + secs(10), last_status=500, last_error="HTTP 500"),
                replace(x2, state=DeliveryState.FAILED, attempts=40, last_status=503, last_error="HTTP 503"),
            ])
            u.commit()
        with uow() as u:
            assert u.status_push.claim_due(NOW + secs(5), 10, NOW + secs(60)) == []  # released, but not due yet
            again = u.status_push.claim_due(NOW + secs(10), 10, NOW + secs(70))
            u.commit()
        assert [(x.event_id, x.attempts, x.last_status, x.last_error) for x in again] == [("e1", 1, 500, "HTTP 500")]
        with uow(readonly=True) as u:
            (stats,) = u.status_push.stats()
        assert (stats.pending, stats.failed, stats.delivered) == (1, 1, 0) and stats.failing
        assert stats.failing_since == NOW and stats.last_status in (500, 503)
        with uow() as u:
            assert u.status_push.retry_failed(sub, NOW + secs(20)) == 1
            u.commit()
        with uow(readonly=True) as u:
            (stats,) = u.status_push.stats()
            assert (stats.pending, stats.failed) == (2, 0)

    def test_stats_say_when_the_last_delivery_went_through(self, uow: UnitOfWorkFactory) -> None:
        sub = self._sub(uow)
        with uow() as u:
            u.status_push.add_deliveries([a_delivery(sub, "e1", 1, "SO-1")])
            (x,) = u.status_push.claim_due(NOW, 1, NOW + secs(60))
            u.status_push.record([replace(x, state=DeliveryState.DELIVERED, attempts=1, last_status=204,
                                          delivered_at=NOW + secs(1))])
            u.commit()
        with uow(readonly=True) as u:
            (stats,) = u.status_push.stats()
        assert (stats.pending, stats.delivered, stats.failing) == (0, 1, False)
        assert stats.last_delivered_at == NOW + secs(1) and stats.oldest_pending_at is None

    def test_a_delivery_for_an_unknown_subscription_is_refused(self, uow: UnitOfWorkFactory) -> None:
        with pytest.raises(StorageError), uow() as u:
            u.status_push.add_deliveries([a_delivery(999, "e1", 1)])
            u.commit()
