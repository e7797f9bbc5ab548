"""Pull: what changed at the centre since this station last looked, copied into its own database.

The centre's triggers log every insert or update of an order (or its lines), a product (or its
barcodes), a carton type, a user, a stock lot and a return (its lines, its received items) as
``(seq, entity, key)`` in its change log.
:func:`pull_once` reads the log after the station's cursor in pages, loads the current state of
the records named there from the centre (through the central repositories) and writes them into
the station's database through its repositories, one local transaction per page, the cursor
with them. Never a full reload: only what the log names. A record named twice is loaded once; a
record changed again after it was loaded is named again later, so loading the *current* state
is always right.

Orders this station holds (claimed here), or has work on the centre has not answered yet
(events not pushed), keep their local packing state: status, claim, lease, packed and short
counts. Only a cancellation or a hold at the centre reaches them (``withdraw``); the bench then
refuses further work on them and says why. Users come with their PIN hashes (a station checks
PINs offline); each station keeps its own wrong-PIN counter.

Returns come whole: the return and its lines, the items received on it (at any desk), its
resolutions and credit notes, so a synced returns desk finds an announced return (by its RMA or
the order's return code), counts what already came back at other desks and works offline on its
own copy. A return of an order on which this station has events not pushed yet keeps its local
state (its desk's work is on the way to the centre); it is loaded again at the next pull
(``pull_returns_kept``) and, once the centre has that work, taken from there.

Pulled records are copies of the centre's truth; the centre recorded their events, so the
station writes none for them (they would be pushed back).

**Gaps.** A change's seq is taken when its row is written but shows when its transaction
commits: a reader may see 11 before 10 (a longer transaction, e.g. an import) or never see 10
(rolled back). The cursor therefore only passes seqs that are settled. The station remembers the
seqs it has not seen below the highest it read (``pull_gaps``) and reads them again with every
page; a gap ends when its change shows up, or when every transaction that may still write it
has ended: ``settle_s`` after the gap was first seen (by then its writer has a transaction id for
certain) the pull notes ``ChangeLog.started_below()`` as the gap's mark, and once
``finished_below()`` (PostgreSQL: the snapshot's ``xmin``) reaches the mark the gap is dropped.
``pull_cursor`` is the seq up to which everything is applied.

Afterwards it keeps a block of numbers in hand (``NumberSeries.reserve``), so a station that is
cut off from the centre keeps sealing cartons for a while.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from packstation.domain.identity import Permission, Session
from packstation.domain.model import CartonType, Order, Product, StockLot
from packstation.domain.returns import CreditNote, ReceivedItem, Resolution, Return
from packstation.services.context import Context
from packstation.services.lifecycle import CENTRE_WITHDRAWS, withdraw_by_centre
from packstation.services.ports import Change, Claim, Credentials, StorageError, UnitOfWork

log = logging.getLogger(__name__)

CURSOR, HIGH, GAPS, LAST_PULL = "pull_cursor", "pull_high", "pull_gaps", "last_pull"
KEPT_RETURNS = "pull_returns_kept"  # returns kept local at a pull (work not pushed): loaded again next time
_MAX_GAP_RANGES = 200


class NotSynced(RuntimeError):
    """This station has no central database ([database] central is not set)."""


@dataclass
class PullReport:
    pages: int = 0
    changes: int = 0
    products: int = 0
    carton_types: int = 0
    lots: int = 0
    users: int = 0
    orders: int = 0
    returns: int = 0
    kept: list[str] = field(default_factory=list)  # orders held here: their packing state kept
    withdrawn: list[str] = field(default_factory=list)  # orders held here that the centre cancelled or held
    returns_kept: list[str] = field(default_factory=list)  # returns with work here the centre has not yet
    cursor: int = 0  # every change up to this seq is applied
    waiting: int = 0  # seqs below the highest read that have not shown up yet (transactions running)
    numbers: dict[str, int] = field(default_factory=dict)  # numbers held per series afterwards
    numbers_error: str = ""

    def summary(self) -> str:
        return (f"pulled {self.changes} change(s) in {self.pages} page(s): {self.orders} order(s), "
                f"{self.products} product(s), {self.carton_types} carton type(s), {self.lots} lot(s), "
                f"{self.users} user(s), {self.returns} return(s); {len(self.kept)} held here kept, {len(self.withdrawn)} withdrawn; "
                f"cursor {self.cursor}")


# --- the cursor and its gaps -----------------------------------------------------------------


@dataclass
class _Gap:
    first: int
    last: int
    seen: str  # ISO time it was first seen (the station's clock)
    mark: int | None = None  # ChangeLog.started_below() read settle_s after it was seen

    def as_json(self) -> list[object]:
        return [self.first, self.last, self.seen, self.mark]


@dataclass
class _Cursor:
    high: int = 0  # the highest seq read
    gaps: list[_Gap] = field(default_factory=list)  # seqs below high not seen yet, in order

    @property
    def applied(self) -> int:
        """Every change up to this seq is applied."""
        return self.gaps[0].first - 1 if self.gaps else self.high

    @property
    def waiting(self) -> int:
        return sum(g.last - g.first + 1 for g in self.gaps)

    @classmethod
    def load(cls, uow: UnitOfWork) -> _Cursor:
        cursor = int(uow.sync_state.get(CURSOR) or 0)
        high = int(uow.sync_state.get(HIGH) or cursor)
        gaps = [_Gap(int(a), int(b), str(seen), None if mark is None else int(mark))
                for a, b, seen, mark in json.loads(uow.sync_state.get(GAPS) or "[]")]
        return cls(max(high, cursor), [g for g in gaps if g.last > cursor])

    def state(self) -> tuple[int, list[list[object]]]:
        return self.high, [g.as_json() for g in self.gaps]

    def save(self, uow: UnitOfWork) -> None:
        uow.sync_state.put(CURSOR, str(self.applied))
        uow.sync_state.put(HIGH, str(self.high))
        uow.sync_state.put(GAPS, json.dumps([g.as_json() for g in self.gaps]))

    def ranges(self) -> list[tuple[int, int | None]]:
        """What to read: the gaps, and everything above the highest seq read."""
        return [(g.first, g.last) for g in self.gaps] + [(self.high + 1, None)]

    def unmarked(self, now: datetime, settle_s: float) -> bool:
        """Some gap is old enough for its mark and has none yet."""
        return any(g.mark is None and _age(g, now) >= settle_s for g in self.gaps)

    def advance(self, seqs: Sequence[int], upto: int | None, finished: int, started: int | None, now: datetime,
                settle_s: float) -> None:
        """Take in a page: *seqs* read (in order), everything up to *upto* scanned (None: all);
        *finished* read before the page, *started* (None: not read) after it."""
        found = set(seqs)
        scanned = max(max(seqs, default=0), self.high) if upto is None else upto
        gaps: list[_Gap] = []
        for g in self.gaps:
            gaps += _settle(_split(g, found), scanned, finished, started, now, settle_s)
        last = self.high
        for seq in sorted(s for s in found if s > self.high):  # new seqs: what they skipped is a gap
            if seq > last + 1:
                gaps.append(_Gap(last + 1, seq - 1, now.isoformat()))
            last = seq
        self.high = last
        self.gaps = _compact(sorted(gaps, key=lambda g: g.first))


def _split(gap: _Gap, found: set[int]) -> list[_Gap]:
    hits = sorted(s for s in found if gap.first <= s <= gap.last)
    if not hits:
        return [gap]
    parts, start = [], gap.first
    for hit in hits:
        if hit > start:
            parts.append(_Gap(start, hit - 1, gap.seen, gap.mark))
        start = hit + 1
    if start <= gap.last:
        parts.append(_Gap(start, gap.last, gap.seen, gap.mark))
    return parts


def _age(gap: _Gap, now: datetime) -> float:
    return (now - datetime.fromisoformat(gap.seen)).total_seconds()


def _settle(gaps: list[_Gap], scanned: int, finished: int, started: int | None, now: datetime,
            settle_s: float) -> list[_Gap]:
    """Drop the gaps that can no longer fill (the part of them this page read); mark those old enough."""
    out = []
    for g in gaps:
        if g.mark is None and started is not None and _age(g, now) >= settle_s:
            g = _Gap(g.first, g.last, g.seen, started)
            out.append(g)  # a mark just taken: its transactions may well still run
            continue
        if g.mark is None or finished < g.mark or g.first > scanned:
            out.append(g)
            continue
        if g.last > scanned:  # only partly read by this page: the rest waits for the next
            out.append(_Gap(scanned + 1, g.last, g.seen, g.mark))
        # else: every transaction that could still write it had ended before the read: a gap for good
    return out


def _compact(gaps: list[_Gap]) -> list[_Gap]:
    """At most _MAX_GAP_RANGES ranges: the closest neighbours merge (re-reading seqs in between
    does no harm; the merged range waits for the later of the two marks)."""
    while len(gaps) > _MAX_GAP_RANGES:
        i = min(range(len(gaps) - 1), key=lambda n: gaps[n + 1].first - gaps[n].last)
        a, b = gaps[i], gaps[i + 1]
        mark = None if a.mark is None or b.mark is None else max(a.mark, b.mark)
        gaps[i:i + 2] = [_Gap(a.first, b.last, min(a.seen, b.seen), mark)]
    return gaps


# --- one page: read at the centre, write here ------------------------------------------------


@dataclass
class _Page:
    products: dict[str, tuple[Product, str]] = field(default_factory=dict)
    cartons: dict[str, tuple[CartonType, str]] = field(default_factory=dict)
    lots: dict[tuple[str, str], StockLot] = field(default_factory=dict)
    users: dict[str, Credentials] = field(default_factory=dict)
    orders: dict[str, tuple[Order, str, Claim | None]] = field(default_factory=dict)
    returns: dict[str, _ReturnCopy] = field(default_factory=dict)


@dataclass
class _ReturnCopy:
    ret: Return
    fingerprint: str
    items: list[ReceivedItem]
    resolutions: list[Resolution]
    credit_notes: list[CreditNote]


def _load(uow: UnitOfWork, changes: Sequence[Change], page: _Page, returns: Sequence[str] = ()) -> None:
    """The current state at the centre of what *changes* name, and of the *returns* kept local at
    the last pull (gone records are left out)."""
    keys: dict[str, set[str]] = {}
    for ch in changes:
        keys.setdefault(ch.entity, set()).add(ch.key)
    if returns:
        keys.setdefault("return", set()).update(returns)
    _load_products(uow, keys.get("product", set()), page)
    if keys.get("carton_type"):
        fps = uow.catalog.imported_cartons(sorted(keys["carton_type"]))
        for ct in uow.catalog.carton_types():
            if ct.code in keys["carton_type"]:
                page.cartons[ct.code] = (ct, fps.get(ct.code, ""))
    by_sku: dict[str, set[str]] = {}
    for key in keys.get("stock_lot", set()):
        sku, _, lot_no = key.partition("\x1f")
        by_sku.setdefault(sku, set()).add(lot_no)
    for sku, wanted in sorted(by_sku.items()):
        for stock_lot in uow.catalog.lots(sku):
            if stock_lot.lot in wanted:
                page.lots[(sku, stock_lot.lot)] = stock_lot
    _load_users(uow, keys.get("user", set()), page)
    _load_orders(uow, keys.get("order", set()), page)
    _load_returns(uow, keys.get("return", set()), page)
    unknown = {e for e in keys if e not in ("product", "carton_type", "stock_lot", "user", "order", "return")}
    if unknown:
        log.info("pull: change log entries of unknown kinds %s left alone", sorted(unknown))


def _load_orders(uow: UnitOfWork, order_ids: set[str], page: _Page) -> None:
    ids = sorted(order_ids - set(page.orders))
    if not ids:
        return
    states = uow.orders.imported(ids)
    for order_id, (order, claim) in uow.orders.get_many(ids).items():
        page.orders[order_id] = (order, states[order_id].fingerprint if order_id in states else "",
                                 claim if claim.station_id else None)


def _load_returns(uow: UnitOfWork, rma_ids: set[str], page: _Page) -> None:
    ids = sorted(rma_ids - set(page.returns))
    if not ids:
        return
    states = uow.returns.imported(ids)
    items: dict[str, list[ReceivedItem]] = {}
    for item in uow.returns.items(ids):
        items.setdefault(item.rma_id, []).append(item)
    for rma_id, ret in uow.returns.get_many(ids).items():
        settled = any(ln.resolution_id for ln in ret.lines)  # only then has it resolutions (and credit notes)
        page.returns[rma_id] = _ReturnCopy(ret, states[rma_id].fingerprint if rma_id in states else "",
                                           items.get(rma_id, []), uow.returns.resolutions(rma_id) if settled else [],
                                           uow.returns.credit_notes(rma_id) if settled else [])


def _orders_missing(uow: UnitOfWork, page: _Page) -> set[str]:
    """Orders the page's returns belong to that neither the page nor this station has."""
    wanted = {c.ret.order_id for c in page.returns.values()} - set(page.orders)
    return wanted - set(uow.orders.imported(sorted(wanted)))


