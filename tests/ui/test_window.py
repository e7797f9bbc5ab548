"""The station window on demo data: log in, open an order, pack it, close the carton."""

from __future__ import annotations

from PySide6.QtCore import Qt

from packstation.domain.identity import ActorKind, Desk, Role
from packstation.domain.packing import Tone, Verdict
from packstation.services import reports, users

from packstation_tests_ui import other_barcode, stock_lots  # isort: skip


def table_rows(window) -> list[dict[str, str]]:
    model = window.pack.model
    cols = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return [
        {cols[c]: model.data(model.index(r, c)) for c in range(model.columnCount())}
        for r in range(model.rowCount())
    ]


def test_login_screen_shows_demo_badges_and_logs_in(qtbot, type_scan, window):
    assert window.pages.currentWidget() is window.login
    assert window.login.title.text() == "Scan your badge"
    assert "PACKER-001" in window.login.demo_hint.text()
    assert "LEAD-001" in window.login.demo_hint.text()
    assert "PIN <b><tt>1234</tt></b>" in window.login.demo_hint.text()  # the demo lead's PIN is shown (issue 8)

    outcome = type_scan(window, "PACKER-001")

    assert outcome.verdict is Verdict.LOGGED_IN
    assert window.pages.currentWidget() is window.pack
    assert "Pat Packer" in window.user_label.text()
    assert window.band.headline.text() == "LOGGED IN"
    assert "SO-1000" in window.pack.hint.text()  # demo orders offered to type


def test_unknown_badge_is_refused_in_words(qtbot, type_scan, window):
    outcome = type_scan(window, "NOBODY-999")
    assert outcome.verdict is Verdict.LOGIN_REFUSED
    assert window.band.tone is Tone.ERROR
    assert window.band.headline.text() == "LOGIN REFUSED"
    assert "Unknown badge" in window.band.message.text()
    assert window.pages.currentWidget() is window.login


def _enter_pin(qtbot, window, pin: str) -> None:
    before = window.controller.last
    window.login.pin.setFocus()
    qtbot.keyClicks(window.login.pin, pin)
    qtbot.keyClick(window.login.pin, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.controller.last is not before and not window.controller.checking_pin, timeout=10_000)


def test_pin_is_asked_for_a_badge_with_a_pin(qtbot, type_scan, window, station):
    users.add_user(station.ctx, station.system_session(), "Pia Pin", "packer", "PIN-BADGE-7", pin="4321")
    outcome = type_scan(window, "PIN-BADGE-7")
    assert outcome.verdict is Verdict.NEEDS_PIN
    assert window.login.pin_panel.isVisible()
    assert window.band.headline.text() == "ENTER YOUR PIN"

    _enter_pin(qtbot, window, "1111")
    assert window.controller.last.verdict is Verdict.LOGIN_REFUSED
    assert "Wrong PIN" in window.band.message.text()

    type_scan(window, "PIN-BADGE-7")
    _enter_pin(qtbot, window, "4321")
    assert window.controller.last.verdict is Verdict.LOGGED_IN
    assert "Pia Pin" in window.user_label.text()
    assert not window.login.pin_panel.isVisible()


def test_the_pin_is_checked_off_the_gui_thread(qtbot, type_scan, window, station, monkeypatch):
    """While argon2 verifies (slow on purpose), the window keeps painting and handling events."""
    import threading

    from packstation.services import auth

    users.add_user(station.ctx, station.system_session(), "Pia Pin", "packer", "PIN-BADGE-7", pin="4321")
    release = threading.Event()
    gui_thread = threading.current_thread()
    seen: list[threading.Thread] = []
    real = auth._pin_matches

    def slow(pin_hash: str, pin: str) -> bool:
        seen.append(threading.current_thread())
        release.wait(10)
        return real(pin_hash, pin)

    monkeypatch.setattr(auth, "_pin_matches", slow)
    type_scan(window, "PIN-BADGE-7")
    window.login.pin.setFocus()
    qtbot.keyClicks(window.login.pin, "4321")
    qtbot.keyClick(window.login.pin, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(seen), timeout=5_000)
    assert seen[0] is not gui_thread
    assert window.controller.checking_pin and window.band.headline.text() == "CHECKING PIN…"
    qtbot.wait(50)  # the event loop runs while the check waits
    release.set()
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.LOGGED_IN, timeout=10_000)


