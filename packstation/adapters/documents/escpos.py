"""Shipping labels and packing slips for 80 mm ESC/POS printers, through python-escpos.

The document is drawn into an ``escpos.printer.Dummy`` and its bytes are returned; the
printer transports (TCP 9100, USB, serial) only move those bytes. Text goes through
python-escpos's code-page switching, so Greek and Cyrillic print in the printer's own
code pages (CP737/CP866/...). Barcodes are printed by the printer itself: Code 128 with
ESC/POS code-set prefixes (``{B`` text, ``{C`` digit pairs, ``{1`` FNC1 for GS1-128) and
QR codes with ``GS ( k``.
"""

from __future__ import annotations

import textwrap

from PIL import Image, ImageDraw, ImageFont

from packstation.adapters.documents.fonts import font_path
from packstation.adapters.documents.label_layout import format_weight, qr_payload, sscc_hri
from packstation.adapters.escpos_lib import import_escpos_printer
from packstation.domain.documents import LabelData, PackingSlipData

Dummy = import_escpos_printer().Dummy

DEFAULT_PROFILE = "TM-T88V"  # 80 mm, 42 columns in font A


class EscposDocument:
    """A thin writer over Dummy that wraps text to the paper width itself (the printer would
    break words in the middle)."""

    def __init__(self, profile: str = DEFAULT_PROFILE) -> None:
        self.p = Dummy(profile=profile)
        self.columns = int(self.p.profile.get_columns("a"))
        self.p.hw("INIT")

    def style(self, bold: bool = False, double: bool = False, align: str = "left") -> None:
        self.p.set(
            align=align,
            bold=bold,
            double_height=double,
            double_width=double,
            normal_textsize=not double,
        )

    def printable(self, text: str) -> bool:
        """True when every character exists in one of the printer's code pages."""
        encoder = self.p.magic.encoder
        return all(
            ch.isascii() or encoder.find_suitable_encoding(ch) is not None for ch in set(text)
        )

    def raster_lines(self, text: str, bold: bool = False, double: bool = False) -> None:
        """Text in a script the printer has no code page for (Armenian, Georgian, ...), drawn
        with the bundled font and sent as a raster image, so it is printed rather than '?'."""
        px = 48 if double else 24  # font A is 12 x 24 dots
        font = ImageFont.truetype(str(font_path(bold)), px)
        width = int(self.p.profile.profile_data["media"]["width"]["pixels"])
        rows: list[str] = []
        for paragraph in text.splitlines() or [""]:
            current = ""
            for word in paragraph.split():
                candidate = f"{current} {word}" if current else word
                if current and font.getlength(candidate) > width:
                    rows.append(current)
                    candidate = word
                current = candidate
            rows.append(current)
        height = int(px * 1.25)
        for row in rows:
            natural = max(width, int(font.getlength(row)) + 1)
            image = Image.new("L", (natural, height), 255)
            ImageDraw.Draw(image).text((0, 0), row, font=font, fill=0)
            if natural > width:  # one word wider than the paper: shrink it, never cut it
                image = image.resize((width, max(1, height * width // natural)))
            self.p.image(image.point(lambda v: 0 if v < 128 else 255).convert("1"))

    def lines(
        self, text: str, bold: bool = False, double: bool = False, align: str = "left"
    ) -> None:
        if not self.printable(text):
            self.style(bold, double, align)
            self.raster_lines(text, bold, double)
            return
        if double and any(len(word) > self.columns // 2 for word in text.split()):
            double = False  # shrink rather than cut a long name in the middle
        self.style(bold, double, align)
        width = self.columns // 2 if double else self.columns
        for paragraph in text.splitlines() or [""]:
            wrapped = textwrap.wrap(paragraph, width, break_long_words=True, break_on_hyphens=False)
            for line in wrapped or [""]:
                self.p.text(line + "\n")

    def rule(self) -> None:
        self.style()
        self.p.text("-" * self.columns + "\n")

    def code128(self, data: str, height: int = 80, width: int = 2, gs1: bool = False) -> None:
        """Printer-drawn Code 128; GS1-128 (FNC1 then digit pairs in code set C) when *gs1*."""
        if gs1:
            code = "{C{1" + data if len(data) % 2 == 0 else "{B{1" + data
        else:
            code = "{B" + data.replace("{", "{{")
        if not (data.isascii() and data.isprintable()) or len(code) > 255:
            # GS k carries at most 255 bytes of ASCII; print the value so nothing is lost
            self.lines(f"{data} (no barcode: not printable as Code 128)")
            return
        # _hw_barcode, not barcode(): the public method prints a notice on stdout.
        self.p._hw_barcode(code, "CODE128", height, width, "OFF", "A", True, "B", True)
        self.p.text("\n")

    def qr(self, data: str, size: int = 6) -> None:
        self.style(align="center")
        self.p.qr(data, size=size, native=True)
        self.p.text("\n")

    def finish(self) -> bytes:
        self.style()
        self.p.text("\n\n")
        self.p.cut()
        return bytes(self.p.output)


def render_label_escpos(data: LabelData, profile: str = DEFAULT_PROFILE) -> bytes:
    doc = EscposDocument(profile)
    doc.lines(data.carrier.upper(), bold=True, double=True, align="center")
    doc.lines(data.service, align="center")
    doc.rule()
    doc.lines("FROM", bold=True)
    doc.lines("\n".join(data.ship_from.lines()))
    doc.rule()
    doc.lines("SHIP TO", bold=True)
    doc.lines(data.ship_to.name, bold=True, double=True)
    rest = [p for p in data.ship_to.lines() if p != data.ship_to.name]
    doc.lines("\n".join(rest), bold=True)
    doc.rule()
    doc.lines(f"Order {data.order_id}", bold=True)
    doc.lines(f"Carton {data.carton_of}", bold=True, double=True)
    doc.lines(f"Weight {format_weight(data.weight_g)}")
    if data.cod_amount is not None:
        doc.lines(f"COD {data.cod_currency} {data.cod_amount:.2f}", bold=True, double=True)
    doc.qr(qr_payload(data))
    if data.tracking_number:
        doc.rule()
        doc.lines(f"Tracking {data.tracking_number}", bold=True)
        doc.code128(data.tracking_number, height=60, width=2)
    doc.rule()
    doc.lines("SSCC (carton)", bold=True)
    doc.code128("00" + data.sscc, height=120, width=3, gs1=True)
    doc.lines(sscc_hri(data.sscc, data.company_prefix_length), bold=True, align="center")
    return doc.finish()


def render_packing_slip_escpos(data: PackingSlipData, profile: str = DEFAULT_PROFILE) -> bytes:
    doc = EscposDocument(profile)
    doc.lines("PACKING SLIP", bold=True, double=True, align="center")
    doc.lines(f"Order {data.order_id}", bold=True, align="center")
    doc.lines(f"{data.order_date.isoformat()}  {data.channel}".strip(), align="center")
    doc.rule()
    doc.lines("Ship to", bold=True)
    doc.lines("\n".join(data.ship_to.lines()))
    if data.customer_name and data.customer_name != data.ship_to.name:
        doc.lines(f"Customer: {data.customer_name}")
    doc.rule()
    doc.lines("Qty  Item", bold=True)
    for line in data.lines:
        doc.lines(f"{line.qty_shipped:>3}  {line.sku}", bold=True)
        doc.lines(f"     {line.name}")
        if line.lots:
            doc.lines(f"     Lot: {', '.join(line.lots)}")
        if line.serials:
            doc.lines(f"     Serial: {', '.join(line.serials)}")
    shorts = data.short_lines
    if shorts:
        doc.rule()
        doc.lines("Not in this shipment", bold=True)
        for line in shorts:
            doc.lines(f"{line.qty_short:>3}  {line.sku} {line.name}")
        doc.lines("These items were not shipped; you will not be charged for them.")
    if data.return_instructions or data.return_code:
        doc.rule()
        doc.lines("Returns", bold=True)
        if data.return_instructions:
            doc.lines(data.return_instructions)
        if data.return_code:
            doc.code128(data.return_code, height=60, width=2)
            doc.lines(data.return_code, align="center")
    return doc.finish()
