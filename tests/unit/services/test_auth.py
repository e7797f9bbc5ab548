"""Sessions, desks and PINs (``services.auth``, ``services.terminal``) on the fake storage.

A session is worth something only if this station's Authenticator issued it: a made-up or
edited one is refused by every use case. The badge decides the desk. Wrong PINs lock a badge.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import NOW, FakeDatabase, fake_context
from warehouse import ADMIN_PIN, LEAD_PIN

from packstation.domain.identity import ActorKind, Desk, Permission, Role, Session
from packstation.domain.packing import Verdict
from packstation.services import auth as auth_module
from packstation.services.auth import LoginRefused, NotAllowed, PinRequired
from packstation.services.bench import Bench
from packstation.services.context import Context
from packstation.services.terminal import ComingSoonDesk, Terminal


def logins(ctx: Context, kind: str) -> list[tuple[str | None, dict[str, object]]]:
    with ctx.uow(readonly=True) as uow:
        return [(e.user, e.payload) for e in uow.events.since(NOW) if e.kind == kind]


def terminal(ctx: Context) -> Terminal:
    return Terminal(ctx, {Desk.BENCH: Bench,
                          Desk.DOCK: lambda c, s: ComingSoonDesk(c, s, Desk.DOCK),
                          Desk.RETURNS: lambda c, s: ComingSoonDesk(c, s, Desk.RETURNS)})


# --- sessions -------------------------------------------------------------------------------------


def test_a_badge_gives_a_signed_session_and_the_login_is_recorded(ctx: Context) -> None:
    pat = ctx.auth.login("PACKER-001")

    assert (pat.name, pat.role, pat.kind, pat.station_id, pat.started_at) == (
        "Pat Packer", Role.PACKER, ActorKind.PERSON, "BENCH-01", NOW)
    assert pat.actor == "person:Pat Packer" and pat.proof
    assert ctx.auth.require(pat, Permission.PACK, "Packing") is pat
    assert logins(ctx, "user.login") == [("Pat Packer", {"station": "BENCH-01"})]


def test_a_made_up_session_is_refused(ctx: Context) -> None:
    made_up = Session(id="s-1", kind=ActorKind.PERSON, name="Lee Lead", role=Role.LEAD, station_id="BENCH-01",
                      started_at=NOW, user_id=3)
    with pytest.raises(NotAllowed, match="does not come from a session issued at this station"):
        ctx.auth.require(made_up, Permission.APPROVE, "A short-ship")


@pytest.mark.parametrize("edit", [
    {"role": Role.LEAD}, {"name": "Lee Lead"}, {"station_id": "BENCH-09"}, {"desk": Desk.DOCK}, {"user_id": 3},
    {"kind": ActorKind.CLI},
])
def test_an_edited_session_is_refused(ctx: Context, edit: dict[str, object]) -> None:
    pat = ctx.auth.login("PACKER-001")
    forged = replace(pat, **edit)  # type: ignore[arg-type]  # the proof is carried over
    with pytest.raises(NotAllowed):
        ctx.auth.require(forged, Permission.PACK, "Packing")


def test_a_session_from_another_station_is_refused(db: FakeDatabase, ctx: Context) -> None:
    elsewhere = fake_context(db, station_id="BENCH-02", auth_key=b"another station's own key")
    with pytest.raises(NotAllowed):
        ctx.auth.require(elsewhere.auth.login("PACKER-001"), Permission.PACK, "Packing")


def test_a_role_without_the_permission_is_refused_saying_who_may(ctx: Context) -> None:
    pat = ctx.auth.login("PACKER-001")
    with pytest.raises(NotAllowed, match="A reprint needs a lead; Pat Packer is packer"):
        ctx.auth.require(pat, Permission.APPROVE, "A reprint")


def test_scripts_get_system_sessions_people_do_not(ctx: Context) -> None:
    cli = ctx.auth.system(ActorKind.CLI, "root")
    assert cli.actor == "cli:root" and cli.user_name is None
    assert ctx.auth.require(cli, Permission.MANAGE_ADMINS, "Adding an admin") is cli
    with pytest.raises(ValueError, match="badge"):
        ctx.auth.system(ActorKind.PERSON, "Lee Lead")


# --- desks by role ----------------------------------------------------------------------------------


@pytest.mark.parametrize("badge, desk", [("PACKER-001", Desk.BENCH), ("DISPATCH-001", Desk.DOCK),
                                         ("RETURNS-001", Desk.RETURNS)])
def test_a_one_desk_role_gets_its_desk(ctx: Context, badge: str, desk: Desk) -> None:
    assert ctx.auth.login(badge).desk is desk


def test_a_lead_chooses_a_desk_a_packer_cannot_choose_another(ctx: Context) -> None:
    lee = ctx.auth.login("LEAD-001", LEAD_PIN)
    assert lee.desk is None
    assert ctx.auth.choose_desk(lee, Desk.DOCK).desk is Desk.DOCK
    with pytest.raises(NotAllowed, match="Pat Packer \\(packer\\) does not work at the dispatch dock"):
        ctx.auth.choose_desk(ctx.auth.login("PACKER-001"), Desk.DOCK)


def test_a_dispatch_user_gets_the_dock_screen_never_the_pack_bench(ctx: Context) -> None:
    t = terminal(ctx)

    hello = t.scan("DISPATCH-001")
    then = t.scan("SO-1")

    assert t.desk is Desk.DOCK and "dispatch dock is not available at this station yet" in hello.message
    assert then.verdict is Verdict.NOT_ALLOWED and "not available" in then.message
    with ctx.uow(readonly=True) as uow:
        assert uow.orders.claim_of("SO-1").station_id is None  # type: ignore[union-attr]


def test_a_lead_logs_in_with_badge_and_pin_then_picks_the_bench(ctx: Context) -> None:
    t = terminal(ctx)

    assert t.scan("LEAD-001").verdict is Verdict.NEEDS_PIN
    hello = t.enter_pin(LEAD_PIN)
    assert hello.verdict is Verdict.LOGGED_IN and hello.data["choose_desk"] == ["bench", "dock", "returns"]
    assert t.scan("SO-1").verdict is Verdict.NEEDS_DESK
    t.scan("DESK-BENCH")

    assert t.desk is Desk.BENCH
    assert t.scan("SO-1").verdict is Verdict.ORDER_OPENED


# --- PINs -----------------------------------------------------------------------------------------


def test_a_badge_with_a_pin_needs_the_pin(ctx: Context) -> None:
    with pytest.raises(PinRequired):
        ctx.auth.login("LEAD-001")
    assert ctx.auth.check_badge("LEAD-001").needs_pin
    assert not ctx.auth.check_badge("PACKER-001").needs_pin


def test_five_wrong_pins_lock_the_badge_for_five_minutes(ctx: Context) -> None:
    messages = []
    for _ in range(5):
        with pytest.raises(LoginRefused) as refused:
            ctx.auth.login("LEAD-001", "0000")
        messages.append(str(refused.value))

    assert messages[:4] == [f"Wrong PIN: {n} {'try' if n == 1 else 'tries'} left." for n in (4, 3, 2, 1)]
    assert "locked for 5 min" in messages[4]
    with pytest.raises(LoginRefused, match="locked after wrong PINs"):
        ctx.auth.login("LEAD-001", LEAD_PIN)  # even the right PIN, while locked
    assert [p["failures"] for _, p in logins(ctx, "user.pin_failed")] == [1, 2, 3, 4, 5]

    ctx.clock.advance(minutes=5, seconds=1)  # type: ignore[attr-defined]
    assert ctx.auth.login("LEAD-001", LEAD_PIN).name == "Lee Lead"


def test_the_right_pin_forgets_earlier_wrong_ones(ctx: Context) -> None:
    for _ in range(3):
        with pytest.raises(LoginRefused):
            ctx.auth.login("LEAD-001", "0000")
    ctx.auth.login("LEAD-001", LEAD_PIN)
    with pytest.raises(LoginRefused, match="4 tries left"):
        ctx.auth.login("LEAD-001", "0000")


def test_wrong_pins_at_an_approval_count_too(ctx: Context) -> None:
    for _ in range(5):
        with pytest.raises(LoginRefused):
            ctx.auth.approve("ADMIN-001", "9999", Permission.APPROVE, "A reprint")
    with pytest.raises(LoginRefused, match="locked"):
        ctx.auth.approve("ADMIN-001", ADMIN_PIN, Permission.APPROVE, "A reprint")


def test_the_slow_pin_check_runs_outside_any_write_transaction(db: FakeDatabase, ctx: Context,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = auth_module._pin_matches

    def watched(pin_hash: str, pin: str) -> bool:
        seen.append(db._writer.locked())  # is a write unit of work open right now?
        return real(pin_hash, pin)

    monkeypatch.setattr(auth_module, "_pin_matches", watched)
    ctx.auth.login("LEAD-001", LEAD_PIN)
    with pytest.raises(LoginRefused):
        ctx.auth.approve("LEAD-001", "0000", Permission.APPROVE, "A reprint")
    assert seen == [False, False]


def test_a_lead_without_a_pin_cannot_log_in_while_leads_need_one(db: FakeDatabase, ctx: Context) -> None:
    with ctx.uow() as uow:
        uow.users.add("Nia New", Role.LEAD, "LEAD-002", None, NOW)
        uow.commit()
    with pytest.raises(LoginRefused, match="leads and admins need a PIN"):
        ctx.auth.login("LEAD-002")
    relaxed = fake_context(db, lead_pin_required=False)
    assert relaxed.auth.login("LEAD-002").role is Role.LEAD


def test_unknown_and_disabled_badges_are_refused(ctx: Context) -> None:
    with pytest.raises(LoginRefused, match="Unknown badge"):
        ctx.auth.login("NOBODY-1")
    with ctx.uow() as uow:
        uow.users.update(uow.users.by_badge("PACKER-001").user.id, active=False)  # type: ignore[union-attr]
        uow.commit()
    with pytest.raises(LoginRefused, match="Pat Packer is disabled"):
        ctx.auth.login("PACKER-001")
