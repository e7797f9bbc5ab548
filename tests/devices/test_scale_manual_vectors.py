"""Serial scale replies copied from the manufacturers' manuals, fed to the real driver.

Every reply below is spelled out byte for byte from a document (cited at each group), and a
scripted loopback peer (``socket://``) sends it; nothing comes from our simulator, which had
the same mistakes as the parser (issue 9). The last tests check the simulator's own bytes
against the same documents, so it cannot drift from them unnoticed either.
"""

from __future__ import annotations

import re

import pytest

from packstation.adapters.devices.scale_errors import (
    ScaleBelowZero,
    ScaleFault,
    ScaleNoAnswer,
    ScaleOverCapacity,
)
from packstation.adapters.devices.scale_protocols import ADAM, CAS, TOLEDO_8217
from packstation.adapters.devices.serial_scale import SerialScale
from packstation.adapters.devices.simulators.pty_scale import PtyScaleSimulator


@pytest.fixture
def open_scale():
    opened: list[SerialScale] = []

    def make(url, protocol, **kw):
        scale = SerialScale(url, protocol, stable_timeout_s=2.0, **kw)
        opened.append(scale)
        return scale

    yield make
    for scale in opened:
        scale.close()


# --- Toledo 8217 ------------------------------------------------------------------------------
# Mettler Toledo DIVA Service Manual (72191202), 6.1.4.2 "Command Descriptions": W answers
# "STX WW.WWW CR" (kg), "STX 0WW.WW CR" (lb), "N" appended for a net weight, or "STX ? status
# byte CR" when the scale is in motion, the weight negative or over capacity; Z, T and C answer
# "STX ? status byte CR". 6.1.4.3 "Scale Status Byte Bit Definitions": bit 0 scale in motion,
# 1 over capacity, 2 under zero, 3 outside zero capture range, 4 centre of zero, 5 net weight,
# 6 always 1, 7 parity. Odoo's driver decodes the same bits (odoo/odoo
# addons/hw_scale/controllers/main.py, _toledo8217StatusParse: 1 moving, 1<<1 over_capacity,
# 1<<2 negative, 1<<3 outside_zero_capture_range, 1<<4 center_of_zero, 1<<5 net_weight), and so
# does the Rice Lake BenchPro Operation Manual (PN 180557 Rev B, p. 26, "Status <S>").
STX, CR = b"\x02", b"\r"
OVER = STX + b"?" + bytes([0b0100_0010]) + CR  # "B": bit 6 + over capacity
MOVING_NET = STX + b"?" + bytes([0b0110_0001]) + CR  # "a": bit 6 + net + motion
MOVING = STX + b"?" + bytes([0b0100_0001]) + CR  # "A": bit 6 + motion
UNDER_ZERO = STX + b"?" + bytes([0b0100_0100]) + CR  # "D": bit 6 + under zero
OUTSIDE_ZERO_RANGE = STX + b"?" + bytes([0b0100_1000]) + CR  # "H"
CENTRE_OF_ZERO = STX + b"?" + bytes([0b0101_0000]) + CR  # "P": a status with nothing wrong
NET_CENTRE_OF_ZERO = STX + b"?" + bytes([0b0111_0000]) + CR  # "p": after a tare


def test_toledo_over_capacity_status_is_over_capacity_not_a_stable_zero(scripted_scale, open_scale):
    peer = scripted_scale({b"W": [OVER]}, terminated=False)
    scale = open_scale(peer.url, TOLEDO_8217)
    with pytest.raises(ScaleOverCapacity):
        scale.read_stable(timeout_s=1)
    with pytest.raises(ScaleOverCapacity):
        scale.read()


def test_toledo_moving_tared_scale_waits_instead_of_reporting_over_capacity(scripted_scale, open_scale):
    peer = scripted_scale({b"W": [MOVING_NET, MOVING_NET, STX + b"01.234N" + CR]}, terminated=False)
    scale = open_scale(peer.url, TOLEDO_8217)
    assert scale.read().stable is False
    assert scale.read_stable(timeout_s=2) == 1234  # net 1.234 kg, once it settled


