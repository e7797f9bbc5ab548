"""Users: ``packstation users add|list|disable`` and badge + PIN login at the bench.

PINs are stored only as argon2 hashes; the PIN itself must never reach the database, the
command line or the output. Badges are shown masked (``L••••42``), never in full.
"""

from __future__ import annotations

import getpass
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest
from argon2 import PasswordHasher

from packstation.cli import main
from packstation.config import load_config
from packstation.domain.identity import mask_badge
from packstation.domain.packing import Verdict
from packstation.services.auth import LoginRefused

REPO = Path(__file__).parents[2]
PIN = "860315"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    hf.new_station(data).close()
    path = tmp_path / "station.toml"
    path.write_text(f'data_dir = "{data}"\n[station]\nid = "BENCH-03"\n', encoding="utf-8")
    return path


def _station(config: Path) -> Any:
    from packstation.bootstrap import build_station

    return build_station(load_config(config), seed_demo=False)


def _users(config: Path) -> list[dict[str, Any]]:
    station = _station(config)
    try:
        return hf.rows(station, "users", order_by="id")
    finally:
        station.close()


def _cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str, stdin: str | None = None,
         monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _db_bytes(config: Path) -> bytes:
    data = Path(load_config(config).data_dir)
    return b"".join(p.read_bytes() for p in sorted(data.glob("packstation.db*")))


# --- users add --------------------------------------------------------------------------------


