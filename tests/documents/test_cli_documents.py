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


def test_the_returns_desk_card_holds_every_code_the_desk_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every code decodes (zbarimg) to a value the desk acts on; the grades are the config's."""
    from packstation.services.returns_desk import DESK_CODES, DISPOSITION_CODES, RESOLUTION_CODES

    config = tmp_path / "station.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[returns]\ngrades = ["A as new", "Z broken"]\n'
                      'photo_required_below = "A"\nno_refund_grades = []\nreasons = ["changed mind", "broken"]\n')
    out = tmp_path / "returns-card.pdf"
    assert main(["--config", str(config), "commands-sheet", "--desk", "returns", "--out", str(out)]) == 0
    assert "Wrote the returns desk card" in capsys.readouterr().out
    found = {s.data for page in pdf_symbols(out.read_bytes(), tmp_path, dpi=200) for s in page}
    expected = set(DESK_CODES) | set(DISPOSITION_CODES) | set(RESOLUTION_CODES) | {"GRADE-A", "GRADE-Z", "1", "2",
                                                                                    "CMD-UNDO", "CMD-LOGOUT"}
    assert found == expected


def test_the_dock_card_holds_the_dock_commands_and_one_barcode_per_carrier_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every code decodes (zbarimg) to a dock command or a CARRIER-<CODE>: one per carrier account
    and per carrier of the orders not yet handed over, and per service where a carrier has several."""
    import json
    from collections import Counter

    config = tmp_path / "station.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nlocal = "sqlite:///{tmp_path / "s.db"}"\n'
                      '[carriers.DHL]\nconnector = "simulated"\n[carriers.UPS]\nconnector = "simulated"\n')
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([{"sku": "TY-1", "name": "Wooden puzzle", "barcodes": ["5901234123457"],
                                    "weight_g": 300, "location": "C-01-01"}]))

    def order(order_id: str, carrier: str, service: str) -> dict[str, object]:
        return {"order_id": order_id, "channel": "shop-web", "placed_at": "2026-03-10T07:00:00Z",
                "customer": {"name": "Anna Schmidt", "email": "anna@example.com"},
                "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                            "country": "DE"},
                "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": carrier,
                "service": service, "lines": [{"sku": "TY-1", "qty": 1, "unit_price": "9.95"}]}

    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([order("SO-1", "DHL", "Paket"), order("SO-2", "DHL", "Express"),
                                  order("SO-3", "DPD", "Classic")]))
    base = ["--config", str(config)]
    assert main([*base, "import", "catalog", str(catalog)]) == 0
    assert main([*base, "import", "orders", str(orders)]) == 0
    out = tmp_path / "dock.pdf"
    assert main([*base, "commands-sheet", "--desk", "dock", "--out", str(out)]) == 0
    assert "Wrote the dock card" in capsys.readouterr().out
    found = Counter(s.data for page in pdf_symbols(out.read_bytes(), tmp_path, dpi=200) for s in page)
    assert found == Counter({"CMD-CLOSE-MANIFEST", "CMD-UNDO", "CMD-LOGOUT", "CARRIER-DHL", "CARRIER-DHL/EXPRESS",
                             "CARRIER-DHL/PAKET", "CARRIER-DPD", "CARRIER-UPS"})
