"""Read documents back the way a scanner or a person would.

- PDFs are rasterised with pdftoppm (poppler-utils) and decoded with zbarimg (zbar-tools);
  their text is read with pdftotext.
- ZPL is rendered to PNG by zpl-renderer-js (a WebAssembly build of the Zebrash renderer)
  under Node.js, then decoded with zbarimg. Install it with
  ``npm ci --prefix tests/documents/zpl_render``; without node or the package those tests skip
  (fail in CI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

ZPL_RENDER_DIR = Path(__file__).parent / "zpl_render"
_ZBAR_NS = {"z": "http://zbar.sourceforge.net/2008/barcode"}


@dataclass(frozen=True)
class Symbol:
    type: str
    data: str
    gs1: bool


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing; install the Debian package {package}")
    return path


def zbar(png: Path) -> list[Symbol]:
    """Every Code 128 and QR code zbarimg finds in *png* (the only symbologies we print)."""
    exe = _need("zbarimg", "zbar-tools")
    proc = subprocess.run(
        [exe, "--xml", "-q", "-Sdisable", "-Scode128.enable", "-Sqrcode.enable", str(png)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode not in (0, 4):  # 4: no symbols found
        raise AssertionError(f"zbarimg failed on {png}: {proc.stderr}")
    if proc.returncode == 4:
        return []
    root = ET.fromstring(proc.stdout)
    out = []
    for sym in root.iterfind(".//z:symbol", _ZBAR_NS):
        data = sym.find("z:data", _ZBAR_NS)
        mods = sym.get("modifiers", "")
        out.append(
            Symbol(sym.get("type", ""), data.text if data is not None else "", "GS1" in mods)
        )
    return out


def pdf_pages_png(pdf: Path, out_dir: Path, dpi: int = 200) -> list[Path]:
    exe = _need("pdftoppm", "poppler-utils")
    prefix = out_dir / pdf.stem
    subprocess.run(
        [exe, "-r", str(dpi), "-gray", "-png", str(pdf), str(prefix)], check=True, timeout=120
    )
    return sorted(out_dir.glob(f"{pdf.stem}*.png"))


def pdf_symbols(
    pdf_bytes: bytes, tmp_path: Path, dpi: int = 200, name: str = "doc"
) -> list[list[Symbol]]:
    """Barcodes per page of a PDF."""
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(pdf_bytes)
    return [zbar(png) for png in pdf_pages_png(pdf, tmp_path, dpi)]


def pdf_text(pdf_bytes: bytes, tmp_path: Path, name: str = "text", layout: bool = False) -> str:
    exe = _need("pdftotext", "poppler-utils")
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(pdf_bytes)
    args = [exe, "-enc", "UTF-8"] + (["-layout"] if layout else []) + [str(pdf), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


def pdf_info(pdf_bytes: bytes, tmp_path: Path) -> dict[str, str]:
    exe = _need("pdfinfo", "poppler-utils")
    pdf = tmp_path / "info.pdf"
    pdf.write_bytes(pdf_bytes)
    text = subprocess.run([exe, str(pdf)], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


class ZplRenderer:
    """Runs render.js once for a batch of labels (loading the WASM takes most of the time)."""

    def __init__(self, node: str) -> None:
        self.node = node

    def render(self, jobs: list[tuple[str, float, float, int, Path]]) -> list[Path]:
        """jobs: (zpl, width_mm, height_mm, dpi, out_png)."""
        payload = [
            {
                "zpl": z,
                "widthMm": w,
                "heightMm": h,
                "dpmm": 8 if dpi == 203 else 12,
                "out": str(out),
            }
            for z, w, h, dpi, out in jobs
        ]
        proc = subprocess.run(
            [self.node, str(ZPL_RENDER_DIR / "render.js")],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ZPL_RENDER_DIR,
        )
        if proc.returncode != 0:
            raise AssertionError(f"zpl-renderer-js failed: {proc.stdout} {proc.stderr}")
        return [out for *_, out in jobs]
