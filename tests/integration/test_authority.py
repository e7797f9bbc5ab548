"""Authority comes from sessions the station issued: approvals need badge + PIN, made-up or edited
sessions are refused, and user management has its own rules (issue 8, "authority without proof").

Each test here failed on the code before issue 8: a typed lead badge short-shipped without a PIN,
the services trusted any ``User(role=LEAD)`` a caller passed, and user management checked no role.
"""

from __future__ import annotations

import dataclasses
import getpass
import io
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest
from packstation_tests_station import LEAD_PIN, MUG_EAN, TEE_EAN, StationFactory, stock

from packstation.bootstrap import Station
from packstation.cli import main
from packstation.config import SecurityConfig
from packstation.domain.barcodes import RawScan
from packstation.domain.identity import ActorKind, Desk, Permission, Role, Session
from packstation.domain.packing import Verdict
from packstation.services import packing as p
from packstation.services import users
from packstation.services.auth import LoginRefused, NotAllowed, PinRequired, UserError
from packstation.services.terminal import Terminal


def shorted(station: Station, order_id: str) -> int:
    return sum(r["short_qty"] for r in hf.rows(station, "order_lines", order_id=order_id))


def short_events(station: Station) -> list[dict[str, Any]]:
    return [e for e in hf.rows(station, "events", order_by="seq") if e["kind"] == "order.short_shipped"]


def packing_so3(station: Station) -> Terminal:
    """A packer at the bench with SO-3 open: one tee packed, two mugs missing."""
    bench = hf.login(station, "PACKER-001")
    assert [bench.scan(s).verdict for s in ("SO-3", "BOX-S", TEE_EAN)] == [
        Verdict.ORDER_OPENED, Verdict.CARTON_OPENED, Verdict.ACCEPTED]
    return bench


def ask_short(bench: Terminal) -> None:
    assert bench.scan("CMD-SHORT").verdict is Verdict.NEEDS_REASON
    assert bench.scan("1").verdict is Verdict.NEEDS_LEAD


# --- approvals: badge + PIN, never a badge alone --------------------------------------------------


@pytest.mark.parametrize("source", ["typed", "wedge"])
def test_a_leads_badge_in_a_packers_session_approves_nothing_without_the_pin(station: Station, source: str) -> None:
    """Typing (or scanning) a PIN-protected lead's badge short-shipped 7 items before issue 8."""
    bench = packing_so3(station)
    ask_short(bench)
    asked = bench.scan(RawScan.from_wire("LEAD-001", source=source))
    assert asked.verdict is Verdict.NEEDS_PIN and "enter your PIN" in asked.message
    assert shorted(station, "SO-3") == 0 and short_events(station) == []
    # a scan instead of the PIN cancels the approval and counts nothing
    cancelled = bench.scan(MUG_EAN)
    assert cancelled.verdict is Verdict.NOT_ALLOWED and "cancelled" in cancelled.message
    assert [ln.packed for ln in hf.pack_of(bench).order.lines] == [1, 0]
    # a wrong PIN approves nothing either
    ask_short(bench)
    assert bench.scan(RawScan.from_wire("LEAD-001", source=source)).verdict is Verdict.NEEDS_PIN
    wrong = bench.enter_pin("0000")
    assert wrong.verdict is Verdict.NOT_ALLOWED and "Wrong PIN" in wrong.message
    assert bench.enter_pin(LEAD_PIN).verdict is Verdict.NOT_ALLOWED  # the badge must come again first
    assert shorted(station, "SO-3") == 0 and short_events(station) == []
    # badge + the right PIN: approved, and recorded as the lead's
    assert bench.scan("LEAD-001").verdict is Verdict.NEEDS_PIN
    assert bench.enter_pin(LEAD_PIN).verdict is Verdict.SHORT_SHIPPED
    assert shorted(station, "SO-3") == 2
    [event] = short_events(station)
    assert event["actor"] == "person:Lee Lead" and json.loads(event["payload"])["packer"] == "person:Pat Packer"


