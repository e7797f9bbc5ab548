"""Orders over HTTP: API tokens, orders submitted by integrators, shops' webhooks, an order's status
for the outside world, and cancelling.

Everything here is a use case the HTTP service (``packstation.api``) and the command line call;
they never touch storage themselves.

- Orders in are validated and stored **exactly as a file import does** (``services.imports``:
  :func:`~packstation.services.imports.validate_order_record` and
  :func:`~packstation.services.imports.store_order_records`): same rules, same reasons. Each reason
  is also given as a machine-readable code with the field's path (:func:`field_error`).
- A request with an ``Idempotency-Key`` stores its answer in the same transaction as its effect;
  the same key again gets that answer back, whatever happened in between.
- Webhooks are stored raw in the inbox and answered at once (:func:`receive_webhook`); a worker
  applies them later (:func:`process_inbox`), in a transaction per delivery that also records the
  shop order's version, so a delivery applied twice, or an older version after a newer one,
  changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from packstation.domain.identity import Permission, Session
from packstation.domain.integration import (
    Admission,
    ApiClient,
    InboxDecision,
    InboxItem,
    InboxState,
    ShopOrder,
    ShopOrderRef,
    StoredAnswer,
    decide,
)
from packstation.domain.lifecycle import OrderStatus, TransitionRefused, describe
from packstation.services.context import Context
from packstation.services.imports import (
    RecordError,
    Rejection,
    store_order_records,
    validate_order_record,
)
from packstation.services.lifecycle import change_status
from packstation.services.ports import StorageError, UnitOfWork

log = logging.getLogger(__name__)
MAX_ORDERS_PER_REQUEST = 1000
TOKEN_PREFIX = "ps_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,63}$")


class IntakeError(ValueError):
    """A request the API refuses as a whole; ``code`` and ``status`` say how (for the HTTP answer)."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details or []


class NotFound(LookupError):
    pass


# --- API tokens ------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    """How a token is stored: its SHA-256. Tokens are 256 random bits, so a fast hash is enough
    (a slow one, as for PINs, would only slow every request down); the token itself is never kept."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def add_api_token(ctx: Context, session: Session, name: str, *, rate_per_s: float = 50.0,
                  burst: int = 100) -> tuple[ApiClient, str]:
    """A new token for client *name*: (the stored client, the token, shown this once only)."""
    ctx.auth.require(session, Permission.MANAGE_INTEGRATIONS, "Adding an API token")
    name = name.strip()
    if not _NAME.match(name):
        raise IntakeError(422, "invalid_name", f"client name {name!r}: use letters, digits and . _ : @ / - "
                                               "(up to 64, starting with a letter or digit)")
    if rate_per_s <= 0 or burst < 1:
        raise IntakeError(422, "invalid_rate", "the rate must be above 0 per second and the burst at least 1")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.uow() as uow:
        client = uow.api_clients.add(name, token_hash(token), token[:10], rate_per_s, burst, session.actor, ctx.clock())
        uow.commit()
    return client, token


def list_api_tokens(ctx: Context, session: Session) -> list[ApiClient]:
    ctx.auth.require(session, Permission.MANAGE_INTEGRATIONS, "Listing API tokens")
    with ctx.uow(readonly=True) as uow:
        return uow.api_clients.list()


def revoke_api_token(ctx: Context, session: Session, name: str, *, prefix: str | None = None) -> int:
    """Revoke the client's tokens (or the one starting with *prefix*): refused from the next request on."""
    ctx.auth.require(session, Permission.MANAGE_INTEGRATIONS, "Revoking an API token")
    with ctx.uow() as uow:
        n = uow.api_clients.revoke(name.strip(), session.actor, ctx.clock(), prefix=prefix)
        uow.commit()
    return n


def admit(ctx: Context, token: str) -> Admission:
    """Who presents *token*, and whether their rate limit lets this request through (one statement).

    The front door of every API request, before any session exists (as a badge scan is for a bench)."""
    if not token or len(token) > 200:
        return Admission(client=None)
    with ctx.uow() as uow:
        admission = uow.api_clients.admit(token_hash(token), ctx.clock())
        uow.commit()
    return admission


class TokenRevoked(Exception):
    """The request's token was revoked after its server had admitted it from a lease (the API answers 401)."""