def test_pin_from_stdin_is_stored_only_as_an_argon2_hash(config_file: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    res = subprocess.run(
        [sys.executable, "-m", "packstation", "--config", str(config_file),
         "users", "add", "Lee Lead", "--role", "lead", "--badge", "LEAD-0042", "--pin-stdin"],
        input=f"{PIN}\n", capture_output=True, text=True, timeout=120, env=env, cwd=REPO,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "Added Lee Lead (lead), badge L••••42, with PIN"
    assert PIN not in res.stdout + res.stderr and "LEAD-0042" not in res.stdout + res.stderr
    [row] = _users(config_file)
    assert (row["name"], row["role"], row["badge"], row["active"]) == ("Lee Lead", "lead", "LEAD-0042", True)
    assert row["pin_hash"].startswith("$argon2")
    assert row["pin_hash"] != PIN and PIN not in row["pin_hash"]
    assert PasswordHasher().verify(row["pin_hash"], PIN)
    assert PIN.encode() not in _db_bytes(config_file)  # not in any table, event or the WAL
    station = _station(config_file)
    try:
        assert station.ctx.auth.login("LEAD-0042", PIN).name == "Lee Lead"
    finally:
        station.close()


def test_add_and_list_users(capsys: pytest.CaptureFixture[str], config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _cli(capsys, config_file, "users", "add", "Pat Packer", "--role", "packer", "--badge", "PACKER-001")
    assert code == 0 and out.strip() == "Added Pat Packer (packer), badge P••••01"
    code, out, _ = _cli(capsys, config_file, "users", "add", "Rita Returns", "--role", "returns", "--badge", "RET-7",
                        "--pin-stdin", stdin="1234\n", monkeypatch=monkeypatch)
    assert code == 0 and out.strip().endswith("with PIN")
    code, out, _ = _cli(capsys, config_file, "users", "list")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["name", "role", "badge", "pin", "active"]
    assert rows[1] == ["Pat", "Packer", "packer", mask_badge("PACKER-001"), "no", "yes"]
    assert rows[2] == ["Rita", "Returns", "returns", mask_badge("RET-7"), "yes", "yes"]
    assert "1234" not in out and "PACKER-001" not in out and "RET-7" not in out
    assert _users(config_file)[0]["pin_hash"] is None


@pytest.mark.parametrize("stdin, message, code", [
    ("", "no PIN on standard input", 2),
    ("\n", "no PIN on standard input", 2),
    ("12ab\n", "A PIN is 4 to 12 digits", 1),
    ("123\n", "A PIN is 4 to 12 digits", 1),
])
def test_bad_pin_from_stdin_adds_nobody(capsys: pytest.CaptureFixture[str], config_file: Path, monkeypatch: pytest.MonkeyPatch,
                                        stdin: str, message: str, code: int) -> None:
    got, out, err = _cli(capsys, config_file, "users", "add", "Pat Packer", "--role", "packer", "--badge", "PACKER-001",
                         "--pin-stdin", stdin=stdin, monkeypatch=monkeypatch)
    assert got == code and out == ""
    assert message in err
    assert _users(config_file) == []


def test_duplicate_name_or_badge_is_refused(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    assert _cli(capsys, config_file, "users", "add", "Pat Packer", "--role", "packer", "--badge", "PACKER-001")[0] == 0
    code, out, err = _cli(capsys, config_file, "users", "add", "Pat Packer", "--role", "dispatch", "--badge", "DOCK-77")
    assert code == 1 and out == "" and "There is already a user called 'Pat Packer'" in err
    code, out, err = _cli(capsys, config_file, "users", "add", "Sam Other", "--role", "packer", "--badge", "PACKER-001")
    assert code == 1 and "That badge already belongs to another user" in err
    assert "PACKER-001" not in out + err  # whose badge it is, and the badge itself, stay unsaid
    assert [u["name"] for u in _users(config_file)] == ["Pat Packer"]


@pytest.mark.parametrize("args, message", [
    (["Cmd User", "--role", "packer", "--badge", "CMD-UNDO"], "looks like a station command barcode"),
    (["Desk User", "--role", "packer", "--badge", "DESK-DOCK"], "looks like a station command barcode"),
    (["Lead No Pin", "--role", "lead", "--badge", "LEAD-9"], "A lead needs a PIN"),
    (["Short Badge", "--role", "packer", "--badge", "AB"], "at least 3 printable characters"),
    (["   ", "--role", "packer", "--badge", "PACKER-9"], "A user needs a name"),
    (["N" * 101, "--role", "packer", "--badge", "PACKER-9"], "at most 100 printable characters"),
    (["Long Badge", "--role", "packer", "--badge", "B" * 65], "at most 64 characters"),
])
def test_unusable_user_is_refused(capsys: pytest.CaptureFixture[str], config_file: Path, args: list[str], message: str) -> None:
    code, _, err = _cli(capsys, config_file, "users", "add", *args)
    assert code == 1 and message in err
    assert _users(config_file) == []


def test_unknown_role_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(config_file), "users", "add", "X Y", "--role", "boss", "--badge", "B-1"])
    assert exit_.value.code == 2
    assert "invalid choice: 'boss'" in capsys.readouterr().err


# --- disable and login ------------------------------------------------------------------------


def test_disabled_user_cannot_log_in(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    _cli(capsys, config_file, "users", "add", "Pat Packer", "--role", "packer", "--badge", "PACKER-001")
    station = _station(config_file)
    try:
        assert station.terminal().scan("PACKER-001").verdict is Verdict.LOGGED_IN
    finally:
        station.close()
    code, out, _ = _cli(capsys, config_file, "users", "disable", "Pat Packer")
    assert code == 0 and out.strip() == "Disabled Pat Packer."
    code, out, _ = _cli(capsys, config_file, "users", "disable", "Pat Packer")  # again: no change
    assert code == 0
    assert _cli(capsys, config_file, "users", "list")[1].splitlines()[1].split()[-1] == "no"
    station = _station(config_file)
    try:
        bench = station.terminal()
        out_ = bench.scan("PACKER-001")
        assert out_.verdict is Verdict.LOGIN_REFUSED and "Pat Packer is disabled. Ask a lead." in out_.message
        assert bench.session is None
        disabled = [e for e in hf.rows(station, "events", order_by="seq") if e["kind"] == "user.disabled"]
        assert len(disabled) == 1 and disabled[0]["actor"] == f"cli:{getpass.getuser()}"
    finally:
        station.close()
    code, _, err = _cli(capsys, config_file, "users", "disable", "Nobody Here")
    assert code == 1 and "No user called 'Nobody Here'" in err


def test_five_wrong_pins_lock_the_badge(tmp_path: Path) -> None:
    now = [datetime(2026, 11, 26, 9, 0, tzinfo=UTC)]
    station = hf.new_station(tmp_path / "data", clock=lambda: now[0])
    try:
        hf.add_user(station, "Lee Lead", "lead", "LEAD-0042", PIN)
        bench = station.terminal()

        # a wrong PIN, then the right one: the count starts again
        assert bench.scan("LEAD-0042").verdict is Verdict.NEEDS_PIN
        assert "4 tries left" in bench.enter_pin("0000").message
        assert bench.scan("LEAD-0042").verdict is Verdict.NEEDS_PIN
        assert bench.enter_pin(PIN).verdict is Verdict.LOGGED_IN
        bench.logout()

        answers = []
        for _ in range(5):
            assert bench.scan("LEAD-0042").verdict is Verdict.NEEDS_PIN
            answers.append(bench.enter_pin("999999"))
        assert all(a.verdict is Verdict.LOGIN_REFUSED for a in answers)
        assert [a.message for a in answers[:4]] == [
            "Wrong PIN: 4 tries left.", "Wrong PIN: 3 tries left.", "Wrong PIN: 2 tries left.", "Wrong PIN: 1 try left."]
        assert answers[4].message == "Wrong PIN 5 times: Lee Lead's badge is locked for 5 min."

        # locked: the badge itself is refused, so the right PIN cannot even be tried
        now[0] += timedelta(minutes=4)
        locked = bench.scan("LEAD-0042")
        assert locked.verdict is Verdict.LOGIN_REFUSED and "badge is locked" in locked.message and "1 min" in locked.message
        with pytest.raises(LoginRefused, match="badge is locked"):
            station.ctx.auth.login("LEAD-0042", PIN)
        assert bench.session is None

        now[0] += timedelta(minutes=1, seconds=1)
        assert bench.scan("LEAD-0042").verdict is Verdict.NEEDS_PIN
        assert bench.enter_pin(PIN).verdict is Verdict.LOGGED_IN
        [row] = hf.rows(station, "users", badge="LEAD-0042")
        failed = [e for e in hf.rows(station, "events", order_by="seq") if e["kind"] == "user.pin_failed"]
        assert row["failed_pins"] == 0 and row["locked_until"] is None
        assert len(failed) == 6 and {e["actor"] for e in failed} == {"person:Lee Lead"}
        assert PIN.encode() not in b"".join(p.read_bytes() for p in (tmp_path / "data").glob("packstation.db*"))
    finally:
        station.close()


def test_unknown_badge_is_refused_with_what_to_do(tmp_path: Path) -> None:
    station = hf.new_station(tmp_path / "data")
    try:
        out = station.terminal().scan("PACKER-404")
        assert out.verdict is Verdict.LOGIN_REFUSED and out.message == "Unknown badge. Ask a lead to add you."
    finally:
        station.close()


def test_a_locked_lead_badge_approves_nothing(tmp_path: Path) -> None:
    order_ids = hf.seed_for_packing(tmp_path / "data", orders=2)
    station = _station_at(tmp_path / "data")
    try:
        hf.add_user(station, "Lee Lead", "lead", "LEAD-0042", PIN)
        lead_bench = station.terminal()
        for _ in range(5):
            assert lead_bench.scan("LEAD-0042").verdict is Verdict.NEEDS_PIN
            lead_bench.enter_pin("999999")
        bench = hf.login(station, hf.BADGE)
        assert bench.scan(order_ids[0]).verdict is Verdict.ORDER_OPENED
        assert hf.pack_next_unit(bench).verdict is Verdict.ACCEPTED
        assert bench.scan("CMD-SHORT").verdict is Verdict.NEEDS_REASON
        assert bench.scan("1").verdict is Verdict.NEEDS_LEAD
        out = bench.scan("LEAD-0042")
        assert out.verdict is Verdict.NOT_ALLOWED and "badge is locked" in out.message and "cancelled" in out.message
        assert bench.enter_pin(PIN).verdict is Verdict.NOT_ALLOWED  # nothing waits for a PIN
        assert sum(ln["short_qty"] for ln in hf.rows(station, "order_lines", order_id=order_ids[0])) == 0
    finally:
        station.close()


def _station_at(data: Path) -> Any:
    from packstation.bootstrap import build_station

    return build_station(hf.station_config(data), seed_demo=False)
