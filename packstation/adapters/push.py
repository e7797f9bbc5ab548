"""Status push over HTTP: each delivery POSTed to its subscriber, signed, with its delivery id.

Every request carries:

- ``Content-Type: application/json``; the body is the delivery's JSON, the same bytes on every try;
- ``X-Packstation-Delivery``: the delivery id (the same on every try: de-duplicate on it);
- ``X-Packstation-Event``: the stage (``order.packed``, ...);
- ``X-Packstation-Signature: t=<unix time>,v1=<hex HMAC-SHA256>``: the HMAC, keyed with the
  subscription's secret, of ``<t>.`` followed by the body bytes. A receiver recomputes it over the
  raw body, compares in constant time, and may refuse a ``t`` far from its clock (replays).

A 2xx answer is delivered; anything else (a 3xx too: redirects are not followed, the body was
signed for this URL), a timeout or a refused connection is a failed try, retried later by the
service. ``Retry-After`` (seconds) of a 429 or 503 answer is honoured.

Shopify subscriptions are carried out by :class:`~packstation.adapters.shops.shopify.ShopifyAdmin`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from packstation.adapters.shops.shopify import ShopifyAdmin
from packstation.domain.integration import Attempt, SubscriptionKind
from packstation.services.status_push import Outgoing, PushSender

USER_AGENT = "packstation-status-push/1"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Packstation-Signature`` value for *body* sent at *timestamp*."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, now: float | None = None, tolerance_s: float = 300) -> bool:
    """What a receiver does (and the tests): recompute over the raw body, constant-time compare."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    expected = signature(secret, body, ts).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class HttpPushSender(PushSender):
    def __init__(self, *, timeout_s: float = 10.0, concurrency: int = 16, shopify: ShopifyAdmin | None = None,
                 clock: object = time.time) -> None:
        self.timeout_s = timeout_s
        self.shopify = shopify
        self._clock = clock
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False,
                                    limits=httpx.Limits(max_connections=concurrency * 2,
                                                        max_keepalive_connections=concurrency))
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="status-push")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()
        if self.shopify is not None:
            self.shopify.close()

    def send(self, batch: Sequence[Outgoing]) -> list[Attempt]:
        if len(batch) == 1:
            return [self._one(batch[0])]
        return list(self._pool.map(self._one, batch))

    def _one(self, out: Outgoing) -> Attempt:
        d = out.delivery
        try:
            if out.subscription.kind is SubscriptionKind.SHOPIFY:
                if self.shopify is None:
                    return Attempt(d.id, ok=False, error="no Shopify Admin API access: set [shopify] access_token")
                return self.shopify.fulfil(out)
            body = d.body.encode()
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Packstation-Event": d.event,
                       "X-Packstation-Delivery": d.id,
                       "X-Packstation-Signature": signature(out.subscription.secret, body, int(self._clock()))}  # type: ignore[operator]
            r = self._client.post(out.subscription.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Attempt(d.id, ok=False, error=f"no answer within {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return Attempt(d.id, ok=False, error=f"cannot reach the endpoint: {exc.__class__.__name__}: {exc}"[:300])
        except Exception as exc:  # noqa: BLE001 - one bad delivery must not stop the others
            return Attempt(d.id, ok=False, error=f"{exc.__class__.__name__}: {exc}"[:300])
        if 200 <= r.status_code < 300:
            return Attempt(d.id, ok=True, status=r.status_code)
        retry_after = None
        if r.status_code in (429, 503) and r.headers.get("Retry-After", "").strip().isdigit():
            retry_after = float(r.headers["Retry-After"])
        return Attempt(d.id, ok=False, status=r.status_code, retry_after_s=retry_after,
                       error=f"HTTP {r.status_code}: {r.text[:200]}".strip())


__all__ = ["USER_AGENT", "HttpPushSender", "signature", "verify_signature"]
