"""Issue 5 features of the station window: sounds, device status, lead authorisation on the
spot, idle logout, CMD-LOGOUT and crash recovery."""

from __future__ import annotations

import wave
from dataclasses import replace

import pytest
from packstation_tests_ui import fresh_lot
from PySide6.QtCore import Qt

from packstation.adapters.devices.state import Status
from packstation.bootstrap import build_station
from packstation.config import PrinterConfig, ScannerConfig
from packstation.domain.packing import Tone, Verdict
from packstation.services import reports
from packstation.ui import sounds
from packstation.ui.weighing import SimulatedWeigher


def rows_of(window) -> list[dict[str, str]]:
    model = window.pack.model
    cols = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return [{cols[c]: model.data(model.index(r, c)) for c in range(model.columnCount())}
            for r in range(model.rowCount())]


def pack_first_unit(window, type_scan, order_id="SO-10009", carton="BOX-M"):
    type_scan(window, "PACKER-001")
    assert type_scan(window, order_id).verdict is Verdict.ORDER_OPENED
    assert type_scan(window, carton).verdict is Verdict.CARTON_OPENED
    code = rows_of(window)[0]["Barcode to scan"]
    assert type_scan(window, code).verdict is Verdict.ACCEPTED
    return code


# --- sounds -----------------------------------------------------------------------------------
def test_sound_files_are_the_generated_tones_and_all_differ(tmp_path):
    fresh = sounds.generate(tmp_path)
    frames = {}
    for path in fresh:
        shipped = sounds.SOUNDS_DIR / path.name
        assert shipped.read_bytes() == path.read_bytes(), f"{shipped} is stale: run python -m packstation.ui.sounds"
        with wave.open(str(shipped)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, sounds.RATE)
            frames[path.name] = w.readframes(w.getnframes())
    # four tones, and a sound of its own for each dock verdict (the dispatch dock) and returns desk refusal
    assert len(set(frames.values())) == len(sounds.PATTERNS) + len(sounds.VERDICT_PATTERNS) == 4 + 10 + 4


def test_sound_player_without_audio_device_still_records_each_verdict(qtbot):
    player = sounds.SoundPlayer(output_present=lambda: False)
    assert not player.available and player.reason == "no audio output device"
    player.play(Tone.ERROR)
    player.play(Tone.OK)
    assert player.played == [Tone.ERROR, Tone.OK]


def test_sound_player_reports_missing_files(qtbot, tmp_path):
    player = sounds.SoundPlayer(tmp_path, output_present=lambda: True)
    assert not player.available
    assert "sound files missing" in player.reason and "error.wav" in player.reason


def test_each_verdict_plays_its_tone_and_the_status_bar_says_why_sound_is_off(qtbot, type_scan, make_window):
    window = make_window(sounds=sounds.SoundPlayer(output_present=lambda: False))
    code = pack_first_unit(window, type_scan)
    assert window.sounds.played[-1] is Tone.OK
    type_scan(window, "5900001099990")  # not a product at all
    assert window.sounds.played[-1] is Tone.ERROR
    for _ in range(5):
        outcome = type_scan(window, code)
    assert outcome.verdict is Verdict.OVER_SCAN
    assert window.sounds.played[-1] is Tone.WARNING
    entry = window.status.entries["sound"]
    assert entry.text().startswith("○ Sound: off")
    assert entry.toolTip() == "Sound: off: no audio output device"  # the full reason, on hover


# --- status bar ---------------------------------------------------------------------------------
def test_status_bar_shows_database_scale_printers_and_wedge(qtbot, window):
    entries = window.status.entries
    qtbot.waitUntil(lambda: window.status.states["label printer"].status is Status.CONNECTED, timeout=10_000)
    assert entries["database"].text().startswith("✔ Database: ")
    assert "packstation.db" in entries["database"].toolTip()
    assert entries["scale"].text() == "✔ Scale: simulated"
    assert entries["scanner:wedge"].text() == "✔ Scanner wedge: ready"
    assert "PDF files" in entries["label printer"].toolTip()


