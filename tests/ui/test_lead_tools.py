"""The lead view (stuck claims, shift figures, users) and the device settings dialog."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt

from packstation.bootstrap import build_station
from packstation.config import StationConfig, load_config
from packstation.domain.packing import Verdict
from packstation.services import users
from packstation.services.stats import shift_figures
from packstation.ui.lead_view import LeadView
from packstation.ui.settings_dialog import SettingsDialog

from packstation_tests_ui import answer_prompts  # isort: skip


def cells(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def lead(station):
    """Lee Lead's session, as the login at this station gives it."""
    return station.ctx.auth.login("LEAD-001", "1234")


def pack_order(window, type_scan, order_id: str, carton: str = "BOX-L", undo_once: bool = False) -> None:
    station = window.station
    type_scan(window, order_id)
    type_scan(window, carton)
    model = window.pack.model
    for r in range(model.rowCount()):
        code = model.data(model.index(r, 2))
        for _ in range(int(model.data(model.index(r, 5)))):
            out = answer_prompts(station, window, type_scan, type_scan(window, code), serial=f"SN-{order_id}-{r}")
            assert out.verdict is Verdict.ACCEPTED, out.message
            if undo_once:
                undo_once = False
                assert type_scan(window, "CMD-UNDO").verdict is Verdict.UNDONE
                out = answer_prompts(station, window, type_scan, type_scan(window, code), serial=f"SN-{order_id}-u")
                assert out.verdict is Verdict.ACCEPTED
    type_scan(window, "CMD-CLOSE-CARTON")


def test_lead_releases_an_order_stuck_at_another_bench(qtbot, type_scan, make_window, station, tmp_path):
    other = build_station(replace(station.settings.config, station=StationConfig(id="BENCH-07", demo=True)))
    try:
        stuck = make_window(other)
        type_scan(stuck, "PACKER-001")
        type_scan(stuck, "SO-10002")
        stuck.shutdown()

        view = LeadView(station, lead(station))
        qtbot.addWidget(view)
        rows = cells(view.claims)
        assert ["SO-10002", "BENCH-07", "Pat Packer"] == rows[0][:3]
        view.release_selected()
        assert "Select an order first" in view.message.text()
        view.claims.selectRow(0)
        view.release_reason.setText("packer went home")
        qtbot.mouseClick(view.release_button, Qt.MouseButton.LeftButton)
        assert "released from BENCH-07" in view.message.text()
        assert cells(view.claims) == []  # the list shows no stale holder after the release

        here = make_window()
        type_scan(here, "PACKER-001")
        assert type_scan(here, "SO-10002").verdict is Verdict.ORDER_OPENED  # any bench may continue
    finally:
        other.close()


def test_shift_figures_per_packer_from_the_events(qtbot, type_scan, window, station):
    type_scan(window, "PACKER-001")
    pack_order(window, type_scan, "SO-10009", undo_once=True)
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.ORDER_COMPLETE, timeout=10_000)
    pack_order(window, type_scan, "SO-10011")
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.ORDER_COMPLETE, timeout=10_000)

    since = datetime.now(UTC) - timedelta(hours=1)
    figures = {f.user: f for f in shift_figures(station.ctx, lead(station), since)}
    pat = figures["Pat Packer"]
    assert pat.orders == 2
    assert pat.cartons == 2
    assert pat.items == 3 + 1 + 1  # SO-10009: 3 + 1, SO-10011: 1
    assert pat.scans == pat.items + 1  # the undone scan was a scan too
    assert pat.errors == {"undone scans": 1}
    assert pat.scans_per_hour is None  # under ten minutes of scanning: no rate yet
    assert shift_figures(station.ctx, lead(station), datetime.now(UTC) + timedelta(minutes=1)) == []

    view = LeadView(station, lead(station))
    qtbot.addWidget(view)
    row = next(r for r in cells(view.shift) if r[0] == "Pat Packer")
    # qtbot types at scanner speed: the keyboard-wedge filter takes these as scanner bursts, not typing
    assert row[1:6] == ["2", "5", "2", "—", "0"]
    assert row[6] == "undone scans: 1"


def test_lead_adds_and_disables_users(qtbot, type_scan, make_window, station):
    view = LeadView(station, lead(station))
    qtbot.addWidget(view)
    view.new_name.setText("Nina New")
    view.new_role.setCurrentText("packer")
    view.new_badge.setText("PACKER-042")
    view.new_pin.setText("12")
    view.add_user()
    assert "PIN is 4 to 12 digits" in view.message.text()
    view.new_pin.setText("2468")
    view.add_user()
    assert "Nina New added" in view.message.text()
    row = next(r for r in cells(view.users) if r[0] == "Nina New")
    assert row == ["Nina New", "packer", "P••••42", "yes", "active"]  # the badge is never shown in full
    assert "PACKER-042" not in view.message.text()
    assert all("PACKER-042" not in cell for r in cells(view.users) for cell in r)

    view.users.selectRow([r[0] for r in cells(view.users)].index("Lee Lead"))
    view.disable_selected()
    assert "cannot disable yourself" in view.message.text()
    view.users.selectRow([r[0] for r in cells(view.users)].index("Nina New"))
    view.disable_selected()
    assert "Nina New is disabled" in view.message.text()

    window = make_window()
    refused = type_scan(window, "PACKER-042")
    assert refused.verdict is Verdict.LOGIN_REFUSED and "disabled" in refused.message


