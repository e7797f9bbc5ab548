"""What the returns tests need on the fake warehouse: orders packed and delivered, cameras, PNGs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from warehouse import claim_with_items

from packstation.domain.barcodes import RawScan, interpret
from packstation.domain.identity import ActorKind, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import Verdict
from packstation.services import packing
from packstation.services.context import Context
from packstation.services.lifecycle import change_status
from packstation.services.outcome import Outcome
from packstation.services.returns_desk import ReturnsDesk


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG (signature, IHDR, IDAT, IEND with their CRCs; PNG spec, ISO/IEC 15948)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def camera_folder(folder: Path, count: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"shot-{n:02d}.png").write_bytes(png(rgb=(40 * n % 255, 120, 200)))
    return folder


def pack_and_seal(ctx: Context, session: Session, order_id: str, *codes: str, serials: dict[str, list[str]] | None = None,
                  lots: dict[str, str] | None = None) -> str:
    """Pack *order_id* at the bench (answering serial / lot prompts) and seal it; returns the SSCC."""
    serials = {k: list(v) for k, v in (serials or {}).items()}
    pack = claim_with_items(ctx, session, order_id)
    for code in codes:
        outcome = packing.record_item_scan(ctx, session, pack, interpret(code))
        while outcome.verdict in (Verdict.NEEDS_SERIAL, Verdict.NEEDS_LOT):
            assert pack.pending is not None
            answer = serials[code].pop(0) if outcome.verdict is Verdict.NEEDS_SERIAL else (lots or {})[code]
            outcome = packing.record_detail(ctx, session, pack, answer)
        assert outcome.verdict is Verdict.ACCEPTED, outcome.message
    carton = pack.open_carton
    assert carton is not None
    sealed = packing.close_carton(ctx, session, pack, pack.expected_weight(carton))
    assert sealed.verdict is Verdict.ORDER_COMPLETE, sealed.message
    return str(sealed.data["sscc"])


def deliver(ctx: Context, order_id: str) -> None:
    """The carrier's tracking says delivered (through the lifecycle)."""
    carrier = ctx.auth.system(ActorKind.CARRIER, "DHL tracking")
    with ctx.uow() as uow:
        change_status(uow, ctx, carrier, order_id, OrderStatus.PACKED, OrderStatus.DELIVERED)
        uow.commit()


def desk_scan(desk: ReturnsDesk, code: str, source: str = "wedge") -> Outcome:
    raw = RawScan.from_wire(code, source=source)
    return desk.handle(interpret(raw), raw)
