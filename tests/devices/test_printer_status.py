"""Zebra ~HS and ESC/POS real-time status: parsing, and asking the simulator."""

from __future__ import annotations

import socket
import threading

import pytest

from packstation.adapters.devices.printer_status import (
    PrinterNotAnswering,
    StatusParseError,
    parse_escpos_status,
    parse_host_status,
    query_escpos_status,
    query_status,
    query_zebra_status,
)
from packstation.adapters.devices.transports import PrinterTimeout, open_transport

# A ~HS reply as printed in the ZPL manual's example layout: paper out and paused set.
HS_PAPER_OUT_PAUSED = (
    b"\x02030,1,1,0812,000,0,0,0,000,0,0,0\x03\r\n"
    b"\x02001,0,0,0,1,2,4,0,00000000,1,000\x03\r\n"
    b"\x021234,0\x03\r\n"
)
HS_HEAD_OPEN_RIBBON_OUT = (
    b"\x02030,0,0,1218,002,1,0,0,000,0,0,1\x03\r\n"
    b"\x02000,0,1,1,1,2,6,0,00000005,1,000\x03\r\n"
    b"\x021234,0\x03\r\n"
)


def test_parse_paper_out_and_paused():
    st = parse_host_status(HS_PAPER_OUT_PAUSED)
    assert (st.paper_out, st.paused, st.head_open, st.ribbon_out) == (True, True, False, False)
    assert st.problems == ["out of labels: load a new roll", "paused: press PAUSE on the printer"]
    assert not st.ready


def test_parse_head_open_ribbon_out_buffer_full():
    st = parse_host_status(HS_HEAD_OPEN_RIBBON_OUT)
    assert (st.head_open, st.ribbon_out, st.buffer_full, st.over_temperature) == (
        True,
        True,
        True,
        True,
    )
    assert st.formats_in_buffer == 2 and st.labels_remaining == 5


def test_not_a_host_status_reply():
    with pytest.raises(StatusParseError, match="not a Zebra host status"):
        parse_host_status(b"\x1b@hello")


@pytest.mark.parametrize(
    ("n", "byte", "problems"),
    [
        (2, 0x12, []),
        (2, 0x16, ["cover open: close it"]),
        (2, 0x32, ["out of paper: load a new roll"]),
        (4, 0x72, ["out of paper: load a new roll"]),
        (1, 0x1A, ["printer offline"]),
        (3, 0x52, ["printer error (cutter jam or overheat): open, clear, close"]),
    ],
)
def test_escpos_status_bytes(n, byte, problems):
    assert parse_escpos_status(n, byte).problems == problems


def test_escpos_near_end_is_not_a_problem_yet():
    st = parse_escpos_status(4, 0x1E)
    assert st.paper_near_end and st.problems == []


def test_escpos_status_checks_fixed_bits():
    with pytest.raises(StatusParseError, match="fixed bits"):
        parse_escpos_status(4, 0x00)


def test_query_simulator_over_tcp(printer_sim):
    t = open_transport(printer_sim.url)
    assert query_zebra_status(t).ready
    printer_sim.paused = True
    assert query_zebra_status(t).paused
    printer_sim.paused = False
    printer_sim.paper_out = True
    printer_sim.head_open = True
    pos = query_escpos_status(t)  # ESC/POS real-time status answers in every condition
    assert pos.paper_out and pos.cover_open
    printer_sim.answers_hs_in_error = True  # a printer that does answer: the flags are read
    zebra = query_zebra_status(t)
    assert zebra.paper_out and zebra.head_open
    assert printer_sim.jobs == []  # status queries are not print jobs


# ZPL Programming Guide, ~HS: "When a ~HS command is sent the printer will not send a response
# to the host if the printer is in one of these conditions: MEDIA OUT, RIBBON OUT, HEAD OPEN,
# REWINDER FULL, HEAD OVER-TEMPERATURE". Silence must read as "not answering, check the media /
# ribbon / head", never as a wrong printer language (issue 9).


@pytest.mark.parametrize("condition", ["paper_out", "ribbon_out", "head_open"])
def test_zebra_silent_in_error_is_not_answering_with_the_hint(printer_sim, condition):
    setattr(printer_sim, condition, True)
    t = open_transport(printer_sim.url)
    with pytest.raises(PrinterNotAnswering) as err:
        query_zebra_status(t, timeout_s=0.5)
    message = str(err.value)
    assert "not answering" in message and "~HS" in message
    assert "paper" in message and "ribbon" in message and "head" in message
    assert "language" not in message
    assert isinstance(err.value, PrinterTimeout)  # callers that catch timeouts still do


def test_silent_fault_mode_reports_not_answering_through_query_status(printer_sim):
    printer_sim.set_fault("silent")
    with pytest.raises(PrinterNotAnswering, match="not answering"):
        query_status(open_transport(printer_sim.url), "zpl")
    printer_sim.set_fault(None)
    assert query_status(open_transport(printer_sim.url), "zpl") == []


def test_printer_that_closes_without_a_reply_is_not_answering():
    """A raw port that takes ~HS and hangs up without a byte: same verdict, not 'wrong language'."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.recv(64)

    t = threading.Thread(target=serve)
    t.start()
    try:
        with pytest.raises(PrinterNotAnswering, match="not answering"):
            query_zebra_status(open_transport(f"tcp://127.0.0.1:{server.getsockname()[1]}"), timeout_s=2)
    finally:
        t.join(5)
        server.close()


def test_a_reply_that_is_not_host_status_still_asks_about_the_language():
    with pytest.raises(StatusParseError, match='language = "zpl"'):
        parse_host_status(b"\x12")  # an ESC/POS status byte where ~HS was expected