def test_a_lead_cannot_create_an_admin(qtbot, station):
    view = LeadView(station, lead(station))
    qtbot.addWidget(view)
    view.new_name.setText("Ada Admin")
    view.new_role.setCurrentText("admin")
    view.new_badge.setText("ADMIN-9")
    view.new_pin.setText("9999")
    view.add_user()
    assert "admin" in view.message.text().lower() and "Ada Admin" not in [r[0] for r in cells(view.users)]


def test_the_users_tab_unlocks_a_locked_badge(qtbot, type_scan, make_window, station):
    from packstation.services.auth import LoginRefused

    users.add_user(station.ctx, station.system_session(), "Pia Pin", "packer", "PIN-7", pin="4321")
    for _ in range(5):
        try:
            station.ctx.auth.login("PIN-7", "0000")
        except LoginRefused:
            pass
    view = LeadView(station, lead(station))
    qtbot.addWidget(view)
    names = [r[0] for r in cells(view.users)]
    assert cells(view.users)[names.index("Pia Pin")][4].startswith("LOCKED")
    view.users.selectRow(names.index("Pia Pin"))
    qtbot.mouseClick(view.unlock_button, Qt.MouseButton.LeftButton)
    assert "unlocked" in view.message.text()
    assert cells(view.users)[names.index("Pia Pin")][4] == "active"
    assert station.ctx.auth.login("PIN-7", "4321").name == "Pia Pin"


def test_lead_buttons_show_only_for_a_lead(qtbot, type_scan, window, login_lead):
    type_scan(window, "PACKER-001")
    assert not window.lead_button.isVisible()
    type_scan(window, "CMD-LOGOUT")
    login_lead(window)
    assert window.lead_button.isVisible() and window.settings_button.isVisible()


def test_settings_dialog_tests_a_real_scale_and_saves_the_config(qtbot, station, tmp_path):
    from packstation.adapters.devices.simulators.pty_scale import PtyScaleSimulator
    from packstation.bootstrap import SettingsStore

    dialog = SettingsDialog(SettingsStore(replace(station.settings.config, source=tmp_path / "bench.toml")))
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.found.text().startswith("Looking"), timeout=15_000)
    with PtyScaleSimulator("mt-sics", grams=2350) as sim:
        dialog.scale_protocol.setCurrentText("mt-sics")
        dialog.scale_port.setCurrentText(sim.port)
        dialog.test_scale()
        qtbot.waitUntil(lambda: "Scale reads" in dialog.result.text() or "Scale:" in dialog.result.text(),
                        timeout=15_000)
        assert "Scale reads 2350 g (stable)" in dialog.result.text()
        port = sim.port
    dialog.label_url.setCurrentText("tcp://192.0.2.10:9100")
    dialog.label_language.setCurrentText("zpl")
    dialog.scanners.setText("/dev/ttyACM0, socket://127.0.0.1:4000")
    dialog.save()
    assert dialog.saved_to == tmp_path / "bench.toml"
    saved = load_config(tmp_path / "bench.toml")
    assert saved.scale.protocol == "mt-sics" and saved.scale.port == port
    assert saved.label_printer.url == "tcp://192.0.2.10:9100" and saved.label_printer.language == "zpl"
    assert saved.scanner.serial == ("/dev/ttyACM0", "socket://127.0.0.1:4000")
    assert saved.station == station.settings.config.station


def test_settings_dialog_shows_why_a_scale_cannot_be_read(qtbot, station, tmp_path):
    dialog = SettingsDialog(station.settings)
    qtbot.addWidget(dialog)
    dialog.scale_protocol.setCurrentText("mt-sics")
    dialog.scale_port.setCurrentText(str(tmp_path / "missing-tty"))
    dialog.test_scale()
    qtbot.waitUntil(lambda: dialog.result.text().startswith("STOP: Scale:"), timeout=15_000)
    assert "missing-tty" in dialog.result.text()
    dialog.reject()


def test_settings_dialog_keeps_the_protocol_default_baud_rate_and_checks_before_saving(qtbot, station, tmp_path):
    """Issue 9: the dialog showed baud 300 for 0 (protocol default), saved baudrate = 300 and port = ""."""
    from packstation.bootstrap import SettingsStore

    path = tmp_path / "bench.toml"
    dialog = SettingsDialog(SettingsStore(replace(station.settings.config, source=path)))
    qtbot.addWidget(dialog)
    assert dialog.scale_baud.currentText() == "protocol default"
    dialog.scale_protocol.setCurrentText("mt-sics")
    dialog.scale_port.setCurrentText("")
    dialog.label_url.setCurrentText("tcp://")
    dialog.save()
    assert not path.exists()
    assert "needs its port" in dialog.result.text() and "has no host" in dialog.result.text()
    dialog.scale_port.setCurrentText("/dev/ttyUSB0")
    dialog.label_url.setCurrentText("")
    dialog.save()
    saved = load_config(path)
    assert saved.scale.baudrate == 0 and saved.scale.port == "/dev/ttyUSB0"
