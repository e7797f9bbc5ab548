"""Where everything sits on a shipping label, in millimetres, independent of the output.

The ZPL and PDF renderers draw the same list of elements, so the two outputs look alike
and one set of fitting rules keeps long names and addresses inside the label.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from packstation.adapters.documents.fonts import Fitted, fit, text_width
from packstation.domain.documents import DocumentDataError, LabelData

SIZES_MM = {"4x6": (101.6, 152.4), "100x150": (100.0, 150.0)}
MARGIN = 3.0
SSCC_MODULES = 156  # start C, FNC1, 10 digit pairs, check, stop (13-module stop)
SSCC_MODULE_MM = 0.5  # GS1 logistic label: X dimension 0.495-1.016 mm


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # top of the text line
    size: float  # em size in mm
    text: str
    bold: bool = False


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Code128:
    x: float
    y: float
    height: float
    module: float  # narrowest bar, mm (renderers round it to whole dots)
    data: str
    gs1: bool = False  # data is digits of a GS1 element string, led by FNC1


@dataclass(frozen=True)
class QRCode:
    x: float
    y: float
    size: float  # side length in mm the code must stay within
    data: str


Element = Text | Box | Code128 | QRCode


def label_size(size: str) -> tuple[float, float]:
    try:
        return SIZES_MM[size]
    except KeyError:
        raise DocumentDataError(
            f"unknown label size {size!r}; use one of: {', '.join(SIZES_MM)}"
        ) from None


def sscc_hri(sscc: str, company_prefix_length: int = 7) -> str:
    """Human-readable SSCC line: "(00) 0 0614141 000000001 2"."""
    prefix_end = 1 + company_prefix_length
    return f"(00) {sscc[0]} {sscc[1:prefix_end]} {sscc[prefix_end:17]} {sscc[17]}"


def qr_payload(data: LabelData) -> str:
    """What the label's QR code carries: order, carton n/m and SSCC, pipe separated."""
    return f"PS1|{data.order_id}|{data.carton_no}/{data.carton_count or '?'}|{data.sscc}"


def format_weight(grams: int) -> str:
    return f"{Decimal(grams) / 1000:.3f} kg"


def code128_max_modules(data: str) -> int:
    """Upper bound of a Code 128 symbol's width in modules (every character in set B)."""
    return 11 * (len(data) + 3) + 2


def _block(
    x: float, y: float, width: float, fitted: Fitted, bold: bool, leading: float = 1.15
) -> tuple[list[Element], float]:
    out: list[Element] = []
    for line in fitted.lines:
        out.append(Text(x, y, fitted.size, line, bold))
        y += fitted.size * leading
    return out, y


def _ship_to(data: LabelData, x: float, y: float, width: float, bottom: float) -> list[Element]:
    """Ship-to block: largest common scale at which name and address fit the space."""
    addr = data.ship_to
    rest = [(p, p == addr.company) for p in addr.lines() if p != addr.name]
    scale = 1.0
    while True:
        name_fit = fit(addr.name, width, 6.0 * scale, 2.5, 2, bold=True, what="ship-to name")
        fits = [
            (fit(p, width, 4.5 * scale, 2.2, 2, bold, what="ship-to address line"), bold)
            for p, bold in rest
        ]
        height = 3.0 + len(name_fit.lines) * name_fit.size * 1.15
        height += sum(len(f.lines) * f.size * 1.15 for f, _ in fits)
        if y + height <= bottom:
            break
        if scale < 0.5:
            raise DocumentDataError(
                "ship-to address has too many lines to fit the label; shorten it in the order data"
            )
        scale *= 0.9
    els: list[Element] = [Text(x, y, 2.5, "SHIP TO", True)]
    y += 3.0
    block, y = _block(x, y, width, name_fit, True)
    els += block
    for f, bold in fits:
        block, y = _block(x, y, width, f, bold)
        els += block
    return els


