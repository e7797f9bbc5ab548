"""The ASGI app: routes, tokens, webhook signatures, request size and JSON rules, error answers.

Every answer is JSON. Errors are ``{"error": {"code": ..., "message": ..., "details": [...]}}`` with
a code a program can act on and a message a person can; nothing of the server's insides (no
traceback, no SQL, no database address) is ever in them: an unexpected failure is logged with a
reference the answer gives.

Stateless: every request is decided from the request and the database (tokens, rate buckets,
idempotency keys, the inbox), so any number of servers can run behind a load balancer. (A
server holds at most a second's lease of a client's rate-limit tokens, ``intake.TokenLeases``,
taken from the shared bucket; the token itself is checked when the orders are stored.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from packstation.api import schemas, signatures
from packstation.domain.identity import ActorKind, Session
from packstation.domain.lifecycle import TransitionRefused
from packstation.services import intake
from packstation.services.auth import NotAllowed
from packstation.services.ports import StorageError

log = logging.getLogger("packstation.api")

SHOPIFY_TOPICS = ("orders/create", "orders/updated", "orders/cancelled")
WOOCOMMERCE_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
_WC_PING = re.compile(rb"^webhook_id=\d{1,20}$")
DRAIN_CAP = 32 * 1024 * 1024  # an over-long body up to this is read (and dropped) so the client hears 413


def error(status: int, code: str, message: str, details: list[Any] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or []}}, status_code=status,
                        headers=headers)


# --- request bodies: bounded, before anything reads them -------------------------------------


class BodyLimit:
    """Refuses request bodies over *max_bytes* with 413, whether the client said their length
    (Content-Length) or not (chunked), and hands the app the body in one piece otherwise."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, "bad_request", "Content-Length is not a number.")
                    return
        if declared is not None and declared > self.max_bytes:
            if declared <= DRAIN_CAP:
                await _drain(receive, DRAIN_CAP)
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                if message.get("more_body"):
                    await _drain(receive, DRAIN_CAP - size)
                await self._too_large(send)
                return
            chunks.append(body)
            if not message.get("more_body"):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, send: Send) -> None:
        await _send_json(send, 413, "body_too_large",
                         f"The request body is larger than {self.max_bytes} bytes; send fewer orders per request.")


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body"):
            return


