"""Lead view → Status push: every webhook subscription with its URL, waiting count, tries, next retry
and last error, failing endpoints first and marked (issue 13: "never disabled silently (the lead
view and ``packstation webhooks status`` show failing endpoints)").

A real subscription whose endpoint refuses connections (a closed port on 127.0.0.1), a real stage
change (a lead cancels an order), and the status push worker's own steps (``collect``, then
``send_due`` with the HTTP sender ``packstation serve`` uses) record the failure.
"""

from __future__ import annotations

import socket

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from packstation.adapters.push import HttpPushSender
from packstation.domain.identity import ActorKind
from packstation.domain.integration import DeliveryState
from packstation.domain.packing import Tone
from packstation.services import status_push
from packstation.services.orders import cancel_order
from packstation.ui import theme
from packstation.ui.lead_view import LeadView


def cells(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def closed_port() -> int:
    """A port nobody listens on (bound, then closed): a connection to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_failing_endpoint_is_listed_first_and_marked_with_its_error_and_next_retry(qtbot, station):
    ctx = station.ctx
    root = station.system_session(ActorKind.CLI, "root")
    quiet_url = f"http://127.0.0.1:{closed_port()}/quiet"  # hears a stage nothing here reaches: no deliveries
    quiet, _ = status_push.add_subscription(ctx, root, quiet_url, ["order.in_transit"])
    down_url = f"http://127.0.0.1:{closed_port()}/hooks/packstation"
    down, _ = status_push.add_subscription(ctx, root, down_url, ["order.cancelled"])
    lee = ctx.auth.login("LEAD-001", "1234")
    cancel_order(ctx, lee, "SO-10003", "customer asked")

    worker = station.system_session(ActorKind.SYSTEM, "status-push")
    while status_push.collect(ctx, worker).events:  # the demo's history, then the cancellation
        pass
    sender = HttpPushSender(timeout_s=5)
    try:
        sent = status_push.send_due(ctx, worker, sender)
    finally:
        sender.close()
    assert (sent.tried, sent.retrying) == (1, 1)
    with station.uow(readonly=True) as uow:
        [delivery] = uow.status_push.deliveries(down.id, [DeliveryState.PENDING], 10)
    assert delivery.attempts == 1 and "cannot reach the endpoint" in delivery.last_error
    assert delivery.next_attempt_at is not None

    view = LeadView(station, lee)
    qtbot.addWidget(view)
    assert "Status push" in [view.tabs.tabText(i) for i in range(view.tabs.count())]
    view.tabs.setCurrentWidget(view.push_page)
    rows = cells(view.push_table)
    assert rows == [
        [str(down.id), "FAILING", down_url, "1", "0", "1", f"{delivery.created_at:%Y-%m-%d %H:%M:%S}",
         f"{delivery.next_attempt_at:%Y-%m-%d %H:%M:%S}", delivery.last_error],
        [str(quiet.id), "ok", quiet_url, "0", "0", "", "", "", ""],
    ]  # the failing one first, though it was subscribed second
    assert "Connection refused" in rows[0][8] or "ConnectionRefused" in rows[0][8]
    assert "1 FAILING" in view.push_caption.text() and "this station's database" in view.push_caption.text()
    assert view.push_table.item(0, 1).background().color() == QColor(theme.TONES[Tone.ERROR].background)
    assert view.push_table.item(1, 1).background().style() == Qt.BrushStyle.NoBrush

