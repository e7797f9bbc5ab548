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
import http.client
import ssl
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import SplitResult, urlsplit

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
    """Sends with ``http.client`` on kept-alive connections (one set per sending thread): a delivery
    costs a fraction of what a general-purpose client costs, which is what lets one server drain
    thousands of deliveries a second after an endpoint comes back."""

    def __init__(self, *, timeout_s: float = 10.0, concurrency: int = 16, shopify: ShopifyAdmin | None = None,
                 clock: object = time.time) -> None:
        self.timeout_s = timeout_s
        self.shopify = shopify
        self._clock = clock
        self._local = threading.local()
        self._tls = ssl.create_default_context()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="status-push")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
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
            status, text, retry_after = self._post(out.subscription.url, body, headers)
        except TimeoutError:
            return Attempt(d.id, ok=False, error=f"no answer within {self.timeout_s:g} s")
        except (OSError, http.client.HTTPException) as exc:
            return Attempt(d.id, ok=False, error=f"cannot reach the endpoint: {exc.__class__.__name__}: {exc}"[:300])
        except Exception as exc:  # noqa: BLE001 - one bad delivery must not stop the others
            return Attempt(d.id, ok=False, error=f"{exc.__class__.__name__}: {exc}"[:300])
        if 200 <= status < 300:
            return Attempt(d.id, ok=True, status=status)
        return Attempt(d.id, ok=False, status=status, retry_after_s=retry_after if status in (429, 503) else None,
                       error=f"HTTP {status}: {text[:200]}".strip())

    def _connection(self, parts: SplitResult, fresh: bool) -> tuple[http.client.HTTPConnection, bool]:
        conns: dict[tuple[str, str, int | None], http.client.HTTPConnection] = self._local.__dict__.setdefault("c", {})
        key = (parts.scheme, parts.hostname or "", parts.port)
        conn = None if fresh else conns.get(key)
        if conn is not None:
            return conn, True
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=self.timeout_s, context=self._tls)
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout_s)
        old = conns.pop(key, None)
        if old is not None:
            old.close()
        conns[key] = conn
        return conn, False

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, float | None]:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        fresh = False
        while True:
            conn, reused = self._connection(parts, fresh)
            try:
                conn.request("POST", target, body=body, headers=headers)
                resp = conn.getresponse()
                text = resp.read(_MAX_ANSWER).decode("utf-8", "replace")
                if resp.will_close or not resp.isclosed():  # the endpoint closes, or the answer was too long to keep
                    conn.close()
                    self._local.c.pop((parts.scheme, parts.hostname or "", parts.port), None)
                wait = resp.getheader("Retry-After", "").strip()
                return resp.status, text, float(wait) if wait.isdigit() else None
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                conn.close()
                if not reused:
                    raise
                fresh = True  # a kept-alive connection the endpoint had closed meanwhile: once more, anew


_MAX_ANSWER = 64 * 1024  # what is read of an endpoint's answer (it only says how the delivery went)


__all__ = ["USER_AGENT", "HttpPushSender", "signature", "verify_signature"]
