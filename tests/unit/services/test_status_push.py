"""Status push on the fake storage: the outbox reader (with event numbers that commit late or never),
deliveries per subscription, retries with backoff for days, failed deliveries kept and retried."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from fakes import NOW, FakeClock, FakeDatabase, fake_context

from packstation.domain.events import Event
from packstation.domain.identity import ActorKind, Session
from packstation.domain.integration import Attempt, DeliveryState, RetryPolicy
from packstation.domain.lifecycle import OrderStatus
from packstation.services import status_push
from packstation.services.context import Context
from packstation.services.lifecycle import change_status
from packstation.services.status_push import Outgoing, PushSender, SubscriptionRefused


class Sender(PushSender):
    def __init__(self, answer: Callable[[Outgoing], Attempt] | None = None) -> None:
        self.sent: list[Outgoing] = []
        self.answer = answer or (lambda out: Attempt(out.delivery.id, ok=True, status=200))

    def send(self, batch: Sequence[Outgoing]) -> list[Attempt]:
        self.sent += batch
        return [self.answer(out) for out in batch]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ctx(db: FakeDatabase, clock: FakeClock) -> Context:
    return fake_context(db, clock=clock)


@pytest.fixture
def system(ctx: Context) -> Session:
    return ctx.auth.system(ActorKind.SYSTEM, "status-push")


def move(ctx: Context, order_id: str, *steps: OrderStatus) -> None:
    session = ctx.auth.system(ActorKind.CLI, "tests")
    with ctx.uow() as uow:
        current = uow.orders.get(order_id).status  # type: ignore[union-attr]
        for target in steps:
            change_status(uow, ctx, session, order_id, current, target)
            current = target
        uow.commit()


def subscribe(ctx: Context, *events: str) -> tuple[int, str]:
    sub, secret = status_push.add_subscription(ctx, ctx.auth.system(ActorKind.CLI, "root"), "https://erp.example/h",
                                               events)
    return sub.id, secret


def test_subscriptions_need_an_http_url_and_known_events(ctx: Context, lee: Session) -> None:
    root = ctx.auth.system(ActorKind.CLI, "root")
    with pytest.raises(SubscriptionRefused, match="not an http"):
        status_push.add_subscription(ctx, root, "mailto:ops@example.com")
    with pytest.raises(SubscriptionRefused, match="no user or password"):
        status_push.add_subscription(ctx, root, "https://user:pw@erp.example/h")
    with pytest.raises(SubscriptionRefused, match="unknown event order.teleported"):
        status_push.add_subscription(ctx, root, "https://erp.example/h", ["order.teleported"])
    from packstation.services.auth import NotAllowed

    with pytest.raises(NotAllowed):
        status_push.add_subscription(ctx, lee, "https://erp.example/h")
    sub, secret = status_push.add_subscription(ctx, root, "https://erp.example/h", ["order.packed", "order.packed"])
    assert sub.events == ("order.packed",) and secret.startswith("whsec_") and len(secret) > 40


def test_stage_events_become_one_delivery_per_subscription_that_wants_them(ctx: Context, system: Session,
                                                                            db: FakeDatabase) -> None:
    packed_only, _ = subscribe(ctx, "order.packed")
    everything, _ = subscribe(ctx, "order.released", "order.packed", "order.cancelled")
    move(ctx, "SO-HOLD", OrderStatus.RELEASED, OrderStatus.CANCELLED)
    run = status_push.collect(ctx, system)
    assert run.deliveries == 2 and run.missing == 0
    move(ctx, "SO-DONE", OrderStatus.HANDED_OVER)  # nobody wants hand-overs
    assert status_push.collect(ctx, system).deliveries == 0
    assert status_push.collect(ctx, system).events == 0  # the cursor moved on
    rows = sorted((r.delivery.subscription_id, r.delivery.event, r.delivery.order_id)
                  for r in db.snapshot().api.deliveries.values())
    assert rows == [(everything, "order.cancelled", "SO-HOLD"), (everything, "order.released", "SO-HOLD")]
    assert packed_only  # subscribed, heard nothing (nothing was packed)
    body = json.loads(next(r.delivery.body for r in db.snapshot().api.deliveries.values()
                           if r.delivery.event == "order.cancelled"))
    assert body["event"] == "order.cancelled" and body["order"]["order_id"] == "SO-HOLD"
    assert body["order"]["status"] == "cancelled" and body["data"] == {"from": "released", "to": "cancelled"}
    assert body["id"] in db.snapshot().api.deliveries


def test_a_number_committed_late_is_still_delivered_and_one_never_committed_is_given_up(
        ctx: Context, system: Session, db: FakeDatabase, clock: FakeClock) -> None:
    subscribe(ctx, "order.released", "order.cancelled")
    move(ctx, "SO-HOLD", OrderStatus.RELEASED)
    move(ctx, "SO-1", OrderStatus.CANCELLED)
    move(ctx, "SO-2", OrderStatus.CANCELLED)
    late = db._committed.events.pop(-2)  # SO-1's event: its transaction had its number, not committed yet
    first = status_push.collect(ctx, system)
    assert (first.deliveries, first.missing) == (2, 1)
    assert status_push.collect(ctx, system).deliveries == 0  # still missing, looked for again
    db._committed.events.insert(-1, late)  # now it commits
    clock.advance(minutes=5)
    second = status_push.collect(ctx, system)
    assert (second.deliveries, second.missing) == (1, 0)
    orders = sorted(r.delivery.order_id for r in db.snapshot().api.deliveries.values())
    assert orders == ["SO-1", "SO-2", "SO-HOLD"]
    # a number that never commits (its transaction rolled back) is looked for during the grace period only
    move(ctx, "SO-3", OrderStatus.CANCELLED)
    move(ctx, "SO-4", OrderStatus.CANCELLED)
    db._committed.events.pop(-2)
    assert status_push.collect(ctx, system).missing == 1
    clock.advance(minutes=14)
    assert status_push.collect(ctx, system).missing == 1
    clock.advance(minutes=2)
    assert status_push.collect(ctx, system).missing == 0


def test_events_the_centre_refused_are_not_pushed() -> None:
    from packstation.domain.integration import push_event

    packed = Event("order.packed", "SO-1", "person:Pat", "Pat", {"from": "packing", "to": "packed"})
    assert push_event(packed, "applied") == "order.packed" and push_event(packed, "pending") == "order.packed"
    assert push_event(packed, "refused") is None and push_event(packed, "held") is None
    assert push_event(Event("order.received", "SO-1", "import:x", None, {"status": "released"})) == "order.released"
    assert push_event(Event("order.received", "SO-1", "import:x", None, {"status": "on_hold"})) is None
    assert push_event(Event("return.resolved", "SO-1", "person:R", "R", {"kind": "refund"})) == "return.refunded"
    assert push_event(Event("return.resolved", "SO-1", "person:R", "R", {"kind": "replacement"})) is None
    assert push_event(Event("scan.recorded", "SO-1", "person:Pat", "Pat", {})) is None


def test_a_failing_endpoint_is_retried_with_growing_pauses_then_kept_as_failed(
        ctx: Context, system: Session, db: FakeDatabase, clock: FakeClock) -> None:
    subscribe(ctx, "order.cancelled")
    move(ctx, "SO-1", OrderStatus.CANCELLED)
    status_push.collect(ctx, system)
    down = Sender(lambda out: Attempt(out.delivery.id, ok=False, status=503, error="HTTP 503: maintenance"))
    policy = RetryPolicy(base_s=1.0, max_s=3600.0, give_up_after=timedelta(hours=24), jitter=0.0)
    pauses = []
    tries = 0
    while True:
        run = status_push.send_due(ctx, system, down, policy=policy)
        if run.tried == 0:
            (row,) = db.snapshot().api.deliveries.values()
            if row.delivery.state is DeliveryState.FAILED:
                break
            wait = row.delivery.next_attempt_at - clock()  # type: ignore[operator]
            pauses.append(wait.total_seconds())
            clock.advance(seconds=wait.total_seconds())
            continue
        tries += run.tried
    assert pauses[:6] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0] and max(pauses) == 3600.0
    assert sum(pauses) >= 24 * 3600 and tries == len(pauses) + 1
    (stats,) = status_push.push_status(ctx, ctx.auth.system(ActorKind.CLI, "root"))
    assert stats.failed == 1 and stats.failing and stats.last_error == "HTTP 503: maintenance"
    # the endpoint is fixed: failed deliveries are sent again on request, and go through
    assert status_push.retry_failed(ctx, ctx.auth.system(ActorKind.CLI, "root")) == 1
    up = Sender()
    assert status_push.send_due(ctx, system, up, policy=policy).delivered == 1
    (row,) = db.snapshot().api.deliveries.values()
    assert row.delivery.state is DeliveryState.DELIVERED and row.delivery.attempts == tries + 1


def test_retry_after_is_honoured_and_an_orders_stages_wait_for_each_other(
        ctx: Context, system: Session, db: FakeDatabase, clock: FakeClock) -> None:
    subscribe(ctx, "order.released", "order.cancelled")
    move(ctx, "SO-HOLD", OrderStatus.RELEASED, OrderStatus.CANCELLED)
    status_push.collect(ctx, system)
    busy = Sender(lambda out: Attempt(out.delivery.id, ok=False, status=429, retry_after_s=120, error="slow down"))
    policy = RetryPolicy(jitter=0.0)
    run = status_push.send_due(ctx, system, busy, policy=policy)
    assert run.tried == 1 and busy.sent[0].delivery.event == "order.released"  # the cancel waits behind it
    clock.advance(seconds=119)
    assert status_push.send_due(ctx, system, busy, policy=policy).tried == 0
    clock.advance(seconds=1)
    ok = Sender()
    assert status_push.send_due(ctx, system, ok, policy=policy).tried == 1
    assert status_push.send_due(ctx, system, ok, policy=policy).tried == 1
    assert [o.delivery.event for o in ok.sent] == ["order.released", "order.cancelled"]


def test_retry_policy_bounds() -> None:
    import random

    policy = RetryPolicy(base_s=1.0, max_s=60.0, jitter=0.2)
    rng = random.Random(7)
    for attempt in range(1, 30):
        nominal = min(2 ** (attempt - 1), 60.0)
        assert 0.8 * nominal <= policy.delay(attempt, rng=rng) <= min(1.2 * nominal, 60.0)
    assert not policy.gives_up(NOW, NOW + timedelta(hours=71))
    assert policy.gives_up(NOW, NOW + timedelta(hours=72))


def test_the_lead_views_overview_lists_failing_endpoints_first_with_their_next_retry(
        ctx: Context, system: Session, lee: Session, clock: FakeClock) -> None:
    quiet, _ = subscribe(ctx, "order.delivered")
    down, _ = subscribe(ctx, "order.cancelled")
    move(ctx, "SO-1", OrderStatus.CANCELLED)
    status_push.collect(ctx, system)
    failing = Sender(lambda out: Attempt(out.delivery.id, ok=False, error="cannot reach the endpoint: refused"))
    policy = RetryPolicy(base_s=1.0, give_up_after=timedelta(hours=24), jitter=0.0)
    status_push.send_due(ctx, system, failing, policy=policy)
    clock.advance(seconds=1)
    status_push.send_due(ctx, system, failing, policy=policy)  # the second try: 2 s to the next

    view = status_push.push_overview(ctx, lee)  # a lead may look (the lead view's tab)
    assert view.source == "local"
    assert [(e.stats.subscription.id, e.failing) for e in view.endpoints] == [(down, True), (quiet, False)]
    first = view.endpoints[0]
    assert (first.stats.pending, first.stats.attempts) == (1, 2)
    assert first.stats.last_error == "cannot reach the endpoint: refused"
    assert first.next_retry_at == clock() + timedelta(seconds=2)
    assert view.endpoints[1].next_retry_at is None and view.failing == [first]

    clock.advance(hours=25)  # past the window: failed, kept, and nothing retries it by itself
    status_push.send_due(ctx, system, failing, policy=policy)
    (first, _) = status_push.push_overview(ctx, lee).endpoints
    assert first.failing and first.stats.failed == 1 and first.next_retry_at is None
