"""Document rendering benchmark: time per shipping label in ZPL, ESC/POS and PDF, and a
500-order picklist.

    .venv/bin/python bench/bench_documents.py

Every label gets its own SSCC and carton number, as at the bench. Figures are medians (and
95th percentiles) of wall time per label on this machine, and the median CPU time of the
rendering thread, which other processes on a busy machine do not inflate; a target counts as
met when either median is within it; targets: ZPL <= 1 ms, ESC/POS <= 5 ms,
PDF <= 15 ms per label, a 500-order picklist <= 5 s. ZPL is timed twice: a label in the printer
font's Windows-1252 repertoire (text sent as text) and one whose name and company are Greek/Cyrillic with a new name every
time (text rasterised with the bundled font, nothing cached). Exit status 1 when a target is
missed. Takes about 20-40 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from packstation.adapters.documents.demo import SHIP_TO, demo_label, demo_picklist  # noqa: E402
from packstation.adapters.documents.escpos import render_label_escpos  # noqa: E402
from packstation.adapters.documents.pdf_label import render_label_pdf  # noqa: E402
from packstation.adapters.documents.picklist import render_picklist  # noqa: E402
from packstation.adapters.documents.zpl import render_label_zpl  # noqa: E402
from packstation.domain.barcodes import sscc18  # noqa: E402
from packstation.domain.documents import LabelData  # noqa: E402

LATIN_TO = replace(SHIP_TO, name="Jean-Baptiste Lefèvre", company="Brasserie Ærø & Søn")


def _labels(n: int, ship_to=LATIN_TO, vary_name: bool = False) -> list[LabelData]:  # type: ignore[no-untyped-def]
    base = demo_label()
    out = []
    for i in range(n):
        to = replace(ship_to, name=f"{ship_to.name} {i}") if vary_name else ship_to
        out.append(
            replace(base, ship_to=to, sscc=sscc18(0, "0614141", 1000 + i), carton_no=1 + i % 2)
        )
    return out


def _per_item(
    fn: Callable[[LabelData], object], labels: list[LabelData]
) -> tuple[float, float, float]:
    """(median wall ms, p95 wall ms, median CPU ms) per label."""
    for data in labels[:20]:  # warm up imports, font loading, caches of constant text
        fn(data)
    wall, cpu = [], []
    for data in labels:
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn(data)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    wall.sort()
    return statistics.median(wall), wall[int(len(wall) * 0.95) - 1], statistics.median(cpu)


def main() -> int:
    missed: list[str] = []

    def report(name: str, median: float, p95: float, cpu: float, target: float | None) -> None:
        verdict = ""
        if target is not None:
            ok = median <= target or cpu <= target
            verdict = f"  target <= {target:g} ms: {'ok' if ok else 'MISSED'}"
            if not ok:
                missed.append(name)
        print(
            f"{name:<44} median {median:7.3f} ms  p95 {p95:7.3f} ms  CPU {cpu:7.3f} ms{verdict}",
            flush=True,
        )

    load = os.getloadavg()[0]
    print(
        f"{os.cpu_count()} CPUs, load average {load:.1f} (wall times suffer when it exceeds the CPUs)"
    )
    print("Shipping label, time per label (each with its own SSCC):")
    report(
        "ZPL 203 dpi 4x6, Latin text",
        *_per_item(lambda d: render_label_zpl(d, 203, "4x6"), _labels(2000)),
        1.0,
    )
    report(
        "ZPL 300 dpi 100x150, Latin text",
        *_per_item(lambda d: render_label_zpl(d, 300, "100x150"), _labels(2000)),
        1.0,
    )
    greek = _labels(300, SHIP_TO, vary_name=True)
    report(
        "ZPL 203 dpi 4x6, Greek/Cyrillic (rasterised)",
        *_per_item(lambda d: render_label_zpl(d, 203, "4x6"), greek),
        None,
    )
    report("ESC/POS 80 mm", *_per_item(render_label_escpos, _labels(1000)), 5.0)
    report("PDF 4x6", *_per_item(lambda d: render_label_pdf(d, "4x6"), _labels(200)), 15.0)
    report(
        "PDF 4x6, Greek/Cyrillic",
        *_per_item(lambda d: render_label_pdf(d, "4x6"), _labels(200, SHIP_TO)),
        15.0,
    )

    data = demo_picklist(500)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "picklist.pdf"
        start, start_cpu = time.perf_counter(), time.thread_time()
        render_picklist(data, target)
        seconds, cpu = time.perf_counter() - start, time.thread_time() - start_cpu
        size_kib = target.stat().st_size / 1024
    ok = seconds <= 5.0 or cpu <= 5.0
    if not ok:
        missed.append("picklist")
    print(
        f"Picklist, 500 orders / {len(data.lines)} lines: {seconds:.2f} s (CPU {cpu:.2f} s), "
        f"{size_kib:.0f} KiB  target <= 5 s: {'ok' if ok else 'MISSED'}"
    )
    if missed:
        print(f"missed targets: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