def test_a_printer_that_refuses_shows_failed_with_the_reason(qtbot, tmp_path, make_window):
    from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator

    with TcpPrinterSimulator() as good:
        url = good.url
        cfg = build_station(replace(_cfg(tmp_path), label_printer=PrinterConfig(url=url, language="zpl")))
        try:
            window = make_window(cfg)
            qtbot.waitUntil(lambda: window.status.states["label printer"].status is Status.CONNECTED,
                            timeout=10_000)
            assert "ready" in window.status.entries["label printer"].toolTip()
            good.set_fault("refuse")
            window.devices.check_printers()
            qtbot.waitUntil(lambda: window.status.states["label printer"].status is Status.ERROR,
                            timeout=15_000)
            assert window.status.entries["label printer"].text().startswith("✖ Label printer: FAILED: ")
            assert window.status.states["label printer"].reason
            window.shutdown()
        finally:
            cfg.close()


def _cfg(tmp_path):
    from packstation.config import Config, StationConfig

    return Config(station=StationConfig(demo=True), data_dir=tmp_path / "second")


def test_serial_scanner_scans_reach_the_bench_and_its_state_shows(qtbot, tmp_path, make_window):
    from packstation.adapters.devices.simulators.pty_scanner import PtyScannerSimulator

    with PtyScannerSimulator(terminator="cr") as sim:
        st = build_station(replace(_cfg(tmp_path), scanner=ScannerConfig(serial=(sim.port,))))
        try:
            window = make_window(st)
            slot = f"scanner:{sim.port}"
            qtbot.waitUntil(lambda: window.status.states.get(slot) is not None
                            and window.status.states[slot].status is Status.CONNECTED, timeout=10_000)
            sim.scan("PACKER-001")
            qtbot.waitUntil(lambda: window.terminal.session is not None, timeout=10_000)
            assert window.band.headline.text() == "LOGGED IN"
            sim.scan("SO-10009", aim="]C0")
            qtbot.waitUntil(lambda: window.controller.bench.pack is not None, timeout=10_000)
            window.shutdown()  # stops the reader thread before the pty goes
        finally:
            st.close()