class _Lease:
    __slots__ = ("client", "left", "rate", "until")

    def __init__(self, client: str, left: int, until: float, rate: float) -> None:
        self.client, self.left, self.until, self.rate = client, left, until, rate


class TokenLeases:
    """The rate limit of single-order requests, without a statement per request.

    The bucket stays in the database, shared by every server (a client gets its rate in total):
    this process takes a few of its tokens at a time, about *share_s* of the client's rate (one at
    a time for a slow client, at most *most*), and spends them on the client's next requests
    within *keep_s*; tokens unspent by then are dropped, never handed back. A slow client's limit
    is therefore exact, a fast one's is kept to within *share_s* of its rate per server.

    A lease proves the token was valid when it was taken, not afterwards: a request admitted
    from one carries its token's hash to :class:`OrderBatcher`, whose transaction checks the token
    is still live (one statement for the batch) before storing anything. So a revoked token is
    refused from the next request on, as with :func:`admit`."""

    def __init__(self, ctx: Context, *, share_s: float = 0.1, most: int = 64, keep_s: float = 1.0,
                 monotonic: Callable[[], float] | None = None) -> None:
        import threading
        import time

        self.ctx = ctx
        self.share_s, self.most, self.keep_s = share_s, most, keep_s
        self._now = monotonic or time.monotonic
        self._lock = threading.Lock()
        self._held: dict[str, _Lease] = {}
        self._digests: dict[str, str] = {}
        self.taken = 0  # leases taken from the database (the tests and the benchmark read it)

    def digest(self, token: str) -> str:
        """:func:`token_hash` of *token*, remembered (a client sends the same token all day)."""
        digest = self._digests.get(token)
        if digest is None:
            if len(self._digests) >= 4096:
                self._digests.clear()
            digest = self._digests[token] = token_hash(token)
        return digest

    def held(self, token: str) -> Admission | None:
        """The admission of a request with *token* from this process's lease, or None when that
        needs the database (:meth:`admit` then takes a lease): never waits for the database, so
        the API's event loop asks this first."""
        return self._from_lease(token, self._now())[0]

    def _from_lease(self, token: str, now: float) -> tuple[Admission | None, _Lease | None]:
        """(the admission from the lease, or None; the lease held for *token*, spent or not)."""
        if not token or len(token) > 200:
            return Admission(client=None), None
        with self._lock:
            lease = self._held.get(self.digest(token))
            if lease is not None and lease.left >= 1 and now < lease.until:
                lease.left -= 1
                return Admission(client=lease.client, allowed=True, tokens=1, rate_per_s=lease.rate), lease
        return None, lease

    def admit(self, token: str) -> Admission:
        now = self._now()
        admission, lease = self._from_lease(token, now)
        if admission is not None:
            return admission
        digest = self.digest(token)
        take = 1 if lease is None else max(1, min(self.most, int(lease.rate * self.share_s)))
        with self.ctx.uow() as uow:
            admission = uow.api_clients.admit(digest, self.ctx.clock(), take=take)
            uow.commit()
        self.taken += 1
        with self._lock:
            if admission.client is None:
                self._held.pop(digest, None)
            else:  # a refused lease keeps the client's rate, so its next lease is sized right
                self._held[digest] = _Lease(admission.client, max(0, admission.tokens - 1), now + self.keep_s,
                                            admission.rate_per_s)
        return admission


# --- reasons as codes ------------------------------------------------------------------------

# The import's reasons (services.imports), read as codes. The message stays as the import says it.
_CODES: tuple[tuple[str, str], ...] = (
    ("is missing or not an object", "not_an_object"),
    ("expected an object", "not_an_object"),
    ("is not an object", "not_an_object"),
    ("is missing", "missing"),
    ("must be text", "not_text"),
    ("is longer than", "too_long"),
    ("contains control characters", "control_characters"),
    ("may hold only letters", "invalid_id"),
    ("must be a whole number", "not_a_whole_number"),
    ("must be at least", "too_small"),
    ("must be at most", "too_large"),
    ("ISO 8601", "invalid_datetime"),
    ("ISO 3166", "invalid_country"),
    ("ISO 4217", "invalid_currency"),
    ("is not an e-mail address", "invalid_email"),
    ("cash on delivery cannot already be paid", "cod_already_paid"),
    ("must be prepaid or cod", "invalid_choice"),
    ("must be paid or pending", "invalid_choice"),
    ("at least one line", "no_lines"),
    ("decimal string", "invalid_price"),
    ("appears twice; put the whole quantity", "duplicate_sku"),
    ("unknown sku", "unknown_sku"),
    ("tote", "tote_in_use"),
    ("appears twice in the request", "duplicate_order"),
    ("can no longer be changed", "order_in_progress"),
    ("not valid JSON", "invalid_json"),
)
_PATH = re.compile(r"^([a-z_]+)((?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*)(?=[ :.]|$)")
_FIELDS = {"order_id", "channel", "placed_at", "customer", "ship_to", "currency", "payment", "carrier", "service",
           "tracking_number", "tote", "lines"}


