"""Every serial scale protocol against its pty simulator, including each fault."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from packstation.adapters.devices.scale_errors import (
    ScaleBelowZero,
    ScaleConfigError,
    ScaleDisconnected,
    ScaleFault,
    ScaleGarbage,
    ScaleNoAnswer,
    ScaleNotSettled,
    ScaleOverCapacity,
    ScaleUnsupported,
)
from packstation.adapters.devices.scale_protocols import CAS, MT_SICS, PROTOCOLS
from packstation.adapters.devices.scales import SimulatedScale, open_scale
from packstation.adapters.devices.serial_scale import SerialScale
from packstation.config import ScaleConfig

ALL = ["mt-sics", "toledo-8217", "cas", "adam"]


@pytest.fixture
def scale_for(scale_sim):
    opened = []

    def make(protocol: str, grams: int = 0, unit: str | None = None, **kw):
        sim = scale_sim(protocol, grams, **({"unit": unit} if unit else {}), **kw)
        scale = open_scale(
            ScaleConfig(port=sim.port, protocol=protocol, unit=unit or "kg", stable_timeout_s=3.0)
        )
        opened.append(scale)
        return sim, scale

    yield make
    for scale in opened:
        scale.close()


@pytest.mark.parametrize("protocol", ALL)
def test_stable_weight_in_grams(scale_for, protocol):
    sim, scale = scale_for(protocol, 1234)
    assert scale.read_stable() == 1234
    sim.set_weight(25_000)
    assert scale.read_stable() == 25_000
    reading = scale.read()
    assert reading.stable and reading.grams == 25_000


@pytest.mark.parametrize("protocol", ALL)
def test_waits_for_motion_to_settle(scale_for, protocol):
    sim, scale = scale_for(protocol, 800)
    sim.set_motion(0.3)
    assert scale.read_stable(timeout_s=5) == 800


@pytest.mark.parametrize("protocol", ["mt-sics", "toledo-8217", "cas"])
def test_never_settles_is_its_own_error(scale_for, protocol):
    sim, scale = scale_for(protocol, 800)
    sim.set_motion(True)
    with pytest.raises(ScaleNotSettled, match="never settled within 0.4 s"):
        scale.read_stable(timeout_s=0.4)
    assert scale.read().stable is False


def test_adam_silence_while_moving_is_explained(scale_for):
    sim, scale = scale_for("adam", 800)
    sim.set_motion(True)
    with pytest.raises(ScaleNoAnswer, match="stays silent while the weight moves"):
        scale.read_stable(timeout_s=0.5)


@pytest.mark.parametrize("protocol", ["mt-sics", "toledo-8217", "cas"])
def test_over_capacity(scale_for, protocol):
    sim, scale = scale_for(protocol, 800)
    sim.set_overload(True)
    with pytest.raises(ScaleOverCapacity, match="over capacity"):
        scale.read_stable(timeout_s=2)


@pytest.mark.parametrize("protocol", ALL)
def test_below_zero(scale_for, protocol):
    sim, scale = scale_for(protocol, -35)
    with pytest.raises(ScaleBelowZero, match="below zero"):
        scale.read_stable(timeout_s=2)


@pytest.mark.parametrize("protocol", ALL)
def test_no_answer(scale_for, protocol):
    sim, scale = scale_for(protocol, 800)
    sim.set_silent(True)
    with pytest.raises(ScaleNoAnswer, match="no answer from the scale on .*switched on"):
        scale.read_stable(timeout_s=1.5)


@pytest.mark.parametrize("protocol", ALL)
def test_garbage_on_the_line(scale_for, protocol):
    sim, scale = scale_for(protocol, 800)
    sim.set_garbage(True)
    with pytest.raises(ScaleGarbage, match=f"set to the {protocol} protocol.*baud rate"):
        scale.read_stable(timeout_s=2)
    sim.set_garbage(False)
    assert scale.read_stable(timeout_s=2) == 800  # the line recovers, so does the reader


@pytest.mark.parametrize(("unit", "grams"), [("lb", 2268), ("oz", 340), ("g", 1501), ("kg", 1501)])
def test_units_on_the_wire_become_grams(scale_for, unit, grams):
    sim, scale = scale_for("mt-sics", grams, unit=unit)
    # the simulator shows 3 decimals in lb / oz, so allow the display rounding
    assert abs(scale.read_stable() - grams) <= 1


def test_toledo_unit_comes_from_config(scale_for):
    sim, scale = scale_for("toledo-8217", 4536, unit="lb")  # sends 10.00 (lb), no unit
    assert scale.read_stable() == 4536


def test_cas_short_form(scale_for):
    sim, scale = scale_for("cas", 2750, long_form=False)
    assert scale.read_stable() == 2750


def test_cas_22_byte_form(scale_for):
    sim, scale = scale_for("cas", 2750, cas_format="22")
    assert scale.read_stable() == 2750
    sim.set_motion(True)
    assert scale.read().stable is False
    sim.set_motion(False)
    sim.set_overload(True)
    with pytest.raises(ScaleOverCapacity):
        scale.read_stable(timeout_s=1)


@pytest.mark.parametrize("layout", ["format2", "format1", "stgs"])
@pytest.mark.parametrize("unit", ["g", "kg", "lb"])
def test_adam_print_layouts(scale_for, layout, unit):
    sim, scale = scale_for("adam", 1361, unit=unit, adam_format=layout)
    assert abs(scale.read_stable() - 1361) <= 1  # lb is shown with 3 decimals: display rounding


def test_toledo_tare_gives_net_weights(scale_for):
    sim, scale = scale_for("toledo-8217", 400)
    scale.tare()
    sim.set_weight(1650)
    assert scale.read_stable() == 1250
    sim.set_motion(True)  # a moving tared scale is moving, not over capacity
    assert scale.read().stable is False
    with pytest.raises(ScaleNotSettled):
        scale.read_stable(timeout_s=0.4)


@pytest.mark.parametrize("protocol", ["mt-sics", "toledo-8217", "adam"])
def test_zero_and_tare(scale_for, protocol):
    sim, scale = scale_for(protocol, 300)
    scale.zero()
    assert scale.read_stable() == 0
    sim.set_weight(800)
    assert scale.read_stable() == 500
    scale.tare()
    assert scale.read_stable() == 0  # also makes sure the tare was processed
    sim.set_weight(1000)
    assert scale.read_stable() == 200
    assert sim.commands.count(PROTOCOLS[protocol].tare) == 1


def test_mt_sics_refuses_zero_while_moving(scale_for):
    sim, scale = scale_for("mt-sics", 300)
    sim.set_motion(True)
    with pytest.raises(ScaleFault, match="could not zero"):
        scale.zero()


def test_cas_has_no_remote_commands(scale_for):
    _sim, scale = scale_for("cas", 300)
    with pytest.raises(ScaleUnsupported, match="press TARE on the scale"):
        scale.tare()


def test_a_line_that_echoes_our_commands_is_garbage_not_a_weight():
    """loop:// echoes what we send (like a loopback plug in place of the scale)."""
    scale = SerialScale("loop://", MT_SICS)
    try:
        with pytest.raises(ScaleGarbage, match="SI"):
            scale.read_stable(timeout_s=1)
    finally:
        scale.close()