def layout_label(data: LabelData, size: str = "4x6") -> tuple[float, float, list[Element]]:
    """(width_mm, height_mm, elements) of the shipping label for *data*."""
    w, h = label_size(size)
    m = MARGIN
    inner = w - 2 * m
    els: list[Element] = []

    # Row A: ship-from on the left, carrier and service on the right.
    left_w = inner * 0.56
    right_x = m + left_w + 2.0
    right_w = w - m - right_x
    els.append(Text(m, m, 2.2, "FROM", True))
    y = m + 2.8
    for line in data.ship_from.lines():  # every line; row A grows and ship-to shrinks
        block, y = _block(
            m, y, left_w, fit(line, left_w, 2.8, 1.8, 1, what="ship-from line"), False
        )
        els += block
    carrier = fit(data.carrier.upper(), right_w, 7.0, 3.0, 2, bold=True, what="carrier name")
    block, y2 = _block(right_x, m, right_w, carrier, True)
    els += block
    service = fit(data.service, right_w, 4.0, 2.2, 2, what="service")
    block, y2 = _block(right_x, y2 + 0.5, right_w, service, False)
    els += block
    row_a_end = max(24.0, y, y2) + 1.0
    els.append(Box(m, row_a_end, inner, 0.5))

    # Row B: ship-to, the largest text on the label.
    row_c = h - 87.0  # rows C-E take the bottom 87 mm
    els += _ship_to(data, m, row_a_end + 2.0, inner, row_c - 2.0)
    els.append(Box(m, row_c - 1.0, inner, 0.5))

    # Row C: order, carton n of m, weight, COD on the left; QR code on the right.
    qr = 28.0
    info_w = inner - qr - 3.0
    y = row_c + 1.0
    order = fit(f"Order {data.order_id}", info_w, 4.5, 2.2, 1, bold=True, what="order id")
    block, y = _block(m, y, info_w, order, True)
    els += block
    carton = f"Carton {data.carton_of}"
    carton_size = fit(carton, info_w, 7.0, 3.0, 1, bold=True, what="carton count").size
    els.append(Text(m, y + 0.5, carton_size, carton, True))
    y += 9.0
    weight = f"Weight {format_weight(data.weight_g)}"
    els.append(Text(m, y, fit(weight, info_w, 4.5, 2.5, 1, what="weight").size, weight, False))
    y += 6.0
    if data.cod_amount is not None:
        cod = f"COD {data.cod_currency} {data.cod_amount:.2f}"
        els.append(
            Text(m, y, fit(cod, info_w, 4.5, 2.5, 1, True, what="COD amount").size, cod, True)
        )
    els.append(QRCode(w - m - qr, row_c + 0.5, qr, qr_payload(data)))
    row_d = row_c + 30.0
    els.append(Box(m, row_d, inner, 0.5))

    # Row D: tracking number (and its barcode) when the carrier has given one.
    y = row_d + 1.5
    if data.tracking_number:
        tn = data.tracking_number
        els.append(Text(m, y, 2.5, "TRACKING", True))
        tn_fit = fit(tn, inner - 18.0, 3.5, 2.2, 1, bold=True, what="tracking number")
        els.append(Text(m + 18.0, y - 0.5, tn_fit.size, tn, True))
        modules = code128_max_modules(tn)
        module = min(0.375, (inner - 10.0) / modules)
        if module >= 0.24 and tn.isascii() and tn.isprintable() and not set(tn) & set("^~>"):
            els.append(Code128(m + 5.0, y + 4.0, 10.0, module, tn))
    else:
        els.append(Text(m, y + 4.0, 3.5, "Tracking number: assigned by the carrier", False))
    row_e = row_d + 18.0
    els.append(Box(m, row_e, inner, 0.5))

    # Row E: the carton's SSCC as GS1-128 with its human-readable line.
    y = row_e + 1.5
    els.append(Text(m, y, 2.5, "SSCC (carton)", True))
    bar_w = SSCC_MODULES * SSCC_MODULE_MM
    els.append(Code128((w - bar_w) / 2, y + 3.5, 25.0, SSCC_MODULE_MM, "00" + data.sscc, gs1=True))
    hri = sscc_hri(data.sscc, data.company_prefix_length)
    hri_size = 4.0
    els.append(Text((w - text_width(hri, hri_size, True)) / 2, y + 30.0, hri_size, hri, True))
    return w, h, els
