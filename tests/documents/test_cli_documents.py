"""``packstation commands-sheet`` and ``packstation render-demo-label`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_read import pdf_symbols
from escpos_parse import parse as parse_escpos
from zpl_parse import parse as parse_zpl

from packstation import demo
from packstation.cli import main
from packstation.domain.barcodes import (
    BENCH_COMMANDS as COMMANDS,  # the bench card (the dock has its own)
)


def test_commands_sheet_with_custom_cartons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "card.pdf"
    assert (
        main(["commands-sheet", "--out", str(out), "--carton", "box-a", "--carton", "BOX-PALLET"])
        == 0
    )
    assert "Wrote the command card" in capsys.readouterr().out
    (page,) = pdf_symbols(out.read_bytes(), tmp_path, dpi=150)
    found = {s.data for s in page}
    assert COMMANDS <= found
    assert {"BOX-A", "BOX-PALLET"} <= found
    assert "BOX-S" not in found


def test_commands_sheet_default_cartons_letter_without_quantities(tmp_path: Path) -> None:
    out = tmp_path / "card.pdf"
    assert main(["commands-sheet", "--out", str(out), "--paper", "Letter", "--no-quantities"]) == 0
    (page,) = pdf_symbols(out.read_bytes(), tmp_path, dpi=150)
    found = {s.data for s in page}
    # every carton type in the station's database: here the embedded demo's
    assert found == set(COMMANDS) | {c["code"] for c in demo.CARTON_TYPES}
    assert "BOX-MAILER" in found


def test_commands_sheet_reports_an_unwritable_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["commands-sheet", "--out", str(tmp_path / "missing" / "card.pdf")]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_render_demo_label_in_each_language(tmp_path: Path) -> None:
    zpl = tmp_path / "label.zpl"
    assert (
        main(
            [
                "render-demo-label",
                "--out",
                str(zpl),
                "--language",
                "zpl",
                "--dpi",
                "300",
                "--size",
                "100x150",
            ]
        )
        == 0
    )
    fmt = parse_zpl(zpl.read_text(encoding="utf-8"))
    assert int(fmt.first("PW")) == 1200 and int(fmt.first("LL")) == 1800
    # the ship-from address comes from the station config
    assert "Packstation Demo Warehouse" in [f.data for f in fmt.fields]

    pos = tmp_path / "label.bin"
    assert main(["render-demo-label", "--out", str(pos), "--language", "escpos"]) == 0
    assert parse_escpos(pos.read_bytes()).cut

    pdf = tmp_path / "label.pdf"
    assert main(["render-demo-label", "--out", str(pdf), "--language", "pdf"]) == 0
    (page,) = pdf_symbols(pdf.read_bytes(), tmp_path)
    assert any(s.gs1 for s in page)


def test_render_demo_label_uses_the_configured_printer(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text(
        '[station]\nship_from_name = "Entrepôt Lyon"\n[label_printer]\nlanguage = "zpl"\ndpi = 300\n',
        encoding="utf-8",
    )
    out = tmp_path / "label.out"
    assert main(["--config", str(config), "render-demo-label", "--out", str(out)]) == 0
    fmt = parse_zpl(out.read_text(encoding="utf-8"))
    assert int(fmt.first("PW")) == round(101.6 * 12)
    assert "Entrepôt Lyon" in [f.data for f in fmt.fields]
