"""One order lifecycle: every status change goes through it, writes its event (``order.<status>``
with from/to and the actor), and a refused transition is an error with a reason (issue 8: "order
status changes live in several places").
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import helpers_faults as hf
import pytest
from packstation_tests_station import TEE_EAN, order

from packstation.bootstrap import Station
from packstation.domain.lifecycle import OrderStatus, TransitionRefused
from packstation.domain.packing import Verdict
from packstation.services import packing as p
from packstation.services.lifecycle import CENTRE_WITHDRAWS, change_status, withdraw_by_centre
from packstation.services.picking import create_pick_wave
from packstation.services.ports import Conflict

PACKAGE = Path(__file__).parents[2] / "packstation"
BOX_S, TEE_G = 150, 200


def pack_so1(station: Station) -> None:
    bench = hf.login(station, "PACKER-001")
    assert [bench.scan(s).verdict for s in ("SO-1", "BOX-S", TEE_EAN, TEE_EAN, "CMD-CLOSE-CARTON")][-1] is \
        Verdict.NEEDS_WEIGHT
    assert hf.close_with_weight(bench, BOX_S + 2 * TEE_G).verdict is Verdict.ORDER_COMPLETE


def status_events(station: Station, order_id: str) -> list[tuple[str, str, dict[str, object]]]:
    statuses = {f"order.{s.value}" for s in OrderStatus}
    return [(e["kind"], e["actor"], json.loads(e["payload"])) for e in hf.rows(station, "events", order_by="seq")
            if e["order_id"] == order_id and e["kind"] in statuses]


def test_every_status_change_is_an_event_with_from_to_and_its_actor(station: Station) -> None:
    create_pick_wave(station.ctx, hf.admin(station), 1)  # SO-1, the oldest
    pack_so1(station)
    report = hf.import_recs(station, "tracking", [{"order_id": "SO-1", "status": "delivered", "at": "2026-03-11T10:00:00Z"}])
    assert report.ok and report.updated == 1, report.rejected
    events = status_events(station, "SO-1")
    assert [(kind, actor, data.get("from"), data.get("to")) for kind, actor, data in events] == [
        ("order.received", "import:tests", None, None),  # arrives in its first status (released)
        ("order.picking", "cli:" + hf.admin(station).name, "released", "picking"),
        ("order.packing", "person:Pat Packer", "picking", "packing"),
        ("order.packed", "person:Pat Packer", "packing", "packed"),
        ("order.delivered", "import:tests", "packed", "delivered"),
    ]
    assert events[0][2]["status"] == "released"
    assert hf.rows(station, "orders", order_id="SO-1")[0]["status"] == "delivered"


def test_tracking_never_moves_a_delivered_order_back(station: Station) -> None:
    pack_so1(station)
    delivered = {"order_id": "SO-1", "status": "delivered", "at": "2026-03-11T10:00:00Z"}
    assert hf.import_recs(station, "tracking", [delivered]).updated == 1
    before = hf.table_counts(station)
    late = hf.import_recs(station, "tracking", [{**delivered, "status": "in_transit"}])  # a late, stale feed
    assert late.ok and (late.updated, late.unchanged) == (0, 1)
    assert hf.table_counts(station) == before
    assert hf.rows(station, "orders", order_id="SO-1")[0]["status"] == "delivered"
    # the lifecycle itself refuses it, saying why
    with station.uow() as uow, pytest.raises(TransitionRefused, match="SO-1 has been delivered: it cannot go back to in transit"):
        change_status(uow, station.ctx, hf.admin(station), "SO-1", OrderStatus.DELIVERED, OrderStatus.IN_TRANSIT)


def test_a_packed_order_cannot_be_claimed_again(station: Station) -> None:
    pack_so1(station)
    with pytest.raises(p.OrderRefused, match="SO-1 is already packed: it cannot be packed"):
        p.claim_order(station.ctx, hf.person(station, "PACKER-002"), "SO-1")
    with pytest.raises(TransitionRefused, match="already packed: it cannot become packing"):
        with station.uow() as uow:
            change_status(uow, station.ctx, hf.admin(station), "SO-1", OrderStatus.PACKED, OrderStatus.PACKING)
    got = []
    while (pack := p.claim_next_order(station.ctx, hf.person(station, "PACKER-002"))) is not None:
        got.append(pack.order.order_id)
    assert "SO-1" not in got and "SO-HOLD" not in got


@pytest.mark.parametrize("current, target, reason", [
    (OrderStatus.ON_HOLD, OrderStatus.PACKING, "is on hold (payment not received): it cannot become packing"),
    (OrderStatus.RECEIVED, OrderStatus.PACKED, "is not released yet: it cannot become packed"),
])
def test_refused_transitions_store_nothing(station: Station, current: OrderStatus, target: OrderStatus, reason: str) -> None:
    before = hf.table_counts(station)
    with station.uow() as uow, pytest.raises(TransitionRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        change_status(uow, station.ctx, hf.admin(station), "SO-HOLD", current, target)
        uow.commit()
    assert hf.table_counts(station) == before


def test_a_status_changed_meanwhile_is_a_conflict_and_stores_nothing(station: Station) -> None:
    hf.login(station, "PACKER-001").scan("SO-1")  # now packing at BENCH-01
    before = hf.table_counts(station)
    with pytest.raises(Conflict, match="changed meanwhile"):
        with station.uow() as uow:  # someone still believes it is released
            change_status(uow, station.ctx, hf.admin(station), "SO-1", OrderStatus.RELEASED, OrderStatus.PICKING)
            uow.commit()
    assert hf.table_counts(station) == before
    assert hf.rows(station, "orders", order_id="SO-1")[0]["status"] == "packing"


def test_a_held_order_paid_later_is_released_through_the_lifecycle(station: Station) -> None:
    paid = order("SO-HOLD", {"TS-1": 1}, payment=("prepaid", "paid"), hours_ago=4)
    assert hf.import_recs(station, "orders", [paid]).updated == 1
    assert status_events(station, "SO-HOLD")[-1][::2] == ("order.released", {"from": "on_hold", "to": "released"})


# the repository methods that write a status: set_status (a transition), withdraw (the centre's
# cancellation or hold replacing a bench's status)
STATUS_WRITERS = ("set_status", "withdraw")


def _set_status_callers(root: Path) -> set[str]:
    callers = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in STATUS_WRITERS:
                callers.add(path.relative_to(root).as_posix())
    return callers


def test_only_the_lifecycle_service_sets_a_status() -> None:
    """Structural: ``set_status(`` and ``withdraw(`` are called from services/lifecycle.py and
    nowhere else (the repositories, their fakes and tests aside: they are not in the package)."""
    assert _set_status_callers(PACKAGE) == {"services/lifecycle.py"}


def test_the_structural_check_sees_a_call_elsewhere(tmp_path: Path) -> None:
    """(The check above can fail: a call in another module shows up.)"""
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "lifecycle.py").write_text("def f(uow):\n    uow.orders.set_status(1, 2, 3, 4)\n")
    (tmp_path / "services" / "sneaky.py").write_text("def g(uow):\n    uow.orders.set_status('SO-1', a, b, now)\n")
    (tmp_path / "services" / "pull.py").write_text("def h(uow):\n    uow.orders.withdraw('SO-1', a, now)\n")
    assert _set_status_callers(tmp_path) == {"services/lifecycle.py", "services/sneaky.py", "services/pull.py"}


def test_the_centre_only_withdraws_an_order_by_cancelling_or_holding_it(station: Station) -> None:
    before = hf.rows(station, "orders", order_id="SO-1")[0]["status"]
    for target in OrderStatus:
        with station.uow() as uow:
            if target in CENTRE_WITHDRAWS:
                continue
            with pytest.raises(TransitionRefused, match="can only cancel or hold"):
                withdraw_by_centre(uow, "SO-1", target, station.ctx.clock())
    assert hf.rows(station, "orders", order_id="SO-1")[0]["status"] == before
    with station.uow() as uow:
        withdraw_by_centre(uow, "SO-1", OrderStatus.ON_HOLD, station.ctx.clock())
        uow.commit()
    assert hf.rows(station, "orders", order_id="SO-1")[0]["status"] == "on_hold"


def test_a_return_import_cannot_move_a_return_back(station: Station) -> None:
    pack_so1(station)
    rma = {"rma_id": "R-1", "order_id": "SO-1", "reason": "too small", "lines": [{"sku": "TS-1", "qty": 1}]}
    assert hf.import_recs(station, "returns", [{**rma, "status": "initiated"}]).created == 1
    picked = hf.import_recs(station, "returns", [{**rma, "status": "picked"}])  # the carrier collected it
    assert (picked.ok, picked.updated) == (True, 1)
    before = hf.table_counts(station)
    back = hf.import_recs(station, "returns", [{**rma, "status": "initiated"}])  # an old file again
    assert [(r.key, r.reason) for r in back.rejected] == [("R-1", "Return R-1 is picked: it cannot become initiated.")]
    assert hf.table_counts(station) == before and hf.rows(station, "returns")[0]["status"] == "picked"
    assert [e["kind"] for e in hf.rows(station, "events", order_by="seq") if e["kind"].startswith("return.")] == [
        "return.initiated", "return.picked"]