def test_rejected_command_reply(scale_sim):
    sim = scale_sim("mt-sics", 100)
    scale = SerialScale(sim.port, MT_SICS)
    try:
        scale._send(b"XYZ")  # the simulator answers ES, as a balance does
        frame = scale._next_frame(time.monotonic() + 2)
        assert frame == b"ES"
        with pytest.raises(ScaleFault, match="rejected the command"):
            scale._raise_for(scale._classify(frame)[0], frame)
    finally:
        scale.close()


def test_cas_over_socket_url():
    """socket:// works like a device path (a scale behind a serial-to-Ethernet box)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def serve():
        conn, _ = server.accept()
        with conn:
            for _ in range(20):
                try:
                    conn.sendall(b"US,GS,+  1.000kg\r\n" if _ < 3 else b"ST,NT,+  0.750kg\r\n")
                except OSError:
                    return
                time.sleep(0.02)

    t = threading.Thread(target=serve)
    t.start()
    scale = SerialScale(f"socket://127.0.0.1:{port}", CAS)
    try:
        assert scale.read_stable(timeout_s=3) == 750
    finally:
        scale.close()
        t.join(5)
        server.close()


def test_open_scale_errors_are_actionable(tmp_path):
    with pytest.raises(ScaleConfigError, match="no port is set"):
        open_scale(ScaleConfig(protocol="mt-sics", port=""))
    with pytest.raises(ScaleConfigError, match="unknown; use one of: mt-sics"):
        open_scale(ScaleConfig(protocol="sartorius", port="/dev/ttyS9"))
    with pytest.raises(ScaleDisconnected, match="cannot open the scale port"):
        open_scale(ScaleConfig(protocol="cas", port=str(tmp_path / "nope")))
    assert isinstance(open_scale(ScaleConfig()), SimulatedScale)


def test_simulated_scale_for_the_demo():
    scale = SimulatedScale(stable_timeout_s=0.2)
    scale.set_weight(1500)
    assert scale.read_stable() == 1500
    scale.tare()
    scale.set_weight(1700)
    assert scale.read_stable() == 200
    scale.set_motion(True)
    with pytest.raises(ScaleNotSettled):
        scale.read_stable()
    scale.set_motion(False)
    scale.set_overload(True)
    with pytest.raises(ScaleOverCapacity):
        scale.read_stable()
    scale.set_overload(False)
    scale.zero()
    scale.set_weight(1600)
    with pytest.raises(ScaleBelowZero):
        scale.read_stable()


def test_a_scale_port_in_use_is_refused_with_a_reason(scale_for):
    sim, _scale = scale_for("mt-sics", 100)  # the first one holds the port
    with pytest.raises(ScaleDisconnected, match="another `devices read-scale`"):
        open_scale(ScaleConfig(port=sim.port, protocol="mt-sics"))


@pytest.mark.parametrize("protocol", ALL)
def test_an_unplugged_scale_is_reported_as_disconnected(scale_for, protocol):
    """A pulled cable must surface as ScaleDisconnected (so the worker reopens the port later),
    not as termios.error from flushing a dead port."""
    sim, scale = scale_for(protocol, 1234)
    assert scale.read_stable() == 1234
    sim.stop()  # the simulator's pty closes: the device is gone
    with pytest.raises(ScaleDisconnected):
        scale.read_stable(timeout_s=1.0)
