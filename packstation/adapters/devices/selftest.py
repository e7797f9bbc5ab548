"""Test pages: what `packstation devices test-print` and the settings dialog's Test print send."""

from __future__ import annotations


def zpl_test_label(station: str, dpi: int = 203) -> bytes:
    """A small ZPL label: a frame, the station name and a Code 128 to scan back."""
    dots = dpi // 25  # ~1 mm
    return (
        "^XA^CI28^PW812\n"
        f"^FO{dots * 5},{dots * 5}^GB{dots * 90},{dots * 45},4^FS\n"
        f"^FO{dots * 10},{dots * 10}^A0N,50,50^FDPACKSTATION TEST^FS\n"
        f"^FO{dots * 10},{dots * 20}^A0N,30,30^FDStation {station}^FS\n"
        f"^FO{dots * 10},{dots * 28}^BCN,{dots * 12},Y,N,N^FDTEST-{station}^FS\n"
        "^XZ\n"
    ).encode()


def test_page_bytes(language: str, station: str, dpi: int) -> bytes:
    """The bytes of a small test page in *language*, for `devices test-print` and the settings dialog."""
    if language == "zpl":
        return zpl_test_label(station, dpi)
    if language == "escpos":
        from packstation.adapters.devices.escpos_support import escpos_test_receipt

        return escpos_test_receipt(station)
    if language == "pdf":
        import io

        from reportlab.lib.units import mm
        from reportlab.pdfgen.canvas import Canvas

        buf = io.BytesIO()
        canvas = Canvas(buf, pagesize=(100 * mm, 150 * mm))
        canvas.setFont("Helvetica-Bold", 16)
        canvas.drawString(10 * mm, 130 * mm, "PACKSTATION TEST")
        canvas.setFont("Helvetica", 11)
        canvas.drawString(10 * mm, 120 * mm, f"Station {station}")
        canvas.showPage()
        canvas.save()
        return buf.getvalue()
    raise ValueError(f"language {language!r} is not zpl, escpos or pdf")
