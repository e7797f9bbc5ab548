"""Small read-side queries the window needs and the services do not offer (yet).

Kept here, apart from the widgets, so they can move into ``packstation.services`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def ready_orders(uow_factory: Callable[..., Any], limit: int = 6) -> list[tuple[str, str]]:
    """(order id, tote) of released orders no bench holds, oldest first (demo hints)."""
    with uow_factory(readonly=True) as uow:
        rows = uow.select_rows("orders", {"status": "released"}, order_by="order_id")
    return [(r["order_id"], r["tote"] or "—") for r in rows if not r["claimed_by"]][:limit]
