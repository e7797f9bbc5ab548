"""``packstation returns resolve RMA KIND [--line N] [--amount LINE=AMOUNT]`` on a real station
database (SQLite and PostgreSQL): a return received and inspected at the desk by scans is settled
from the command line with an amount per line; a bad line number, a negative amount, an amount
over the line's price or a malformed one is refused with a message saying what to fix, and nothing
is resolved. The credit note of a partial amount is read back with ``pdftotext``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_returns_flow import (
    BUDS,
    TEE,
    announce,
    config_file,
    pack,
    pdf_text,
    scans,
    station,
    track,
)

from packstation.bootstrap import Station
from packstation.cli import main as cli_main
from packstation.domain.packing import Verdict

__all__ = ["config_file", "station"]  # the fixtures, from test_returns_flow


def inspected(station: Station, tmp_path: Path) -> None:
    """SO-8 (a tee at 9.95, earbuds at 49.00) packed, delivered; RMA-8 received and inspected."""
    pack(station, "SO-8", TEE, BUDS, "SN-801")
    track(station, tmp_path, "SO-8")
    announce(station, tmp_path, "RMA-8", "SO-8", {"TS-1": 1, "EL-1": 1})
    desk = station.terminal()
    assert scans(desk, "RETURNS-001", "RMA-8", TEE, "GRADE-A", "DISP-BSTOCK").verdict is Verdict.DISPOSITION_SET
    assert scans(desk, BUDS, "SN-801", "GRADE-A", "DISP-BSTOCK").verdict is Verdict.DISPOSITION_SET
    desk.scan("CMD-LOGOUT")


def cli(config_file: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli_main(["--config", str(config_file), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(("amounts", "message"), [
    (["9=1.00"], "packstation returns resolve: Return RMA-8 has no line 9 (its lines: 1, 2)."),
    (["1=-1.00"], "packstation returns resolve: --amount 1=-1.00: an amount cannot be negative (0 pays nothing back "
                  "for the line)."),
    (["1=9.96"], "packstation returns resolve: Line 1: the amount must be between 0 and 9.95 (the price of 1 "
                 "unit(s)); got 9.96."),
    (["1=5.00", "2=49.01"], "packstation returns resolve: Line 2: the amount must be between 0 and 49.00 (the price "
                            "of 1 unit(s)); got 49.01."),
    (["1"], "packstation returns resolve: --amount takes LINE=AMOUNT, e.g. --amount 2=15.00; got '1'."),
    (["one=5"], "packstation returns resolve: --amount one=5: LINE is the line's number on the return (1, 2, ...; "
                "see packstation returns show RMA), got 'one'."),
    (["1=5,5"], "packstation returns resolve: --amount 1=5,5: the amount is a number with at most two decimals and "
                "a point, e.g. 15.00; got '5,5'."),
    (["1=1.005"], "packstation returns resolve: --amount 1=1.005: the amount is a number with at most two decimals "
                  "and a point, e.g. 15.00; got '1.005'."),
    (["1=2", "1=3"], "packstation returns resolve: --amount: line 1 is given twice (2 and 3)."),
])
def test_a_bad_amount_is_refused_with_what_to_fix_and_nothing_is_resolved(station, config_file, tmp_path, capsys,
                                                                          amounts, message) -> None:
    inspected(station, tmp_path)
    args = [a for amount in amounts for a in ("--amount", amount)]
    code, out, err = cli(config_file, capsys, "returns", "resolve", "RMA-8", "refund", *args)
    assert (code, out, err.strip()) == (1, "", message)
    shown = json.loads(cli(config_file, capsys, "returns", "show", "RMA-8", "--json")[1])
    assert shown["status"] == "inspected" and all(ln["resolution"] is None for ln in shown["lines"])


def test_an_amount_for_a_line_this_resolution_does_not_settle_is_refused(station, config_file, tmp_path,
                                                                        capsys) -> None:
    inspected(station, tmp_path)
    code, _, err = cli(config_file, capsys, "returns", "resolve", "RMA-8", "refund", "--line", "1", "--amount", "2=5")
    assert code == 1 and "line 2 is not settled by this refund" in err
    code, _, err = cli(config_file, capsys, "returns", "resolve", "RMA-8", "replacement", "--amount", "1=5")
    assert code == 1 and "A replacement pays no money: an amount is only for a refund or a credit note." in err


def test_a_refund_with_an_amount_per_line_resolves_once(station, config_file, tmp_path, capsys) -> None:
    inspected(station, tmp_path)
    args = ("returns", "resolve", "RMA-8", "refund", "--amount", "1=5.00", "--amount", "2 = 40")
    code, out, err = cli(config_file, capsys, *args, "--json")
    assert code == 0, err
    done = json.loads(out)
    assert (done["kind"], done["created"], done["closed"], done["total"]) == ("refund", True, True, "45.00")
    assert [(ln["line_no"], ln["amount"], ln["fee"]) for ln in done["lines"]] == [(1, "5.00", "4.95"),
                                                                                  (2, "40.00", "9.00")]
    code, out, _ = cli(config_file, capsys, *args)  # the same resolution again: once
    assert code == 0 and out == ("Return RMA-8: refund of 45.00 EUR (line 1: 1 unit(s) 5.00, line 2: 1 unit(s) "
                                 "40.00) - resolved already, nothing new; the return is closed.\n")
    shown = json.loads(cli(config_file, capsys, "returns", "show", "RMA-8", "--json")[1])
    assert [ln["resolution"]["amount"] for ln in shown["lines"]] == ["5.00", "40.00"]
    assert len(shown["resolutions"]) == 1 and shown["status"] == "closed"


def test_without_an_amount_the_line_price_less_the_fee_is_paid(station, config_file, tmp_path, capsys) -> None:
    inspected(station, tmp_path)
    code, out, _ = cli(config_file, capsys, "returns", "resolve", "RMA-8", "refund", "--line", "2")
    assert code == 0 and out == "Return RMA-8: refund of 49.00 EUR (line 2: 1 unit(s) 49.00).\n"
    code, out, _ = cli(config_file, capsys, "returns", "resolve", "RMA-8", "refund", "--amount", "1=0")
    assert code == 0 and out == "Return RMA-8: refund of 0.00 EUR (line 1: 1 unit(s) 0.00); the return is closed.\n"


def test_a_credit_note_with_a_partial_amount_prints_that_amount(station, config_file, tmp_path, capsys) -> None:
    inspected(station, tmp_path)
    code, out, err = cli(config_file, capsys, "returns", "resolve", "RMA-8", "credit_note", "--amount", "2=30.00")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == ("Return RMA-8: credit note CN-ACME-BENCH-01-000001 (39.95 EUR) (line 1: 1 unit(s) 9.95, "
                        "line 2: 1 unit(s) 30.00); the return is closed.")
    assert lines[1].startswith("  Credit note")  # printed by the command (the station's printer: a PDF folder)
    text = pdf_text(station.info.documents_dir / "credit-notes" / "CN-ACME-BENCH-01-000001.pdf")
    assert "39.95" in text and "-19.00" in text  # 9.95 + 49.00 - 19.00 not paid back on line 2
    assert "Deduction (EL-1)" in text and "Restocking fee" not in text


def test_returns_show_names_the_return_parcel(station, config_file, tmp_path, capsys) -> None:
    from packstation.domain.identity import ActorKind
    from packstation.services.imports import import_file

    pack(station, "SO-8", TEE, BUDS, "SN-801")
    track(station, tmp_path, "SO-8")
    path = tmp_path / "returns.json"
    path.write_text(json.dumps([{"rma_id": "RMA-8", "order_id": "SO-8", "reason": "wrong size", "status": "initiated",
                                 "tracking_number": "JJD0099887766", "lines": [{"sku": "TS-1", "qty": 1}]}]))
    assert import_file(station.ctx, station.system_session(ActorKind.IMPORT, "shop"), "returns", path).ok
    code, out, _ = cli(config_file, capsys, "returns", "show", "RMA-8")
    assert code == 0 and out.splitlines()[:2] == ["Return RMA-8 for order SO-8: initiated (wrong size)",
                                                  "  return parcel JJD0099887766 (DHL)"]