def test_toledo_gross_weight_in_kg_and_in_lb(scripted_scale, open_scale):
    peer = scripted_scale({b"W": [MOVING, STX + b"02.500" + CR]}, terminated=False)
    assert open_scale(peer.url, TOLEDO_8217).read_stable() == 2500
    peer = scripted_scale({b"W": [STX + b"005.25" + CR]}, terminated=False)  # "0WW.WW" pounds
    assert open_scale(peer.url, TOLEDO_8217, unit="lb").read_stable() == 2381  # 5.25 x 453.59237 g


def test_toledo_under_zero(scripted_scale, open_scale):
    peer = scripted_scale({b"W": [UNDER_ZERO]}, terminated=False)
    with pytest.raises(ScaleBelowZero):
        open_scale(peer.url, TOLEDO_8217).read_stable(timeout_s=1)


def test_toledo_outside_zero_capture_range_says_what_to_do(scripted_scale, open_scale):
    peer = scripted_scale({b"W": [OUTSIDE_ZERO_RANGE]}, terminated=False)
    with pytest.raises(ScaleFault, match="zero capture range.*empty the platform"):
        open_scale(peer.url, TOLEDO_8217).read_stable(timeout_s=1)


def test_toledo_status_with_nothing_wrong_is_not_a_weight(scripted_scale, open_scale):
    """A lone status byte (e.g. a zero command's late answer) is no weight: ask again."""
    peer = scripted_scale({b"W": [CENTRE_OF_ZERO, STX + b"00.750" + CR]}, terminated=False)
    assert open_scale(peer.url, TOLEDO_8217).read_stable() == 750


def test_toledo_byte_without_bit_6_is_not_a_status(scripted_scale, open_scale):
    peer = scripted_scale({b"W": [STX + b"?\x02" + CR]}, terminated=False)
    with pytest.raises(Exception, match="unreadable data"):
        open_scale(peer.url, TOLEDO_8217).read_stable(timeout_s=1)


def test_toledo_zero_tare_and_clear_are_confirmed_by_a_status_byte(scripted_scale, open_scale):
    peer = scripted_scale(
        {b"Z": [CENTRE_OF_ZERO], b"T": [NET_CENTRE_OF_ZERO], b"C": [CENTRE_OF_ZERO]}, terminated=False
    )
    scale = open_scale(peer.url, TOLEDO_8217)
    scale.zero()
    scale.tare()
    scale.clear_tare()
    assert peer.commands == [b"Z", b"T", b"C"]


@pytest.mark.parametrize("status", [MOVING, OUTSIDE_ZERO_RANGE])
def test_toledo_zero_refused_while_moving_or_outside_the_range(scripted_scale, open_scale, status):
    peer = scripted_scale({b"Z": [status]}, terminated=False)
    with pytest.raises(ScaleFault, match="could not zero"):
        open_scale(peer.url, TOLEDO_8217).zero()


# --- Adam Equipment ---------------------------------------------------------------------------
# Adam Highland series user manual, 10.x "Interface": "Format 2 Output ... ± _ _ _ _ _ _ 1 2 3 .
# 4 5 _ g _ <cr><lf>, 16 characters, begins with the sign, a minus sign for negative weight or a
# space for positive weight ... if the weighing unit is one letter (g) [it is] used with a
# space before and after, if it is 2 letters long ... a space after (0.12345lb_)". "Format 1
# Output": "G S _ _ _ _ _ _ 1 2 3 . 4 5 _ g _", "N o . _ _ _ ... 0 1", "T o t a l _ _ _ 1 2 3 . 4
# 5 _ g _", two blank lines ("when the scale is at zero the weight is not printed, only the
# number of items and total"); continuous output "ST/US, GS/NT, sign, weight" in 22 characters
# with CR LF. Adam CBW manual 9.0: "GS 1.234 kg, GS for gross weight, NT for net weight".
# Adam CBK manual 11.0: "Date 12/09/2006", "Time 14:56:27", "Net Wt 1.234 Kg".
ADAM_FORMAT_2 = b"       123.45 g \r\n"
ADAM_FORMAT_2_LB = b"      0.12345lb \r\n"