def reason_code(message: str) -> str:
    for needle, code in _CODES:
        if needle in message:
            return code
    return "invalid"


def reason_path(message: str) -> str:
    """The field a reason names (``ship_to.country``, ``lines[2].qty``), or "" for the record."""
    m = _PATH.match(message)
    if m is None or m.group(1) not in _FIELDS:
        return ""
    return m.group(1) + m.group(2)


def field_error(index: int | None, order_id: str, message: str) -> dict[str, Any]:
    return {"index": index, "order_id": order_id or None, "path": reason_path(message), "code": reason_code(message),
            "message": message}


def _unknown_sku_errors(index: int | None, order_id: str, rec: Any, message: str) -> list[dict[str, Any]]:
    """``unknown sku A, B: import the catalog first`` as one error per line, each with its path."""
    skus = message.removeprefix("unknown sku ").split(":", 1)[0].split(", ")
    lines = rec.get("lines") if isinstance(rec, dict) else None
    out = []
    for sku in skus:
        where = next((i for i, ln in enumerate(lines or [], 1) if isinstance(ln, dict) and str(ln.get("sku", "")).strip() == sku),
                     None)
        out.append({"index": index, "order_id": order_id, "path": f"lines[{where}].sku" if where else "lines",
                    "code": "unknown_sku", "message": f"unknown sku {sku}: import the catalog first"})
    return out


# --- orders in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False  # the stored answer to an earlier request with the same Idempotency-Key

    def json(self) -> str:
        return json.dumps(self.body, sort_keys=True, default=str)


def _error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message, "details": details or []}})


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def submit_orders(ctx: Context, session: Session, payload: Any, *, idempotency_key: str | None = None,
                  body_hash: str = "") -> Answer:
    """One order (the README's import record) or a list of them, validated and stored as a file
    import is: all or nothing. 201 if any order is new, 200 if all were stored already (changed
    or unchanged), 409 if an order that changed is already being packed, 422 with every reason."""
    ctx.auth.require(session, Permission.IMPORT, "Taking orders over the API")
    client = session.name
    key = (idempotency_key or "").strip() or None
    if key is not None:
        if len(key) > 200:
            return _error(422, "invalid_idempotency_key", "Idempotency-Key is longer than 200 characters")
        with ctx.uow(readonly=True) as uow:
            stored = uow.idempotency.get(client, key)
        if stored is not None:
            return _replay(stored, body_hash)
    single = not isinstance(payload, list)
    records = [payload] if single else list(payload)
    refused, validated = _validate(records, single)
    if refused is not None:
        return _remember(ctx, client, key, body_hash, refused)
    for attempt in (1, 2):
        try:
            with ctx.uow() as uow:
                if key is not None and (stored := uow.idempotency.get(client, key)) is not None:
                    return _replay(stored, body_hash)  # the same request, a moment ago, on another server
                outcomes, rejections = store_order_records(uow, ctx, session, validated)
                answer = _answer(outcomes, rejections, records, validated, single)
                if key is not None:
                    uow.idempotency.put(client, key, StoredAnswer(answer.status, answer.json(), body_hash), ctx.clock())
                if answer.status < 300 or key is not None:
                    uow.commit()  # a refused request stores nothing but its answer
            return answer
        except StorageError:
            # Another request stored the same order (or key) first; the second try sees it. A
            # database that is down fails again, and the caller answers 503.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _replay(stored: StoredAnswer, body_hash: str) -> Answer:
    if body_hash and stored.request_hash != body_hash:
        return _error(422, "idempotency_key_reused",
                      "This Idempotency-Key was used for a different request; use a new key for a new request.")
    return Answer(stored.status, json.loads(stored.body), replayed=True)


