"""Returns (RMAs): what the customer sends back, and what the returns desk finds and decides."""

from __future__ import annotations

from dataclasses import dataclass, field

from packstation.domain.lifecycle import ReturnStatus


@dataclass
class ReturnLine:
    line_no: int
    sku: str
    qty: int  # expected back
    grade: str | None = None
    disposition: str | None = None


@dataclass
class Return:
    rma_id: str
    order_id: str
    reason: str
    status: ReturnStatus
    lines: list[ReturnLine] = field(default_factory=list)


__all__ = ["Return", "ReturnLine"]
