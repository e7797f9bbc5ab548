"""Device latency figures: serial scan -> callback through a pty, stable-weight read per protocol.

Run: .venv/bin/python bench/bench_devices.py   (about 15-30 s)

A pty has no baud rate, so the scan figure is pure software latency: the time from the
last byte of a scan being written on the simulator side to our scan callback running,
i.e. what we add beyond the wire time (target p99 <= 2 ms). The scale simulators emulate
9600 baud (10 bits per byte) for commands and replies, so those figures include wire time.
"""

from __future__ import annotations

import os
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from packstation.adapters.devices.hid_scale import HidPosScale  # noqa: E402
from packstation.adapters.devices.scale_protocols import PROTOCOLS  # noqa: E402
from packstation.adapters.devices.serial_scale import SerialScale  # noqa: E402
from packstation.adapters.devices.serial_scanner import SerialScannerReader  # noqa: E402
from packstation.adapters.devices.simulators.hid import FakeHidScale  # noqa: E402
from packstation.adapters.devices.simulators.pty_scale import PtyScaleSimulator  # noqa: E402
from packstation.adapters.devices.simulators.pty_scanner import PtyScannerSimulator  # noqa: E402
from packstation.adapters.devices.state import Status  # noqa: E402

SCANS = 5000
WEIGHINGS = 30
BAUD = 9600


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def bench_scans() -> None:
    arrivals: queue.SimpleQueue[int] = queue.SimpleQueue()
    connected = threading.Event()
    with PtyScannerSimulator(terminator="cr") as sim:
        reader = SerialScannerReader(
            sim.port,
            lambda scan: arrivals.put(time.perf_counter_ns()),
            on_state=lambda s: connected.set() if s.status is Status.CONNECTED else None,
        ).start()
        try:
            if not connected.wait(5):
                raise SystemExit("scanner reader did not connect")
            master = sim._link.master  # write straight to the pty: no locking in the timing
            assert master is not None
            latencies_us: list[float] = []
            payload = b"]C10104006381333931\x1d10LOT42\r"
            for i in range(SCANS + 200):
                sent = time.perf_counter_ns()  # taken before the write: an upper bound
                os.write(master, payload)
                got = arrivals.get(timeout=5)
                if i >= 200:  # warm-up
                    latencies_us.append((got - sent) / 1000)
        finally:
            reader.stop()
    wire_ms = len(payload) * 10 / BAUD * 1000
    print(f"serial scan -> callback over a pty, {SCANS} scans of {len(payload)} bytes")
    print(
        f"  p50 {percentile(latencies_us, 50):8.1f} us   p99 {percentile(latencies_us, 99):8.1f} us"
        f"   max {max(latencies_us):8.1f} us   (target p99 <= 2000 us beyond wire time)"
    )
    print(f"  wire time of the same scan at {BAUD} baud would be {wire_ms:.1f} ms")


def bench_scales() -> None:
    print(f"stable-weight read (read_stable), {WEIGHINGS} reads each, simulated {BAUD} baud")
    for name in ("mt-sics", "toledo-8217", "adam", "cas"):
        with PtyScaleSimulator(name, 1234, baudrate=BAUD) as sim:
            scale = SerialScale(sim.port, PROTOCOLS[name])
            try:
                times = []
                for _ in range(WEIGHINGS):
                    t0 = time.perf_counter()
                    assert scale.read_stable(5) == 1234
                    times.append((time.perf_counter() - t0) * 1000)
            finally:
                scale.close()
        note = "(continuous output every 50 ms)" if name == "cas" else ""
        print(
            f"  {name:<12} median {statistics.median(times):6.1f} ms   "
            f"p95 {percentile(times, 95):6.1f} ms   max {max(times):6.1f} ms {note}"
        )
    with FakeHidScale(1234, period_s=0.02) as hid:
        scale = HidPosScale(hid.path)
        try:
            times = []
            for _ in range(WEIGHINGS):
                t0 = time.perf_counter()
                assert scale.read_stable(5) == 1234
                times.append((time.perf_counter() - t0) * 1000)
        finally:
            scale.close()
    print(
        f"  {'hid-pos':<12} median {statistics.median(times):6.1f} ms   "
        f"p95 {percentile(times, 95):6.1f} ms   max {max(times):6.1f} ms (a report every 20 ms)"
    )


def main() -> None:
    started = time.perf_counter()
    bench_scans()
    bench_scales()
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
