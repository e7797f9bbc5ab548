"""The bundled DejaVu fonts: where they are, how wide text is, and how to make it fit.

Every renderer measures text with the same font metrics so that a name that fits on the
PDF label also fits on the ZPL one (the Zebra built-in font 0 is narrower than DejaVu Sans
Bold, so DejaVu widths are a safe upper bound there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from packstation.domain.documents import DocumentDataError

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
_SYSTEM_DIR = Path("/usr/share/fonts/truetype/dejavu")


class FontNotFoundError(RuntimeError):
    """The bundled font files are missing (a broken installation)."""


def font_dir() -> Path:
    """resources/fonts of the source tree, or $PACKSTATION_FONT_DIR, or the system DejaVu."""
    override = os.environ.get("PACKSTATION_FONT_DIR")
    candidates = [Path(override)] if override else []
    candidates.append(Path(__file__).resolve().parents[3] / "resources" / "fonts")
    candidates.append(_SYSTEM_DIR)
    for folder in candidates:
        if (folder / _FILES[REGULAR]).is_file() and (folder / _FILES[BOLD]).is_file():
            return folder
    searched = ", ".join(str(c) for c in candidates)
    raise FontNotFoundError(
        f"DejaVuSans.ttf and DejaVuSans-Bold.ttf not found (looked in {searched}); "
        "reinstall packstation or set PACKSTATION_FONT_DIR to a folder holding them"
    )


def font_path(bold: bool = False) -> Path:
    return font_dir() / _FILES[BOLD if bold else REGULAR]


SUBSETS_KEPT = 64  # font subsets remembered per font (see _remember_subsets)


def _remember_subsets(font: TTFont) -> TTFont:
    """Make *font* remember the subsets it embeds.

    Every PDF embeds, per font, the glyphs its text uses: reportlab builds that subset from the
    TTF file at each save (about 0.8 ms per font and document, an eighth of a shipping label's
    rendering). Labels of one station use the same characters again and again, so the subset's
    bytes (a pure function of the characters, in their order) are kept for the next document.
    """
    build = font.face.makeSubset

    @lru_cache(maxsize=SUBSETS_KEPT)
    def subset_of(codes: tuple[int, ...]) -> bytes:
        return bytes(build(list(codes)))

    font.face.makeSubset = lambda subset: subset_of(tuple(subset))
    return font


@lru_cache(maxsize=1)
def register_pdf_fonts() -> tuple[str, str]:
    """Register both fonts with reportlab once; returns (regular, bold) font names."""
    for name, filename in _FILES.items():
        pdfmetrics.registerFont(_remember_subsets(TTFont(name, str(font_dir() / filename))))
    pdfmetrics.registerFontFamily(
        REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD
    )
    return REGULAR, BOLD


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Advance width of *text* at em size *size*, in the same unit as *size*."""
    register_pdf_fonts()
    return pdfmetrics.stringWidth(text, BOLD if bold else REGULAR, size)


def missing_glyphs(text: str) -> set[str]:
    """Characters of *text* the bundled font has no glyph for."""
    register_pdf_fonts()
    face = pdfmetrics.getFont(REGULAR).face
    cmap = face.charToGlyph
    return {ch for ch in text if ord(ch) >= 0x20 and ord(ch) not in cmap}


def wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap; words longer than a line are broken between characters."""
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size, bold) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        while text_width(word, size, bold) > width:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut], size, bold) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines or [""]


@dataclass(frozen=True)
class Fitted:
    size: float
    lines: tuple[str, ...]


def fit(
    text: str,
    width: float,
    max_size: float,
    min_size: float,
    max_lines: int,
    bold: bool = False,
    what: str = "text",
) -> Fitted:
    """The largest size (stepping down 5 %) at which *text* wraps into *max_lines* lines.

    Raises DocumentDataError when even *min_size* is not enough: printing a cut-off address
    would lose data without anyone noticing.
    """
    size = max_size
    while True:
        if text_width(text, size, bold) <= width:
            return Fitted(size, (text,))
        if max_lines > 1:
            lines = wrap(text, width, size, bold)
            if len(lines) <= max_lines:
                return Fitted(size, tuple(lines))
        if size <= min_size:
            break
        size = max(min_size, size * 0.95)
    raise DocumentDataError(
        f"{what} is too long to print ({len(text)} characters: {text[:40]!r}...); "
        "shorten it in the order data and print again"
    )
