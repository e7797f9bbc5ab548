"""Small helpers the benchmarks share: percentiles, machine stall figures, pass/miss marks."""

from __future__ import annotations

from pathlib import Path


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 2,000 values is the 1,980th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def pressure() -> dict[str, int]:
    """Microseconds some task on the machine stalled for CPU and for I/O (Linux PSI), if any."""
    out: dict[str, int] = {}
    for what in ("cpu", "io"):
        try:
            text = Path(f"/proc/pressure/{what}").read_text()
        except OSError:
            continue
        out[what] = int(text.split("total=", 1)[1].split()[0])  # first line: "some"
    return out


def stall_pct(before: dict[str, int], span_s: float) -> dict[str, float]:
    """Share of *span_s* (in %) some task stalled, since the :func:`pressure` reading *before*."""
    return {k: (v - before[k]) / (span_s * 1e6) * 100 for k, v in pressure().items() if k in before}


def mark(ok: bool) -> str:
    return "pass" if ok else "MISS"