def test_pin_entered_on_the_on_screen_keypad(qtbot, type_scan, window, station):
    users.add_user(station.ctx, station.system_session(), "Tom Touch", "packer", "TOUCH-BADGE-1", pin="2580")
    assert type_scan(window, "TOUCH-BADGE-1").verdict is Verdict.NEEDS_PIN
    keypad = window.login.keys
    assert window.login.pad.keypad.isVisible() and set(keypad) == set("0123456789") | {"⌫", "OK"}
    for key in ("2", "5", "9", "⌫", "8", "0"):
        qtbot.mouseClick(keypad[key], Qt.MouseButton.LeftButton)
    assert window.login.pin.text() == "2580"  # the backspace took the 9 back
    qtbot.mouseClick(keypad["OK"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.LOGGED_IN, timeout=10_000)
    assert "Tom Touch" in window.user_label.text()
    assert not window.login.pad.keypad.isVisible()


def test_roles_get_their_desk_never_the_pack_bench(qtbot, type_scan, window):
    # the dispatch dock (issue 11): its own page; an order number scanned there claims nothing
    assert type_scan(window, "DISPATCH-001").verdict is Verdict.LOGGED_IN
    assert window.pages.currentWidget() is window.dock and window.controller.bench is None
    assert type_scan(window, "SO-10009").verdict is Verdict.UNKNOWN_CODE
    assert window.terminal.handler.view().manifest is None
    assert type_scan(window, "CMD-LOGOUT").verdict is Verdict.LOGGED_OUT
    for badge, page in (("RETURNS-001", "returns_page"),):  # the returns desk (issue 12)
        outcome = type_scan(window, badge)
        assert outcome.verdict is Verdict.LOGGED_IN
        assert window.pages.currentWidget() is getattr(window, page)
        assert window.controller.bench is None
        refused = type_scan(window, "SO-10009")  # an order scanned at the returns desk claims nothing
        assert refused.verdict is Verdict.RETURN_REFUSED  # (it has not shipped: nothing can come back)
        assert type_scan(window, "CMD-LOGOUT").verdict is Verdict.LOGGED_OUT
    type_scan(window, "LEAD-001")
    _enter_pin(qtbot, window, "1234")
    assert window.pages.currentWidget() is window.desks
    assert all(button.isVisible() for button in window.desks.buttons.values())
    qtbot.mouseClick(window.desks.buttons[Desk.BENCH], Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is window.pack
    assert "Pack bench" in window.user_label.text()


def test_pack_a_whole_order_with_wrong_item_lots_and_expiry(qtbot, type_scan, window, station):
    type_scan(window, "PACKER-001")
    opened = type_scan(window, "SO-10001")
    assert opened.verdict is Verdict.ORDER_OPENED
    header = window.pack.header
    assert header.order_id.text() == "SO-10001"
    assert header.carrier.text().strip() != ""
    assert "Prepaid" in header.payment.text()

    rows = table_rows(window)
    pack = window.controller.bench.pack
    assert [r["SKU"] for r in rows] == [ln.sku for ln in pack.order.lines]
    assert all(r["Scanned"] == "0" for r in rows)
    assert type_scan(window, "BOX-L").verdict is Verdict.CARTON_OPENED
    assert "Expected" in window.pack.cartons.expected.text()

    # a product of the catalogue that is not on the order
    wrong = type_scan(window, other_barcode({r["Barcode to scan"] for r in rows}))
    assert wrong.verdict is Verdict.WRONG_ITEM
    assert window.band.headline.text() == "WRONG ITEM"
    assert window.band.tone is Tone.ERROR
    assert all(r["Scanned"] == "0" for r in table_rows(window))

    expired_once = False
    for row in rows:
        needed = int(row["Needed"])
        fresh, expired = stock_lots(station, row["SKU"])
        for unit in range(needed):
            outcome = type_scan(window, row["Barcode to scan"])
            answers = 0
            while outcome.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL):
                assert window.band.tone is Tone.PROMPT
                state = table_rows(window)[rows.index(row)]["State"]
                assert state.startswith("waiting: ")
                if outcome.verdict is Verdict.NEEDS_LOT:
                    assert window.band.headline.text() == "SCAN THE LOT"
                    if expired and not expired_once:  # an expired lot (by the stock records) is refused, in red
                        expired_once = True
                        outcome = type_scan(window, expired[0])
                        assert outcome.verdict is Verdict.EXPIRED_LOT
                        assert window.band.headline.text() == "EXPIRED LOT"
                        outcome = type_scan(window, row["Barcode to scan"])
                        continue
                    outcome = type_scan(window, fresh[0])
                elif outcome.verdict is Verdict.NEEDS_EXPIRY:
                    assert window.band.headline.text() == "SCAN THE EXPIRY DATE"
                    outcome = type_scan(window, "2099-12-31")
                else:
                    outcome = type_scan(window, f"SN{rows.index(row)}X{unit}")
                answers += 1
                assert answers < 5
            assert outcome.verdict is Verdict.ACCEPTED, outcome.message
            assert window.band.headline.text() == "ACCEPTED"
            assert table_rows(window)[rows.index(row)]["Scanned"] == str(unit + 1)
        assert table_rows(window)[rows.index(row)]["State"] == "✔ complete"
    assert expired_once  # SO-10001 has a lot + expiry line with an expired lot in stock

    over = type_scan(window, rows[0]["Barcode to scan"])
    assert over.verdict is Verdict.OVER_SCAN
    assert window.band.headline.text() == "ALREADY COMPLETE"
    assert window.band.tone is Tone.WARNING

    weighing = type_scan(window, "CMD-CLOSE-CARTON")
    assert weighing.verdict is Verdict.NEEDS_WEIGHT
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.ORDER_COMPLETE, timeout=10_000)
    assert window.band.headline.text() == "ORDER COMPLETE"
    assert window.band.tone is Tone.OK
    assert window.controller.bench.pack is None
    assert window.pack.stack.currentWidget() is window.pack.idle

    status = reports.order_status(station.ctx, station.system_session(), "SO-10001")
    assert status["status"] == "packed"
    assert all(line["packed"] == line["qty"] for line in status["lines"])
    assert len(status["cartons"]) == 1