def test_adam_format_2_examples_are_16_characters():
    assert len(ADAM_FORMAT_2) == len(ADAM_FORMAT_2_LB) == 16 + 2


@pytest.mark.parametrize(
    ("reply", "grams"),
    [
        (ADAM_FORMAT_2, 123),  # 123.45 g, rounded half to even
        (b"        1.234kg \r\n", 1234),
        (ADAM_FORMAT_2_LB, 56),  # 0.12345 lb = 55.996 g
        (b"GS      123.45 g \r\nNo.         01\r\nTotal   123.45 g \r\n\r\n\r\n", 123),
        (b"ST,GS      123.45 g \r\n", 123),
        (b"GS 1.234 kg\r\n", 1234),
        (b"NT 1.234 kg\r\n", 1234),
        (b"Date 12/09/2006\r\nTime 14:56:27\r\n\r\nNet Wt 1.234 Kg\r\n\r\n", 1234),
    ],
)
def test_adam_print_formats(scripted_scale, open_scale, reply, grams):
    peer = scripted_scale({b"P": [reply]})
    assert open_scale(peer.url, ADAM).read_stable() == grams


def test_adam_frame_padded_after_the_unit_is_a_weight(scripted_scale, open_scale):
    """Issue 9: "  123.45 g " was refused as garbage because of the space after the unit."""
    peer = scripted_scale({b"P": [ADAM_FORMAT_2]})
    reading = open_scale(peer.url, ADAM).read()
    assert (reading.grams, reading.stable) == (123, True)


def test_adam_negative_weight_is_below_zero(scripted_scale, open_scale):
    peer = scripted_scale({b"P": [b"-      123.45 g \r\n"]})
    with pytest.raises(ScaleBelowZero):
        open_scale(peer.url, ADAM).read_stable(timeout_s=1)


def test_adam_total_line_is_never_taken_for_the_weight(scripted_scale, open_scale):
    """At zero, Format 1 prints only "No." and "Total": the accumulated total is no weight."""
    peer = scripted_scale({b"P": [b"No.         02\r\nTotal   246.90 g \r\n\r\n\r\n"]})
    with pytest.raises(ScaleNoAnswer):
        open_scale(peer.url, ADAM).read_stable(timeout_s=0.8)


def test_adam_unstable_continuous_frame_waits(scripted_scale, open_scale):
    peer = scripted_scale({b"P": [b"US,GS      120.00 g \r\n", b"ST,GS      123.45 g \r\n"]})
    assert open_scale(peer.url, ADAM).read_stable() == 123


def test_adam_parts_counting_is_explained(scripted_scale, open_scale):
    # Highland manual: "Parts Counting example: ± _ _ _ _ _ _ _ _ _ 1 2 5 P C S <cr> <lf>"
    peer = scripted_scale({b"P": [b"          125PCS\r\n"]})
    with pytest.raises(ScaleFault, match="counting parts"):
        open_scale(peer.url, ADAM).read_stable(timeout_s=1)