def _remember(ctx: Context, client: str, key: str | None, body_hash: str, answer: Answer) -> Answer:
    if key is None:
        return answer
    try:
        with ctx.uow() as uow:
            if (stored := uow.idempotency.get(client, key)) is not None:
                return _replay(stored, body_hash)
            uow.idempotency.put(client, key, StoredAnswer(answer.status, answer.json(), body_hash), ctx.clock())
            uow.commit()
    except StorageError:
        with ctx.uow(readonly=True) as uow:
            stored = uow.idempotency.get(client, key)
        if stored is None:
            raise
        return _replay(stored, body_hash)
    return answer


def _validate(records: list[Any], single: bool) -> tuple[Answer | None, list[tuple[str, Any]]]:
    """Every record through the import's checks: (a 422 answer with every reason, or None; the records)."""
    if not records:
        return _error(422, "no_orders", "The request holds no orders: send one order object or a list of them."), []
    if len(records) > MAX_ORDERS_PER_REQUEST:
        return _error(422, "too_many_orders",
                      f"{len(records)} orders in one request; send at most {MAX_ORDERS_PER_REQUEST} at a time."), []
    errors: list[dict[str, Any]] = []
    validated: list[tuple[str, Any]] = []
    for i, rec in enumerate(records):
        try:
            validated.append((f"[{i}]", validate_order_record(rec)))
        except RecordError as exc:
            order_id = str(rec.get("order_id", ""))[:64] if isinstance(rec, dict) else ""
            errors.append(field_error(None if single else i, order_id, str(exc)))
    if not errors:
        return None, validated
    what = "The order was" if single else f"{len(errors)} of {len(records)} orders were"
    return _error(422, "invalid_order", f"{what} refused; nothing was stored. Fix the fields below and send again.",
                  errors), []


def _answer(outcomes: dict[str, str], rejections: list[Rejection], records: list[Any],
            validated: Sequence[tuple[str, Any]], single: bool) -> Answer:
    index = {pos: i for i, (pos, _) in enumerate(validated)}
    locked = [k for k, v in outcomes.items() if v == "locked"]
    if locked:
        busy = [{"index": None if single else _index_of(validated, k), "order_id": k, "path": "",
                 "code": "order_in_progress", "message": f"order {k} is already being packed: it can no longer be changed"}
                for k in locked]
        return _error(409, "order_in_progress", f"Order {', '.join(locked)} is already being packed (or further on): "
                      "its changes were refused and nothing was stored.", busy)
    if rejections:
        details: list[dict[str, Any]] = []
        for r in rejections:
            i = index.get(r.position)
            rec = records[i] if i is not None else None
            shown = None if single else i
            if r.reason.startswith("unknown sku"):
                details += _unknown_sku_errors(shown, r.key, rec, r.reason)
            else:
                error = field_error(shown, r.key, r.reason)
                if error["code"] == "tote_in_use":
                    error["path"] = "tote"
                if error["code"] == "duplicate_order":
                    error["path"] = "order_id"
                details.append(error)
        what = "The order was" if single else "Orders were"
        return _error(422, "invalid_order", f"{what} refused; nothing was stored. Fix the fields below and send again.",
                      details)
    results = [{"order_id": k, "result": v} for k, v in outcomes.items()]
    created = sum(1 for v in outcomes.values() if v == "created")
    status = 201 if created else 200
    if single:
        return Answer(status, results[0])
    counts = {what: sum(1 for v in outcomes.values() if v == what) for what in ("created", "updated", "unchanged")}
    return Answer(status, {"orders": results, **counts})


def _index_of(validated: Sequence[tuple[str, Any]], order_id: str) -> int | None:
    return next((i for i, (_, v) in enumerate(validated) if v[0] == order_id), None)