def test_cash_on_delivery_shows_the_amount_to_collect(qtbot, type_scan, window, station):
    from packstation.demo import catalog, orders

    cod = next(o["order_id"] for o in orders(catalog()) if o["payment"]["method"] == "cod")
    with station.uow(readonly=True) as uow:
        order = uow.orders.get(cod)
    assert order is not None and order.status.value == "released"
    type_scan(window, "PACKER-001")
    assert type_scan(window, cod).verdict is Verdict.ORDER_OPENED
    text = window.pack.header.payment.text()
    assert "CASH ON DELIVERY" in text
    assert f"{order.currency} {order.total:.2f}" in text


def test_window_shows_the_scale_error_and_lets_the_packer_retry(qtbot, type_scan, make_window, station, tmp_path):
    from packstation.config import ScaleConfig
    from packstation.ui.weighing import ScaleWeigher

    missing = tmp_path / "no-such-scale"
    weigher = ScaleWeigher(ScaleConfig(port=str(missing), protocol="mt-sics", stable_timeout_s=1.0))
    window = make_window(weigher=weigher)
    type_scan(window, "PACKER-001")
    type_scan(window, "SO-10009")
    type_scan(window, "BOX-M")
    barcode = table_rows(window)[0]["Barcode to scan"]
    assert type_scan(window, barcode).verdict is Verdict.ACCEPTED
    assert type_scan(window, "CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
    qtbot.waitUntil(lambda: window.band.headline.text() == "SCALE ERROR", timeout=15_000)
    assert window.band.tone is Tone.ERROR
    assert "CMD-CLOSE-CARTON" in window.band.message.text()
    assert not window.controller.bench.awaiting_weight
    assert window.controller.bench.pack.open_carton.is_open  # nothing was closed


def test_carton_closes_on_a_real_serial_scale_off_the_gui_thread(qtbot, type_scan, make_window):
    """MT-SICS scale simulator on a pty: the window asks, the worker reads, the carton closes."""
    from packstation.adapters.devices.simulators.pty_scale import PtyScaleSimulator
    from packstation.config import ScaleConfig
    from packstation.ui.weighing import ScaleWeigher

    with PtyScaleSimulator("mt-sics") as sim:
        weigher = ScaleWeigher(ScaleConfig(port=sim.port, protocol="mt-sics", stable_timeout_s=5.0))
        window = make_window(weigher=weigher)
        type_scan(window, "PACKER-001")
        type_scan(window, "SO-10009")
        type_scan(window, "BOX-M")
        for row in table_rows(window):
            for _ in range(int(row["Needed"])):
                assert type_scan(window, row["Barcode to scan"]).verdict is Verdict.ACCEPTED
        pack = window.controller.bench.pack
        expected = pack.expected_weight(pack.open_carton)
        sim.set_weight(expected + 4)
        assert type_scan(window, "CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
        assert window.band.headline.text() == "WEIGHING…"
        qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.ORDER_COMPLETE, timeout=15_000)
        assert f"{expected + 4} g" in window.band.message.text()
        window.shutdown()


def test_a_code_typed_by_hand_into_the_scan_line_is_recorded_as_typed(qtbot, type_scan, window, station):
    """Issue 8: every scan records its source. A scanner's burst is ``wedge``; the same barcode
    typed key by key (slower than wedge_max_interval_ms) into the scan line is ``typed``."""
    from packstation.demo import catalog, orders
    from packstation.domain.model import Tracking
    from packstation.services.reports import order_status

    with station.uow(readonly=True) as uow:
        def plain_lines(order_id: str) -> list:
            order = uow.orders.get(order_id)
            if order is None or order.status.value != "released":
                return []
            products = uow.catalog.products(ln.sku for ln in order.lines)
            return [ln for ln in order.lines if products[ln.sku].tracking is Tracking.NONE and products[ln.sku].barcodes]
        order_id = next(o["order_id"] for o in orders(catalog()) if len(plain_lines(o["order_id"])) >= 2)
    type_scan(window, "PACKER-001")
    assert type_scan(window, order_id).verdict is Verdict.ORDER_OPENED
    assert type_scan(window, "BOX-L").verdict is Verdict.CARTON_OPENED
    pack = window.controller.bench.pack
    plain = [ln for ln in pack.order.lines if pack.products[ln.sku].tracking is Tracking.NONE]
    first, second = (pack.products[ln.sku].barcodes[0] for ln in plain[:2])
    assert type_scan(window, first).verdict is Verdict.ACCEPTED  # a burst: the scanner
    before = window.controller.last
    window.scan_edit.setFocus()
    qtbot.keyClicks(window.scan_edit, second, delay=80)  # a person: 80 ms between keys
    qtbot.keyClick(window.scan_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.controller.last is not before, timeout=5_000)
    assert window.controller.last.verdict is Verdict.ACCEPTED
    admin = station.ctx.auth.system(ActorKind.CLI, "test", Role.ADMIN)
    status = {ln["sku"]: ln for ln in order_status(station.ctx, admin, order_id)["lines"]}
    assert [[s["source"] for s in status[ln.sku]["scans"]] for ln in plain[:2]] == [["wedge"], ["typed"]]
