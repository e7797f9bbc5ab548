"""Orders from shops over HTTP and every stage back to them: the rules, as plain Python.

Three things cross the warehouse's edge here, each with its own small record:

- **API clients** (:class:`ApiClient`): an integrator's token, stored only as a hash, with a
  rate limit of its own (a token bucket: ``rate_per_s`` refilled, ``burst`` at most).
- **Webhooks in** (:class:`InboxItem`): a shop's delivery, stored raw in an inbox before it is
  answered, then turned into an order by a worker. A shop's order (:class:`ShopOrderRef`) keeps
  the ``updated_at`` of the last version applied, so a late, older version changes nothing.
- **Status out** (:class:`Subscription`, :class:`Delivery`): every stage change an endpoint
  subscribed to, signed, retried with a growing pause for days, never dropped silently.

Which events of the event log are stages the outside world hears about is decided by
:func:`push_event`; how long a failing delivery waits before the next try by :func:`retry_delay`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from packstation.domain.events import Event

# --- API clients -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiClient:
    """An integrator that calls the order API with a token (shown once, stored as its SHA-256)."""

    id: int
    name: str
    token_prefix: str  # the first characters of the token, to tell tokens apart in lists
    created_at: datetime
    created_by: str
    rate_per_s: float
    burst: int
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Admission:
    """What a token check decided: the client (None: unknown or revoked token), and whether the
    client's rate limit lets this request through (else how long to wait)."""

    client: str | None
    allowed: bool = False
    retry_after_s: float = 0.0
    tokens: int = 0  # how many the bucket gave (more than one: a server's lease, ApiClientRepository.admit)
    rate_per_s: float = 0.0  # the client's rate (the next lease's size)


def refill(tokens: float, last_s: float, now_s: float, rate_per_s: float, burst: int) -> float:
    """The bucket after refilling from *last_s* to *now_s* (never above *burst*; a clock that
    steps back refills nothing)."""
    return min(float(burst), tokens + max(0.0, now_s - last_s) * rate_per_s)


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer to a request sent with an ``Idempotency-Key``: repeated, it is returned as is."""

    status: int
    body: str  # JSON
    request_hash: str  # what the request was: the same key with another request is refused


# --- webhooks in -----------------------------------------------------------------------------


class InboxState(StrEnum):
    PENDING = "pending"  # stored and answered; the worker has not applied it yet
    DONE = "done"  # applied: the order was created, updated or cancelled (or was already so)
    STALE = "stale"  # older than what was already applied (updated_at ordering): nothing changed
    IGNORED = "ignored"  # nothing to do (a topic we do not act on, an unknown order deleted)
    REJECTED = "rejected"  # the order is invalid (unknown SKU, no address ...): fix and replay
    REFUSED = "refused"  # valid, but the warehouse cannot apply it (already being packed, handed over)

    @property
    def final(self) -> bool:
        return self is not InboxState.PENDING


@dataclass(frozen=True)
class InboxItem:
    id: int
    source: str  # shopify | woocommerce
    delivery_id: str  # the shop's delivery id (X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID)
    topic: str  # orders/create, order.updated, ...
    shop: str  # the shop's domain or site URL
    body: bytes  # exactly as received (its signature was checked on these bytes)
    received_at: datetime
    state: InboxState = InboxState.PENDING
    attempts: int = 0
    reason: str = ""
    order_id: str | None = None
    processed_at: datetime | None = None


@dataclass(frozen=True)
class ShopOrderRef:
    """A shop's order as the warehouse knows it: our order id and the newest version applied."""

    source: str
    shop: str
    external_id: str  # the shop's own order id (Shopify's numeric id, WooCommerce's post id)
    order_id: str
    updated_at: datetime  # the shop's updated_at of the last version applied
    fulfillment_id: str | None = None  # Shopify: the fulfillment created for it


@dataclass(frozen=True)
class ShopOrder:
    """A shop's order JSON, read: what to store (an import record), and how it stands at the shop."""

    source: str
    external_id: str
    order_id: str
    updated_at: datetime | None  # None: no version information (a deletion): always applied
    record: dict[str, Any] | None  # the import record (README's order format); None: nothing to import
    cancelled: bool = False  # the shop cancelled (or deleted, or refunded before shipping) it
    cancel_reason: str = ""


class InboxDecision(StrEnum):
    """What to do with a delivery given what was applied before (:func:`decide`)."""

    APPLY = "apply"
    STALE = "stale"


def decide(known: ShopOrderRef | None, incoming: ShopOrder) -> InboxDecision:
    """A version is applied unless one at least as new was applied already.

    Shops deliver out of order (retries for hours, an update before its create): the shop's
    ``updated_at`` orders the versions, so whichever arrives last, the newest one wins and an
    older one changes nothing. Equal times are the same version (a duplicate under a new
    delivery id): stale too."""
    if known is None or incoming.updated_at is None:
        return InboxDecision.APPLY
    return InboxDecision.APPLY if incoming.updated_at > known.updated_at else InboxDecision.STALE