class OrderBatcher:
    """Group commit for requests of one order each: what arrives while a transaction is running is
    stored together in the next one (one transaction, one lookup of existing orders and SKUs, one
    insert of orders and one of lines for the lot), each order still answered on its own.

    Nothing waits for company: a request alone is stored at once, and batches grow only with load
    (the database's group commit, done one level up: under load it halves the work per order).
    Only requests without an Idempotency-Key whose order already passed the import's field checks
    come here; a batch that anything would refuse (an unknown SKU, an order being packed, two
    requests for one order, a race with another server) is undone and every request in it is
    stored alone, exactly as without the batcher, so every answer is the one it would have been.
    Requests wait in memory only until their transaction commits: a server that dies has answered
    none of them, and their clients send them again."""

    def __init__(self, ctx: Context, *, threads: int = 1, max_batch: int = 64) -> None:
        import threading

        self.ctx = ctx
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._run, name=f"order-batcher-{i}", daemon=True)
                         for i in range(threads)]
        self._stopping = False
        self._skus: set[str] = set()  # SKUs seen in the catalog (a product is never deleted)
        for th in self._threads:
            th.start()
        self.batches = 0  # how many transactions, how many orders (the benchmark reads them)
        self.orders = 0

    def submit(self, session: Session, payload: Any, *, token: str | None = None) -> Answer:
        """Store one order (an object) as :func:`submit_orders` would; anything else goes there.

        *token*: the hash of the API token the request was admitted with from a lease
        (:class:`TokenLeases`): its transaction stores the order only while that token is live, and
        raises :class:`TokenRevoked` otherwise."""
        import threading

        stored = threading.Event()
        queued = self.enqueue(session, payload, lambda _: stored.set(), token=token)
        if isinstance(queued, Answer):
            return queued
        stored.wait()
        if queued.error is not None:
            raise queued.error
        assert queued.answer is not None
        return queued.answer

    def enqueue(self, session: Session, payload: Any, on_done: Callable[[_Pending], object], *,
                token: str | None = None) -> Answer | _Pending:
        """:meth:`submit` without waiting (the API's event loop calls this): the answer at once if the
        order is refused by the field checks (or *payload* is a list, stored by :func:`submit_orders`),
        else the queued request, and ``on_done(request)`` is called from the batcher's thread once its
        transaction ended: ``request.answer``, or ``request.error`` to raise."""
        self.ctx.auth.require(session, Permission.IMPORT, "Taking orders over the API")
        if isinstance(payload, list):
            return submit_orders(self.ctx, session, payload)
        refused, validated = _validate([payload], True)
        if refused is not None:
            return refused
        pending = _Pending(session, payload, validated[0][1], token, on_done)
        with self._cond:
            if self._stopping:
                raise StorageError("The API is shutting down; send the order again.")
            self._queue.append(pending)
            self._cond.notify()
        return pending

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for th in self._threads:
            th.join(10)
        if self.orders:
            log.info("order batcher: %d orders in %d transactions", self.orders, self.batches)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                self._store(batch)
            except Exception as exc:  # noqa: BLE001 - each request hears it; the batcher goes on
                log.exception("order batcher: storing %d orders failed", len(batch))
                for p in batch:
                    if p.answer is None and p.error is None:
                        p.error = exc
            finally:
                for p in batch:
                    try:
                        p.on_done(p)
                    except Exception:  # noqa: BLE001 - e.g. the request's event loop closed meanwhile
                        log.warning("order batcher: could not hand order %s its answer", p.record[0], exc_info=True)

    def _store(self, batch: list[_Pending]) -> None:
        ids = [p.record[0] for p in batch]
        checked = False  # the tokens of leased requests: still live? (in the storing transaction)
        if len(set(ids)) == len(ids):
            try:
                with self.ctx.uow() as uow:
                    batch = self._live(uow, batch)
                    checked = True
                    groups: dict[str, list[_Pending]] = {}
                    for p in batch:
                        groups.setdefault(p.session.name, []).append(p)
                    outcomes: dict[str, str] = {}
                    for group in groups.values():
                        done, rejections = store_order_records(uow, self.ctx, group[0].session,
                                                               [(f"[{i}]", p.record) for i, p in enumerate(group)],
                                                               known_skus=self._skus)
                        if rejections or "locked" in done.values():
                            raise _Undo
                        outcomes.update(done)
                    uow.commit()
                for p in batch:
                    result = outcomes[p.record[0]]
                    p.answer = Answer(201 if result == "created" else 200, {"order_id": p.record[0], "result": result})
                self.batches += 1
                self.orders += len(batch)
                return
            except (_Undo, StorageError):
                pass  # stored alone below, each with its own answer
        if not checked:
            try:
                with self.ctx.uow(readonly=True) as uow:
                    batch = self._live(uow, batch)
            except Exception as exc:  # noqa: BLE001 - handed to the requests' own threads
                for p in batch:
                    p.error = exc
                return
        for p in batch:
            try:
                p.answer = submit_orders(self.ctx, p.session, p.payload)
            except Exception as exc:  # noqa: BLE001 - handed to the request's own thread
                p.error = exc
            self.batches += 1
            self.orders += 1


    @staticmethod
    def _live(uow: UnitOfWork, batch: list[_Pending]) -> list[_Pending]:
        """The requests of *batch* whose token is live (or that came without one); the others
        are refused with TokenRevoked."""
        tokens = {p.token for p in batch if p.token is not None}
        if not tokens:
            return batch
        live = uow.api_clients.live(tokens)
        kept = []
        for p in batch:
            if p.token is None or p.token in live:
                kept.append(p)
            else:
                p.error = TokenRevoked()
        return kept


