"""Group commit of single-order requests (``intake.OrderBatcher``) on the fake storage: orders that
arrive while a transaction runs go into the next one, and every request gets the answer it would
have got alone, also when something in the batch is refused."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from fakes import FakeDatabase, fake_context
from test_intake import record  # type: ignore[import-not-found]

from packstation.domain.identity import ActorKind
from packstation.services import intake
from packstation.services.context import Context


class Gate:
    """A unit-of-work factory whose first write transaction waits until the test opens the gate, so
    the requests sent meanwhile queue up for the next transaction."""

    def __init__(self, ctx: Context) -> None:
        self.real = ctx.uow
        self.open = threading.Event()
        self.entered = threading.Event()
        self.first = True
        self.calls = 0

    def __call__(self, *, readonly: bool = False) -> Any:
        if not readonly:
            self.calls += 1
            if self.first:
                self.first = False
                self.entered.set()
                self.open.wait(10)
        return self.real(readonly=readonly)


def run_batched(ctx: Context, requests: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, intake.Answer], Any, Gate]:
    gate = Gate(ctx)
    gated = replace(ctx, uow=gate)
    batcher = intake.OrderBatcher(gated)
    answers: dict[str, intake.Answer] = {}
    lock = threading.Lock()

    def send(tag: str, client: str, payload: dict[str, Any]) -> None:
        answer = batcher.submit(gated.auth.system(ActorKind.API, client), payload)
        with lock:
            answers[tag] = answer

    first = threading.Thread(target=send, args=("first", "acme", record("B-0")))
    first.start()
    assert gate.entered.wait(10)
    threads = [threading.Thread(target=send, args=(tag, tag.split(":")[0], payload)) for tag, payload in requests]
    for th in threads:
        th.start()
    while len(batcher._queue) < len(requests):  # every request queued behind the first transaction
        threading.Event().wait(0.005)
    gate.open.set()
    for th in (first, *threads):
        th.join(10)
    batcher.stop()
    return answers, batcher, gate


def test_orders_that_arrive_meanwhile_are_stored_in_one_transaction(db: FakeDatabase) -> None:
    ctx = fake_context(db)
    answers, batcher, gate = run_batched(ctx, [("acme:1", record("B-1")), ("acme:2", record("B-2", {"TS-1": 3})),
                                               ("other:3", record("B-3"))])
    assert {tag: (a.status, a.body) for tag, a in answers.items()} == {
        "first": (201, {"order_id": "B-0", "result": "created"}),
        "acme:1": (201, {"order_id": "B-1", "result": "created"}),
        "acme:2": (201, {"order_id": "B-2", "result": "created"}),
        "other:3": (201, {"order_id": "B-3", "result": "created"}),
    }
    assert (batcher.orders, batcher.batches) == (4, 2)  # the first alone, then the three together
    assert gate.calls == 2
    kinds = [e for t in db.transactions for e in t]
    assert kinds.count("order.received") == 4
    actors = {e.order_id: e.actor for e in db.snapshot().events if e.kind == "order.received"}
    assert actors == {"B-0": "api:acme", "B-1": "api:acme", "B-2": "api:acme", "B-3": "api:other"}


def test_a_batch_with_a_refused_order_is_stored_one_by_one_with_each_answer(db: FakeDatabase, ctx: Context) -> None:
    from packstation.services.packing import claim_order

    claim_order(ctx, ctx.auth.login("PACKER-001"), "SO-1")
    answers, batcher, _ = run_batched(fake_context(db), [
        ("acme:ok", record("B-4")),
        ("acme:unknown", record("B-5", {"NOPE-1": 1})),
        ("acme:busy", record("SO-1", {"TS-1": 9})),
        ("other:again", record("B-4")),  # the same order twice in one batch
    ])
    assert answers["acme:ok"].status in (200, 201) and answers["other:again"].status in (200, 201)
    assert {answers["acme:ok"].body["result"], answers["other:again"].body["result"]} == {"created", "unchanged"}
    assert answers["acme:unknown"].status == 422
    assert answers["acme:unknown"].body["error"]["details"][0]["code"] == "unknown_sku"
    assert answers["acme:busy"].status == 409
    assert "B-5" not in db.snapshot().orders and "B-4" in db.snapshot().orders
    assert [(ln.sku, ln.qty) for ln in db.snapshot().orders["SO-1"].order.lines] == [("TS-1", 2)]
    assert batcher.batches == batcher.orders == 5  # nothing could go together


def test_lists_and_invalid_orders_do_not_wait_for_the_batcher(db: FakeDatabase) -> None:
    ctx = fake_context(db)
    batcher = intake.OrderBatcher(ctx)
    session = ctx.auth.system(ActorKind.API, "acme")
    listed = batcher.submit(session, [record("L-1"), record("L-2")])
    assert listed.status == 201 and listed.body["created"] == 2
    bad = batcher.submit(session, record("L-3", currency="??"))
    assert bad.status == 422
    batcher.stop()
    assert batcher.orders == 0


class Failing:
    """A unit-of-work factory whose next write transaction fails with an error nobody expects."""

    def __init__(self, ctx: Context) -> None:
        self.real = ctx.uow
        self.fail = True

    def __call__(self, *, readonly: bool = False) -> Any:
        if not readonly and self.fail:
            self.fail = False
            raise RuntimeError("the storage broke")
        return self.real(readonly=readonly)


def test_a_transaction_that_fails_unexpectedly_answers_its_requests_and_the_batcher_goes_on(db: FakeDatabase) -> None:
    import pytest

    ctx = fake_context(db)
    failing = Failing(ctx)
    batcher = intake.OrderBatcher(replace(ctx, uow=failing))
    session = ctx.auth.system(ActorKind.API, "acme")
    try:
        with pytest.raises(RuntimeError, match="the storage broke"):
            batcher.submit(session, record("F-1"))
        done = threading.Event()
        answer: list[intake.Answer] = []
        th = threading.Thread(target=lambda: (answer.append(batcher.submit(session, record("F-2"))), done.set()))
        th.start()
        assert done.wait(10), "the batcher's thread died with the failed transaction"
        assert answer[0].status == 201 and "F-2" in db.snapshot().orders and "F-1" not in db.snapshot().orders
    finally:
        batcher.stop()


def test_enqueue_calls_back_from_the_batchers_thread_and_answers_refusals_at_once(db: FakeDatabase) -> None:
    ctx = fake_context(db)
    batcher = intake.OrderBatcher(ctx)
    session = ctx.auth.system(ActorKind.API, "acme")
    heard: list[tuple[str, Any]] = []
    done = threading.Event()

    def on_done(pending: Any) -> None:
        heard.append((threading.current_thread().name, pending.answer))
        done.set()

    try:
        refused = batcher.enqueue(session, record("E-1", currency="??"), on_done)
        assert isinstance(refused, intake.Answer) and refused.status == 422 and not heard
        queued = batcher.enqueue(session, record("E-2"), on_done)
        assert not isinstance(queued, intake.Answer)
        assert done.wait(10)
        (thread, answer), = heard
        assert thread.startswith("order-batcher") and answer.status == 201 and queued.answer is answer
    finally:
        batcher.stop()


class CountingSkus:
    """Counts the SKUs each write transaction asks the catalog about."""

    def __init__(self, ctx: Context) -> None:
        self.real = ctx.uow
        self.asked: list[set[str]] = []

    def __call__(self, *, readonly: bool = False) -> Any:
        uow = self.real(readonly=readonly)
        known = uow.catalog.known_skus

        def counted(skus: Any) -> set[str]:
            wanted = set(skus)
            self.asked.append(wanted)
            return known(wanted)

        uow.catalog.known_skus = counted
        return uow


def test_skus_found_once_are_not_asked_again_and_unknown_ones_always_are(db: FakeDatabase, ctx: Context) -> None:
    from packstation.services.imports import import_records

    counting = CountingSkus(ctx)
    batcher = intake.OrderBatcher(replace(ctx, uow=counting))
    session = ctx.auth.system(ActorKind.API, "acme")
    try:
        assert batcher.submit(session, record("K-1", {"TS-1": 1})).status == 201
        assert batcher.submit(session, record("K-2", {"TS-1": 2})).status == 201
        assert counting.asked == [{"TS-1"}]  # the second order's SKU was known from the first
        late = batcher.submit(session, record("K-3", {"TS-1": 1, "LATE-1": 1}))
        assert late.status == 422 and late.body["error"]["details"][0]["code"] == "unknown_sku"
        report = import_records(ctx, ctx.auth.system(ActorKind.IMPORT, "tests"), "catalog",
                                [("record 1", {"sku": "LATE-1", "name": "Late product", "weight_g": 100})], "catalog")
        assert report.ok
        assert batcher.submit(session, record("K-3", {"TS-1": 1, "LATE-1": 1})).status == 201  # no refusal remembered
        # K-3 refused: its batch asked for LATE-1 only, then K-3 stored alone (to be answered as alone)
        # asked for both; sent again, LATE-1 was asked for again: a refusal is not remembered
        assert [a for a in counting.asked if a] == [{"TS-1"}, {"LATE-1"}, {"LATE-1", "TS-1"}, {"LATE-1"}]
    finally:
        batcher.stop()


def test_a_request_that_cannot_be_handed_its_answer_does_not_stop_the_batcher(db: FakeDatabase) -> None:
    ctx = fake_context(db)
    batcher = intake.OrderBatcher(ctx)
    session = ctx.auth.system(ActorKind.API, "acme")

    def gone(_: Any) -> None:
        raise RuntimeError("Event loop is closed")

    try:
        assert not isinstance(batcher.enqueue(session, record("G-1"), gone), intake.Answer)
        answered = threading.Event()
        assert not isinstance(batcher.enqueue(session, record("G-2"), lambda _: answered.set()), intake.Answer)
        assert answered.wait(10), "the batcher's thread died handing out an answer"
        assert {"G-1", "G-2"} <= set(db.snapshot().orders)
    finally:
        batcher.stop()