def _load_products(uow: UnitOfWork, skus: set[str], page: _Page) -> None:
    wanted = sorted(skus - set(page.products))
    if not wanted:
        return
    fps = uow.catalog.imported_products(wanted)
    for sku, product in uow.catalog.products(wanted).items():
        page.products[sku] = (product, fps.get(sku, ""))


def _load_users(uow: UnitOfWork, names: set[str], page: _Page) -> None:
    for name in sorted(names - set(page.users)):
        creds = uow.users.by_name(name)
        if creds is not None:
            page.users[name] = creds


def _missing(uow: UnitOfWork, page: _Page) -> set[str]:
    """Products the local database needs besides the page to take it: those that still own a
    barcode the page gives to another product here (its change may be on a later page), and those
    the page's orders and lots refer to that the station does not have. (A badge the page gives to
    another user needs nothing: the upsert takes it from its holder here, and that user's own
    change, in the same or a later page, sets what the centre gave them.)"""
    skus: set[str] = set()
    codes = [code for product, _ in page.products.values()
             for code in (*product.barcodes, *(p.barcode for p in product.pack_barcodes))]
    for owner in uow.catalog.barcode_owners(codes).values():
        if owner not in page.products:
            skus.add(owner)
    referred = {line.sku for order, _, _ in page.orders.values() for line in order.lines}
    referred |= {sku for sku, _ in page.lots}
    referred -= set(page.products)
    skus |= referred - uow.catalog.known_skus(referred)
    return skus