# --- lead on the spot ---------------------------------------------------------------------------
def test_short_ship_asks_a_lead_with_reasons_and_records_the_chosen_one(qtbot, type_scan, window, station, approve):
    pack_first_unit(window, type_scan)
    outcome = type_scan(window, "CMD-SHORT")
    assert outcome.verdict is Verdict.NEEDS_REASON
    panel = window.pack.lead
    assert panel.isVisible() and panel.reasons.isVisible()
    assert "Short-ship" in panel.title.text()
    item = panel.reasons.findItems("2  damaged in stock", Qt.MatchFlag.MatchExactly)[0]
    rect = panel.reasons.visualItemRect(item)
    qtbot.mouseClick(panel.reasons.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.controller.bench.lead_request.reason == "damaged in stock"
    assert window.band.headline.text() == "LEAD: SCAN YOUR BADGE"
    approved = approve(window, reason=None)
    assert approved.verdict is Verdict.SHORT_SHIPPED
    assert not panel.isVisible() and not window.approval.isVisible()
    status = reports.order_status(station.ctx, station.system_session(), "SO-10009")
    shorts = [ln for ln in status["lines"] if ln["short"]]
    assert shorts and all(ln["short_reason"] == "damaged in stock" for ln in shorts)


def test_a_scanned_number_picks_the_short_ship_reason(qtbot, type_scan, window, station, approve):
    pack_first_unit(window, type_scan)
    type_scan(window, "CMD-SHORT")
    picked = type_scan(window, "3")
    assert picked.verdict is Verdict.NEEDS_LEAD
    assert window.controller.bench.lead_request.reason == "customer changed the order"
    assert "customer changed the order" in window.band.message.text()
    assert approve(window, reason=None).verdict is Verdict.SHORT_SHIPPED
    status = reports.order_status(station.ctx, station.system_session(), "SO-10009")
    shorts = [ln for ln in status["lines"] if ln["short"]]
    assert shorts and {ln["short_reason"] for ln in shorts} == {"customer changed the order"}


def test_a_lead_badge_alone_approves_nothing_the_pin_is_asked(qtbot, type_scan, window, approve):
    pack_first_unit(window, type_scan)
    type_scan(window, "CMD-SHORT")
    type_scan(window, "1")
    asked = type_scan(window, "LEAD-001")  # typed, as anyone at the bench could
    assert asked.verdict is Verdict.NEEDS_PIN
    assert window.approval.isVisible()
    assert not any(ln.short for ln in window.controller.bench.pack.order.lines)
    wrong = approve(window, reason=None, badge=None, pin="0000")
    assert wrong.verdict is Verdict.NOT_ALLOWED and "Wrong PIN" in wrong.message
    assert not any(ln.short for ln in window.controller.bench.pack.order.lines)


def test_a_packer_badge_cannot_approve_a_short_ship(qtbot, type_scan, window):
    pack_first_unit(window, type_scan)
    type_scan(window, "CMD-SHORT")
    type_scan(window, "1")
    refused = type_scan(window, "PACKER-001")
    assert refused.verdict is Verdict.NOT_ALLOWED
    assert window.band.tone is Tone.ERROR
    assert not window.pack.lead.isVisible()


def test_blocked_carton_asks_for_a_lead_who_overrides_it(qtbot, type_scan, make_window, station, approve):
    weigher = SimulatedWeigher(delay_ms=1, noise_g=0)
    weigher.offset_g = 900
    window = make_window(weigher=weigher)
    type_scan(window, "PACKER-001")
    type_scan(window, "SO-10011")  # a single line
    type_scan(window, "BOX-M")
    for row in rows_of(window):
        for _ in range(int(row["Needed"])):
            out = type_scan(window, row["Barcode to scan"])
            while out.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL):
                out = type_scan(window, "2099-12-31" if out.verdict is Verdict.NEEDS_EXPIRY else
                                "SN-1" if out.verdict is Verdict.NEEDS_SERIAL else fresh_lot(station, window))
            assert out.verdict is Verdict.ACCEPTED
    type_scan(window, "CMD-CLOSE-CARTON")
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.CARTON_BLOCKED, timeout=10_000)
    assert window.band.headline.text() == "CARTON BLOCKED"
    assert window.pack.lead.isVisible()
    assert "BLOCKED" in window.pack.lead.title.text()
    assert "BLOCKED" in window.pack.cartons.open_carton.text()
    done = approve(window, "1")
    assert done.verdict is Verdict.ORDER_COMPLETE
    assert window.band.headline.text() == "OVERRIDDEN"
    status = reports.order_status(station.ctx, station.system_session(), "SO-10011")
    assert status["status"] == "packed"
    assert status["cartons"][0]["override_by"] == "Lee Lead"
    [overridden] = [e for e in status["events"] if e["kind"] == "carton.overridden"]
    assert overridden["actor"] == "person:Lee Lead" and overridden["data"]["reason"] == "packaging material not in the tare"

    from datetime import UTC, datetime, timedelta

    from packstation.services.stats import shift_figures

    figures = {f.user: f for f in shift_figures(station.ctx, station.system_session(),
                                                datetime.now(UTC) - timedelta(hours=1))}
    assert (figures["Pat Packer"].orders, figures["Pat Packer"].cartons) == (1, 1)  # the lead's seal counts for Pat
    assert figures["Pat Packer"].errors == {"blocked cartons": 1}
    assert "Lee Lead" not in figures or figures["Lee Lead"].orders == 0


# --- logout, idle, crash recovery -----------------------------------------------------------------
def test_cmd_logout_returns_to_the_badge_screen(qtbot, type_scan, window):
    type_scan(window, "PACKER-001")
    assert type_scan(window, "CMD-LOGOUT").verdict is Verdict.LOGGED_OUT
    assert window.pages.currentWidget() is window.login
    assert window.band.headline.text() == "LOGGED OUT"


