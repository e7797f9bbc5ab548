"""The dock's loading rules on plain objects (domain/shipping.py): what a scanned carton may do on
an open manifest, and which orders a close would split (issue 11, "The dispatch dock")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import CartonStatus, Verdict
from packstation.domain.shipping import (
    DockCarton,
    LoadedCarton,
    Manifest,
    ManifestStatus,
    check_load,
)

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
S = OrderStatus


def manifest(mid: str = "m-2", cartons: tuple[tuple[str, int], ...] = ()) -> Manifest:
    return Manifest(id=mid, carrier="DHL", service="", status=ManifestStatus.OPEN, opened_at=NOW, opened_by="dan",
                    station_id="DOCK-01", cartons=[LoadedCarton(o, seq, f"SSCC-{o}-{seq}", None, "Paket", 500, "dan",
                                                                load_seq=i)
                                                   for i, (o, seq) in enumerate(cartons, 1)])


def carton(seq: int = 4, status: OrderStatus = S.PACKED, **kw: object) -> DockCarton:
    return replace(DockCarton(order_id="SO-4C", seq=seq, status=CartonStatus.CLOSED, sscc=f"SSCC-SO-4C-{seq}",
                              tracking_number=None, order_status=status, carrier="DHL", service="Paket", weight_g=500),
                   **kw)


def test_a_carton_on_another_open_manifest_is_refused_with_its_own_verdict() -> None:
    other = carton(manifest_id="m-other", manifest_status=ManifestStatus.OPEN)
    decision = check_load(other, manifest(), "x")
    assert decision.verdict is Verdict.ON_OTHER_MANIFEST and not decision.load
    assert decision.verdict.tone is not Verdict.ALREADY_LOADED.tone  # a refusal, not the no-op
    assert check_load(replace(other, manifest_id="m-2"), manifest(), "x").verdict is Verdict.ALREADY_LOADED
