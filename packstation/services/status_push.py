"""Status push: every stage change goes out to each endpoint subscribed to it, until it arrives.

Two steps, each a worker function (``packstation serve`` runs both; a station can too):

1. :func:`collect` reads the event log after its cursor (the outbox: every change's event was
   written in the change's own transaction) and writes one delivery per (subscription, event) whose
   stage the subscription wants, with its JSON body fixed from then on. The cursor and the
   deliveries are one transaction, under a row lock: several API servers never collect the same
   events twice, and a crash in between loses nothing.
   Event numbers are handed out when a transaction writes its event, so a number can show up after
   a higher one (its transaction committed later) or never (it rolled back): the numbers the reader
   passed without finding are looked for again on every pass, for ``grace``, before they are given up.
2. :func:`send_due` takes the deliveries that are due (the oldest pending one of each order and
   subscription, so an order's stages arrive in order), hands them to a :class:`PushSender` and
   stores how each try went: delivered, or the next try after a growing pause
   (``RetryPolicy``: seconds at first, at most an hour, for days). A delivery past its window is
   *failed*: kept, counted by ``packstation webhooks status``, and sent again with
   ``webhooks retry``. A subscription is never switched off by failures.

A worker that dies between sending and storing the result sends that delivery again after its
lease ends: receivers de-duplicate on the delivery id (the same on every retry).
"""

from __future__ import annotations

import json
import secrets
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from packstation.domain.identity import Permission, Session
from packstation.domain.integration import (
    DEFAULT_PUSH_EVENTS,
    PUSH_EVENTS,
    Attempt,
    Delivery,
    DeliveryState,
    RetryPolicy,
    ShopOrderRef,
    Subscription,
    SubscriptionKind,
    push_event,
    retry_delay,
)
from packstation.domain.model import Order
from packstation.services.context import Context
from packstation.services.ports import LoggedEvent, PushCursor, SubscriptionStats, UnitOfWork

CURSOR = "events"
SHOPIFY_EVENTS = ("order.packed", "order.handed_over")
MAX_MISSING = 20_000  # event numbers looked for at most; beyond that the oldest are given up


class SubscriptionRefused(ValueError):
    """A subscription that cannot be made (bad URL, unknown event); the message says why."""


@dataclass(frozen=True)
class Outgoing:
    """One delivery to try, with where it goes (and, for a shop, which of its orders it is)."""

    delivery: Delivery
    subscription: Subscription
    shop_order: ShopOrderRef | None = None


class PushSender(ABC):
    """Carries deliveries out (a port: ``adapters.webhooks`` signs and POSTs them, or creates a
    Shopify fulfillment) and says how each try went. Never raises for one delivery's failure."""

    @abstractmethod
    def send(self, batch: Sequence[Outgoing]) -> list[Attempt]: ...


# --- subscriptions ---------------------------------------------------------------------------


def _check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SubscriptionRefused(f"{url!r} is not an http(s) URL: give the endpoint as https://host/path")
    if parts.username or parts.password:
        raise SubscriptionRefused("put no user or password in the URL: deliveries are signed instead")
    if len(url) > 500:
        raise SubscriptionRefused("the URL is longer than 500 characters")
    return url


def add_subscription(ctx: Context, session: Session, url: str,
                     events: Sequence[str] = DEFAULT_PUSH_EVENTS) -> tuple[Subscription, str]:
    """Subscribe *url* to *events*: (the subscription, its signing secret, shown this once)."""
    ctx.auth.require(session, Permission.MANAGE_INTEGRATIONS, "Adding a webhook subscription")
    url = _check_url(url)
    chosen = tuple(dict.fromkeys(e.strip() for e in events if e.strip()))
    unknown = [e for e in chosen if e not in PUSH_EVENTS]
    if unknown or not chosen:
        raise SubscriptionRefused(f"unknown event {', '.join(unknown) or '(none given)'}; "
                                  f"choose from {', '.join(PUSH_EVENTS)}")
    secret = "whsec_" + secrets.token_urlsafe(32)
    with ctx.uow() as uow:
        sub = uow.status_push.add_subscription(url, chosen, secret, SubscriptionKind.WEBHOOK, "", session.actor,
                                               ctx.clock())
        uow.commit()
    return sub, secret