# --- status out ------------------------------------------------------------------------------

# The stages an endpoint can subscribe to, as their public names.
PUSH_EVENTS = ("order.released", "order.packed", "order.handed_over", "order.in_transit", "order.delivered",
               "order.cancelled", "return.received", "return.refunded")
DEFAULT_PUSH_EVENTS = ("order.released", "order.packed", "order.handed_over", "order.delivered",
                       "order.cancelled", "return.received", "return.refunded")
_STATUS_EVENTS = {"order.released", "order.packed", "order.handed_over", "order.in_transit", "order.delivered",
                  "order.cancelled", "return.received"}
# Events written at a station that the centre refused or held are not what happened.
_NOT_HAPPENED = ("refused", "held")


def push_event(event: Event, sync_state: str = "") -> str | None:
    """The public stage an event is (``order.packed``), or None if it is not one.

    A new order that arrives released (paid, or cash on delivery) writes one ``order.received``
    event naming its status: that is its release too. A return's refund is the ``return.resolved``
    event of kind ``refund``. An event the central database refused never happened there."""
    if sync_state in _NOT_HAPPENED:
        return None
    if event.kind in _STATUS_EVENTS:
        return event.kind
    if event.kind == "order.received" and event.payload.get("status") == "released":
        return "order.released"
    if event.kind == "return.resolved" and event.payload.get("kind") == "refund":
        return "return.refunded"
    return None


class SubscriptionKind(StrEnum):
    WEBHOOK = "webhook"  # a signed JSON POST to the subscriber's URL
    SHOPIFY = "shopify"  # fulfillments with tracking created through the shop's Admin API


@dataclass(frozen=True)
class Subscription:
    id: int
    url: str
    events: tuple[str, ...]
    secret: str = field(repr=False)  # HMAC-SHA256 key of the signatures (webhook kind)
    kind: SubscriptionKind = SubscriptionKind.WEBHOOK
    created_at: datetime | None = None
    created_by: str = ""
    shop: str = ""  # shopify kind: the shop whose orders it fulfils

    def wants(self, public_event: str) -> bool:
        return public_event in self.events


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next try (or the first)
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # still refused after the retry window: shown, kept, can be retried by hand


@dataclass(frozen=True)
class Delivery:
    id: str  # the delivery id the receiver de-duplicates on (the same on every retry)
    subscription_id: int
    event_id: str
    event_seq: int
    order_id: str | None
    event: str  # public name
    body: str  # the JSON sent, the same bytes on every retry (signed as such)
    created_at: datetime
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str = ""
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class Attempt:
    """How one try of a delivery went."""

    delivery_id: str
    ok: bool
    status: int | None = None  # the HTTP status, if the endpoint answered
    error: str = ""  # why not, for people
    retry_after_s: float | None = None  # the endpoint asked us to wait (429 / 503 Retry-After)
    result: dict[str, Any] = field(default_factory=dict)  # what the target handed back (a fulfillment id)


@dataclass(frozen=True)
class RetryPolicy:
    """Growing pauses between tries: 1 s, 2 s, 4 s ... at most ``max_s``, for ``give_up_after``.

    Shops retry their webhooks for a few hours; a subscriber's endpoint down over a weekend must
    still get every stage, so the window is days (at least 24 h) and a delivery past it is kept
    as *failed*, shown by ``packstation webhooks status``, never thrown away."""

    base_s: float = 1.0
    max_s: float = 3600.0
    give_up_after: timedelta = timedelta(hours=72)
    jitter: float = 0.2  # +- 20 %: endpoints coming back are not hit by every delivery at once

    def delay(self, attempts: int, *, rng: random.Random | None = None) -> float:
        """Seconds to wait after the *attempts*-th failed try (1-based)."""
        exp = min(self.base_s * (2 ** min(max(0, attempts - 1), 60)), self.max_s)
        spread = (rng or random).uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return max(0.0, min(self.max_s, exp * (1 + spread)))

    def gives_up(self, created_at: datetime, now: datetime) -> bool:
        return now - created_at >= self.give_up_after


def retry_delay(policy: RetryPolicy, attempts: int, retry_after_s: float | None = None) -> float:
    """The pause before the next try: the policy's, or longer if the endpoint asked for it."""
    pause = policy.delay(attempts)
    if retry_after_s is not None:
        pause = max(pause, min(retry_after_s, policy.max_s))
    return pause


__all__ = [
    "DEFAULT_PUSH_EVENTS", "PUSH_EVENTS", "Admission", "ApiClient", "Attempt", "Delivery", "DeliveryState",
    "InboxDecision", "InboxItem", "InboxState", "RetryPolicy", "ShopOrder", "ShopOrderRef", "StoredAnswer",
    "Subscription", "SubscriptionKind", "decide", "push_event", "refill", "retry_delay",
]