def test_idle_logout_keeps_the_order_for_this_bench(qtbot, type_scan, tmp_path, make_window):
    from packstation.config import Config, StationConfig

    st = build_station(Config(station=StationConfig(demo=True, idle_logout_s=1), data_dir=tmp_path / "idle"))
    try:
        window = make_window(st)
        pack_first_unit(window, type_scan)
        qtbot.waitUntil(lambda: window.terminal.session is None, timeout=10_000)
        assert window.pages.currentWidget() is window.login
        assert "without a scan" in window.band.message.text()
        assert "SO-10009" in window.band.message.text()
        back = type_scan(window, "PACKER-001")
        assert back.data.get("resumed") == "SO-10009"
        assert rows_of(window)[0]["Scanned"] == "1"
        window.shutdown()
    finally:
        st.close()


def test_a_new_window_on_the_same_database_resumes_the_order_with_its_scans(qtbot, type_scan, make_window,
                                                                             station, tmp_path):
    first = make_window()
    pack_first_unit(first, type_scan)
    before = rows_of(first)
    first.shutdown()
    first.close()  # the "crash": the window is gone, the claim and scans are in the database

    again = build_station(station.settings.config)  # a fresh process would build its station the same way
    try:
        second = make_window(again)
        welcome = type_scan(second, "PACKER-001")
        assert welcome.verdict is Verdict.LOGGED_IN
        assert welcome.data["resumed"] == "SO-10009"
        assert "SO-10009 is still open at this bench" in second.band.message.text()
        assert second.pack.header.order_id.text() == "SO-10009"
        assert rows_of(second) == before
        second.shutdown()
    finally:
        again.close()


@pytest.mark.parametrize("idle_s", [0])
def test_idle_logout_can_be_switched_off(qtbot, type_scan, tmp_path, make_window, idle_s):
    from packstation.config import Config, StationConfig

    st = build_station(Config(station=StationConfig(demo=True, idle_logout_s=idle_s), data_dir=tmp_path / "x"))
    try:
        window = make_window(st)
        type_scan(window, "PACKER-001")
        assert not window.idle_timer.isActive()
        window.shutdown()
    finally:
        st.close()


def test_a_scan_the_database_refuses_shows_not_saved_and_the_database_fails(qtbot, type_scan, window, station):
    from sqlalchemy import event

    code = pack_first_unit(window, type_scan)

    def read_only(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA query_only = ON")

    event.listen(station._engine, "connect", read_only)
    station._engine.dispose()  # new connections refuse every write, like a locked-down disk
    try:
        refused = type_scan(window, code)
        assert refused.verdict is Verdict.STORAGE_FAILED
        assert window.band.headline.text() == "NOT SAVED"
        assert window.band.tone is Tone.ERROR
        assert window.status.states["database"].status is Status.ERROR
        assert window.status.entries["database"].text().startswith("✖ Database: FAILED: ")
        assert rows_of(window)[0]["Scanned"] == "1"  # nothing was counted
    finally:
        event.remove(station._engine, "connect", read_only)
        station._engine.dispose()
    assert type_scan(window, code).verdict is Verdict.ACCEPTED
    assert window.status.states["database"].status is Status.CONNECTED
    assert rows_of(window)[0]["Scanned"] == "2"


def test_a_long_status_never_squeezes_the_other_entries(qtbot, window):
    """Issue 9: after the first saved label the path squeezed every entry ("Scanner wedge: r")."""
    from packstation.adapters.devices.state import DeviceState

    long_path = "/var/lib/packstation/documents/labels/" + "SO-10009-00614141000000001234567890" * 3 + ".pdf"
    before = {slot: e.width() for slot, e in window.status.entries.items()}
    window.devices.report("label printer", DeviceState("label printer", Status.CONNECTED, f"PDF saved: {long_path}"))
    qtbot.wait(10)
    entries = window.status.entries
    assert {slot: e.width() for slot, e in entries.items()} == before
    assert entries["scanner:wedge"].text() == "✔ Scanner wedge: ready"
    assert long_path in entries["label printer"].toolTip() and long_path not in entries["label printer"].text()