def ensure_shop_subscription(ctx: Context, session: Session, admin_url: str, shop: str) -> Subscription:
    """The Shopify shop's fulfillment subscription (made once; ``packstation serve`` calls this at
    start when ``[shopify] access_token`` is set): packing and hand-over create its fulfillments."""
    ctx.auth.require(session, Permission.MANAGE_INTEGRATIONS, "Connecting a Shopify shop")
    with ctx.uow() as uow:
        for sub in uow.status_push.subscriptions():
            if sub.kind is SubscriptionKind.SHOPIFY and sub.shop == shop:
                return sub
        sub = uow.status_push.add_subscription(_check_url(admin_url), SHOPIFY_EVENTS, "", SubscriptionKind.SHOPIFY,
                                               shop, session.actor, ctx.clock())
        uow.commit()
    return sub


def subscriptions(ctx: Context, session: Session) -> list[Subscription]:
    ctx.auth.require(session, Permission.MANAGE_INTEGRATIONS, "Listing webhook subscriptions")
    with ctx.uow(readonly=True) as uow:
        return uow.status_push.subscriptions()


def push_status(ctx: Context, session: Session) -> list[SubscriptionStats]:
    """Per subscription: waiting, failing (since when, how often, the last error), failed, delivered.

    Any role that sees figures may look (the lead view lists failing endpoints)."""
    ctx.auth.require(session, Permission.VIEW_FIGURES, "The status push")
    with ctx.uow(readonly=True) as uow:
        return uow.status_push.stats()


@dataclass(frozen=True)
class EndpointStatus:
    """One subscription as the lead view lists it: its figures and when its failing delivery is
    tried next (None: nothing failing is waiting for a retry; a *failed* one waits for
    ``packstation webhooks retry``)."""

    stats: SubscriptionStats
    next_retry_at: datetime | None = None

    @property
    def failing(self) -> bool:
        return self.stats.failing


@dataclass(frozen=True)
class PushOverview:
    source: str  # "central" (a synced station reads the centre, where ``packstation serve`` pushes) or "local"
    endpoints: list[EndpointStatus]

    @property
    def failing(self) -> list[EndpointStatus]:
        return [e for e in self.endpoints if e.failing]


def push_overview(ctx: Context, session: Session) -> PushOverview:
    """Every subscription with its figures and next retry, failing ones first (then by id): the
    lead view's status push tab. Read where the push runs: the central database on a synced
    station, else this station's (the station's role there reads the subscriptions and deliveries,
    not their signing secrets). Raises StorageError (the centre cannot be reached)."""
    ctx.auth.require(session, Permission.VIEW_FIGURES, "The status push")
    with (ctx.central or ctx.uow)(readonly=True) as uow:
        out = [EndpointStatus(st, st.next_retry_at) for st in uow.status_push.stats()]
    out.sort(key=lambda e: (not e.failing, e.stats.subscription.id))
    return PushOverview("central" if ctx.central is not None else "local", out)


def retry_failed(ctx: Context, session: Session, subscription_id: int | None = None) -> int:
    """Deliveries past their retry window are tried again now (the endpoint is fixed)."""
    ctx.auth.require(session, Permission.MANAGE_INTEGRATIONS, "Retrying failed deliveries")
    with ctx.uow() as uow:
        n = uow.status_push.retry_failed(subscription_id, ctx.clock())
        uow.commit()
    return n


# --- 1. the outbox reader ----------------------------------------------------------------------


@dataclass
class CollectRun:
    events: int = 0  # read this pass
    deliveries: int = 0  # new deliveries written
    missing: int = 0  # event numbers still looked for


