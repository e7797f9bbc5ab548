"""API clients, idempotency keys, the webhook inbox and shop order references, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from packstation.adapters.db import tables as t
from packstation.domain.integration import (
    Admission,
    ApiClient,
    InboxItem,
    InboxState,
    ShopOrderRef,
    StoredAnswer,
    refill,
)
from packstation.services.ports import (
    ApiClientRepository,
    IdempotencyRepository,
    ShopOrderRefs,
    WebhookInbox,
)

a = t.api_clients.c
k = t.idempotency_keys.c
w = t.webhook_inbox.c
so = t.shop_orders.c


def _epoch(at: datetime) -> float:
    return at.timestamp()


def insert_ignoring(conn: Connection, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING in this connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


# The bucket refilled up to :now (epoch seconds), capped at the burst; a clock stepping back refills nothing.
_REFILLED = case(
    (bindparam("now") > a.bucket_at,
     case((a.bucket + (bindparam("now") - a.bucket_at) * a.rate_per_s > a.burst, a.burst),
          else_=a.bucket + (bindparam("now") - a.bucket_at) * a.rate_per_s)),
    else_=a.bucket,
)
# Every request (or lease of :take tokens): one statement that checks the token, refills the bucket
# and takes the tokens.
_ADMIT = (update(t.api_clients)
          .where(and_(a.token_hash == bindparam("h"), a.revoked_at.is_(None), _REFILLED >= bindparam("take")))
          .values(bucket=_REFILLED - bindparam("take"), bucket_at=bindparam("now"), last_used_at=bindparam("at"))
          .returning(a.name, a.rate_per_s))
_LIVE = select(a.token_hash).where(and_(a.token_hash.in_(bindparam("hs", expanding=True)), a.revoked_at.is_(None)))
_WHY_NOT = select(a.name, a.revoked_at, a.bucket, a.bucket_at, a.rate_per_s, a.burst).where(a.token_hash == bindparam("h"))


def _client(r: Any) -> ApiClient:
    return ApiClient(id=r["id"], name=r["name"], token_prefix=r["token_prefix"], created_at=r["created_at"],
                     created_by=r["created_by"], rate_per_s=r["rate_per_s"], burst=r["burst"],
                     revoked_at=r["revoked_at"], revoked_by=r["revoked_by"], last_used_at=r["last_used_at"])


class SqlApiClients(ApiClientRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, name: str, token_hash: str, token_prefix: str, rate_per_s: float, burst: int, created_by: str,
            at: datetime) -> ApiClient:
        res = self.conn.execute(insert(t.api_clients).values(
            name=name, token_hash=token_hash, token_prefix=token_prefix, rate_per_s=rate_per_s, burst=burst,
            bucket=float(burst), bucket_at=_epoch(at), created_at=at, created_by=created_by))
        row = self.conn.execute(select(t.api_clients).where(a.id == res.inserted_primary_key[0])).mappings().one()
        return _client(row)

    def list(self) -> list[ApiClient]:
        rows = self.conn.execute(select(t.api_clients).order_by(a.name, a.created_at, a.id)).mappings()
        return [_client(r) for r in rows]

    def revoke(self, name: str, by: str, at: datetime, *, prefix: str | None = None) -> int:
        cond = and_(a.name == name, a.revoked_at.is_(None))
        if prefix:
            cond = and_(cond, a.token_prefix == prefix)
        return int(self.conn.execute(update(t.api_clients).where(cond).values(revoked_at=at, revoked_by=by)).rowcount)

    def admit(self, token_hash: str, at: datetime, *, take: int = 1) -> Admission:
        now = _epoch(at)
        for n in (take, 1) if take > 1 else (1,):
            row = self.conn.execute(_ADMIT, {"h": token_hash, "now": now, "at": at, "take": float(n)}).first()
            if row is not None:
                return Admission(client=row[0], allowed=True, tokens=n, rate_per_s=float(row[1]))
        why = self.conn.execute(_WHY_NOT, {"h": token_hash}).first()
        if why is None or why.revoked_at is not None:
            return Admission(client=None)
        tokens = refill(why.bucket, why.bucket_at, now, why.rate_per_s, why.burst)
        wait = (1 - tokens) / why.rate_per_s if why.rate_per_s > 0 else 3600.0
        return Admission(client=why.name, allowed=False, retry_after_s=max(wait, 0.001), rate_per_s=why.rate_per_s)

    def live(self, token_hashes: Collection[str]) -> set[str]:
        if not token_hashes:
            return set()
        return {r[0] for r in self.conn.execute(_LIVE, {"hs": sorted(set(token_hashes))})}


class SqlIdempotency(IdempotencyRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, client: str, key: str) -> StoredAnswer | None:
        row = self.conn.execute(select(k.status, k.body, k.request_hash)
                                .where(and_(k.client == client, k.key == key))).first()
        return StoredAnswer(status=row[0], body=row[1], request_hash=row[2]) if row else None

    def put(self, client: str, key: str, answer: StoredAnswer, at: datetime) -> None:
        self.conn.execute(insert(t.idempotency_keys).values(client=client, key=key, request_hash=answer.request_hash,
                                                            status=answer.status, body=answer.body, created_at=at))

    def forget_before(self, at: datetime) -> int:
        return int(self.conn.execute(delete(t.idempotency_keys).where(k.created_at < at)).rowcount)


def _item(r: Any) -> InboxItem:
    return InboxItem(id=r["id"], source=r["source"], delivery_id=r["delivery_id"], topic=r["topic"], shop=r["shop"],
                     body=bytes(r["body"]), received_at=r["received_at"], state=InboxState(r["state"]),
                     attempts=r["attempts"], reason=r["reason"], order_id=r["order_id"],
                     processed_at=r["processed_at"])


class SqlInbox(WebhookInbox):
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, source: str, delivery_id: str, topic: str, shop: str, body: bytes, at: datetime) -> bool:
        res = self.conn.execute(insert_ignoring(self.conn, t.webhook_inbox).values(
            source=source, delivery_id=delivery_id, topic=topic, shop=shop, body=body, received_at=at,
            state=InboxState.PENDING.value, attempts=0, reason="").returning(w.id))
        return res.first() is not None

    def claim(self, limit: int, now: datetime, lease_until: datetime) -> list[InboxItem]:
        due = (select(w.id)
               .where(and_(w.state == InboxState.PENDING.value, or_(w.lease_until.is_(None), w.lease_until < now)))
               .order_by(w.id).limit(limit).with_for_update(skip_locked=True))
        ids = [r[0] for r in self.conn.execute(due)]
        if not ids:
            return []
        self.conn.execute(update(t.webhook_inbox).where(w.id.in_(ids))
                          .values(lease_until=lease_until, attempts=w.attempts + 1))
        rows = self.conn.execute(select(t.webhook_inbox).where(w.id.in_(ids)).order_by(w.id)).mappings()
        return [_item(r) for r in rows]

    def finish(self, item_id: int, state: InboxState, reason: str, order_id: str | None, at: datetime) -> None:
        self.conn.execute(update(t.webhook_inbox).where(w.id == item_id).values(
            state=state.value, reason=reason, order_id=order_id, processed_at=at, lease_until=None))

    def release(self, item_id: int) -> None:
        self.conn.execute(update(t.webhook_inbox).where(w.id == item_id).values(lease_until=None))

    def get(self, item_id: int) -> InboxItem | None:
        row = self.conn.execute(select(t.webhook_inbox).where(w.id == item_id)).mappings().first()
        return _item(row) if row else None

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute(select(w.state, func.count()).group_by(w.state))
        return {r[0]: int(r[1]) for r in rows}

    def recent(self, states: Sequence[InboxState], limit: int) -> list[InboxItem]:
        rows = self.conn.execute(select(t.webhook_inbox).where(w.state.in_([s.value for s in states]))
                                 .order_by(w.id.desc()).limit(limit)).mappings()
        return [_item(r) for r in rows]

    def replay(self, states: Sequence[InboxState], at: datetime) -> int:
        res = self.conn.execute(update(t.webhook_inbox).where(w.state.in_([s.value for s in states]))
                                .values(state=InboxState.PENDING.value, lease_until=None, processed_at=None))
        return int(res.rowcount)


def _ref(r: Any) -> ShopOrderRef:
    return ShopOrderRef(source=r["source"], shop=r["shop"], external_id=r["external_id"], order_id=r["order_id"],
                        updated_at=r["updated_at"], fulfillment_id=r["fulfillment_id"])


class SqlShopOrders(ShopOrderRefs):
    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, source: str, shop: str, external_id: str, *, lock: bool = False) -> ShopOrderRef | None:
        q = select(t.shop_orders).where(and_(so.source == source, so.shop == shop, so.external_id == external_id))
        if lock:
            q = q.with_for_update()
        row = self.conn.execute(q).mappings().first()
        return _ref(row) if row else None

    def put(self, ref: ShopOrderRef) -> None:
        key = and_(so.source == ref.source, so.shop == ref.shop, so.external_id == ref.external_id)
        values = {"order_id": ref.order_id, "updated_at": ref.updated_at}
        if ref.fulfillment_id is not None:
            values["fulfillment_id"] = ref.fulfillment_id
        if self.conn.execute(update(t.shop_orders).where(key).values(**values)).rowcount == 0:
            self.conn.execute(insert(t.shop_orders).values(source=ref.source, shop=ref.shop,
                                                           external_id=ref.external_id, **values))

    def for_order(self, order_id: str) -> ShopOrderRef | None:
        row = self.conn.execute(select(t.shop_orders).where(so.order_id == order_id).limit(1)).mappings().first()
        return _ref(row) if row else None

    def set_fulfillment(self, order_id: str, fulfillment_id: str) -> None:
        self.conn.execute(update(t.shop_orders).where(so.order_id == order_id).values(fulfillment_id=fulfillment_id))


__all__ = ["SqlApiClients", "SqlIdempotency", "SqlInbox", "SqlShopOrders", "insert_ignoring"]
