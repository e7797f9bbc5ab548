"""The label's QR modules (packstation.adapters.documents.qr) are python-qrcode's.

The fast path places the data once and rates the eight masks on bit sets; the reference is the
qrcode library itself (``QRCode.make`` builds and rates every mask module by module), which made
the labels' QR codes before. Decoding is checked on the rendered labels (test_label_pdf.py).
"""

from __future__ import annotations

import random
import string
from dataclasses import replace

import pytest
import qrcode

from packstation.adapters.documents.demo import demo_label
from packstation.adapters.documents.label_layout import qr_payload
from packstation.adapters.documents.qr import qr_matrix
from packstation.domain.barcodes import sscc18

LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
ALPHABETS = (
    string.digits,  # numeric mode
    string.ascii_uppercase + string.digits + " $%*+-./:",  # alphanumeric mode
    string.ascii_letters + string.digits + "|/-_.,;#()",  # byte mode
    "äöüßΩπЖя€中",  # byte mode, multi-byte UTF-8
)


def reference(data: str, level: int) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=level, border=0)
    code.add_data(data.encode("utf-8"))
    code.make(fit=True)
    return code.get_matrix()


def payloads(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        alphabet = rnd.choice(ALPHABETS)
        out.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 230))))
    return out


@pytest.mark.parametrize("level", LEVELS, ids=list(LEVELS))
def test_same_modules_as_qrcode_for_every_mode_and_length(level: str) -> None:
    sizes = set()
    for data in payloads(seed=ord(level), count=80):
        expected = reference(data, LEVELS[level])
        assert qr_matrix(data, LEVELS[level]) == expected, data
        sizes.add(len(expected))
    assert len(sizes) >= 8  # many versions seen, not one


def test_same_modules_as_qrcode_for_label_payloads() -> None:
    base = demo_label()
    for n in range(60):
        label = replace(base, order_id=f"SO-{10000 + n * 37}", carton_no=1 + n % 9, carton_count=9,
                        sscc=sscc18(n % 10, "0614141", 1000 + n))
        data = qr_payload(label)
        assert qr_matrix(data) == reference(data, LEVELS["Q"]), data


def test_versions_with_version_information() -> None:
    """Version 7 and up carry 18 version-information modules (two blocks of 6 x 3)."""
    for length in (140, 200, 330, 500):
        data = "".join(random.Random(length).choice(string.ascii_letters) for _ in range(length))
        expected = reference(data, LEVELS["Q"])
        assert len(expected) >= 45  # version 7: 45 modules per side
        assert qr_matrix(data) == expected
