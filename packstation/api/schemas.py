"""The API's description for its OpenAPI document (``/openapi.json``, shown at ``/docs``).

The routes read their JSON themselves (validated by the import's own rules, not by a second set of
models that could disagree with it), so the shapes are described here.
"""

from __future__ import annotations

from typing import Any

DESCRIPTION = """Orders from shops and integrators into the warehouse, and their status back.

**Auth**: `Authorization: Bearer <token>` (made with `packstation api-tokens add NAME`). Every token has
a rate limit (429 with `Retry-After` when exceeded). Webhook endpoints are authenticated by the shop's
signature instead. Bodies are JSON (`Content-Type: application/json`) and bounded in size (413).

**Errors**: `{"error": {"code", "message", "details": [{"index", "order_id", "path", "code", "message"}]}}`.
"""

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object", "properties": {
            "index": {"type": ["integer", "null"]}, "order_id": {"type": ["string", "null"]},
            "path": {"type": "string", "example": "ship_to.country"},
            "code": {"type": "string", "example": "invalid_country"},
            "message": {"type": "string", "example": "ship_to.country must be a two-letter ISO 3166 code"}}}}}}},
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict[str, Any]:
    return _json(_ERROR, description)


_ADDRESS = {"type": "object", "required": ["name", "line1", "city", "postcode", "country"], "properties": {
    "name": {"type": "string"}, "line1": {"type": "string"}, "line2": {"type": "string"}, "city": {"type": "string"},
    "region": {"type": "string"}, "postcode": {"type": "string"},
    "country": {"type": "string", "description": "ISO 3166 alpha-2", "example": "DE"}}}

ORDER = {
    "type": "object",
    "required": ["order_id", "channel", "placed_at", "customer", "ship_to", "currency", "payment", "carrier", "lines"],
    "properties": {
        "order_id": {"type": "string", "example": "SO-20001"},
        "channel": {"type": "string", "example": "shop-web"},
        "placed_at": {"type": "string", "format": "date-time"},
        "customer": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"}}},
        "ship_to": _ADDRESS,
        "currency": {"type": "string", "description": "ISO 4217", "example": "EUR"},
        "payment": {"type": "object", "required": ["method", "status"], "properties": {
            "method": {"enum": ["prepaid", "cod"]}, "status": {"enum": ["paid", "pending"]}}},
        "carrier": {"type": "string", "example": "DHL"},
        "service": {"type": "string", "example": "Paket"},
        "tracking_number": {"type": "string"},
        "tote": {"type": "string"},
        "lines": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["sku", "qty", "unit_price"],
                                                             "properties": {
            "sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1},
            "unit_price": {"type": "string", "description": "a decimal string", "example": "24.95"}}}},
    },
}

ORDERS_REQUEST = {
    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"},
                    "description": "The same key again returns the first answer (kept for 48 h)."}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "oneOf": [ORDER, {"type": "array", "items": ORDER, "maxItems": 1000}]}}}},
}
_RESULT = {"type": "object", "properties": {"order_id": {"type": "string"},
                                            "result": {"enum": ["created", "updated", "unchanged"]}}}
ORDERS_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: _json(_RESULT, "At least one order is new."),
    200: _json(_RESULT, "Every order was there already (changed or unchanged)."),
    400: _err("The body is not JSON."),
    401: _err("No token, or an unknown or revoked one."),
    409: _err("An order that changed is already being packed: nothing was stored."),
    413: _err("The body is too large."),
    415: _err("The body is not JSON."),
    422: _err("An order breaks the import rules: every reason with its field's path and code; nothing was stored."),
    429: _err("Rate limit: see Retry-After."),
    503: _err("The database cannot be reached: nothing was stored."),
}
ORDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json({"type": "object", "properties": {
        "order_id": {"type": "string"}, "status": {"type": "string"}, "carrier": {"type": "string"},
        "tracking_numbers": {"type": "array", "items": {"type": "string"}},
        "stages": {"type": "array", "items": {"type": "object", "properties": {
            "stage": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "by": {"type": "string"}}}},
        "cartons": {"type": "array", "items": {"type": "object"}}}}, "The order."),
    401: _err("No token, or an unknown or revoked one."),
    404: _err("No such order."),
}
CANCEL_REQUEST = {"requestBody": {"required": False, "content": {"application/json": {"schema": {
    "type": "object", "properties": {"reason": {"type": "string"}}}}}}}
CANCEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json({"type": "object", "properties": {"order_id": {"type": "string"}, "status": {"const": "cancelled"},
                                                 "result": {"enum": ["cancelled", "unchanged"]}}}, "Cancelled."),
    401: _err("No token, or an unknown or revoked one."),
    404: _err("No such order."),
    409: _err("Handed over (or delivered) already: it can no longer be cancelled; the message says why."),
}
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json({"type": "object", "properties": {"received": {"type": "boolean"}, "duplicate": {"type": "boolean"}}},
               "Stored (or a delivery stored before); applied in the background."),
    401: _err("The signature does not match the body."),
    413: _err("The body is too large."),
}
HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json({"type": "object", "properties": {"status": {"const": "ok"}}}, "The database answers."),
    503: _json({"type": "object", "properties": {"status": {"const": "unavailable"}}}, "The database does not answer."),
}

__all__ = ["CANCEL_REQUEST", "CANCEL_RESPONSES", "DESCRIPTION", "HEALTH_RESPONSES", "ORDER", "ORDERS_REQUEST",
           "ORDERS_RESPONSES", "ORDER_RESPONSES", "WEBHOOK_RESPONSES"]