def collect(ctx: Context, session: Session, *, limit: int = 500, grace: timedelta = timedelta(minutes=15)) -> CollectRun:
    """Read the events after the cursor (and the missing numbers), write their deliveries, move on.

    *grace*: how long a missing event number is looked for. Longer than any transaction that writes
    events (a big import at the centre holds its numbers until it commits)."""
    ctx.auth.require(session, Permission.IMPORT, "Collecting status pushes")
    run = CollectRun()
    with ctx.uow() as uow:
        now = ctx.clock()
        cursor = uow.status_push.cursor(CURSOR, lock=True)
        missing = dict(cursor.missing)
        late = uow.status_push.events_numbered(list(missing)) if missing else []
        fresh = uow.status_push.events_after(cursor.read_seq, limit)
        for x in late:
            missing.pop(x.event.seq, None)
        expected = cursor.read_seq + 1
        for x in fresh:
            for seq in range(expected, x.event.seq):  # numbers passed over: not committed (yet)
                missing[seq] = now
            expected = x.event.seq + 1
        read_seq = expected - 1
        missing = {seq: at for seq, at in missing.items() if now - at < grace}
        if len(missing) > MAX_MISSING:
            missing = dict(sorted(missing.items())[-MAX_MISSING:])
        run.events = len(late) + len(fresh)
        run.deliveries = uow.status_push.add_deliveries(_deliveries(uow, late + fresh, now))
        run.missing = len(missing)
        if late or fresh or missing != dict(cursor.missing):
            uow.status_push.set_cursor(CURSOR, PushCursor(read_seq, tuple(sorted(missing.items()))))
        uow.commit()
    return run


def _deliveries(uow: UnitOfWork, logged: Sequence[LoggedEvent], now: datetime) -> list[Delivery]:
    staged = [(x, public) for x in logged if (public := push_event(x.event, x.sync_state)) is not None]
    if not staged:
        return []
    subs = uow.status_push.subscriptions()
    if not subs:
        return []
    orders: dict[str, Order | None] = {}
    cartons: dict[str, list[Any]] = {}
    refs: dict[str, ShopOrderRef | None] = {}
    shops = any(s.kind is SubscriptionKind.SHOPIFY for s in subs)
    types = None
    out: list[Delivery] = []
    for x, public in staged:
        ev = x.event
        wanting = [s for s in subs if s.wants(public)]
        if not wanting:
            continue
        oid = ev.order_id
        if oid and oid not in orders:
            orders[oid] = uow.orders.get(oid)
        if oid and oid not in cartons and public in _WITH_CARTONS and orders[oid] is not None:
            if types is None:
                types = {ct.code: ct for ct in uow.catalog.carton_types()}
            cartons[oid] = uow.shipments.cartons(oid, types)
        if oid and shops and oid not in refs:
            refs[oid] = uow.shop_orders.for_order(oid)
        order = orders.get(oid) if oid else None
        for sub in wanting:
            # the same id whoever collects the event, however often: the receiver's de-duplication key
            delivery_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"packstation:{sub.id}:{ev.id}"))
            if sub.kind is SubscriptionKind.SHOPIFY:
                ref = refs.get(oid) if oid else None
                if ref is None or ref.source != "shopify" or ref.shop != sub.shop or order is None or oid is None:
                    continue
                text = _shopify_body(ev.id, public, order, cartons.get(oid, []), ref)
            else:
                body = _webhook_body(public, x, order, cartons.get(oid, []) if oid else [])
                text = json.dumps({"id": delivery_id, **body}, sort_keys=True, default=str)
            out.append(Delivery(id=delivery_id, subscription_id=sub.id, event_id=ev.id, event_seq=ev.seq, order_id=oid,
                                event=public, body=text, created_at=now, next_attempt_at=now))
    return out


# stages whose body lists the cartons with their tracking numbers (before packing there are none to tell)
_WITH_CARTONS = {"order.packed", "order.handed_over", "order.in_transit", "order.delivered", "order.cancelled"}
_DATA_KEYS = ("from", "to", "reason", "at", "tracking_number", "manifest", "carrier", "rma_id", "kind", "total",
              "currency", "credit_note", "replacement_order")


def _webhook_body(public: str, x: LoggedEvent, order: Order | None, cartons: list[Any]) -> dict[str, Any]:
    ev = x.event
    body: dict[str, Any] = {
        "event": public,
        "occurred_at": ev.occurred_at.isoformat() if ev.occurred_at else None,
        "sequence": ev.seq,
        "data": {k: ev.payload[k] for k in _DATA_KEYS if k in ev.payload},
    }
    if order is not None:
        tracking = [c.tracking_number for c in cartons if c.tracking_number]
        if order.tracking_number and order.tracking_number not in tracking:
            tracking.insert(0, order.tracking_number)
        stage = ev.payload.get("to") or ev.payload.get("status") or public.split(".", 1)[1]
        body["order"] = {
            "order_id": order.order_id, "status": stage if public.startswith("order.") else order.status.value,
            "channel": order.channel, "carrier": order.carrier, "service": order.service,
            "tracking_numbers": tracking,
            "cartons": [{"seq": c.seq, "sscc": c.sscc, "tracking_number": c.tracking_number, "weight_g": c.measured_g}
                        for c in cartons if c.sscc],
        }
    elif ev.order_id:
        body["order"] = {"order_id": ev.order_id}
    if public.startswith("return."):
        body["return"] = {"rma_id": ev.payload.get("rma_id"), "order_id": ev.order_id}
    return body