class _Undo(Exception):
    pass


class _Pending:
    """One queued request: what it asked, and once its transaction ended, its answer or error."""

    __slots__ = ("answer", "error", "on_done", "payload", "record", "session", "token")

    def __init__(self, session: Session, payload: Any, record: Any, token: str | None,
                 on_done: Callable[[_Pending], object]) -> None:
        self.session, self.payload, self.record, self.token, self.on_done = session, payload, record, token, on_done
        self.answer: Answer | None = None
        self.error: BaseException | None = None


# --- an order, as the outside world sees it ---------------------------------------------------

_STAGES = {s.value for s in OrderStatus}


def order_view(ctx: Context, session: Session, order_id: str) -> dict[str, Any]:
    """State, every stage with its time, cartons with their tracking numbers and the carrier."""
    ctx.auth.check(session, "An order's status")
    with ctx.uow(readonly=True) as uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"No order {order_id!r}.")
        types = {ct.code: ct for ct in uow.catalog.carton_types()}
        cartons = uow.shipments.cartons(order_id, types)
        events = uow.events.for_order(order_id)
        ref = uow.shop_orders.for_order(order_id)
    stages: list[dict[str, Any]] = []
    for ev in events:
        if ev.kind == "order.received":
            stages.append({"stage": "received", "at": _iso(ev.occurred_at), "by": ev.actor})
            arrived = ev.payload.get("status")
            if arrived in _STAGES and arrived != "received":
                stages.append({"stage": arrived, "at": _iso(ev.occurred_at), "by": ev.actor})
        elif ev.kind.startswith("order.") and ev.kind[6:] in _STAGES:
            stages.append({"stage": ev.kind[6:], "at": _iso(ev.occurred_at), "by": ev.actor})
    tracking = [c.tracking_number for c in cartons if c.tracking_number]
    if order.tracking_number and order.tracking_number not in tracking:
        tracking.insert(0, order.tracking_number)
    return {
        "order_id": order.order_id,
        "status": order.status.value,
        "channel": order.channel,
        "placed_at": _iso(order.placed_at),
        "carrier": order.carrier,
        "service": order.service,
        "tracking_numbers": tracking,
        "stages": stages,
        "cartons": [{"seq": c.seq, "type": c.type.code, "status": c.status.value, "sscc": c.sscc,
                     "tracking_number": c.tracking_number or order.tracking_number, "carrier": order.carrier,
                     "weight_g": c.measured_g, "closed_at": _iso(c.closed_at)} for c in cartons],
        "lines": [{"line_no": ln.line_no, "sku": ln.sku, "qty": ln.qty, "packed": ln.packed, "short": ln.short}
                  for ln in order.lines],
        "shop": ({"source": ref.source, "shop": ref.shop, "order": ref.external_id} if ref else None),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def cancel_order(ctx: Context, session: Session, order_id: str, reason: str = "") -> dict[str, Any]:
    """Cancel an order that has not been handed over (through the lifecycle); a bench packing it is
    told at its next scan. Raises NotFound, or TransitionRefused saying why not."""
    ctx.auth.require(session, Permission.CANCEL_ORDERS, "Cancelling an order")
    reason = reason.strip()[:200]
    with ctx.uow() as uow:
        result = _cancel(uow, ctx, session, order_id, reason)
        uow.commit()
    return {"order_id": order_id, "status": OrderStatus.CANCELLED.value, "result": result}


def _cancel(uow: UnitOfWork, ctx: Context, session: Session, order_id: str, reason: str) -> str:
    try:
        claim = uow.orders.hold(order_id)
    except KeyError:
        raise NotFound(f"No order {order_id!r}.") from None
    if claim.status is OrderStatus.CANCELLED:
        return "unchanged"
    change_status(uow, ctx, session, order_id, claim.status, OrderStatus.CANCELLED, reason=reason,
                  held_by=claim.station_id)
    if claim.station_id is not None:
        uow.orders.release(order_id)
    return "cancelled"


# --- webhooks in -----------------------------------------------------------------------------


def receive_webhook(ctx: Context, session: Session, source: str, delivery_id: str, topic: str, shop: str,
                    body: bytes) -> bool:
    """Store a delivery whose signature the HTTP service checked; committed before the shop hears
    200. False: this delivery id is stored already (a retry): nothing new."""
    ctx.auth.require(session, Permission.IMPORT, "Receiving a shop's webhook")
    with ctx.uow() as uow:
        new = uow.inbox.add(source, delivery_id[:200], topic[:64], shop[:200], body, ctx.clock())
        uow.commit()
    return new


class ShopReader(ABC):
    """Reads a shop's order JSON (a port: ``adapters.shops`` knows Shopify's and WooCommerce's)."""

    @abstractmethod
    def read(self, item: InboxItem) -> ShopOrder | None:
        """The shop order in a delivery; None if its topic is nothing to act on. Raises RecordError
        when the JSON is not an order the shop would send."""


@dataclass
class InboxRun:
    """What one pass over the inbox did."""

    claimed: int = 0
    states: dict[str, int] = field(default_factory=dict)
    retried: int = 0  # deliveries left for another pass (the database refused, a race)

    def count(self, state: InboxState) -> None:
        self.states[state.value] = self.states.get(state.value, 0) + 1


SessionFor = Callable[[InboxItem], Session]


def process_inbox(ctx: Context, reader: ShopReader, session_for: SessionFor, *, limit: int = 50,
                  lease: timedelta = timedelta(seconds=60)) -> InboxRun:
    """Apply up to *limit* pending deliveries, each in its own transaction (with its inbox state).

    *session_for* gives the session a delivery acts as (``api:shopify:acme.myshopify.com``). A
    delivery whose transaction fails (two deliveries of one new order at once on two servers, the
    database gone) stays pending and is tried again; one that is invalid is kept as *rejected* with
    the import's reason (``packstation webhooks status`` lists them; ``webhooks replay`` retries)."""
    run = InboxRun()
    now = ctx.clock()
    with ctx.uow() as uow:
        items = uow.inbox.claim(limit, now, now + lease)
        uow.commit()
    run.claimed = len(items)
    for item in items:
        try:
            state = _apply_delivery(ctx, reader, session_for(item), item)
            run.count(state)
        except StorageError:
            run.retried += 1
            try:
                with ctx.uow() as uow:
                    uow.inbox.release(item.id)
                    uow.commit()
            except StorageError:
                pass  # the lease runs out on its own
    return run


def _apply_delivery(ctx: Context, reader: ShopReader, session: Session, item: InboxItem) -> InboxState:
    ctx.auth.require(session, Permission.IMPORT, "Applying a shop's webhook")

    def finish(uow: UnitOfWork, state: InboxState, reason: str = "", order_id: str | None = None) -> InboxState:
        uow.inbox.finish(item.id, state, reason[:2000], order_id, ctx.clock())
        uow.commit()
        return state

    try:
        shop_order = reader.read(item)
    except RecordError as exc:
        with ctx.uow() as uow:
            return finish(uow, InboxState.REJECTED, f"not an order {item.source} would send: {exc}")
    if shop_order is None:
        with ctx.uow() as uow:
            return finish(uow, InboxState.IGNORED, f"topic {item.topic!r} is nothing to act on")
    with ctx.uow() as uow:
        known = uow.shop_orders.get(item.source, item.shop, shop_order.external_id, lock=True)
        if decide(known, shop_order) is InboxDecision.STALE:
            assert known is not None
            return finish(uow, InboxState.STALE, f"a version of {known.updated_at.isoformat()} is applied already",
                          known.order_id)
        order_id = known.order_id if known is not None else shop_order.order_id
        done: list[str] = []
        if shop_order.record is not None:
            record = dict(shop_order.record, order_id=order_id)
            try:
                validated = validate_order_record(record)
            except RecordError as exc:
                if shop_order.cancelled and uow.orders.get(order_id) is None:
                    return finish(uow, InboxState.IGNORED, f"cancelled at the shop before it was imported ({exc})")
                return finish(uow, InboxState.REJECTED, str(exc), order_id)
            outcomes, rejections = store_order_records(uow, ctx, session, [(f"delivery {item.delivery_id}", validated)])
            outcome = outcomes.get(order_id, "")
            if rejections:
                if shop_order.cancelled and uow.orders.get(order_id) is None:
                    return finish(uow, InboxState.IGNORED, "cancelled at the shop before it was imported "
                                                           f"({rejections[0].reason})")
                return finish(uow, InboxState.REJECTED, "; ".join(r.reason for r in rejections), order_id)
            if outcome == "locked" and not shop_order.cancelled:
                claim = uow.orders.claim_of(order_id)
                where = describe(claim.status) if claim else "is being packed"
                return finish(uow, InboxState.REFUSED, f"order {order_id} {where}: the shop's change was not applied",
                              order_id)
            if outcome and outcome != "locked":
                done.append(outcome)
        if shop_order.cancelled:
            if uow.orders.get(order_id) is None:
                return finish(uow, InboxState.IGNORED, "cancelled (or deleted) at the shop; the warehouse never had it")
            try:
                done.append(_cancel(uow, ctx, session, order_id, shop_order.cancel_reason or f"cancelled at {item.source}"))
            except TransitionRefused as exc:
                return finish(uow, InboxState.REFUSED, str(exc), order_id)
        uow.shop_orders.put(ShopOrderRef(item.source, item.shop, shop_order.external_id, order_id,
                                         shop_order.updated_at or (known.updated_at if known else item.received_at)))
        return finish(uow, InboxState.DONE, ", ".join(done), order_id)


def inbox_overview(ctx: Context, session: Session, *, limit: int = 10) -> tuple[dict[str, int], list[InboxItem]]:
    """How many deliveries are in each state, and the newest ones that need a person (rejected, refused)."""
    ctx.auth.require(session, Permission.MANAGE_INTEGRATIONS, "The webhook inbox")
    with ctx.uow(readonly=True) as uow:
        return uow.inbox.counts(), uow.inbox.recent([InboxState.REJECTED, InboxState.REFUSED], limit)


def replay_inbox(ctx: Context, session: Session, states: Sequence[InboxState] = (InboxState.REJECTED,)) -> int:
    """Deliveries rejected (or refused) become pending again: after the catalog was imported, say."""
    ctx.auth.require(session, Permission.MANAGE_INTEGRATIONS, "Replaying webhooks")
    with ctx.uow() as uow:
        n = uow.inbox.replay(states, ctx.clock())
        uow.commit()
    return n


def forget_old_answers(ctx: Context, session: Session, *, keep: timedelta = timedelta(hours=48)) -> int:
    """Idempotency keys are kept for two days (clients retry for minutes or hours, not weeks)."""
    ctx.auth.require(session, Permission.IMPORT, "Forgetting old idempotency keys")
    with ctx.uow() as uow:
        n = uow.idempotency.forget_before(ctx.clock() - keep)
        uow.commit()
    return n


__all__ = [
    "MAX_ORDERS_PER_REQUEST", "Answer", "InboxRun", "IntakeError", "NotFound", "OrderBatcher", "ShopReader",
    "TokenLeases", "TokenRevoked",
    "add_api_token", "admit",
    "cancel_order", "field_error", "forget_old_answers", "inbox_overview", "list_api_tokens", "order_view",
    "process_inbox", "reason_code", "reason_path", "receive_webhook", "replay_inbox", "request_hash",
    "revoke_api_token", "submit_orders",
]
