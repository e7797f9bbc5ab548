"""USB HID POS scale reports, fed through a FIFO as /dev/hidrawN would deliver them."""

from __future__ import annotations

import pytest

from packstation.adapters.devices.hid_scale import (
    FAULT,
    IN_MOTION,
    NEEDS_REZERO,
    STABLE,
    HidPosScale,
    HidReport,
    encode_report,
)
from packstation.adapters.devices.scale_errors import (
    ScaleBelowZero,
    ScaleFault,
    ScaleNoAnswer,
    ScaleNotSettled,
    ScaleOverCapacity,
    ScaleUnsupported,
)
from packstation.adapters.devices.scales import open_scale
from packstation.adapters.devices.simulators.hid import FakeHidScale
from packstation.config import ScaleConfig


@pytest.mark.parametrize(
    ("report", "grams"),
    [
        (bytes([3, STABLE, 2, 0, 0xD2, 0x04]), 1234),  # 1234 g
        (bytes([3, STABLE, 11, 0xFF, 0x10, 0x01]), 771),  # 27.2 oz = 771.1 g
        (bytes([3, STABLE, 12, 0xFE, 0xE8, 0x03]), 4536),  # 10.00 lb
        (bytes([3, STABLE, 3, 0xFD, 0xB0, 0x04]), 1200),  # 1.200 kg
    ],
)
def test_report_decoding(report, grams):
    assert HidReport.parse(report).grams() == grams


def test_unknown_unit_and_short_report_are_faults():
    with pytest.raises(ScaleFault, match="unit code 4"):
        HidReport.parse(encode_report(STABLE, 4, 0, 10)).grams()
    with pytest.raises(ScaleFault, match="5 bytes"):
        HidReport.parse(b"\x03\x04\x02\x00\x01")


@pytest.fixture
def hid():
    with FakeHidScale(0) as sim:
        scale = open_scale(ScaleConfig(port=sim.path, protocol="hid-pos", stable_timeout_s=2))
        assert isinstance(scale, HidPosScale)
        try:
            yield sim, scale
        finally:
            scale.close()


def test_stable_weight_and_zero(hid):
    sim, scale = hid
    assert scale.read_stable() == 0
    sim.set_weight(2500)
    assert scale.read_stable() == 2500
    sim.set(unit=11)  # the packer switched the scale to ounces
    assert scale.read_stable() == 2500


def test_motion_then_stable(hid):
    sim, scale = hid
    sim.set_weight(900)
    sim.set(motion=True)
    assert scale.read().stable is False
    with pytest.raises(ScaleNotSettled):
        scale.read_stable(0.3)
    sim.set(motion=False)
    assert scale.read_stable() == 900


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda s: s.set(over=True), ScaleOverCapacity),
        (lambda s: s.set_weight(-5), ScaleBelowZero),
        (lambda s: s.set(status=FAULT), ScaleFault),
        (lambda s: s.set(status=NEEDS_REZERO), ScaleFault),
        (lambda s: s.set(silent=True), ScaleNoAnswer),
    ],
)
def test_faults(hid, setup, error):
    sim, scale = hid
    setup(sim)
    with pytest.raises(error):
        scale.read_stable(1.5)


def test_stale_reports_are_dropped(hid):
    sim, scale = hid
    sim.set_weight(100)
    assert scale.read_stable() == 100
    sim.set_weight(700)  # reports for 100 g may still sit in the buffer
    assert scale.read_stable() == 700


def test_zero_and_tare_are_done_on_the_scale(hid):
    _sim, scale = hid
    with pytest.raises(ScaleUnsupported, match="press ZERO"):
        scale.zero()
    with pytest.raises(ScaleUnsupported, match="press TARE"):
        scale.tare()


def test_in_motion_report_is_not_stable():
    assert HidReport.parse(encode_report(IN_MOTION, 2, 0, 10)).status == IN_MOTION