def _shopify_body(event_id: str, public: str, order: Order, cartons: list[Any], ref: ShopOrderRef) -> str:
    tracking = [c.tracking_number for c in cartons if c.tracking_number]
    if order.tracking_number and order.tracking_number not in tracking:
        tracking.insert(0, order.tracking_number)
    return json.dumps({"event": public, "event_id": event_id, "order_id": order.order_id, "shop": ref.shop,
                       "shop_order_id": ref.external_id, "carrier": order.carrier, "tracking_numbers": tracking},
                      sort_keys=True)


# --- 2. sending --------------------------------------------------------------------------------


@dataclass
class SendRun:
    tried: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    results: list[Attempt] = field(default_factory=list)


def send_due(ctx: Context, session: Session, sender: PushSender, *, limit: int = 200,
             lease: timedelta = timedelta(seconds=120), policy: RetryPolicy | None = None) -> SendRun:
    """Try up to *limit* due deliveries once each, and store how each went."""
    ctx.auth.require(session, Permission.IMPORT, "Sending status pushes")
    policy = policy or RetryPolicy()
    run = SendRun()
    with ctx.uow() as uow:
        now = ctx.clock()
        batch = uow.status_push.claim_due(now, limit, now + lease)
        if batch:
            subs = {s.id: s for s in uow.status_push.subscriptions()}
            shopify = {d.order_id for d in batch if subs[d.subscription_id].kind is SubscriptionKind.SHOPIFY and d.order_id}
            refs = {oid: uow.shop_orders.for_order(oid) for oid in shopify}
        uow.commit()
    if not batch:
        return run
    outgoing = [Outgoing(d, subs[d.subscription_id], refs.get(d.order_id) if d.order_id else None) for d in batch]
    results = {a.delivery_id: a for a in sender.send(outgoing)}
    done = ctx.clock()
    outcomes: list[Delivery] = []
    fulfillments: list[tuple[str, str]] = []
    for d in batch:
        attempt = results.get(d.id) or Attempt(d.id, ok=False, error="the sender gave no result")
        tries = d.attempts + 1
        if attempt.ok:
            outcomes.append(replace(d, state=DeliveryState.DELIVERED, attempts=tries, last_status=attempt.status,
                                    last_error="", delivered_at=done))
            run.delivered += 1
            if attempt.result.get("fulfillment_id") and d.order_id:
                fulfillments.append((d.order_id, str(attempt.result["fulfillment_id"])))
        elif policy.gives_up(d.created_at, done):
            outcomes.append(replace(d, state=DeliveryState.FAILED, attempts=tries, last_status=attempt.status,
                                    last_error=attempt.error[:1000]))
            run.failed += 1
        else:
            pause = retry_delay(policy, tries, attempt.retry_after_s)
            outcomes.append(replace(d, attempts=tries, last_status=attempt.status, last_error=attempt.error[:1000],
                                    next_attempt_at=done + timedelta(seconds=pause)))
            run.retrying += 1
    with ctx.uow() as uow:
        uow.status_push.record(outcomes)
        for order_id, fulfillment_id in fulfillments:
            uow.shop_orders.set_fulfillment(order_id, fulfillment_id)
        uow.commit()
    run.tried = len(batch)
    run.results = list(results.values())
    return run


__all__ = [
    "CURSOR", "SHOPIFY_EVENTS", "CollectRun", "EndpointStatus", "Outgoing", "PushOverview", "PushSender", "SendRun",
    "SubscriptionRefused", "add_subscription", "collect", "ensure_shop_subscription", "push_overview", "push_status",
    "retry_failed", "send_due", "subscriptions",
]
