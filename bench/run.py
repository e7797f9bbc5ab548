"""Run every benchmark: each ``bench/bench_*.py`` file's ``main()``, one subprocess each.

A subprocess per benchmark keeps peak memory and start-up cost per benchmark, so the figures of
one do not leak into the next. Each benchmark prints its own figures; this runner adds wall time
and peak RSS (of the largest single process of that benchmark), then a summary. The exit status
is non-zero if any benchmark exits non-zero (a crash, or a benchmark reporting a missed target).

    .venv/bin/python bench/run.py               # all benchmarks
    .venv/bin/python bench/run.py scan label    # only files whose name contains a word

The benchmarks run with QT_QPA_PLATFORM=offscreen (unless set) and a temporary
PACKSTATION_DATA_DIR, so they never touch the user's station data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

# Runs in the child: load the file as a module, call main(), report peak RSS of this process.
_CHILD = """
import importlib.util, resource, sys
path = sys.argv[1]
sys.path.insert(0, path.rsplit("/", 1)[0])  # sibling helper modules
sys.argv = [path]  # the benchmark's own argv: no arguments, as if run directly
spec = importlib.util.spec_from_file_location("__bench__", path)
module = importlib.util.module_from_spec(spec)
sys.modules["__bench__"] = module
spec.loader.exec_module(module)
if not callable(getattr(module, "main", None)):
    sys.exit(f"{path} has no main() function")
result = module.main()
sys.stdout.flush()
# Largest single process: this one or any subprocess the benchmark waited for.
peak_kib = max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(f"@@peak_rss_kib={peak_kib}", file=sys.stderr)
sys.exit(result if isinstance(result, int) else 0)
"""


def discover(words: list[str]) -> list[Path]:
    files = sorted(BENCH_DIR.glob("bench_*.py"))
    if words:
        files = [f for f in files if any(word in f.stem for word in words)]
    return files


def run_one(path: Path, env: dict[str, str]) -> tuple[int, float, float | None]:
    """Run one benchmark; returns (exit status, wall seconds, peak RSS in MiB or None)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        cwd=BENCH_DIR.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_mib: float | None = None
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("@@peak_rss_kib="):
            peak_mib = int(line.split("=", 1)[1]) / 1024
        else:
            sys.stderr.write(line)
    status = proc.wait()
    return status, time.perf_counter() - start, peak_mib


def main(argv: list[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    files = discover(words)
    if not files:
        print(f"no benchmarks found in {BENCH_DIR} (bench_*.py){' matching ' + str(words) if words else ''}")
        return 1 if words else 0
    summary: list[tuple[str, int, float, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="packstation-bench-") as tmp:
        for path in files:
            env = dict(os.environ)
            env.setdefault("QT_QPA_PLATFORM", "offscreen")
            data_dir = Path(tmp) / path.stem
            data_dir.mkdir()
            env["PACKSTATION_DATA_DIR"] = str(data_dir)
            env.pop("PACKSTATION_CONFIG", None)
            print(f"=== {path.stem} ===", flush=True)
            status, wall, peak = run_one(path, env)
            peak_text = f"{peak:.1f} MiB" if peak is not None else "n/a"
            state = "ok" if status == 0 else f"exit status {status}"
            print(f"--- {path.stem}: {state}, wall {wall:.2f} s, peak RSS {peak_text}\n", flush=True)
            summary.append((path.stem, status, wall, peak))
    print("=== summary ===")
    width = max(len(name) for name, *_ in summary)
    for name, status, wall, peak in summary:
        peak_text = f"{peak:8.1f} MiB" if peak is not None else "     n/a    "
        state = "ok" if status == 0 else f"exit {status}"
        print(f"{name:<{width}}  {state:<7}  {wall:8.2f} s  {peak_text}")
    return 0 if all(status == 0 for _, status, _, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
