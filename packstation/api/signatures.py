"""Shops' webhook signatures, checked on the raw body bytes, in constant time, against every secret
configured (the current one and, during a rotation, the one it replaces).

- Shopify: ``X-Shopify-Hmac-SHA256`` is the base64 of HMAC-SHA256(app client secret, raw body).
- WooCommerce: ``X-WC-Webhook-Signature`` is the base64 of HMAC-SHA256(webhook secret, raw body)
  (``WC_Webhook::generate_signature``: ``base64_encode(hash_hmac('sha256', $payload, $secret, true))``).

Any change to the body (parsed and serialised again, whitespace, key order) changes the HMAC: the
body is verified exactly as it arrived, before it is parsed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence


def base64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def valid(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether *header* is the base64 HMAC-SHA256 of *body* under one of *secrets*."""
    if not header or not secrets:
        return False
    given = header.strip().encode()
    ok = False
    for secret in secrets:  # every secret is tried: the time taken does not say which one matched
        if secret and hmac.compare_digest(base64_hmac(secret, body).encode(), given):
            ok = True
    return ok


__all__ = ["base64_hmac", "valid"]
