"""The station window on demo data: log in, open an order, pack it, close the carton."""

from __future__ import annotations

from PySide6.QtCore import Qt

from packstation.domain.packing import Tone, Verdict
from packstation.services import reports, users


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


def test_pin_is_asked_for_a_badge_with_a_pin(qtbot, type_scan, window, station):
    users.add_user(station.ctx.uow, "Pia Pin", "packer", "PIN-BADGE-7", pin="4321")
    outcome = type_scan(window, "PIN-BADGE-7")
    assert outcome.verdict is Verdict.NEEDS_PIN
    assert window.login.pin_box.isVisible()
    assert window.band.headline.text() == "ENTER YOUR PIN"

    window.login.pin.setFocus()
    qtbot.keyClicks(window.login.pin, "1111")
    qtbot.keyClick(window.login.pin, Qt.Key.Key_Return)
    assert window.controller.last.verdict is Verdict.LOGIN_REFUSED
    assert "Wrong PIN" in window.band.message.text()

    type_scan(window, "PIN-BADGE-7")
    window.login.pin.setFocus()
    qtbot.keyClicks(window.login.pin, "4321")
    qtbot.keyClick(window.login.pin, Qt.Key.Key_Return)
    assert window.controller.last.verdict is Verdict.LOGGED_IN
    assert "Pia Pin" in window.user_label.text()
    assert not window.login.pin_box.isVisible()


def test_pin_entered_on_the_on_screen_keypad(qtbot, type_scan, window, station):
    users.add_user(station.ctx.uow, "Tom Touch", "packer", "TOUCH-BADGE-1", pin="2580")
    assert type_scan(window, "TOUCH-BADGE-1").verdict is Verdict.NEEDS_PIN
    keypad = window.login.keys
    assert window.login.keypad.isVisible() and set(keypad) == set("0123456789") | {"⌫", "OK"}
    for key in ("2", "5", "9", "⌫", "8", "0"):
        qtbot.mouseClick(keypad[key], Qt.MouseButton.LeftButton)
    assert window.login.pin.text() == "2580"  # the backspace took the 9 back
    qtbot.mouseClick(keypad["OK"], Qt.MouseButton.LeftButton)
    assert window.controller.last.verdict is Verdict.LOGGED_IN
    assert "Tom Touch" in window.user_label.text()
    assert not window.login.keypad.isVisible()


def test_pack_a_whole_order_with_wrong_item_lots_and_expiry(qtbot, type_scan, window, station):
    type_scan(window, "PACKER-001")
    opened = type_scan(window, "SO-10001")
    assert opened.verdict is Verdict.ORDER_OPENED
    header = window.pack.header
    assert header.order_id.text() == "SO-10001"
    assert header.carrier.text().strip() != ""
    assert "Prepaid" in header.payment.text()

    rows = table_rows(window)
    session = window.bench.session
    assert [r["SKU"] for r in rows] == [ln.sku for ln in session.order.lines]
    assert all(r["Scanned"] == "0" for r in rows)
    assert type_scan(window, "BOX-L").verdict is Verdict.CARTON_OPENED
    assert "Expected" in window.pack.cartons.expected.text()

    # a product of the catalogue that is not on the order
    on_order = {r["Barcode to scan"] for r in rows}
    with station.uow(readonly=True) as uow:
        other = next(b["code"] for b in uow.select_rows("barcodes", order_by="code")
                     if b["code"].lstrip("0") not in {c.lstrip("0") for c in on_order})
    wrong = type_scan(window, other)
    assert wrong.verdict is Verdict.WRONG_ITEM
    assert window.band.headline.text() == "WRONG ITEM"
    assert window.band.tone is Tone.ERROR
    assert all(r["Scanned"] == "0" for r in table_rows(window))

    expired_once = False
    for row in rows:
        needed = int(row["Needed"])
        for unit in range(needed):
            outcome = type_scan(window, row["Barcode to scan"])
            answers = 0
            while outcome.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL):
                assert window.band.tone is Tone.PROMPT
                state = table_rows(window)[rows.index(row)]["State"]
                assert state.startswith("waiting: ")
                if outcome.verdict is Verdict.NEEDS_LOT:
                    assert window.band.headline.text() == "SCAN THE LOT"
                    outcome = type_scan(window, f"LOT{unit}A")
                elif outcome.verdict is Verdict.NEEDS_EXPIRY:
                    assert window.band.headline.text() == "SCAN THE EXPIRY DATE"
                    if not expired_once:  # an expired lot is refused, in red
                        expired_once = True
                        outcome = type_scan(window, "2001-01-31")
                        assert outcome.verdict is Verdict.EXPIRED_LOT
                        assert window.band.headline.text() == "EXPIRED LOT"
                        outcome = type_scan(window, row["Barcode to scan"])
                        continue
                    outcome = type_scan(window, "2099-12-31")
                else:
                    outcome = type_scan(window, f"SN{rows.index(row)}X{unit}")
                answers += 1
                assert answers < 5
            assert outcome.verdict is Verdict.ACCEPTED, outcome.message
            assert window.band.headline.text() == "ACCEPTED"
            assert table_rows(window)[rows.index(row)]["Scanned"] == str(unit + 1)
        assert table_rows(window)[rows.index(row)]["State"] == "✔ complete"
    assert expired_once, "no line asked for an expiry date: the expired-lot refusal was not tested"

    over = type_scan(window, rows[0]["Barcode to scan"])
    assert over.verdict is Verdict.OVER_SCAN
    assert window.band.headline.text() == "ALREADY COMPLETE"
    assert window.band.tone is Tone.WARNING

    weighing = type_scan(window, "CMD-CLOSE-CARTON")
    assert weighing.verdict is Verdict.NEEDS_WEIGHT
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.ORDER_COMPLETE, timeout=10_000)
    assert window.band.headline.text() == "ORDER COMPLETE"
    assert window.band.tone is Tone.OK
    assert window.bench.session is None
    assert window.pack.stack.currentWidget() is window.pack.idle

    status = reports.order_status(station.ctx.uow, "SO-10001")
    assert status["status"] == "packed"
    assert all(line["packed"] == line["qty"] for line in status["lines"])
    assert len(status["cartons"]) == 1


def test_cash_on_delivery_shows_the_amount_to_collect(qtbot, type_scan, window, station):
    with station.uow(readonly=True) as uow:
        cod = next(r["order_id"] for r in uow.select_rows("orders", order_by="order_id")
                   if r["payment_method"] == "cod" and r["status"] == "released")
        order = uow.load_order(cod)
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
    assert not window.bench.awaiting_weight
    assert window.bench.session.open_carton.is_open  # nothing was closed


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
        expected = window.bench.session.expected_weight(window.bench.session.open_carton)
        sim.set_weight(expected + 4)
        assert type_scan(window, "CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
        assert window.band.headline.text() == "WEIGHING…"
        qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.ORDER_COMPLETE, timeout=15_000)
        assert f"{expected + 4} g" in window.band.message.text()
        window.shutdown()
