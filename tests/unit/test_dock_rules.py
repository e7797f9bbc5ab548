"""The dock's loading rules on plain objects (domain/shipping.py): what a scanned carton may do on
an open manifest, and which orders a close would split (issue 11, "The dispatch dock")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import CartonStatus, Verdict
from packstation.domain.shipping import (
    DockCarton,
    LoadedCarton,
    Manifest,
    ManifestStatus,
    check_load,
    incomplete_orders,
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


@pytest.mark.parametrize("status", [S.HANDED_OVER, S.IN_TRANSIT, S.DELIVERED])
def test_the_rest_of_an_order_handed_over_without_it_loads(status: OrderStatus) -> None:
    decision = check_load(carton(status=status), manifest(), "SSCC-SO-4C-4")
    assert decision.load and decision.headline == "LOADED — REST OF A SPLIT ORDER"


@pytest.mark.parametrize("status", [S.RELEASED, S.PICKING, S.PACKING])
def test_a_carton_of_an_order_still_at_the_bench_is_refused(status: OrderStatus) -> None:
    decision = check_load(carton(status=status), manifest(), "x")
    assert decision.verdict is Verdict.NOT_SEALED and decision.headline == "ORDER NOT PACKED"


def test_a_carton_on_another_open_manifest_is_refused_with_its_own_verdict() -> None:
    other = carton(manifest_id="m-other", manifest_status=ManifestStatus.OPEN)
    decision = check_load(other, manifest(), "x")
    assert decision.verdict is Verdict.ON_OTHER_MANIFEST and not decision.load
    assert decision.verdict.tone is not Verdict.ALREADY_LOADED.tone  # a refusal, not the no-op
    assert check_load(replace(other, manifest_id="m-2"), manifest(), "x").verdict is Verdict.ALREADY_LOADED


def test_a_rest_already_on_a_closed_manifest_is_handed_over_not_loaded() -> None:
    gone = carton(status=S.HANDED_OVER, manifest_id="m-1", manifest_status=ManifestStatus.CLOSED, manifest_number=1)
    assert check_load(gone, manifest(), "x").verdict is Verdict.ON_CLOSED_MANIFEST


def test_cartons_handed_over_on_an_earlier_manifest_are_not_missing() -> None:
    gone = [carton(seq, S.HANDED_OVER, manifest_id="m-1", manifest_status=ManifestStatus.CLOSED) for seq in (1, 2)]
    rest = [carton(seq, S.HANDED_OVER) for seq in (3, 4)]
    by_order = {"SO-4C": [*gone, *rest]}
    both = manifest(cartons=(("SO-4C", 3), ("SO-4C", 4)))
    assert incomplete_orders(both, by_order) == []
    [split] = incomplete_orders(manifest(cartons=(("SO-4C", 3),)), by_order)
    assert (split.loaded, split.total, split.missing) == (1, 2, ("SSCC-SO-4C-4",))