def test_a_lead_badge_alone_never_approves_while_lead_pins_are_required(make_station: StationFactory) -> None:
    """A lead added without a PIN (while PINs were optional) approves nothing once they are required."""
    relaxed = make_station(security=SecurityConfig(lead_pin_required=False))
    stock(relaxed)
    hf.add_user(relaxed, "Nia Nopin", "lead", "LEAD-NOPIN", pin="")  # no PIN: allowed while not required
    # with PINs not required the badge alone approves (the documented setting)
    bench = packing_so3(relaxed)
    ask_short(bench)
    assert bench.scan("LEAD-NOPIN").verdict is Verdict.SHORT_SHIPPED
    relaxed.close()

    strict = make_station("BENCH-02")  # the default: [security] lead_pin_required = true
    bench = hf.login(strict, "PACKER-002")
    assert [bench.scan(s).verdict for s in ("SO-1", "BOX-S", TEE_EAN)] == [
        Verdict.ORDER_OPENED, Verdict.CARTON_OPENED, Verdict.ACCEPTED]
    ask_short(bench)
    refused = bench.scan("LEAD-NOPIN")
    assert refused.verdict is Verdict.NOT_ALLOWED and "need a PIN" in refused.message
    assert shorted(strict, "SO-1") == 0
    with pytest.raises(LoginRefused, match="need a PIN"):
        strict.ctx.auth.approve("LEAD-NOPIN", None, Permission.APPROVE, "A short-ship")
    with pytest.raises(PinRequired):  # a lead with a PIN: the badge alone is not enough either
        strict.ctx.auth.approve("LEAD-001", None, Permission.APPROVE, "A short-ship")
    assert strict.terminal().scan("LEAD-NOPIN").verdict is Verdict.LOGIN_REFUSED  # nor does it log in


def test_a_packers_badge_and_pin_approve_nothing(station: Station) -> None:
    hf.add_user(station, "Pia Pin", "packer", "PACKER-PIN", pin="4321")
    bench = packing_so3(station)
    ask_short(bench)
    refused = bench.scan("PACKER-PIN")
    assert refused.verdict is Verdict.NOT_ALLOWED and "not a lead's badge" in refused.message
    with pytest.raises(NotAllowed, match="lead"):
        station.ctx.auth.approve("PACKER-PIN", "4321", Permission.APPROVE, "A short-ship")
    assert shorted(station, "SO-3") == 0


# --- sessions not issued here, or edited ----------------------------------------------------------


def _forged_lead(station: Station) -> Session:
    """What any code could write: a lead's session the station's Authenticator never issued."""
    with station.uow(readonly=True) as uow:
        lead = uow.users.by_badge("LEAD-001")
    assert lead is not None
    return Session(id=str(uuid.uuid4()), kind=ActorKind.PERSON, name="Lee Lead", role=Role.LEAD,
                   station_id=station.ctx.station_id, started_at=datetime.now(UTC), user_id=lead.user.id,
                   desk=Desk.BENCH)


def _promoted_packer(station: Station) -> Session:
    """A packer's real session with its role edited."""
    return dataclasses.replace(hf.person(station, "PACKER-002"), role=Role.LEAD)


def _other_stations_lead(station: Station, make_station: StationFactory) -> Session:
    """A real lead session, but issued by another station's Authenticator (another key)."""
    return hf.person(make_station("BENCH-09"), "LEAD-001")


FORGERIES = [_forged_lead, _promoted_packer, _other_stations_lead]


@pytest.mark.parametrize("forge", FORGERIES, ids=["made-up", "role-edited", "other-station"])
def test_a_session_the_station_did_not_issue_releases_no_claim(
        station: Station, make_station: StationFactory, forge: Any) -> None:
    packing_so3(station)
    fake = forge(station, make_station) if forge is _other_stations_lead else forge(station)
    with pytest.raises(NotAllowed, match="not .*issued at this station|Log in"):
        p.release_claim(station.ctx, fake, "SO-3", "bench crashed")
    assert hf.rows(station, "orders", order_id="SO-3")[0]["claimed_by"] == "BENCH-01"


@pytest.mark.parametrize("forge", FORGERIES, ids=["made-up", "role-edited", "other-station"])
def test_a_session_the_station_did_not_issue_approves_nothing(
        station: Station, make_station: StationFactory, forge: Any) -> None:
    bench = packing_so3(station)
    fake = forge(station, make_station) if forge is _other_stations_lead else forge(station)
    pack = hf.pack_of(bench)
    with pytest.raises(NotAllowed):
        p.short_ship(station.ctx, bench.session, pack, fake, "not available at pick")
    # the bench's own path: an approval arriving with a session it did not issue
    bench.scan("CMD-SHORT")
    bench.scan("1")
    with pytest.raises(NotAllowed):
        bench.handler.approved(None, fake, "")  # type: ignore[arg-type]
    assert shorted(station, "SO-3") == 0 and short_events(station) == []
    with pytest.raises(NotAllowed):  # nor does it pack on its own
        p.claim_order(station.ctx, fake, "SO-1")


