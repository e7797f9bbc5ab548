"""Label and document rendering: ZPL, ESC/POS and PDF.

Every renderer takes one of the plain records of :mod:`packstation.domain.documents` and
returns bytes (or ZPL text); the printer transports send them. PDF renderers also write the
file when given a path. Import the renderers from their modules: ``zpl``, ``escpos``,
``pdf_label``, ``packing_slip``, ``picklist`` (``render_picklist(data, path)``), ``manifest``,
``credit_note``, ``command_card``.
"""

from __future__ import annotations

from pathlib import Path

from packstation.domain.documents import DocumentDataError, LabelData

LANGUAGES = ("zpl", "escpos", "pdf")


def render_label(data: LabelData, language: str, dpi: int = 203, size: str = "4x6") -> bytes:
    """The label in the printer's language, as the bytes to send (ZPL is UTF-8 encoded)."""
    # Imported here so that asking for ZPL does not import python-escpos (which configures
    # logging at import time) or reportlab's canvas machinery.
    if language == "zpl":
        from packstation.adapters.documents.zpl import render_label_zpl

        return render_label_zpl(data, dpi, size).encode("utf-8")
    if language == "escpos":
        from packstation.adapters.documents.escpos import render_label_escpos

        return render_label_escpos(data)
    if language == "pdf":
        from packstation.adapters.documents.pdf_label import render_label_pdf

        return render_label_pdf(data, size)
    raise DocumentDataError(
        f"unknown printer language {language!r}; use one of: {', '.join(LANGUAGES)}"
    )


def write_label(
    data: LabelData, path: str | Path, language: str, dpi: int = 203, size: str = "4x6"
) -> Path:
    target = Path(path)
    target.write_bytes(render_label(data, language, dpi, size))
    return target


__all__ = ["LANGUAGES", "render_label", "write_label"]
