"""How verdicts look at the bench: colours, words and icons per tone, and the bundled fonts.

A verdict is never shown by colour alone (colour-blind packers, glare on the screen): each
tone has its own icon shape and every verdict its own headline words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
)

from packstation.domain.packing import Tone, Verdict

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
FONT_FAMILY = "DejaVu Sans"


@dataclass(frozen=True)
class ToneStyle:
    background: str
    foreground: str
    word: str  # spoken name of the tone, shown next to the icon for screen readers / tests


TONES: dict[Tone, ToneStyle] = {
    Tone.OK: ToneStyle("#1b7f3b", "#ffffff", "OK"),
    Tone.ERROR: ToneStyle("#c62828", "#ffffff", "STOP"),
    Tone.WARNING: ToneStyle("#f9a825", "#111111", "CHECK"),
    Tone.PROMPT: ToneStyle("#1565c0", "#ffffff", "NEXT"),
    Tone.INFO: ToneStyle("#455a64", "#ffffff", "INFO"),
}

_HEADLINES: dict[Verdict, str] = {
    Verdict.ACCEPTED: "ACCEPTED",
    Verdict.UNKNOWN_BARCODE: "UNKNOWN BARCODE",
    Verdict.WRONG_ITEM: "WRONG ITEM",
    Verdict.OVER_SCAN: "ALREADY COMPLETE",
    Verdict.NEEDS_LOT: "SCAN THE LOT",
    Verdict.NEEDS_EXPIRY: "SCAN THE EXPIRY DATE",
    Verdict.NEEDS_SERIAL: "SCAN THE SERIAL",
    Verdict.EXPIRED_LOT: "EXPIRED LOT",
    Verdict.SERIAL_ALREADY_SHIPPED: "SERIAL ALREADY SHIPPED",
    Verdict.INVALID_SCAN: "INVALID SCAN",
    Verdict.NO_ORDER: "NO ORDER OPEN",
    Verdict.NEEDS_CARTON: "OPEN A CARTON",
    Verdict.NEEDS_QTY: "QUANTITY?",
    Verdict.QTY_SET: "QUANTITY SET",
    Verdict.CARTON_OPENED: "CARTON OPEN",
    Verdict.CARTON_CLOSED: "CARTON SEALED",
    Verdict.CARTON_BLOCKED: "CARTON BLOCKED",
    Verdict.NEEDS_WEIGHT: "WEIGHING…",
    Verdict.CREATING_LABEL: "CREATING LABEL…",
    Verdict.NEEDS_LEAD: "LEAD: SCAN YOUR BADGE",
    Verdict.NEEDS_PIN: "ENTER YOUR PIN",
    Verdict.LOGIN_REFUSED: "LOGIN REFUSED",
    Verdict.REPRINT_REQUESTED: "REPRINT APPROVED",
    Verdict.NEEDS_REPRINT_TARGET: "SCAN WHAT TO REPRINT",
    Verdict.UNDONE: "UNDONE",
    Verdict.NOTHING_TO_UNDO: "NOTHING TO UNDO",
    Verdict.ORDER_OPENED: "ORDER OPEN",
    Verdict.ORDER_REFUSED: "ORDER REFUSED",
    Verdict.ORDER_COMPLETE: "ORDER COMPLETE",
    Verdict.ORDER_RELEASED: "ORDER RELEASED",
    Verdict.SHORT_SHIPPED: "SHORT-SHIPPED",
    Verdict.NOT_ALLOWED: "NOT ALLOWED",
    Verdict.STORAGE_FAILED: "NOT SAVED",
    Verdict.LOGGED_IN: "LOGGED IN",
    Verdict.LOGGED_OUT: "LOGGED OUT",
}


def headline(verdict: Verdict) -> str:
    return _HEADLINES.get(verdict, verdict.value.replace("_", " ").upper())


def load_fonts() -> str:
    """Register the bundled DejaVu fonts so the bench looks the same on every machine."""
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        path = RESOURCES / "fonts" / name
        if path.is_file():
            QFontDatabase.addApplicationFont(str(path))
    return FONT_FAMILY


def font(point_size: int, *, bold: bool = False) -> QFont:
    f = QFont(FONT_FAMILY, point_size)
    f.setBold(bold)
    return f


def tone_icon(tone: Tone, size: int = 96, color: str | None = None) -> QPixmap:
    """A distinct shape per tone: tick in a circle, stop octagon with a cross, warning
    triangle with '!', circle with '?', circle with 'i'."""
    fg = QColor(color or TONES[tone].foreground)
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    pen = QPen(fg, s * 0.09, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    box = QRectF(s * 0.08, s * 0.08, s * 0.84, s * 0.84)
    if tone is Tone.ERROR:
        pts = []
        for i in range(8):
            a = math.pi / 8 + i * math.pi / 4
            pts.append(QPointF(s / 2 + s * 0.42 * math.cos(a), s / 2 + s * 0.42 * math.sin(a)))
        p.drawPolygon(QPolygonF(pts))
        p.drawLine(QPointF(s * 0.34, s * 0.34), QPointF(s * 0.66, s * 0.66))
        p.drawLine(QPointF(s * 0.66, s * 0.34), QPointF(s * 0.34, s * 0.66))
    elif tone is Tone.WARNING:
        p.drawPolygon(QPolygonF([QPointF(s / 2, s * 0.08), QPointF(s * 0.94, s * 0.9), QPointF(s * 0.06, s * 0.9)]))
        p.drawLine(QPointF(s / 2, s * 0.36), QPointF(s / 2, s * 0.62))
        p.drawPoint(QPointF(s / 2, s * 0.76))
    elif tone is Tone.OK:
        p.drawEllipse(box)
        path = QPainterPath(QPointF(s * 0.28, s * 0.52))
        path.lineTo(QPointF(s * 0.44, s * 0.68))
        path.lineTo(QPointF(s * 0.72, s * 0.34))
        p.drawPath(path)
    else:
        p.drawEllipse(box)
        p.setFont(font(int(s * 0.34), bold=True))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, "?" if tone is Tone.PROMPT else "i")
    p.end()
    return pix