@pytest.mark.parametrize("forge", FORGERIES, ids=["made-up", "role-edited", "other-station"])
def test_a_session_the_station_did_not_issue_manages_no_users(
        station: Station, make_station: StationFactory, forge: Any) -> None:
    fake = forge(station, make_station) if forge is _other_stations_lead else forge(station)
    before = hf.rows(station, "users")
    with pytest.raises(NotAllowed):
        users.add_user(station.ctx, fake, "Eve Extra", "packer", "EVE-001")
    with pytest.raises(NotAllowed):
        users.disable_user(station.ctx, fake, "Pat Packer")
    with pytest.raises(NotAllowed):
        users.set_role(station.ctx, fake, "Pat Packer", "dispatch")
    with pytest.raises(NotAllowed):
        users.list_users(station.ctx, fake)
    with pytest.raises(NotAllowed):
        users.unlock_user(station.ctx, fake, "Pat Packer")
    assert hf.rows(station, "users") == before


@pytest.mark.parametrize("forge", FORGERIES, ids=["made-up", "role-edited", "other-station"])
def test_a_session_the_station_did_not_issue_sets_no_pin_not_even_its_own_users(
        station: Station, make_station: StationFactory, forge: Any) -> None:
    """Your own PIN you may change, but only in a session this station issued: a made-up session
    naming the lead would otherwise set the lead's PIN, then approve with it."""
    fake = forge(station, make_station) if forge is _other_stations_lead else forge(station)
    with station.uow(readonly=True) as uow:
        target = uow.users.by_badge("LEAD-001" if forge is not _promoted_packer else "PACKER-002")
    assert target is not None
    fake = dataclasses.replace(fake, user_id=target.user.id)  # the session names the user it sets
    before = hf.rows(station, "users")
    with pytest.raises(NotAllowed, match="not .*issued at this station|Log in"):
        users.set_pin(station.ctx, fake, target.user.name, "9999")
    assert hf.rows(station, "users") == before
    with pytest.raises(LoginRefused):
        station.ctx.auth.approve("LEAD-001", "9999", Permission.APPROVE, "A short-ship")


def test_your_own_pin_you_may_change_in_your_own_session(station: Station) -> None:
    pat = hf.person(station, "PACKER-002")
    users.set_pin(station.ctx, pat, pat.name, "2468")
    assert station.ctx.auth.login("PACKER-002", "2468").name == pat.name


# --- user management -----------------------------------------------------------------------------


@pytest.mark.parametrize("badge, role", [("PACKER-001", "packer"), ("DOCK-1", "dispatch"), ("RET-1", "returns")])
def test_only_leads_and_admins_manage_users(station: Station, badge: str, role: str) -> None:
    if role != "packer":
        hf.add_user(station, f"{role.title()} User", role, badge)
    who = hf.person(station, badge)
    for attempt in (lambda: users.add_user(station.ctx, who, "Eve Extra", "packer", "EVE-001"),
                    lambda: users.disable_user(station.ctx, who, "Olu Other"),
                    lambda: users.unlock_user(station.ctx, who, "Olu Other"),
                    lambda: users.set_role(station.ctx, who, "Olu Other", "lead"),
                    lambda: users.set_pin(station.ctx, who, "Olu Other", "5555"),
                    lambda: users.list_users(station.ctx, who)):
        with pytest.raises(NotAllowed, match="lead"):
            attempt()
    assert users.set_pin(station.ctx, who, who.name, "5555").name == who.name  # your own PIN you may set
    lead = hf.person(station, "LEAD-001")
    assert users.add_user(station.ctx, lead, "Eve Extra", "packer", "EVE-001").role is Role.PACKER


def test_a_lead_cannot_make_admins_change_their_own_role_or_disable_themselves(station: Station) -> None:
    lead = hf.person(station, "LEAD-001")
    with pytest.raises(NotAllowed, match="admin"):
        users.add_user(station.ctx, lead, "Ada Admin", "admin", "ADMIN-1", "9999")
    with pytest.raises(NotAllowed, match="admin"):
        users.set_role(station.ctx, lead, "Olu Other", "admin")
    with pytest.raises(UserError, match="your own role"):
        users.set_role(station.ctx, lead, "Lee Lead", "packer")
    with pytest.raises(UserError, match="disable yourself"):
        users.disable_user(station.ctx, lead, "Lee Lead")
    hf.add_user(station, "Ada Admin", "admin", "ADMIN-1", "9999")  # the command line may
    with pytest.raises(NotAllowed, match="admin"):  # and a lead cannot touch the admin
        users.disable_user(station.ctx, lead, "Ada Admin")
    assert [(u.name, u.role.value, u.active) for u in users.list_users(station.ctx, lead)] == [
        ("Ada Admin", "admin", True), ("Lee Lead", "lead", True), ("Olu Other", "packer", True),
        ("Pat Packer", "packer", True)]
    admin = hf.person(station, "ADMIN-1", "9999")  # an admin may do what the lead may not
    with pytest.raises(UserError, match="no PIN"):  # a lead needs a PIN before becoming one
        users.set_role(station.ctx, admin, "Olu Other", "lead")
    users.set_pin(station.ctx, admin, "Olu Other", "7777")
    assert users.set_role(station.ctx, admin, "Olu Other", "lead").role is Role.LEAD
    assert users.disable_user(station.ctx, admin, "Lee Lead").active is False