async def _send_json(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# --- JSON ------------------------------------------------------------------------------------


def _int(digits: str) -> int | Decimal:
    return int(digits) if len(digits) <= 20 else Decimal(digits)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def parse_json(body: bytes) -> Any:
    """Exact decimals, bounded integers, no NaN/Infinity (as the file imports read JSON)."""
    return json.loads(body.decode("utf-8"), parse_float=Decimal, parse_int=_int, parse_constant=_no_constant)


def _is_json(request: Request) -> bool:
    return _json_type(request.headers.get("content-type", ""))


def _json_type(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def not_json() -> JSONResponse:
    return error(415, "unsupported_media_type", "Send JSON with 'Content-Type: application/json'.")


def bad_json(exc: Exception) -> JSONResponse:
    where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
    return error(400, "invalid_json", f"The body is not valid JSON{where}.")


def unavailable(exc: Exception) -> JSONResponse:
    log.warning("database refused a request: %s", exc)
    return error(503, "database_unavailable", "The warehouse database cannot be reached right now; "
                                              "nothing was stored. Try again in a moment.", headers={"Retry-After": "5"})


def failed(method: str, path: str, exc: BaseException) -> JSONResponse:
    """500, with a reference to the log entry (which has the traceback; the answer has nothing of it)."""
    ref = uuid.uuid4().hex[:12]
    log.error("request %s %s failed (reference %s)", method, path, ref, exc_info=exc)
    return error(500, "internal_error", f"The request could not be handled; it was logged as {ref}. "
                                        "Try again, and tell the warehouse this reference if it repeats.")


def _answer(answer: intake.Answer) -> Response:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(answer.json(), status_code=answer.status, media_type="application/json", headers=headers)


# --- the app ---------------------------------------------------------------------------------


def create_app(host: Any, *, wake_inbox: Callable[[], None] | None = None, threads: int | None = None,
               on_start: Callable[[], None] | None = None, on_stop: Callable[[], None] | None = None) -> ASGIApp:
    """The API on *host* (a ``bootstrap.ApiHost``); *wake_inbox* is called after a webhook is stored;
    *on_start* / *on_stop* when the server starts and stops (its workers)."""
    ctx = host.ctx
    cfg = host.config
    wake = wake_inbox or (lambda: None)
    batcher = intake.OrderBatcher(ctx)
    leases = intake.TokenLeases(ctx)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        if threads:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        if on_start is not None:
            on_start()
        try:
            yield
        finally:
            batcher.stop()
            if on_stop is not None:
                on_stop()

    app = FastAPI(title="packstation order API", version="1",
                  description=schemas.DESCRIPTION, docs_url="/docs", redoc_url=None, openapi_url="/openapi.json",
                  lifespan=lifespan)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        message = {404: "No such endpoint; see /docs.", 405: "This endpoint does not take that method; see /docs."}
        return error(exc.status_code, codes.get(exc.status_code, "http_error"),
                     message.get(exc.status_code, str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, "invalid_request", "The request's parameters are not what this endpoint takes; see /docs.")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return failed(request.method, request.url.path, exc)

    async def call(work: Callable[[], Response]) -> Response:
        try:
            return await run_in_threadpool(work)
        except StorageError as exc:
            return unavailable(exc)

    def revoked() -> JSONResponse:
        return error(401, "unauthorized", "This API token is unknown or was revoked.",
                     headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def no_token() -> JSONResponse:
        return error(401, "unauthorized", "Send your API token as 'Authorization: Bearer <token>'.",
                     headers={"WWW-Authenticate": "Bearer"})

    def rate_limited(admission: intake.Admission) -> JSONResponse:
        wait = max(1, int(admission.retry_after_s + 0.999))
        return error(429, "rate_limited", f"Too many requests for {admission.client}; try again in {wait} s.",
                     headers={"Retry-After": str(wait)})

    async def authorised(request: Request, work: Callable[[Session], Response]) -> Response:
        """*work* as the token's client, if the token is live and its rate limit allows
        (:func:`intake.admit`, one statement)."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return no_token()

        def run() -> Response:
            admission = intake.admit(ctx, token.strip())
            if admission.client is None:
                return revoked()
            if not admission.allowed:
                return rate_limited(admission)
            return work(host.system_session(ActorKind.API, admission.client))

        return await call(run)

    async def json_body(request: Request) -> tuple[Any, bytes] | Response:
        if not _is_json(request):
            return not_json()
        body = await request.body()
        try:
            return parse_json(body), body
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return bad_json(exc)

    # --- health and orders -----------------------------------------------------------------
    @app.get("/healthz", tags=["service"], responses=schemas.HEALTH_RESPONSES)
    async def healthz() -> Response:
        def check() -> Response:
            try:
                host.ping()
            except Exception:  # noqa: BLE001 - down is down; the reason goes to the log only
                log.warning("health check: database not reachable", exc_info=True)
                return JSONResponse({"status": "unavailable"}, status_code=503)
            return JSONResponse({"status": "ok"})

        return await run_in_threadpool(check)

    @app.post("/api/v1/orders", tags=["orders"], openapi_extra=schemas.ORDERS_REQUEST, responses=schemas.ORDERS_RESPONSES,
              summary="Submit one order or a list of orders")
    async def post_orders(request: Request) -> Response:
        parsed = await json_body(request)
        if isinstance(parsed, Response):
            return parsed
        payload, raw = parsed
        key = request.headers.get("idempotency-key")

        # (one order without a key is answered by one_order below before it gets here; the
        # answer here would be the same, by submit_orders)
        def work(session: Session) -> Response:
            return _answer(intake.submit_orders(ctx, session, payload, idempotency_key=key,
                                                body_hash=intake.request_hash(raw)))

        return await authorised(request, work)

    @app.post("/api/v1/orders/{order_id:path}/cancel", tags=["orders"], responses=schemas.CANCEL_RESPONSES,
              openapi_extra=schemas.CANCEL_REQUEST, summary="Cancel an order (until it is handed over)")
    async def cancel(order_id: str, request: Request) -> Response:
        reason = ""
        if request.headers.get("content-length", "0") not in ("", "0"):
            parsed = await json_body(request)
            if isinstance(parsed, Response):
                return parsed
            payload = parsed[0]
            if not isinstance(payload, dict) or not isinstance(payload.get("reason", ""), str):
                return error(422, "invalid_request", 'The body is {"reason": "..."} (optional).')
            reason = payload.get("reason", "")

        def work(session: Session) -> Response:
            try:
                return JSONResponse(intake.cancel_order(ctx, session, order_id, reason))
            except intake.NotFound:
                return error(404, "order_not_found", f"No order {order_id!r}.")
            except TransitionRefused as exc:
                return error(409, "cannot_cancel", str(exc))
            except NotAllowed as exc:
                return error(403, "forbidden", str(exc))

        return await authorised(request, work)

    @app.get("/api/v1/orders/{order_id:path}", tags=["orders"], responses=schemas.ORDER_RESPONSES,
             summary="An order's state, stages, cartons and tracking")
    async def get_order(order_id: str, request: Request) -> Response:
        def work(session: Session) -> Response:
            try:
                return JSONResponse(intake.order_view(ctx, session, order_id))
            except intake.NotFound:
                return error(404, "order_not_found", f"No order {order_id!r}.")

        return await authorised(request, work)

    # --- webhooks ----------------------------------------------------------------------------
    async def store_webhook(source: str, delivery_id: str, topic: str, shop: str, body: bytes) -> Response:
        def work() -> Response:
            session = host.system_session(ActorKind.API, f"{source}:{shop or 'unknown'}")
            new = intake.receive_webhook(ctx, session, source, delivery_id, topic, shop, body)
            return JSONResponse({"received": True, "duplicate": not new})

        answer = await call(work)
        if answer.status_code == 200:
            wake()
        return answer

    @app.post("/webhooks/shopify", tags=["webhooks"], responses=schemas.WEBHOOK_RESPONSES,
              summary="Shopify order webhooks (orders/create, orders/updated, orders/cancelled)")
    async def shopify(request: Request) -> Response:
        body = await request.body()
        if not signatures.valid(body, request.headers.get("x-shopify-hmac-sha256"), cfg.shopify.secrets):
            return error(401, "bad_signature", "X-Shopify-Hmac-SHA256 does not match the body for any configured secret.")
        if not _is_json(request):
            return error(415, "unsupported_media_type", "Shopify webhooks must be sent as JSON.")
        topic = request.headers.get("x-shopify-topic", "")
        delivery = request.headers.get("x-shopify-webhook-id", "").strip()
        if not delivery:
            return error(400, "missing_delivery_id", "X-Shopify-Webhook-Id is missing.")
        if topic not in SHOPIFY_TOPICS:
            return JSONResponse({"received": True, "ignored": f"topic {topic!r} is not acted on"})
        return await store_webhook("shopify", delivery, topic, request.headers.get("x-shopify-shop-domain", ""), body)

    @app.post("/webhooks/woocommerce", tags=["webhooks"], responses=schemas.WEBHOOK_RESPONSES,
              summary="WooCommerce order webhooks (order.created, order.updated, order.deleted)")
    async def woocommerce(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-wc-webhook-signature")
        if signature is None and _WC_PING.match(body.strip()):
            # Saving a webhook in WooCommerce sends this unsigned ping and keeps the webhook only if it
            # hears 200: it carries no data and nothing is done with it.
            return JSONResponse({"received": True, "ping": True})
        if not signatures.valid(body, signature, cfg.woocommerce.secrets):
            return error(401, "bad_signature", "X-WC-Webhook-Signature does not match the body for any configured secret.")
        if not _is_json(request):
            return error(415, "unsupported_media_type", "WooCommerce webhooks must be sent as JSON.")
        topic = request.headers.get("x-wc-webhook-topic", "")
        delivery = request.headers.get("x-wc-webhook-delivery-id", "").strip()
        if not delivery:
            return error(400, "missing_delivery_id", "X-WC-Webhook-Delivery-ID is missing.")
        if topic not in WOOCOMMERCE_TOPICS:
            return JSONResponse({"received": True, "ignored": f"topic {topic!r} is not acted on"})
        return await store_webhook("woocommerce", delivery, topic, request.headers.get("x-wc-webhook-source", ""), body)

    # --- one order per request: the hot path, without the framework ---------------------------
    sessions: dict[str, tuple[Session, float]] = {}

    def client_session(client: str) -> Session:
        """The API client's session, made once a minute (not per request: each is signed)."""
        now = time.monotonic()
        held = sessions.get(client)
        if held is None or now - held[1] > 60.0:
            held = sessions[client] = (host.system_session(ActorKind.API, client), now)
        return held[0]

    async def one_order(scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /api/v1/orders`` with one order and no Idempotency-Key (most requests), answered
        as the route above answers it, without its per-request costs: the framework's routing and
        request objects, and two thread hand-overs (the request's thread waiting for the batcher).
        Here the checks run on the event loop (the token from this server's lease, the fields),
        the order goes to the batcher's queue, and its transaction's end wakes the request."""
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        if b"idempotency-key" in headers:
            await app(scope, receive, send)
            return
        if not _json_type(headers.get(b"content-type", b"").decode("latin-1")):
            await not_json()(scope, receive, send)
            return
        message = await receive()  # BodyLimit hands the whole body in one message
        body = message.get("body", b"")
        try:
            payload = parse_json(body)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            await bad_json(exc)(scope, receive, send)
            return
        if not isinstance(payload, dict):  # a list of orders: the route above
            await app(scope, _replay(body, receive), send)
            return
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            await no_token()(scope, receive, send)
            return
        try:
            answer = await leased_order(token, payload)
        except StorageError as exc:
            answer = unavailable(exc)
        except Exception as exc:  # noqa: BLE001 - answered with a reference; the log has the rest
            answer = failed("POST", scope["path"], exc)
        if isinstance(answer, Response):
            await answer(scope, receive, send)
            return
        out = answer.json().encode()
        reply = [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]
        if answer.replayed:
            reply.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": answer.status, "headers": reply})
        await send({"type": "http.response.body", "body": out})

    async def leased_order(token: str, payload: dict[str, Any]) -> intake.Answer | Response:
        admission = leases.held(token)
        if admission is None:  # a new lease: one statement, off the event loop
            admission = await run_in_threadpool(leases.admit, token)
        if admission.client is None:
            return revoked()
        if not admission.allowed:
            return rate_limited(admission)
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[Any] = loop.create_future()
        queued = batcher.enqueue(client_session(admission.client), payload,
                                 lambda pending: loop.call_soon_threadsafe(_settle, stored, pending),
                                 token=leases.digest(token))
        if isinstance(queued, intake.Answer):
            return queued
        await stored
        if isinstance(queued.error, intake.TokenRevoked):
            return revoked()
        if queued.error is not None:
            raise queued.error
        assert queued.answer is not None
        return queued.answer

    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/api/v1/orders":
            await one_order(scope, receive, send)
        else:
            await app(scope, receive, send)

    return BodyLimit(api, cfg.api.max_body_bytes)


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _replay(body: bytes, receive: Receive) -> Receive:
    """*receive* with *body* (read already) handed again first."""
    handed = False

    async def again() -> Message:
        nonlocal handed
        if not handed:
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


Handler = Callable[[Request], Awaitable[Response]]

__all__ = ["BodyLimit", "create_app", "error", "parse_json"]