def _write(uow: UnitOfWork, ctx: Context, page: _Page, report: PullReport) -> None:
    now = ctx.clock()
    if page.products:
        uow.catalog.put_products(list(page.products.values()), now)
    if page.cartons:
        uow.catalog.put_cartons(list(page.cartons.values()))
    if page.lots:
        uow.catalog.put_lots(list(page.lots.values()))
    for creds in page.users.values():
        uow.users.upsert(creds.user, creds.pin_hash, now)
    ids = sorted(page.orders)
    local = uow.orders.imported(ids)
    unpushed = uow.events.unpushed_orders(ids)
    copies = []
    for order_id in ids:
        order, fingerprint, claim = page.orders[order_id]
        here = local.get(order_id)
        if here is not None and (here.held_by == ctx.station_id or order_id in unpushed):
            if order.status in CENTRE_WITHDRAWS and here.status != order.status.value:
                withdraw_by_centre(uow, order_id, order.status, now)
                report.withdrawn.append(order_id)
            else:
                report.kept.append(order_id)
            continue
        copies.append((order, fingerprint, claim))
    uow.orders.upsert(copies, now)
    report.orders += len(copies)
    _write_returns(uow, page, report, now)
    report.products += len(page.products)
    report.carton_types += len(page.cartons)
    report.lots += len(page.lots)
    report.users += len(page.users)


