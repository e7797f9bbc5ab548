"""User management (``services.users``) on the fake storage: who may change whom, and the trail it leaves.

Leads and admins manage users; a lead cannot create or change an admin, change their own role
or disable themselves. Every change is an event naming who made it.
"""

from __future__ import annotations

import pytest
from fakes import NOW
from warehouse import ADMIN_PIN, LEAD_PIN, OLU_PIN

from packstation.domain.identity import ActorKind, Desk, Role, Session
from packstation.services import users
from packstation.services.auth import LoginRefused, NotAllowed, UserError
from packstation.services.context import Context


@pytest.fixture
def ada(ctx: Context) -> Session:
    return ctx.auth.login("ADMIN-001", ADMIN_PIN, desk=Desk.BENCH)


def trail(ctx: Context) -> list[tuple[str, str, dict[str, object]]]:
    """(kind, actor, payload) of every user event, in order."""
    with ctx.uow(readonly=True) as uow:
        return [(e.kind, e.actor, e.payload) for e in uow.events.since(NOW) if e.kind.startswith("user.")
                and e.kind not in ("user.login", "user.pin_failed")]


def test_a_lead_adds_a_packer_and_the_event_names_the_lead(ctx: Context, lee: Session) -> None:
    sam = users.add_user(ctx, lee, "Sam New", "packer", "PACKER-003")

    assert (sam.name, sam.role, sam.badge, sam.has_pin) == ("Sam New", Role.PACKER, "PACKER-003", False)
    assert ctx.auth.login("PACKER-003").name == "Sam New"
    assert trail(ctx) == [("user.added", "person:Lee Lead", {"name": "Sam New", "role": "packer", "pin": False})]


def test_a_lead_cannot_create_an_admin_an_admin_can(ctx: Context, lee: Session, ada: Session) -> None:
    with pytest.raises(NotAllowed, match="Adding a user \\(an admin\\) needs .*admin; Lee Lead is lead"):
        users.add_user(ctx, lee, "Eve Boss", "admin", "ADMIN-002", "5555")

    users.add_user(ctx, ada, "Eve Boss", "admin", "ADMIN-002", "5555")

    assert [(k, a) for k, a, _ in trail(ctx)] == [("user.added", "person:Ada Admin")]


def test_the_refusal_reads_needs_an_admin(ctx: Context, lee: Session) -> None:
    with pytest.raises(NotAllowed, match="needs an admin;"):
        users.add_user(ctx, lee, "Eve Boss", "admin", "ADMIN-002", "5555")


def test_the_command_line_acts_as_its_os_user(ctx: Context) -> None:
    cli = ctx.auth.system(ActorKind.CLI, "root")
    users.add_user(ctx, cli, "Sam New", "packer", "PACKER-003")
    assert trail(ctx)[0][1] == "cli:root"


@pytest.mark.parametrize("who", ["PACKER-001", "DISPATCH-001", "RETURNS-001"])
def test_only_leads_and_admins_manage_users(ctx: Context, who: str) -> None:
    session = ctx.auth.login(who)
    with pytest.raises(NotAllowed, match="needs a lead"):
        users.add_user(ctx, session, "Sam New", "packer", "PACKER-003")
    with pytest.raises(NotAllowed):
        users.list_users(ctx, session)
    with pytest.raises(NotAllowed):
        users.disable_user(ctx, session, "Olu Other")
    assert trail(ctx) == []


def test_a_lead_cannot_change_their_own_role_or_disable_themselves(ctx: Context, lee: Session) -> None:
    with pytest.raises(UserError, match="cannot change your own role"):
        users.set_role(ctx, lee, "Lee Lead", "packer")
    with pytest.raises(UserError, match="cannot disable yourself"):
        users.disable_user(ctx, lee, "Lee Lead")
    assert trail(ctx) == []
    assert ctx.auth.login("LEAD-001", LEAD_PIN).role is Role.LEAD


