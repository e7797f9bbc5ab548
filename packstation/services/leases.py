"""Claims are leases at the central database: two benches can never both pack one order.

On a synced station (``ctx.central`` set) a claim first takes the order's lease at the centre in
one short central transaction (``LeaseRepository.take``: one conditional statement), then stores
the lease's token and expiry on the local order row and claims locally as before. Every event the
station writes for that order afterwards carries the token as its *fence*; the centre refuses an
event whose fence is no longer the lease's token (the order was taken over meanwhile), so work
done on a lost lease becomes a conflict a lead sees, never a silent merge.

- **Held elsewhere**: refused, naming the bench and the person that hold it.
- **Offline** (the central unit of work raises StorageError): a bench may continue the orders it
  already holds locally (resume, scan, seal: nothing on the scan path talks to the centre); a new
  claim is refused with :data:`OFFLINE`.
- **Heartbeat**: :func:`renew_leases` extends the leases of the orders this station holds (a
  worker thread calls it every :data:`HEARTBEAT_INTERVAL`). A lease no longer ours (a lead released
  it, or it ran out while we were offline and another bench took it) is dropped here: the local
  claim is released (event ``order.lease_lost``), so the bench stops working on it.
- **A lead's release** at the centre (:func:`release_lease`) frees the lease so another bench
  can take it; that bench gets a new token, so the old holder's later events carry a stale fence.

Token semantics (what the push appliers rely on): a take by a station that did not hold the
lease (first take, take-over of an expired lease, take after a release) gives a new token greater
than every earlier one; renewing, or the holder taking its own lease again (even expired, if
nobody took it meanwhile), keeps the token. A release keeps the token on the freed lease.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from packstation.domain.identity import Permission, Session
from packstation.domain.packing import Verdict
from packstation.services.context import Context, record
from packstation.services.outcome import Outcome
from packstation.services.ports import Conflict, Lease, StorageError, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

# A bench that stops renewing (crashed, cut off) keeps its orders this long; then another bench
# may take them over. Two minutes: a short network hiccup or a restart never costs a bench its
# order, and a tote left at a dead bench is free again before anyone walks it to another one (a
# lead can release it at once).
LEASE_TTL = timedelta(minutes=2)
HEARTBEAT_INTERVAL = LEASE_TTL / 3
OFFLINE = "offline: this bench can only continue orders it already holds"
_CANDIDATES = 20  # orders looked at per round by claim_next_with_lease

T = TypeVar("T")


class LeaseRefused(Exception):
    """The centre did not give this bench the lease (held elsewhere, or the centre is unreachable)."""

    def __init__(self, message: str, *, offline: bool = False, lease: Lease | None = None):
        super().__init__(message)
        self.offline = offline
        self.lease = lease  # the holder's lease, when another bench holds it


@dataclass(frozen=True)
class Heartbeat:
    """What one :func:`renew_leases` did."""

    online: bool | None  # None: this station holds nothing, the centre was not asked
    renewed: dict[str, datetime] = field(default_factory=dict)  # order id -> new expiry (the centre's clock)
    lost: dict[str, Lease | None] = field(default_factory=dict)  # order id -> the lease as it is now
    error: str = ""


def _central(ctx: Context) -> UnitOfWorkFactory:
    if ctx.central is None:
        raise RuntimeError("a standalone station has no central database (leases are for synced stations)")
    return ctx.central


def _held_elsewhere(order_id: str, lease: Lease) -> str:
    return f"Order {order_id} is being packed at {lease.station_id} by {lease.holder}. Ask a lead to release it."


def _take(ctx: Context, session: Session, order_id: str) -> Lease:
    """The lease, taken in a central transaction of its own. Raises LeaseRefused (held elsewhere),
    StorageError (the centre cannot be reached: offline)."""
    with _central(ctx)() as cu:
        lease = cu.leases.take(order_id, ctx.station_id, session.name, LEASE_TTL)
        cu.commit()
    if lease.station_id != ctx.station_id:
        raise LeaseRefused(_held_elsewhere(order_id, lease), lease=lease)
    return lease


def give_back(ctx: Context, lease: Lease) -> None:
    """Free a lease just taken for a claim that then failed locally; offline, it simply runs out."""
    try:
        with _central(ctx)() as cu:
            cu.leases.release(lease.order_id, lease.token)
            cu.commit()
    except StorageError as exc:
        log.warning("could not give back the lease on %s (it runs out by itself): %s", lease.order_id, exc)


def _with_lease(ctx: Context, lease: Lease, fresh: bool, claim_locally: Callable[[Lease], T]) -> T:
    try:
        return claim_locally(lease)
    except BaseException:
        if fresh:  # this bench did not hold it before: nobody may wait for its lease to run out
            give_back(ctx, lease)
        raise


def claim_with_lease(ctx: Context, session: Session, code: str,
                     claim_locally: Callable[[Lease | None], T]) -> T:
    """``packing.claim_order`` on a synced station: the central lease first, then the local claim.

    *claim_locally(lease)* claims in the local database and stores the lease's token on the order.
    ``lease`` None: the centre is not asked, the local claim decides alone: an order this station
    does not know or that cannot be packed is refused by it, as standalone; an order this bench
    already holds under a lease is simply continued (resume: no network, online or offline; the
    heartbeat keeps its lease and notices if it was lost). Raises LeaseRefused: held by another
    bench, or offline and the order is not held here.
    """
    with ctx.uow(readonly=True) as uow:
        order_id = uow.orders.find_id(code.strip())
        claim = uow.orders.claim_of(order_id) if order_id is not None else None
        leased = order_id is not None and bool(uow.orders.leased(ctx.station_id, [order_id]))
    if order_id is None or claim is None or not claim.status.packable \
            or claim.station_id not in (None, ctx.station_id) or leased:
        return claim_locally(None)
    mine = claim.station_id == ctx.station_id  # held here without a lease (claimed before the centre was set up)
    try:
        lease = _take(ctx, session, order_id)
    except LeaseRefused as refused:
        if mine and refused.lease is not None:
            _drop_lost(ctx, session, order_id, refused.lease)
        raise
    except Conflict as exc:
        raise LeaseRefused(f"Order {order_id}: {exc}") from exc
    except StorageError as exc:
        if mine:
            log.info("central database unreachable: %s continues %s offline (%s)", ctx.station_id, order_id, exc)
            return claim_locally(None)
        raise LeaseRefused(f"Order {order_id} NOT claimed — {OFFLINE}. ({exc})", offline=True) from exc
    return _with_lease(ctx, lease, not mine, claim_locally)


def claim_next_with_lease(ctx: Context, session: Session, carrier: str | None,
                          claim_locally: Callable[[Lease], T]) -> T | None:
    """``packing.claim_next_order`` on a synced station: the oldest packable order nobody holds here
    whose lease this bench gets (orders leased to other benches are passed over). None: none left.
    Raises LeaseRefused(offline=True) when the centre cannot be reached (no new claim offline)."""
    tried: list[str] = []
    while True:
        with ctx.uow(readonly=True) as uow:
            candidates = uow.orders.claimable(_CANDIDATES, carrier, exclude=tried)
        if not candidates:
            return None
        for order_id in candidates:
            tried.append(order_id)
            try:
                lease = _take(ctx, session, order_id)
            except (LeaseRefused, Conflict):
                continue
            except StorageError as exc:
                raise LeaseRefused(f"No order claimed — {OFFLINE}. ({exc})", offline=True) from exc
            return _with_lease(ctx, lease, True, claim_locally)


# --- losing a lease ---------------------------------------------------------------------------


def _drop(uow: UnitOfWork, ctx: Context, session: Session, order_id: str, token: int | None,
          now: Lease | None, why: str) -> bool:
    """Release this station's local claim on an order whose lease it no longer has (in *uow*).

    Only if the local claim is still ours under *token* (the bench may have put it back or claimed
    it again meanwhile). The local lease copy is cleared before the event is written, so the
    ``order.lease_lost`` event itself carries no stale fence."""
    claim = uow.orders.claim_of(order_id)
    held = {h.order_id: h.token for h in uow.orders.leased(ctx.station_id, [order_id])}
    if claim is None or claim.station_id != ctx.station_id or held.get(order_id) != token:
        return False
    uow.orders.set_lease(order_id, None, None)
    uow.orders.release(order_id)
    record(uow, ctx, session, "order.lease_lost", order_id,
           {"station": ctx.station_id, "token": token, "why": why,
            "held_by": now.station_id if now is not None else None, "holder": now.holder if now is not None else None})
    return True


def _drop_lost(ctx: Context, session: Session, order_id: str, now: Lease) -> None:
    try:
        with ctx.uow() as uow:
            held = {h.order_id: h.token for h in uow.orders.leased(ctx.station_id, [order_id])}
            if _drop(uow, ctx, session, order_id, held.get(order_id), now, "taken over by another bench"):
                uow.commit()
    except StorageError as exc:  # the heartbeat tries again
        log.warning("could not drop the lost claim on %s: %s", order_id, exc)


# --- heartbeat --------------------------------------------------------------------------------


def renew_leases(ctx: Context, session: Session, ttl: timedelta | None = None) -> Heartbeat:
    """Renew the leases of the orders this station holds (one central statement); drop lost ones.

    Run by a worker thread every HEARTBEAT_INTERVAL, never on the window's thread (it waits for
    the centre). Offline: nothing changes (the orders keep being packed here); the answer says so.
    """
    ctx.auth.require(session, Permission.SYNC, "Renewing this bench's order leases")
    central = _central(ctx)
    with ctx.uow(readonly=True) as uow:
        held = {h.order_id: h.token for h in uow.orders.leased(ctx.station_id)}
    if not held:
        return Heartbeat(online=None)
    try:
        with central() as cu:
            renewed = cu.leases.renew(sorted(held), ctx.station_id, ttl or LEASE_TTL)
            lost = {order_id: cu.leases.holder(order_id) for order_id in sorted(held) if order_id not in renewed}
            cu.commit()
    except StorageError as exc:
        return Heartbeat(online=False, error=str(exc))
    with ctx.uow() as uow:
        for order_id, until in renewed.items():
            uow.orders.set_lease(order_id, held[order_id], until)
        dropped = {}
        for order_id, now in lost.items():
            why = "released by a lead" if now is None or now.station_id is None else "taken over by another bench"
            if _drop(uow, ctx, session, order_id, held[order_id], now, why):
                dropped[order_id] = now
        uow.commit()
    for order_id, now in dropped.items():
        log.warning("%s lost its lease on %s (%s)", ctx.station_id, order_id,
                    f"now held by {now.station_id}" if now is not None and now.station_id else "released")
    return Heartbeat(online=True, renewed=renewed, lost=dropped)


# --- a lead's release at the centre -----------------------------------------------------------


def release_lease(ctx: Context, session: Session, order_id: str, reason: str) -> Outcome:
    """A lead frees an order's lease at the centre (the bench holding it crashed, or the packer left),
    so another bench can take it. Recorded at the centre (``order.lease_released``, naming the lead).

    The bench that held it drops its claim at its next heartbeat (at once if it is this bench);
    what it still writes for the order carries the old token, refused at sync once another bench
    has taken the order."""
    ctx.auth.require(session, Permission.RELEASE_CLAIM, "Releasing another bench's order")
    if not reason.strip():
        return Outcome(Verdict.NOT_ALLOWED, "Give a reason: it is recorded with the release.")
    if ctx.central is None:
        return Outcome(Verdict.NOT_ALLOWED, "This station has no central database: release the claim in the lead "
                       "view's claims list instead.")
    with ctx.uow(readonly=True) as uow:  # an order number in any case, or its tote, as at the bench
        known = uow.orders.find_id(order_id.strip())
    try:
        with ctx.central() as cu:
            real_id = known or cu.orders.find_id(order_id.strip()) or order_id.strip()
            lease = cu.leases.holder(real_id)
            if lease is None or lease.station_id is None:
                return Outcome(Verdict.ORDER_RELEASED, f"Order {real_id} is not held by any bench.")
            if not cu.leases.release(real_id, lease.token):
                return Outcome(Verdict.NOT_ALLOWED, f"Order {real_id} changed hands meanwhile: look again.")
            record(cu, ctx, session, "order.lease_released", real_id,
                   {"from_station": lease.station_id, "from_user": lease.holder, "token": lease.token,
                    "reason": reason.strip()})
            cu.commit()
    except StorageError as exc:
        return Outcome(Verdict.STORAGE_FAILED, f"NOT released — the central database cannot be reached. {exc}")
    if lease.station_id == ctx.station_id:
        try:
            with ctx.uow() as uow:
                if _drop(uow, ctx, session, real_id, lease.token, None, f"released by a lead: {reason.strip()}"):
                    uow.commit()
        except StorageError as exc:  # the heartbeat drops it later
            log.warning("could not drop the local claim on %s: %s", real_id, exc)
    return Outcome(Verdict.ORDER_RELEASED, f"Order {real_id} released from {lease.station_id} ({lease.holder}): "
                   "any bench may continue it.", data={"order_id": real_id, "from_station": lease.station_id})


__all__ = [
    "HEARTBEAT_INTERVAL", "LEASE_TTL", "OFFLINE", "Heartbeat", "LeaseRefused", "claim_next_with_lease",
    "claim_with_lease", "give_back", "release_lease", "renew_leases",
]