# --- CAS ----------------------------------------------------------------------------------------
# CAS NT-200 manual, 14 "CAS Protocol (22 bytes)": ST/US/OL, ",", GS/NT, ",", device ID,
# lamp condition, ",", weight data (8 bytes), blank, "k", "g", CR, LF; "Device No. 01 : 0x31".
# CAS CI-400 / CI-150A owner's manual, appendix 1: lamp status byte bit 7 = 1, 6 stable, 5 = 1,
# 4 hold, 3 printer, 2 gross weight, 1 tare, 0 zero point. CAS CI-600D manual 10-1: "13.5 kg ...
# 8 bytes of ASCII code corresponding to '0','0','0','0','1','3','.' and '5' are sent".
LAMP_STABLE_GROSS = bytes([0b1110_0100])
LAMP_UNSTABLE_TARE = bytes([0b1010_0010])
CAS_22_STABLE = b"ST,GS,1" + LAMP_STABLE_GROSS + b",000013.5 kg\r\n"
CAS_22_UNSTABLE_NET = b"US,NT,1" + LAMP_UNSTABLE_TARE + b",000012.0 kg\r\n"


def test_cas_22_byte_frames_are_22_bytes():
    assert len(CAS_22_STABLE) == len(CAS_22_UNSTABLE_NET) == 22


def test_cas_22_byte_format(scripted_scale, open_scale):
    """Issue 9: the 22-byte format (device id and lamp byte) was refused as garbage."""
    peer = scripted_scale(stream=[CAS_22_UNSTABLE_NET, CAS_22_UNSTABLE_NET, CAS_22_STABLE])
    scale = open_scale(peer.url, CAS)
    assert scale.read_stable(timeout_s=2) == 13500


def test_cas_22_byte_unstable_is_motion(scripted_scale, open_scale):
    peer = scripted_scale(stream=[CAS_22_UNSTABLE_NET])
    reading = open_scale(peer.url, CAS).read()
    assert reading.stable is False


def test_cas_22_byte_overload(scripted_scale, open_scale):
    peer = scripted_scale(stream=[b"OL,GS,1" + LAMP_STABLE_GROSS + b",        kg\r\n"])
    with pytest.raises(ScaleOverCapacity):
        open_scale(peer.url, CAS).read_stable(timeout_s=1)


def test_cas_18_byte_format(scripted_scale, open_scale):
    # same manuals, "18 Bytes for AND": ST/US/OL, ",", GS/NT, ",", data (8 bytes), unit, CR LF
    frame = b"ST,GS,+001.234kg\r\n"
    assert len(frame) == 18
    peer = scripted_scale(stream=[frame])
    assert open_scale(peer.url, CAS).read_stable(timeout_s=2) == 1234


# --- the simulator against the same documents ---------------------------------------------------


def test_toledo_simulator_status_bytes_follow_the_diva_table():
    sim = PtyScaleSimulator("toledo-8217", 800)
    try:
        sim.set_overload(True)
        assert sim._reply(b"W") == b"\x02?" + bytes([0x42]) + b"\r"  # bit 6 + over capacity
        sim.set_overload(False)
        sim._reply(b"T")  # tare: net from now on
        sim.set_motion(True)
        assert sim._reply(b"W")[2] == 0x61  # bit 6 + net + motion
        sim.set_motion(False)
        sim.set_weight(1500)
        assert sim._reply(b"W") == b"\x0200.700N\r"  # "WW.WWW" kg, N for net
        assert sim._reply(b"Z")[:2] == b"\x02?"  # Z answers with a status byte
    finally:
        sim.stop()


def test_cas_simulator_22_byte_frame_has_the_manual_layout():
    sim = PtyScaleSimulator("cas", 13500, cas_format="22")
    try:
        frame = sim._cas_frame()
    finally:
        sim.stop()
    assert len(frame) == 22
    assert re.fullmatch(rb"ST,GS,1[\x80-\xff],[0-9.]{8} kg\r\n", frame, re.DOTALL)
    assert frame[7] & 0x80 and frame[7] & 0x40 and frame[7] & 0x04  # bit 7, stable, gross
    assert frame[9:17] == b"0013.500"


def test_adam_simulator_prints_format_2_with_the_padding():
    sim = PtyScaleSimulator("adam", 123, unit="g")
    try:
        line = sim._reply(b"P")
    finally:
        sim.stop()
    assert line == b"          123 g \r\n" and len(line) == 16 + 2