def test_a_lead_cannot_promote_to_admin_nor_touch_an_admin(ctx: Context, lee: Session) -> None:
    with pytest.raises(NotAllowed):
        users.set_role(ctx, lee, "Olu Other", "admin")
    with pytest.raises(NotAllowed):
        users.set_role(ctx, lee, "Ada Admin", "packer")
    with pytest.raises(NotAllowed):
        users.disable_user(ctx, lee, "Ada Admin")
    with pytest.raises(NotAllowed):
        users.set_pin(ctx, lee, "Ada Admin", "1111")
    assert trail(ctx) == []


def test_a_lead_role_needs_a_pin(ctx: Context, lee: Session) -> None:
    with pytest.raises(UserError, match="A lead needs a PIN"):
        users.add_user(ctx, lee, "Nia New", "lead", "LEAD-002")
    with pytest.raises(UserError, match="Pat Packer has no PIN: set one first"):
        users.set_role(ctx, lee, "Pat Packer", "lead")


def test_every_change_is_an_event_naming_who_made_it(ctx: Context, lee: Session, ada: Session) -> None:
    users.add_user(ctx, lee, "Sam New", "packer", "PACKER-003")
    users.set_pin(ctx, lee, "Sam New", "7777")
    users.set_role(ctx, lee, "Sam New", "lead")
    users.unlock_user(ctx, ada, "Sam New")
    users.disable_user(ctx, ada, "Sam New")

    assert [(kind, actor) for kind, actor, _ in trail(ctx)] == [
        ("user.added", "person:Lee Lead"), ("user.pin_set", "person:Lee Lead"), ("user.role_changed", "person:Lee Lead"),
        ("user.unlocked", "person:Ada Admin"), ("user.disabled", "person:Ada Admin")]
    assert trail(ctx)[2][2] == {"name": "Sam New", "from": "packer", "to": "lead"}
    with pytest.raises(LoginRefused, match="disabled"):
        ctx.auth.login("PACKER-003", "7777")


def test_disabling_a_disabled_user_changes_nothing(ctx: Context, lee: Session) -> None:
    users.disable_user(ctx, lee, "Pat Packer")
    again = users.disable_user(ctx, lee, "Pat Packer")
    assert not again.active
    assert [k for k, _, _ in trail(ctx)] == ["user.disabled"]


def test_a_lead_unlocks_a_badge_locked_by_wrong_pins(ctx: Context, lee: Session) -> None:
    for _ in range(5):
        with pytest.raises(LoginRefused):
            ctx.auth.login("PACKER-002", "0000")
    with pytest.raises(LoginRefused, match="locked"):
        ctx.auth.login("PACKER-002", OLU_PIN)

    users.unlock_user(ctx, lee, "Olu Other")

    assert ctx.auth.login("PACKER-002", OLU_PIN).name == "Olu Other"


def test_anyone_may_change_their_own_pin_not_someone_elses(ctx: Context, pat: Session) -> None:
    users.set_pin(ctx, pat, "Pat Packer", "8642")
    assert ctx.auth.login("PACKER-001", "8642").name == "Pat Packer"
    with pytest.raises(NotAllowed):
        users.set_pin(ctx, pat, "Olu Other", "1111")
    assert [(k, a) for k, a, _ in trail(ctx)] == [("user.pin_set", "person:Pat Packer")]


@pytest.mark.parametrize("name, badge, says", [
    ("Pat Packer", "PACKER-009", "already a user called 'Pat Packer'"),
    ("Sam New", "PACKER-001", "badge already belongs to another user"),
    ("Sam New", "CMD-UNDO", "looks like a station command barcode"),
    ("Sam New", "DESK-DOCK", "looks like a station command barcode"),
    ("  ", "PACKER-009", "needs a name"),
    ("Sam New", "AB", "at least 3 printable characters"),
    ("Sam New", "PACKER-009", "Unknown role 'boss'"),
])
def test_bad_user_records_are_refused_saying_why(ctx: Context, lee: Session, name: str, badge: str, says: str) -> None:
    role = "boss" if "role" in says else "packer"
    with pytest.raises(UserError, match=says):
        users.add_user(ctx, lee, name, role, badge)
    assert trail(ctx) == []


def test_the_user_list_is_by_name(ctx: Context, lee: Session) -> None:
    assert [u.name for u in users.list_users(ctx, lee)] == [
        "Ada Admin", "Dee Dispatch", "Lee Lead", "Olu Other", "Pat Packer", "Rae Returns"]