def _write_returns(uow: UnitOfWork, page: _Page, report: PullReport, now: datetime) -> None:
    """The centre's returns as this station's copies, but for those with work here the centre has
    not yet: events not pushed (kept, and loaded again next time), or items the centre never took
    (refused there: the lead's conflict; kept as they are here)."""
    if not page.returns:
        return
    unpushed = uow.events.unpushed_orders(sorted({c.ret.order_id for c in page.returns.values()}))
    here: dict[str, set[str]] = {}
    for item in uow.returns.items(sorted(page.returns)):
        here.setdefault(item.rma_id, set()).add(item.id)
    for rma_id, c in sorted(page.returns.items()):
        if c.ret.order_id in unpushed:
            report.returns_kept.append(rma_id)
            continue
        if here.get(rma_id, set()) - {i.id for i in c.items}:
            log.warning("pull: return %s has items here the central database does not: kept as it is here", rma_id)
            continue
        uow.returns.put_copy(c.ret, c.fingerprint, c.items, c.resolutions, c.credit_notes, now)
        report.returns += 1


# --- the use case ------------------------------------------------------------------------------


def pull_once(ctx: Context, session: Session, *, page: int = 2000, settle_s: float = 2.0,
              numbers: Mapping[str, int] | None = None) -> PullReport:
    """Pull every change after this station's cursor, a page per local transaction, until none is left.

    Then hold at least ``numbers[series]`` unissued numbers of each series (default: 100 SSCCs).
    Raises StorageError when the centre or the local database cannot be reached (what was
    committed stays: the next pull goes on from there).
    """
    ctx.auth.require(session, Permission.SYNC, "Pulling from the central database")
    if ctx.central is None:
        raise NotSynced("This station has no central database: set [database] central in its config.")
    report = PullReport()
    with ctx.uow(readonly=True) as uow:
        cursor = _Cursor.load(uow)
        kept = json.loads(uow.sync_state.get(KEPT_RETURNS) or "[]")
    after = cursor.applied
    while True:
        batch = _Page()
        with ctx.central(readonly=True) as central:
            finished = central.changes.finished_below()  # before the read: see _settle
            changes = central.changes.since(after, page, only=cursor.ranges())
            started = central.changes.started_below() if cursor.unmarked(ctx.clock(), settle_s) else None
            _load(central, changes, batch, kept)
        orders: set[str] = set()
        if batch.returns:
            with ctx.uow(readonly=True) as uow:
                orders = _orders_missing(uow, batch)
        if orders:  # a return of an order not here yet (its change is on a later page)
            with ctx.central(readonly=True) as central:
                _load_orders(central, orders, batch)
        for _ in range(3):  # what the local database needs to take the page (rarely anything)
            with ctx.uow(readonly=True) as uow:
                skus = _missing(uow, batch) - set(batch.products)
            if not skus:
                break
            with ctx.central(readonly=True) as central:
                _load_products(central, skus, batch)
        full = len(changes) >= page
        seqs = [c.seq for c in changes]
        before = cursor.state()
        cursor.advance(seqs, seqs[-1] if full and seqs else None, finished, started, ctx.clock(), settle_s)
        if changes or cursor.state() != before or kept:  # an idle poll writes nothing here
            with ctx.uow() as uow:
                _write(uow, ctx, batch, report)
                cursor.save(uow)
                uow.sync_state.put(KEPT_RETURNS, json.dumps(sorted(set(report.returns_kept))))
                uow.commit()
            kept = []  # loaded with this page; those kept again are in report.returns_kept
        report.pages += 1
        report.changes += len(changes)
        if not full:
            break
        after = seqs[-1]
    report.cursor, report.waiting = cursor.applied, cursor.waiting
    _reserve_numbers(ctx, report, {"sscc": 100} if numbers is None else numbers)
    with ctx.uow() as uow:
        uow.sync_state.put(LAST_PULL, ctx.clock().isoformat())
        uow.commit()
    return report


def _reserve_numbers(ctx: Context, report: PullReport, numbers: Mapping[str, int]) -> None:
    """Top up the blocks held. Only when short of numbers (once a block, not every poll), and only
    right after the centre answered: the block is taken while the local write lock is held."""
    with ctx.uow(readonly=True) as uow:
        held = {series: uow.numbers.held(series) for series in numbers}
    for series, keep in numbers.items():
        report.numbers[series] = held[series]
        if held[series] >= keep:
            continue
        try:
            with ctx.uow() as uow:
                report.numbers[series] = uow.numbers.reserve(series, keep)
                uow.commit()
        except StorageError as exc:  # the pull itself went through; sealing says it when numbers run out
            report.numbers_error = str(exc)
            log.warning("pull: could not reserve %s numbers: %s", series, exc)


def pull_cursor(ctx: Context) -> int:
    """The seq up to which this station has applied the centre's changes."""
    with ctx.uow(readonly=True) as uow:
        return _Cursor.load(uow).applied


__all__ = ["NotSynced", "PullReport", "pull_cursor", "pull_once"]