def test_every_user_change_is_an_event_naming_its_actor(station: Station) -> None:
    lead = hf.person(station, "LEAD-001")
    users.add_user(station.ctx, lead, "Eve Extra", "packer", "EVE-001")
    users.set_pin(station.ctx, lead, "Eve Extra", "1357")
    users.unlock_user(station.ctx, lead, "Eve Extra")
    users.set_role(station.ctx, lead, "Eve Extra", "dispatch")
    users.disable_user(station.ctx, lead, "Eve Extra")
    changes = [(e["kind"], e["actor"], json.loads(e["payload"]))
               for e in hf.rows(station, "events", order_by="seq") if e["kind"].startswith("user.")
               and e["kind"] not in ("user.login", "user.pin_failed")]
    cli = f"cli:{getpass.getuser()}"
    assert changes == [
        ("user.added", cli, {"name": "Pat Packer", "role": "packer", "pin": False}),
        ("user.added", cli, {"name": "Olu Other", "role": "packer", "pin": False}),
        ("user.added", cli, {"name": "Lee Lead", "role": "lead", "pin": True}),
        ("user.added", "person:Lee Lead", {"name": "Eve Extra", "role": "packer", "pin": False}),
        ("user.pin_set", "person:Lee Lead", {"name": "Eve Extra"}),
        ("user.unlocked", "person:Lee Lead", {"name": "Eve Extra"}),
        ("user.role_changed", "person:Lee Lead", {"name": "Eve Extra", "from": "packer", "to": "dispatch"}),
        ("user.disabled", "person:Lee Lead", {"name": "Eve Extra"}),
    ]
    assert b"1357" not in json.dumps(changes).encode()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    hf.new_station(data).close()
    path = tmp_path / "station.toml"
    path.write_text(f'data_dir = "{data}"\n', encoding="utf-8")
    return path


def test_the_command_line_acts_as_the_os_user_with_admin_authority_and_never_shows_a_badge(
        config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["--config", str(config_file), "users", *args])
        out, err = capsys.readouterr()
        return code, out + err

    badges = ("ADMIN-7788", "LEAD-4455", "PACKER-1122")
    outputs = [
        cli("add", "Ada Admin", "--role", "admin", "--badge", badges[0], "--pin-stdin", stdin="9999\n"),
        cli("add", "Lee Lead", "--role", "lead", "--badge", badges[1], "--pin-stdin", stdin="2468\n"),
        cli("add", "Pat Packer", "--role", "packer", "--badge", badges[2]),
        cli("add", "Pat Twin", "--role", "packer", "--badge", badges[2]),  # refused: the badge is taken
        cli("set-role", "Pat Packer", "--role", "dispatch"),
        cli("set-pin", "Pat Packer", "--pin-stdin", stdin="1212\n"),
        cli("unlock", "Pat Packer"),
        cli("disable", "Pat Packer"),
        cli("list"),
    ]
    assert [code for code, _ in outputs] == [0, 0, 0, 1, 0, 0, 0, 0, 0]
    text = "".join(out for _, out in outputs)
    assert not [b for b in badges if b in text], text  # masked everywhere: A••••88, L••••55, P••••22
    assert "A••••88" in text and "P••••22" in text
    from packstation.bootstrap import build_station
    from packstation.config import load_config

    with build_station(load_config(config_file), seed_demo=False) as st:
        actors = {e["actor"] for e in hf.rows(st, "events") if e["kind"].startswith("user.")}
    assert actors == {f"cli:{getpass.getuser()}"}


def test_the_desk_follows_the_role(station: Station) -> None:
    """A dispatch or returns user logged into the packing screen and packed orders before issue 8."""
    hf.add_user(station, "Dan Dispatch", "dispatch", "DOCK-1")
    hf.add_user(station, "Rita Returns", "returns", "RET-1")
    for badge, desk in (("DOCK-1", "dock"), ("RET-1", "returns")):
        terminal = station.terminal()
        terminal.scan(badge)
        assert terminal.desk is not None and terminal.desk.value == desk  # their own desk, never the bench
        assert terminal.scan("SO-1").verdict is not Verdict.ORDER_OPENED  # an order number claims nothing
        assert terminal.scan("DESK-BENCH").verdict is Verdict.NOT_ALLOWED
        with pytest.raises(NotAllowed, match="packer"):
            p.claim_order(station.ctx, terminal.session, "SO-1")
    assert hf.rows(station, "orders", order_id="SO-1")[0]["claimed_by"] is None
